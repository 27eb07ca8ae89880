"""The pre-commit hook, for real: `pre-commit try-repo <this repo> concurlint` installs concurlint
from the committed repository into pre-commit's own environment and runs it on a temporary git
repository, which fails with a hazardous file and passes once it is fixed.

pre-commit installs the hook's dependencies from the package index (libcst), so this test needs
the registry; PRE_COMMIT_HOME is a temporary directory, so nothing outside the test is touched."""
from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, script

HAZARD = textwrap.dedent('''\
    from concurrent.futures import ProcessPoolExecutor


    def shout(words):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(lambda w: w.upper(), words))
    ''')

FIXED = textwrap.dedent('''\
    from concurrent.futures import ProcessPoolExecutor


    def upper(word):
        return word.upper()


    def shout(words):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(upper, words))
    ''')


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("pre-commit-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update({
        "PRE_COMMIT_HOME": str(home / "cache"),
        "CONCURLINT_CACHE_DIR": str(home / "concurlint-cache"),
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "NO_COLOR": "1",
    })
    return env


def _try_repo(project: Path, ref: str, env, *files):
    return subprocess.run(
        [script("pre-commit"), "try-repo", str(ROOT), "concurlint", "--ref", ref, "--verbose", "--files", *files],
        cwd=project, env=env, capture_output=True, text=True, timeout=900)


def test_hooks_file_declares_both_hooks():
    yaml = pytest.importorskip("yaml")
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    check = hooks["concurlint"]
    assert check["entry"] == "concurlint check" and check["types"] == ["python"]
    assert check["require_serial"] is True and check["language"] == "python"
    report = hooks["concurlint-report"]
    assert report["pass_filenames"] is False and report["stages"] == ["manual"]
    assert report["entry"].startswith("concurlint report")


def test_pre_commit_hook_fails_on_hazard_and_passes_after_fix(tmp_path, hook_env):
    ref = _git("rev-parse", "HEAD", cwd=ROOT)
    committed = _git("ls-tree", "--name-only", ref, ".pre-commit-hooks.yaml", cwd=ROOT)
    assert committed == ".pre-commit-hooks.yaml", "commit .pre-commit-hooks.yaml before running this test"
    project = tmp_path / "project"
    project.mkdir()
    _git("init", "-q", cwd=project)
    (project / "shout.py").write_text(HAZARD, encoding="utf-8")
    (project / "notes.txt").write_text("not python\n", encoding="utf-8")
    _git("add", "shout.py", "notes.txt", cwd=project)

    bad = _try_repo(project, ref, hook_env, "shout.py", "notes.txt")
    out = bad.stdout + bad.stderr
    assert bad.returncode == 1, out
    assert "shout.py:6:" in out and "CCL401" in out, out
    assert "Failed" in out

    (project / "shout.py").write_text(FIXED, encoding="utf-8")
    _git("add", "shout.py", cwd=project)
    good = _try_repo(project, ref, hook_env, "shout.py", "notes.txt")
    out = good.stdout + good.stderr
    assert good.returncode == 0, out
    assert "Passed" in out and "CCL401" not in out

"""The install and pre-commit instructions of the README, for real and offline.

The README's pre-commit snippet (hook ids, the `rev:` tag) is read from README.md and run by the
real `pre-commit` on a temporary git repository, with this repository as the hook repository (a
local path, as the README says a clone can be used). pre-commit builds concurlint from the
committed tree into its own virtualenv; the wheels that needs (setuptools for the build, libcst and
its dependencies) come from a local wheelhouse made from this test environment, with no package
index, inside a network namespace that has no network at all when `unshare -n` is available.
The `git+URL@tag` install of the docs is run the same way.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
import zipfile
from importlib import metadata
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


def _readme_snippet() -> str:
    """The YAML block of the README's pre-commit section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### pre-commit", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


# ---------------------------------------------------------------- an offline wheelhouse
def _requirement_names(dist: str) -> list:
    out = []
    for req in metadata.requires(dist) or []:
        if ";" in req and "extra" in req.split(";", 1)[1]:
            continue  # an optional extra
        out.append(re.match(r"[A-Za-z0-9._-]+", req).group(0))
    return out


def _installed_closure(top: str) -> list:
    """``top``'s run-time requirements installed here, transitively (whatever their markers say:
    one that does not apply to this Python is simply not installed, or not used)."""
    seen, todo = {}, list(_requirement_names(top))
    while todo:
        name = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key not in seen:
            seen[key] = dist
            todo += _requirement_names(name)
    return list(seen.values())


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _repack(dist, out: Path) -> Path:
    """A wheel of an installed distribution: the files its RECORD lists inside site-packages (a
    wheel is exactly those files plus its .dist-info, whose RECORD is written anew)."""
    files = [f for f in dist.files if not str(f).startswith("..") and "__pycache__" not in f.parts]
    info = next(f.parts[0] for f in files if f.name == "METADATA" and f.parts[0].endswith(".dist-info"))
    wheel_meta = Path(dist.locate_file(info)) / "WHEEL"
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.read_text().splitlines() if line.startswith("Tag:")]
    parts = [sorted({t.split("-")[i] for t in tags}) for i in range(3)]
    name = f"{info[:-len('.dist-info')]}-{'-'.join('.'.join(p) for p in parts)}.whl"
    record, skip = [], {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    with zipfile.ZipFile(out / name, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            src = Path(dist.locate_file(f))
            if (f.parts[0] == info and f.name in skip) or not src.is_file():
                continue
            data = src.read_bytes()
            zf.writestr(str(f.as_posix()), data)
            record.append(f"{f.as_posix()},{_record_hash(data)},{len(data)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return out / name


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    for dist in _installed_closure("concurlint"):
        _repack(dist, out)
    # the build backend pip needs to build concurlint: the setuptools wheel virtualenv ships
    from virtualenv.seed.wheels import embed

    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    bundled = getattr(embed, "BUNDLE_SUPPORT", {}).get(version, {}).get("setuptools")
    wheels = [Path(embed.BUNDLE_FOLDER) / bundled] if bundled else sorted(Path(embed.BUNDLE_FOLDER).glob("setuptools-*.whl"))
    for wheel in wheels:
        shutil.copy(wheel, out)
    names = sorted(p.name.split("-")[0].lower() for p in out.glob("*.whl"))
    assert "libcst" in names and "setuptools" in names, names
    return out


def _offline() -> list:
    """A command prefix that runs without any network, when this machine allows it."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory, wheelhouse):
    home = tmp_path_factory.mktemp("pre-commit-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "PIP_", "VIRTUALENV_"))}
    env.update({
        "PRE_COMMIT_HOME": str(home / "cache"),
        "CONCURLINT_CACHE_DIR": str(home / "concurlint-cache"),
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "NO_COLOR": "1",
        # no package index: everything comes from the wheelhouse (pip's own config file may name
        # indexes; --no-index overrides them)
        "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CONFIG_FILE": os.devnull,
    })
    return env


def _committed_head() -> str:
    ref = _git("rev-parse", "HEAD", cwd=ROOT)
    committed = _git("ls-tree", "--name-only", ref, ".pre-commit-hooks.yaml", cwd=ROOT)
    assert committed == ".pre-commit-hooks.yaml", "commit .pre-commit-hooks.yaml before running this test"
    return ref


# ---------------------------------------------------------------- the tests
def test_hooks_file_declares_the_documented_hooks():
    yaml = pytest.importorskip("yaml")
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    check = hooks["concurlint"]
    assert check["entry"] == "concurlint check" and check["types"] == ["python"]
    assert check["require_serial"] is True and check["language"] == "python"
    report = hooks["concurlint-report"]
    assert report["pass_filenames"] is False and report["stages"] == ["manual"]
    assert report["entry"].startswith("concurlint report")
    documented = set(re.findall(r"id: ([\w-]+)", _readme_snippet()))
    documented |= set(re.findall(r"- id: ([\w-]+)", (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")))
    assert documented and documented <= set(hooks), documented - set(hooks)


def test_documented_rev_is_a_tag_of_this_repository():
    rev = re.search(r"rev: (\S+)", _readme_snippet()).group(1)
    if not _git("tag", "--list", cwd=ROOT):
        pytest.skip("this clone has no tags (a shallow or tag-less clone): cannot check the rev")
    kind = subprocess.run(["git", "cat-file", "-t", rev], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert kind == "tag", f"rev {rev} of the README is not an annotated tag of this repository"
    for doc in ("README.md", "docs/usage.md", "docs/index.md"):
        for pair in re.findall(r"rev: (v\S+)|@(v\d+\.\d+\.\d+)", (ROOT / doc).read_text(encoding="utf-8")):
            other = "".join(pair)
            assert other == rev, f"{doc} names {other}, the README {rev}"


def test_no_documented_command_installs_concurlint_from_the_package_index():
    """concurlint is not on PyPI: every `pip install` in a code block of the docs names a path, a
    git URL or the current directory, never the bare name."""
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "examples" / "probe" / "README.md"]
    installs = []
    for doc in docs:
        for block in re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for line in block.splitlines():
                m = re.search(r"pip install (.*)", line)
                if m:
                    args = m.group(1).split("#")[0].split()
                    installs.append((doc.name, args))
                    assert not any(re.fullmatch(r"['\"]?concurlint(\[\w+\])?['\"]?", a) for a in args), (doc, line)
    assert len(installs) >= 6, installs


def test_readme_pre_commit_snippet_with_this_repository_offline(tmp_path, offline_env):
    ref = _committed_head()
    project = tmp_path / "project"
    project.mkdir()
    _git("init", "-q", cwd=project)
    # the README's snippet, with this clone as the repository and the commit under test as the rev
    config = re.sub(r"repo: \S+", f"repo: {ROOT}", _readme_snippet())
    config = re.sub(r"rev: \S+", f"rev: {ref}", config)
    (project / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    (project / "shout.py").write_text(HAZARD, encoding="utf-8")
    (project / "notes.txt").write_text("not python\n", encoding="utf-8")
    _git("add", ".", cwd=project)

    def run(*args):
        proc = subprocess.run([*_offline(), script("pre-commit"), "run", "--verbose", *args], cwd=project,
                              env=offline_env, capture_output=True, text=True, timeout=900)
        return proc.returncode, proc.stdout + proc.stderr

    code, out = run("--files", "shout.py", "notes.txt")
    assert code == 1, out
    assert "shout.py:6:" in out and "CCL401" in out and "Failed" in out, out

    (project / "shout.py").write_text(FIXED, encoding="utf-8")
    _git("add", "shout.py", cwd=project)
    code, out = run("--files", "shout.py", "notes.txt")
    assert code == 0 and "Passed" in out and "CCL401" not in out, out

    # adopting concurlint on existing code: a baseline named in pyproject.toml is what the hook uses
    (project / "shout.py").write_text(HAZARD, encoding="utf-8")
    (project / "pyproject.toml").write_text('[tool.concurlint]\nbaseline = "concurlint-baseline.json"\n')
    subprocess.run([script("concurlint"), "report", "--no-cache", "--write-baseline", "concurlint-baseline.json"],
                   cwd=project, check=True, capture_output=True)
    _git("add", ".", cwd=project)
    code, out = run("--files", "shout.py")
    assert code == 0 and "1 finding suppressed by baseline concurlint-baseline.json" in out, out

    # the on-demand project report hook of docs/usage.md, with the same baseline
    usage_hooks = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    assert "pre-commit run --hook-stage manual concurlint-report" in usage_hooks
    config += "      - id: concurlint-report\n"
    (project / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    _git("add", ".", cwd=project)
    code, out = run("--hook-stage", "manual", "concurlint-report")
    assert code == 0 and "concurlint report" in out and "Passed" in out, out
    assert "1 finding suppressed by baseline" in out, out


def test_pip_install_from_a_git_url_offline(tmp_path, offline_env):
    """`pip install "git+<URL>@<tag>"` as docs/usage.md shows it, with a file:// URL of this clone."""
    ref = _committed_head()
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    proc = subprocess.run([*_offline(), str(python), "-m", "pip", "install", "-q", f"git+file://{ROOT}@{ref}"],
                          env=offline_env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    version = subprocess.run([str(env_dir / "bin" / "concurlint"), "--version"], capture_output=True, text=True)
    from concurlint import __version__

    assert version.returncode == 0 and version.stdout.strip() == f"concurlint {__version__}"
    usage = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    assert re.search(r'pip install "git\+\S+@v\d+\.\d+\.\d+"', usage)


POLLER = textwrap.dedent('''\
    """Status poller: asks each backend in turn, forever."""
    import asyncio
    import time


    async def poll(backends, results):
        while True:
            for name, ping in backends.items():
                results[name] = await ping()
            time.sleep(5)  # between rounds
    ''')


def test_concurlint_fix_hook_fixes_then_passes_offline(tmp_path, offline_env):
    """The `concurlint-fix` hook of .pre-commit-hooks.yaml, run by the real pre-commit: the first
    run fixes the file and fails (pre-commit fails a hook that changed files), the fix is staged as
    a user would, the second run passes and changes nothing."""
    ref = _committed_head()
    project = tmp_path / "project"
    project.mkdir()
    _git("init", "-q", cwd=project)
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {ref}\n    hooks:\n      - id: concurlint-fix\n", encoding="utf-8")
    (project / "poller.py").write_text(POLLER, encoding="utf-8")
    _git("add", ".", cwd=project)

    def run():
        proc = subprocess.run([*_offline(), script("pre-commit"), "run", "--verbose", "--files", "poller.py"],
                              cwd=project, env=offline_env, capture_output=True, text=True, timeout=900)
        return proc.returncode, proc.stdout + proc.stderr

    code, out = run()
    assert code == 1 and "Failed" in out and "files were modified by this hook" in out, out
    assert "Fixed 1 finding in 1 file; 0 findings left." in out, out
    fixed = (project / "poller.py").read_text(encoding="utf-8")
    assert fixed == POLLER.replace("time.sleep(5)  # between rounds", "await asyncio.sleep(5)  # between rounds") \
        .replace("import asyncio\nimport time\n", "import asyncio\n")

    _git("add", "poller.py", cwd=project)
    code, out = run()
    assert code == 0 and "Passed" in out, out
    assert (project / "poller.py").read_text(encoding="utf-8") == fixed

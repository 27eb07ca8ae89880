"""Which files a directory walk analyses, through the real `concurlint`: ruff's convention, where
`exclude` replaces the built-in list and `extend-exclude` adds to it (config keys and CLI options),
and a run that analysed nothing because of exclusion says so."""
from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import run_cli

# a real package that happens to be called `build` (a build-system helper of the project)
BUILD_STEPS = textwrap.dedent('''\
    from concurrent.futures import ProcessPoolExecutor


    def compile_all(sources):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(lambda src: src.upper(), sources))
    ''')

LEGACY = textwrap.dedent('''\
    from multiprocessing import Pool


    def square_all(xs):
        with Pool() as pool:
            return pool.map(lambda x: x * x, xs)
    ''')


def _project(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n" + table, encoding="utf-8")
    for folder in ("build", "dist"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "build" / "steps.py").write_text(BUILD_STEPS, encoding="utf-8")
    return tmp_path


def _paths(proc) -> set:
    return {line.split(":", 1)[0] for line in proc.stdout.splitlines()}


def test_builtin_excludes_skip_build_and_say_so_when_nothing_was_analysed(tmp_path):
    proj = _project(tmp_path)
    proc = run_cli("check", ".", "--no-cache", cwd=proj, check_exit=0)
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        "concurlint: no file analysed: 3 Python files skipped by exclusion (build/, dist/: the built-in "
        "excludes); to analyse them set exclude in [tool.concurlint] or pass --exclude (either replaces "
        "the built-in list)")
    report = run_cli("report", ".", "--no-cache", cwd=proj, check_exit=0)
    assert "3 Python files skipped by exclusion" in report.stderr and "0 files," in report.stdout


def test_exclude_in_config_replaces_the_builtin_list(tmp_path):
    proj = _project(tmp_path, 'exclude = ["legacy/"]\n')
    (proj / "legacy").mkdir()
    (proj / "legacy" / "old.py").write_text(LEGACY, encoding="utf-8")
    proc = run_cli("check", ".", "--no-cache", cwd=proj, check_exit=1)
    assert _paths(proc) == {"build/steps.py"}  # build/ analysed, legacy/ skipped
    assert "CCL401" in proc.stdout and proc.stderr == ""


def test_empty_exclude_analyses_everything(tmp_path):
    proj = _project(tmp_path, "exclude = []\n")
    proc = run_cli("check", ".", "--no-cache", cwd=proj, check_exit=1)
    assert _paths(proc) == {"build/steps.py"}


def test_extend_exclude_keeps_the_builtin_list(tmp_path):
    proj = _project(tmp_path, 'extend-exclude = ["legacy/"]\n')
    (proj / "legacy").mkdir()
    (proj / "legacy" / "old.py").write_text(LEGACY, encoding="utf-8")
    (proj / "app.py").write_text(LEGACY, encoding="utf-8")
    proc = run_cli("check", ".", "--no-cache", cwd=proj, check_exit=1)
    assert _paths(proc) == {"app.py"}  # build/ (built-in) and legacy/ (extend-exclude) both skipped
    assert proc.stderr == ""  # a file was analysed: no note about exclusion


def test_cli_options_override_and_extend(tmp_path):
    proj = _project(tmp_path, 'extend-exclude = ["legacy/"]\n')
    (proj / "legacy").mkdir()
    (proj / "legacy" / "old.py").write_text(LEGACY, encoding="utf-8")
    # --exclude= (empty) replaces the built-in list; extend-exclude of the config still applies
    proc = run_cli("check", ".", "--no-cache", "--exclude=", cwd=proj, check_exit=1)
    assert _paths(proc) == {"build/steps.py"}
    # --exclude with patterns replaces it too; --extend-exclude adds to what applies
    proc = run_cli("check", ".", "--no-cache", "--exclude", "dist", "--extend-exclude", "build", cwd=proj, check_exit=0)
    assert proc.stdout == ""
    assert "4 Python files skipped by exclusion (build, dist, legacy/: exclude and extend-exclude)" in proc.stderr


def test_builtin_excludes_apply_only_below_the_path_named(tmp_path):
    proj = _project(tmp_path)
    proc = run_cli("check", "build", "--no-cache", cwd=proj, check_exit=1)
    assert _paths(proc) == {"build/steps.py"} and proc.stderr == ""

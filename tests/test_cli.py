"""The real `concurlint` and `flake8` commands, end to end."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

from conftest import FIXTURES, ROOT, report_json, run_cli, script

HAZARD = textwrap.dedent(
    """\
    import threading
    from concurrent.futures import ProcessPoolExecutor

    LOCK = threading.Lock()


    def double(x):
        return x * 2


    def main(items):
        with ProcessPoolExecutor() as pool:
            a = list(pool.map(lambda x: x * 2, items))
            b = list(pool.map(lambda x: x * 3, items))  # noqa: CCL401
            c = list(pool.map(lambda x: x * 4, items))  # noqa
            d = pool.submit(double, LOCK)  # noqa: CCL4
            e = pool.submit(double, LOCK)  # noqa: CCL401
        return a, b, c, d, e
    """
)


def _write(tmp_path, text=HAZARD, name="jobs.py"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_check_output_exit_status_and_noqa(tmp_path):
    _write(tmp_path)
    # every confidence: a finding only acknowledged (not silenced) would show at low, and CCL402,
    # CCL405 and CCL408 report at medium at most (docs/precision.md)
    proc = run_cli("check", "jobs.py", "--min-confidence", "low", cwd=tmp_path, check_exit=1)
    assert proc.stdout.splitlines() == [
        "jobs.py:13:27: CCL401 lambda cannot be pickled; ProcessPoolExecutor.map will fail: "
        "use a module-level function (def) instead",
        "jobs.py:17:33: CCL405 threading.Lock cannot be pickled; ProcessPoolExecutor.submit will fail: "
        "pass it to the pool initializer, or use a multiprocessing.Manager() lock [medium confidence]",
    ]


def test_fail_on_select_ignore(tmp_path):
    _write(tmp_path)
    run_cli("check", "jobs.py", "--fail-on", "never", cwd=tmp_path, check_exit=0)
    proc = run_cli("check", "jobs.py", "--select", "CCL401", cwd=tmp_path, check_exit=1)
    assert [ln.split()[1] for ln in proc.stdout.splitlines()] == ["CCL401"]
    # CCL405 reports at medium at most: selected alone, the default output holds nothing
    run_cli("check", "jobs.py", "--select", "CCL405", cwd=tmp_path, check_exit=0)
    proc = run_cli("check", "jobs.py", "--select", "CCL405", "--min-confidence", "medium", cwd=tmp_path, check_exit=1)
    assert [ln.split()[1] for ln in proc.stdout.splitlines()] == ["CCL405"]
    proc = run_cli("check", "jobs.py", "--ignore", "CCL4", "--min-confidence", "low", cwd=tmp_path, check_exit=0)
    assert proc.stdout == ""


def test_pyproject_config_and_per_file_ignores(tmp_path):
    _write(tmp_path)
    sub = tmp_path / "tests"
    sub.mkdir()
    _write(sub, name="test_jobs.py")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.concurlint]\nfail-on = "error"\nexclude = ["build/"]\nmin-confidence = "low"\n'
        '[tool.concurlint.per-file-ignores]\n"tests/*" = ["CCL4"]\n'
    )
    build = tmp_path / "build"
    build.mkdir()
    _write(build, name="generated.py")
    proc = run_cli("check", ".", cwd=tmp_path, check_exit=1)
    files = {ln.split(":")[0] for ln in proc.stdout.splitlines()}
    assert files == {"jobs.py"}


def test_python_dash_m_is_the_same_program(tmp_path):
    _write(tmp_path)
    a = run_cli("check", "jobs.py", cwd=tmp_path)
    b = subprocess.run([sys.executable, "-m", "concurlint", "check", "jobs.py"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout)


def test_version_rules_explain():
    from concurlint import __version__
    from concurlint.registry import all_meta

    assert run_cli("--version", check_exit=0).stdout.strip() == f"concurlint {__version__}"
    rules = run_cli("rules", check_exit=0).stdout
    for code, meta in all_meta().items():
        assert code in rules and meta.name in rules
    listed = json.loads(run_cli("rules", "--format", "json", check_exit=0).stdout)
    assert {r["code"] for r in listed} == set(all_meta())
    # the most confidence each rule reports with: its record on real code (docs/precision.md)
    up_to = {r["code"]: r["up_to"] for r in listed}
    assert up_to["CCL401"] == "high" and up_to["CCL301"] == "medium"
    assert [ln.split()[4] for ln in rules.splitlines() if ln.startswith("CCL504 ")] == ["medium"]
    text = run_cli("explain", "ccl401", check_exit=0).stdout
    for heading in ("# CCL401: lambda-sent-to-process-pool", "## What it does", "## Why is this bad?",
                    "## Example", "## Use instead", "## References"):
        assert heading in text


def test_flake8_reports_the_same_findings_as_check(tmp_path):
    """`flake8 --select CCL` on the fixtures equals `concurlint check` on them, at every confidence
    (the rules capped at medium, docs/precision.md, and the less sure findings too): flake8 has no
    option for it, both read the project's pyproject.toml."""
    # unparsable fixtures (CCL000) are flake8's own E999: flake8 runs no plugin on them
    files = sorted(p.name for p in FIXTURES.glob("CCL*.py") if not p.name.startswith("CCL000"))
    for name in files:
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "low"\n')
    ours = run_cli("check", *files, "--no-cache", cwd=tmp_path)
    assert ours.returncode == 1, ours.stderr
    flake = subprocess.run([script("flake8"), "--select", "CCL", "--jobs", "1", *files], cwd=tmp_path,
                           capture_output=True, text=True)
    assert "Traceback" not in flake.stderr, flake.stderr
    assert flake.returncode == 1
    norm = lambda out: sorted(line.strip() for line in out.splitlines() if line.strip())  # noqa: E731
    assert norm(flake.stdout) == norm(ours.stdout)
    assert len(norm(ours.stdout)) >= 16
    from concurlint.registry import all_meta

    capped = {code for code, meta in all_meta().items() if meta.ceiling != "high"}
    assert capped and capped <= {line.split()[1] for line in norm(ours.stdout)}  # compared too


def test_flake8_plugin_reads_pyproject(tmp_path):
    _write(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.concurlint]\nignore = ["CCL405"]\n')
    flake = subprocess.run([script("flake8"), "--select", "CCL", "jobs.py"], cwd=tmp_path,
                           capture_output=True, text=True)
    codes = [ln.split()[1] for ln in flake.stdout.splitlines()]
    assert codes == ["CCL401"], flake.stdout + flake.stderr


def test_static_analysis_never_imports_or_runs_the_code(tmp_path):
    marker = tmp_path / "IMPORTED"
    evil = textwrap.dedent(
        f"""\
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("imported")
        raise SystemExit("analysed code was executed")

        from concurrent.futures import ProcessPoolExecutor

        def main(items):
            with ProcessPoolExecutor() as pool:
                return list(pool.map(lambda x: x, items))
        """
    )
    pkg = tmp_path / "victim"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(evil)
    (pkg / "jobs.py").write_text(evil)
    (tmp_path / "conftest.py").write_text(evil)
    doc = report_json(str(tmp_path))
    assert {f["code"] for f in doc["findings"]} == {"CCL401"}
    run_cli("check", str(tmp_path), "--no-cache", check_exit=1)
    flake = subprocess.run([script("flake8"), "--select", "CCL", str(tmp_path)], capture_output=True, text=True)
    assert "CCL401" in flake.stdout
    assert not marker.exists()


def test_json_report_paths_functions_and_recommendations(tmp_path):
    _write(tmp_path)
    doc = report_json("jobs.py", cwd=tmp_path)
    assert doc["schema"] == "concurlint-report/1"
    assert {f["path"] for f in doc["findings"]} == {"jobs.py"}
    quals = {f["qualname"]: f for f in doc["functions"]}
    assert quals["jobs.double"]["line"] == 7
    assert quals["jobs.main"]["kind"] in ("cpu", "io", "mixed", "unknown")
    assert all(r["current"] == "processes" for r in doc["recommendations"])
    doc2 = report_json(str(tmp_path / "jobs.py"))
    assert {f["path"] for f in doc2["findings"]} == {f"{tmp_path}/jobs.py"}


def test_single_files_are_analysed_with_the_modules_they_import(tmp_path):
    """pre-commit passes only changed files: a helper two modules away still counts, and the
    imported modules' own findings are not reported."""
    app = tmp_path / "app"
    app.mkdir()
    # CCL101 reports at medium at most (docs/precision.md): the project shows medium findings
    (tmp_path / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "medium"\n')
    (app / "__init__.py").write_text("")
    (app / "core.py").write_text(
        "from concurrent.futures import ProcessPoolExecutor\n\n"
        "def heavy(n):\n    t = 0\n    for i in range(1_000_000):\n        for j in range(n):\n            t += i * j\n    return t\n\n"
        "def unrelated(xs):\n    with ProcessPoolExecutor() as pool:\n        return list(pool.map(lambda x: x, xs))\n")
    (app / "maths.py").write_text("from app.core import heavy\n\ndef crunch(n):\n    return heavy(n)\n")
    (app / "jobs.py").write_text(
        "from concurrent.futures import ThreadPoolExecutor\nfrom app.maths import crunch\n\n"
        "def run(ns):\n    with ThreadPoolExecutor() as pool:\n        return list(pool.map(crunch, ns))\n")
    proc = run_cli("check", "app/jobs.py", "--no-cache", cwd=tmp_path, check_exit=1)
    assert [ln.split()[1] for ln in proc.stdout.splitlines()] == ["CCL101"], proc.stdout
    assert "app/jobs.py:6:" in proc.stdout and "app.core.heavy" in proc.stdout
    doc = report_json("app/jobs.py", cwd=tmp_path)
    assert {f["path"] for f in doc["functions"]} == {"app/jobs.py"}
    assert [r["recommended"] for r in doc["recommendations"]] == ["processes"]
    whole = run_cli("check", ".", "--no-cache", cwd=tmp_path)
    assert {ln.split()[1] for ln in whole.stdout.splitlines()} == {"CCL101", "CCL401"}


def test_junk_folders_are_skipped_below_the_named_path_only(tmp_path):
    pkg = tmp_path / ".venv" / "lib" / "site-packages" / "vendored"
    pkg.mkdir(parents=True)
    (pkg / "jobs.py").write_text(HAZARD)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "junk.py").write_text(HAZARD)
    (tmp_path / "app.py").write_text("x = 1\n")
    assert run_cli("check", ".", "--no-cache", cwd=tmp_path, check_exit=0).stdout == ""
    proc = run_cli("check", ".venv/lib/site-packages/vendored", "--no-cache", cwd=tmp_path, check_exit=1)
    assert {ln.split(":")[0] for ln in proc.stdout.splitlines()} == {".venv/lib/site-packages/vendored/jobs.py"}


def test_package_main_module_needs_no_guard_but_a_script_does(tmp_path):
    """CCL303 follows what multiprocessing does: a spawn child re-imports a script that has no
    `if __name__ == "__main__":` guard (and fails), but never re-runs a package's __main__.py."""
    code = ("import multiprocessing\n\n"
            "def main():\n"
            "    child = multiprocessing.get_context('spawn').Process(target=print, args=('child ran',))\n"
            "    child.start()\n"
            "    child.join()\n"
            "    print('exit', child.exitcode)\n\n"
            "main()\n")
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "__init__.py").write_text("")
    (tmp_path / "tool" / "__main__.py").write_text(code)
    (tmp_path / "script.py").write_text(code)
    proc = run_cli("check", ".", "--no-cache", "--select", "CCL303", cwd=tmp_path, check_exit=1)
    assert [ln.split(":")[0] for ln in proc.stdout.splitlines()] == ["script.py"]
    ok = subprocess.run([sys.executable, "-m", "tool"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "child ran" in ok.stdout and "exit 0" in ok.stdout, ok.stdout + ok.stderr
    bad = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "RuntimeError" in bad.stderr and "exit 1" in bad.stdout, bad.stdout + bad.stderr


def test_cache_directory_stays_out_of_git(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n")
    _write(tmp_path)
    run_cli("check", ".", cwd=tmp_path, check_exit=1)
    assert (tmp_path / ".concurlint_cache" / "CACHEDIR.TAG").is_file()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert ".concurlint_cache" not in status and "jobs.py" in status

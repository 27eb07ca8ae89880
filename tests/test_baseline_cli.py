"""Baselines through the real `concurlint`: --write-baseline writes, says so and exits 0; `check`
(what the pre-commit hook runs) takes --baseline; `baseline` in [tool.concurlint] (relative to the
pyproject.toml) applies to every run, from any directory; every run says what it suppressed."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import run_cli, validate_report

# a nightly export job: one known hazard today (a lambda sent to a process pool)
EXPORT = textwrap.dedent('''\
    from concurrent.futures import ProcessPoolExecutor
    import csv


    def to_row(record):
        return [record["id"], record["total"]]


    def export(records, path):
        with ProcessPoolExecutor() as pool:
            rows = list(pool.map(lambda r: to_row(r), records))
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(rows)
    ''')

# the same job a week later: a second export added, with the same mistake in a new place
EXPORT_LATER = EXPORT + textwrap.dedent('''\


    def export_totals(records):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(lambda r: r["total"], records))
    ''')


def _project(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n" + table, encoding="utf-8")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "shop" / "export.py").write_text(EXPORT, encoding="utf-8")
    return tmp_path


def test_write_baseline_writes_says_so_and_exits_0(tmp_path):
    proj = _project(tmp_path)
    proc = run_cli("report", "--no-cache", "--write-baseline", "base.json", cwd=proj, check_exit=0)
    assert proc.stdout == ""  # not the whole report
    assert proc.stderr.startswith("concurlint: wrote 1 finding to baseline base.json;")
    doc = json.loads((proj / "base.json").read_text(encoding="utf-8"))
    assert [e["code"] for e in doc["findings"]] == ["CCL401"]
    # with the hazard gone, an empty baseline: "0 findings"
    (proj / "shop" / "export.py").write_text("def export():\n    return []\n", encoding="utf-8")
    proc = run_cli("report", "--no-cache", "--write-baseline", "empty.json", cwd=proj, check_exit=0)
    assert "wrote 0 findings to baseline empty.json" in proc.stderr


def test_check_takes_baseline_and_says_what_it_suppressed(tmp_path):
    proj = _project(tmp_path)
    run_cli("report", "--no-cache", "--write-baseline", "base.json", cwd=proj, check_exit=0)
    plain = run_cli("check", "shop/export.py", "--no-cache", cwd=proj, check_exit=1)
    assert "CCL401" in plain.stdout and "suppressed" not in plain.stderr
    proc = run_cli("check", "shop/export.py", "--no-cache", "--baseline", "base.json", cwd=proj, check_exit=0)
    assert proc.stdout == ""
    assert proc.stderr.strip() == "concurlint: 1 finding suppressed by baseline base.json"
    # a new finding is reported (and fails), the old one stays suppressed
    (proj / "shop" / "export.py").write_text(EXPORT_LATER, encoding="utf-8")
    proc = run_cli("check", "shop/export.py", "--no-cache", "--baseline", "base.json", cwd=proj, check_exit=1)
    assert [line.split(":")[1] for line in proc.stdout.splitlines()] == ["18"]
    assert "1 finding suppressed" in proc.stderr


def test_baseline_config_key_is_relative_to_pyproject_and_works_from_anywhere(tmp_path):
    proj = _project(tmp_path, 'baseline = "ci/concurlint-baseline.json"\n')
    (proj / "ci").mkdir()
    run_cli("report", "--no-cache", "--write-baseline", "ci/concurlint-baseline.json", cwd=proj, check_exit=0)
    # from the project root, from the package directory, and from outside the project
    for cwd, path in ((proj, "shop/export.py"), (proj / "shop", "export.py"), (proj.parent, f"{proj.name}/shop")):
        proc = run_cli("check", path, "--no-cache", cwd=cwd, check_exit=0)
        assert proc.stdout == "" and "1 finding suppressed by baseline" in proc.stderr, (cwd, proc.stderr)
    # --no-baseline turns it off for one run
    run_cli("check", "shop/export.py", "--no-cache", "--no-baseline", cwd=proj, check_exit=1)
    # a configured baseline that does not exist is a usage error naming it
    (proj / "ci" / "concurlint-baseline.json").unlink()
    proc = run_cli("check", "shop", "--no-cache", cwd=proj, check_exit=2)
    assert "concurlint-baseline.json does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_reports_say_how_many_findings_the_baseline_suppressed(tmp_path):
    proj = _project(tmp_path, 'baseline = "base.json"\n')
    run_cli("report", "--no-cache", "--write-baseline", "base.json", cwd=proj, check_exit=0)
    (proj / "shop" / "export.py").write_text(EXPORT_LATER, encoding="utf-8")
    text = run_cli("report", "--no-cache", cwd=proj, check_exit=1).stdout
    assert "1 finding (1 error, 0 warnings, 0 info)" in text
    assert "1 finding suppressed by baseline base.json" in text
    doc = json.loads(run_cli("report", "--no-cache", "--format", "json", cwd=proj, check_exit=1).stdout)
    validate_report(doc)
    assert doc["baseline"] == {"path": "base.json", "suppressed": 1} and len(doc["findings"]) == 1
    md = run_cli("report", "--no-cache", "--format", "markdown", cwd=proj, check_exit=1).stdout
    assert "1 finding suppressed by baseline `base.json`." in md


def test_bad_baseline_key_is_a_usage_error(tmp_path):
    proj = _project(tmp_path, "baseline = 3\n")
    proc = run_cli("check", "shop", "--no-cache", cwd=proj, check_exit=2)
    assert "'baseline'" in proc.stderr and "must be a file path" in proc.stderr

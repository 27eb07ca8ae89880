"""Library mode (issue #14) through the real `concurlint` and `flake8` commands.

The library-mode fixtures (``tests/fixtures/CCL*_library_*.py``, first line ``# concurlint:
library``) are checked line by line by test_fixtures.py; here: the switch itself (flag, config
key, flake8), that nothing changes without it, and bad values.
"""
from __future__ import annotations

import shutil
import subprocess

from conftest import FIXTURES, ROOT, report_json, run_cli, script

LIBRARY_FIXTURES = sorted(FIXTURES.glob("CCL*_library_*.py"))
LIBRARY_CODES = {"CCL204", "CCL306", "CCL605"}


def _project(tmp_path, config: str = "") -> None:
    """A small package made of the library fixtures, with a pyproject.toml."""
    pkg = tmp_path / "metricslib"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for f in LIBRARY_FIXTURES:
        name = f.stem.split("_library_")[1] + ".py"
        shutil.copy(f, pkg / name)
    (tmp_path / "pyproject.toml").write_text(f"[project]\nname = 'metricslib'\n\n[tool.concurlint]\n{config}")


def test_fixtures_exist_for_every_library_rule():
    names = {f.name.split("_", 1)[0] for f in LIBRARY_FIXTURES}
    assert LIBRARY_CODES | {"CCL201", "CCL202"} <= names


def test_without_library_mode_the_library_fixtures_are_clean():
    """The same files without --library: no thread is started, so nothing is reported."""
    doc = report_json(*[str(f.relative_to(ROOT)) for f in LIBRARY_FIXTURES], "--min-confidence", "low", cwd=ROOT)
    assert doc["findings"] == []


def test_flag_and_config_key_give_the_same_findings(tmp_path):
    _project(tmp_path)
    flag = run_cli("check", "--no-cache", "--library", "metricslib", cwd=tmp_path)
    assert flag.returncode == 1, flag.stderr
    codes = {line.split()[1] for line in flag.stdout.splitlines()}
    assert LIBRARY_CODES | {"CCL201", "CCL202"} <= codes
    plain = run_cli("check", "--no-cache", "metricslib", cwd=tmp_path)
    assert plain.returncode == 0 and plain.stdout == "", plain.stdout
    _project(tmp_path / "configured", "library = true\n")
    configured = run_cli("check", "--no-cache", "metricslib", cwd=tmp_path / "configured")
    assert sorted(configured.stdout.splitlines()) == sorted(flag.stdout.splitlines())


def test_flake8_honours_library_true(tmp_path):
    _project(tmp_path, "library = true\n")
    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "metricslib").glob("*.py"))
    ours = run_cli("check", "--no-cache", *files, cwd=tmp_path)
    flake = subprocess.run([script("flake8"), "--select", "CCL", "--jobs", "1", *files], cwd=tmp_path,
                           capture_output=True, text=True)
    assert "Traceback" not in flake.stderr, flake.stderr
    norm = lambda out: sorted(line.strip() for line in out.splitlines() if line.strip())  # noqa: E731
    assert norm(flake.stdout) == norm(ours.stdout)
    assert {line.split()[1] for line in norm(flake.stdout)} >= LIBRARY_CODES


def test_json_findings_name_the_public_entry_and_the_state(tmp_path):
    _project(tmp_path)
    doc = report_json("metricslib", "--library", cwd=tmp_path)
    by_code = {}
    for f in doc["findings"]:
        by_code.setdefault(f["code"], []).append(f)
    lazy = [f for f in by_code["CCL202"] if "lazy initialisation" in f["message"] and "_default_client" in f["message"]]
    assert len(lazy) == 1 and lazy[0]["confidence"] == "high"
    assert "public 'default_client'" in lazy[0]["message"]
    assert any(r["message"].endswith("is defined here") for r in lazy[0]["related"])
    signal_at_import = [f for f in by_code["CCL605"] if "at import time" in f["message"]]
    assert len(signal_at_import) == 1 and signal_at_import[0]["function"] is None


def test_docstring_saying_not_thread_safe_lowers_confidence(tmp_path):
    _project(tmp_path)
    high = report_json("metricslib", "--library", cwd=tmp_path)
    low = report_json("metricslib", "--library", "--min-confidence", "low", cwd=tmp_path)
    batch = [f for f in low["findings"] if "UploadBatch" in f["message"]]
    assert batch and all(f["confidence"] == "low" for f in batch)
    assert not [f for f in high["findings"] if "UploadBatch" in f["message"]]


def test_target_314_has_no_fork_default(tmp_path):
    _project(tmp_path)
    doc = report_json("metricslib", "--library", "--target-version", "3.14", cwd=tmp_path)
    assert not [f for f in doc["findings"] if f["code"] == "CCL306"]


def test_bad_library_value_is_a_usage_error(tmp_path):
    _project(tmp_path, 'library = "yes"\n')
    proc = run_cli("check", "metricslib", cwd=tmp_path)
    assert proc.returncode == 2
    assert "'library'" in proc.stderr and "true or false" in proc.stderr
    assert "Traceback" not in proc.stderr

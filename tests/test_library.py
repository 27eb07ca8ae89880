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
    # without it nothing at all, not even a CCL2 finding at medium (its ceiling outside library mode)
    plain = run_cli("check", "--no-cache", "--min-confidence", "low", "metricslib", cwd=tmp_path)
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
    assert len(signal_at_import) == 2 and all(f["function"] is None for f in signal_at_import)
    assert all(f["confidence"] == "medium" for f in by_code["CCL605"] if f not in signal_at_import)


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


def _readiness_project(tmp_path):
    """A cache module that needs locks and a settings module that is ready."""
    pkg = tmp_path / "cachelib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    shutil.copy(FIXTURES / "CCL201_library_cache.py", pkg / "memo.py")
    (pkg / "settings.py").write_text(
        '"""Settings read by every call, replaced whole by configure()."""\n'
        "import threading\n\n"
        "_settings = {'timeout': 10}\n"
        "_lock = threading.Lock()\n"
        "_overrides = {}\n\n\n"
        "def configure(**options):\n"
        "    global _settings\n"
        "    _settings = dict(options)\n\n\n"
        "def override(name, value):\n"
        "    with _lock:\n"
        "        _overrides[name] = value\n"
        "        _overrides.pop('stale', None)\n\n\n"
        "def timeout():\n"
        "    return _overrides.get('timeout', _settings['timeout'])\n")


def test_readiness_report_in_every_format(tmp_path):
    _readiness_project(tmp_path)
    doc = report_json("cachelib", "--library", "--target-version", "3.14t", cwd=tmp_path)
    by_module = {m["module"]: m for m in doc["readiness"]}
    memo, settings = by_module["cachelib.memo"], by_module["cachelib.settings"]
    assert memo["verdict"] == "needs-locks"
    guards = {s["name"]: s["guarded_by"] for s in memo["state"]}
    assert guards["_hits"] == "none" and guards["_guarded"] == "lock: _lock"
    assert guards["_pending"] == "atomic operations"
    assert "_UNITS" not in guards  # written only while the module is imported
    assert settings["verdict"] == "ready"
    assert {s["name"]: s["guarded_by"] for s in settings["state"]} == {
        "_settings": "atomic operations", "_overrides": "lock: _lock"}
    text = run_cli("report", "cachelib", "--library", "--target-version", "3.14t", "--no-cache", cwd=tmp_path).stdout
    assert "Free-threading readiness" in text and "cachelib/memo.py (cachelib.memo): needs locks" in text
    md = run_cli("report", "cachelib", "--library", "--target-version", "3.14t", "--no-cache",
                 "--format", "markdown", cwd=tmp_path).stdout
    assert "## Free-threading readiness" in md and "| `cachelib.settings` | **ready** |" in md
    import json

    sarif = json.loads(run_cli("report", "cachelib", "--library", "--target-version", "3.14t", "--no-cache",
                               "--format", "sarif", cwd=tmp_path).stdout)
    props = sarif["runs"][0]["properties"]["concurlint/readiness"]
    assert {m["module"]: m["verdict"] for m in props} == {m["module"]: m["verdict"] for m in doc["readiness"]}


def test_no_readiness_without_library_mode_or_free_threaded_target(tmp_path):
    _readiness_project(tmp_path)
    assert "readiness" not in report_json("cachelib", "--target-version", "3.14t", cwd=tmp_path)
    assert "readiness" not in report_json("cachelib", "--library", "--target-version", "3.14", cwd=tmp_path)
    text = run_cli("report", "cachelib", "--library", "--no-cache", cwd=tmp_path).stdout
    assert "Free-threading readiness" not in text

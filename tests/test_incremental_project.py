"""A run with a kept cache after one edit gives exactly the bytes of a run from scratch, also when
the edit changes findings in a module that was not edited (issue #16 item 10). Through the real
CLI, with the cache directory an editor or a pre-commit hook keeps between runs.

The project: a metrics service. ``app/report.py`` summarises every series on a thread pool with a
helper from ``app/stats.py``; ``app/server.py`` records each request with ``app/counters.py``.
Each test edits one file (or the configuration) and compares the warm report with a cold one:
- the helper turns from fetching a series (IO: threads fit) into number crunching (CPU: CCL101 at
  the pool in report.py, which was not edited);
- the server starts a thread per request (CCL201 on the counter in counters.py, not edited);
- the helper module is deleted; the helper is renamed (its importer no longer resolves it);
- the configuration declares the CPU-bound helper a wait (every cached result depends on it).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import report_bytes
from project_sources import COUNTERS, SERIAL_SERVER, THREADED_SERVER

REPORT = '''"""The nightly report: a summary of every exported series."""
from concurrent.futures import ThreadPoolExecutor

from app.stats import summarise


def summarise_all(urls):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(summarise, urls))
'''

FETCHING = '''"""Statistics of the exported series."""
import json
import urllib.request


def summarise(url):
    """The series behind ``url``, fetched from the metrics store, with its length."""
    with urllib.request.urlopen(url, timeout=10) as response:
        series = json.load(response)
    return {"url": url, "points": len(series)}
'''

CRUNCHING = '''"""Statistics of the exported series."""


def summarise(series):
    """The moving average of ``series`` over a window of 50 points."""
    out = []
    for i in range(len(series)):
        acc = 0.0
        for j in range(max(0, i - 50), i + 1):
            acc += series[j] * series[j]
        out.append(acc / 50)
    return out
'''


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "metrics"\n')
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "report.py").write_text(REPORT)
    (app / "stats.py").write_text(FETCHING)
    (app / "counters.py").write_text(COUNTERS)
    (app / "server.py").write_text(SERIAL_SERVER)
    return tmp_path


def report(project: Path, *args) -> bytes:
    return report_bytes(project, "--min-confidence", "low", *args)


def warm_equals_cold(project: Path) -> dict:
    """The report with the kept cache, checked byte for byte against a run from scratch."""
    warm = report(project, "--cache-dir", project / "cache")
    assert warm == report(project, "--no-cache")
    return json.loads(warm)


def places(doc: dict, code: str) -> set:
    return {(f["path"], f["line"]) for f in doc["findings"] if f["code"] == code}


def kind(doc: dict, qualname: str) -> str:
    return next((f["kind"] for f in doc["functions"] if f["qualname"] == qualname), "absent")


def test_a_callee_turning_cpu_bound_changes_its_callers_findings_in_another_module(project):
    before = warm_equals_cold(project)
    assert kind(before, "app.stats.summarise") == "io" and not places(before, "CCL101")

    (project / "app" / "stats.py").write_text(CRUNCHING)
    after = warm_equals_cold(project)  # report.py's facts come from the cache
    assert kind(after, "app.stats.summarise") == "cpu"
    assert places(after, "CCL101") == {("app/report.py", 9)}

    (project / "app" / "stats.py").write_text(FETCHING)  # undone: the first report again
    assert warm_equals_cold(project) == before


def test_a_new_thread_start_reports_the_unlocked_counter_in_the_module_not_edited(project):
    before = warm_equals_cold(project)
    assert not places(before, "CCL201")

    (project / "app" / "server.py").write_text(THREADED_SERVER)
    after = warm_equals_cold(project)
    assert places(after, "CCL201") == {("app/counters.py", 7)}

    (project / "app" / "server.py").write_text(SERIAL_SERVER)
    assert warm_equals_cold(project) == before


def test_a_deleted_module_and_a_renamed_function(project):
    (project / "app" / "stats.py").write_text(CRUNCHING)
    crunching = warm_equals_cold(project)
    assert places(crunching, "CCL101") == {("app/report.py", 9)}

    # renamed: report.py still imports the old name, which resolves to nothing any more
    (project / "app" / "stats.py").write_text(CRUNCHING.replace("def summarise(", "def moving_average("))
    renamed = warm_equals_cold(project)
    assert kind(renamed, "app.stats.moving_average") == "cpu" and kind(renamed, "app.stats.summarise") == "absent"
    assert not places(renamed, "CCL101")

    (project / "app" / "stats.py").unlink()
    deleted = warm_equals_cold(project)
    assert not places(deleted, "CCL101") and kind(deleted, "app.stats.moving_average") == "absent"
    assert not any(f["path"] == "app/stats.py" for f in deleted["functions"])

    (project / "app" / "stats.py").write_text(CRUNCHING)  # restored: the first report again
    assert warm_equals_cold(project) == crunching


def test_a_configuration_change_invalidates_every_cached_result(project):
    (project / "app" / "stats.py").write_text(CRUNCHING)
    before = warm_equals_cold(project)
    assert places(before, "CCL101") == {("app/report.py", 9)}

    # no file changed, only what the user says about the helper: it waits (a remote call)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "metrics"\n\n[tool.concurlint.knowledge]\nio = ["app.stats.summarise"]\n')
    declared = warm_equals_cold(project)
    assert kind(declared, "app.stats.summarise") == "mixed"
    assert not places(declared, "CCL101")

    (project / "pyproject.toml").write_text('[project]\nname = "metrics"\n')
    assert warm_equals_cold(project) == before

"""After an edit that leaves every changed file's facts as they were (a reworded docstring or
comment), the kept cache answers with the last report, without the project pass; after any other
edit the pass runs. Either way the report is byte for byte the report of a run from scratch
(issue #16 item 10). Through the real CLI; ``CONCURLINT_CACHE_TRACE=1`` says which way it went.

The project: a metrics service. ``app/report.py`` summarises every series on a thread pool with a
number-crunching helper from ``app/stats.py`` (CCL101 at the pool: processes fit CPU work), and
``app/server.py`` records each request with ``app/counters.py``; ``app/session.py`` holds a client
whose docstring says it must not be shared between threads.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import report_bytes
from project_sources import COUNTERS, SERIAL_SERVER, THREADED_SERVER

REPORT = '''"""The nightly report: a summary of every exported series."""
from concurrent.futures import ThreadPoolExecutor

from app.stats import moving_average


def summarise_all(series_list):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(moving_average, series_list))
'''

STATS = '''"""Statistics of the exported series."""


def moving_average(series):
    """The moving average of ``series`` over a window of 50 points."""
    out = []
    for i in range(len(series)):
        acc = 0.0
        # the window ends at the current point
        for j in range(max(0, i - 50), i + 1):
            acc += series[j] * series[j]
        out.append(acc / 50)
    return out
'''

FETCHING = '''"""Statistics of the exported series."""
import json
import urllib.request


def moving_average(url):
    """The series behind ``url``, fetched from the metrics store."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)
'''

SESSION = '''"""The metrics store client."""
import urllib.request


class StoreClient:
    """A client of the metrics store, with its own connection."""

    def __init__(self, base):
        self.base = base

    def fetch(self, name):
        with urllib.request.urlopen(self.base + name, timeout=10) as response:
            return response.read()
'''


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "metrics"\n')
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    for name, text in (("report", REPORT), ("stats", STATS), ("counters", COUNTERS),
                       ("server", SERIAL_SERVER), ("session", SESSION)):
        (app / f"{name}.py").write_text(text)
    return tmp_path


def run(project: Path, *args) -> tuple:
    """(report bytes, what the cache trace said) of the real command."""
    return report_bytes(project, "--min-confidence", "low", *args, traced=True)


def warm(project: Path) -> tuple:
    """The report with the kept cache, checked byte for byte against a run from scratch, and
    how the cache answered: "reused", "same inputs" or "computed"."""
    data, trace = run(project, "--cache-dir", project / "cache")
    cold, cold_trace = run(project, "--no-cache")
    assert data == cold
    assert "cache:" not in cold_trace
    if "reused the last report" in trace:
        return json.loads(data), "reused"
    if "the stored report of these same inputs" in trace:
        return json.loads(data), "same inputs"
    assert "computed by the project pass" in trace, trace
    return json.loads(data), "computed"


def edit(project: Path, name: str, old: str, new: str) -> None:
    path = project / "app" / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def places(doc: dict, code: str) -> set:
    return {(f["path"], f["line"]) for f in doc["findings"] if f["code"] == code}


def test_a_reworded_docstring_or_comment_reuses_the_last_report(project):
    before, how = warm(project)
    assert how == "computed"
    assert places(before, "CCL101") == {("app/report.py", 9)}
    assert warm(project) == (before, "same inputs")

    edit(project, "stats.py", "over a window of 50 points", "over the last 50 points")
    assert warm(project) == (before, "reused")
    edit(project, "stats.py", "# the window ends at the current point", "# the window ends at point i")
    assert warm(project) == (before, "reused")  # compared with the last report, not the first

    # two files at once, each with the facts it had
    edit(project, "stats.py", "Statistics of", "Statistics over")
    edit(project, "report.py", "The nightly report", "The daily report")
    assert warm(project) == (before, "reused")


def test_edits_that_change_facts_run_the_project_pass(project):
    before, _ = warm(project)
    assert places(before, "CCL101") == {("app/report.py", 9)}

    # a comment line added: every later line moves, and the findings with it
    edit(project, "report.py", "def summarise_all", "# one summary per series\ndef summarise_all")
    moved, how = warm(project)
    assert how == "computed" and places(moved, "CCL101") == {("app/report.py", 10)}

    # a `# noqa` comment is a fact too: it silences the finding on its line
    edit(project, "report.py", "pool.map(moving_average, series_list))",
         "pool.map(moving_average, series_list))  # noqa: CCL101")
    silenced, how = warm(project)
    assert how == "computed" and not places(silenced, "CCL101")

    # a real change of the helper's calls moves the finding out of a file that was not edited
    (project / "app" / "stats.py").write_text(FETCHING)
    fetching, how = warm(project)
    assert how == "computed" and not places(fetching, "CCL101")
    assert not any(f["path"] == "app/report.py" and f["code"] == "CCL101" for f in fetching["findings"])


def test_a_new_thread_start_a_deleted_module_and_a_configuration_change(project):
    before, _ = warm(project)
    assert not places(before, "CCL201")

    (project / "app" / "server.py").write_text(THREADED_SERVER)
    threaded, how = warm(project)
    assert how == "computed" and places(threaded, "CCL201") == {("app/counters.py", 7)}

    (project / "app" / "stats.py").unlink()
    deleted, how = warm(project)
    assert how == "computed" and not places(deleted, "CCL101")

    (project / "app" / "stats.py").write_text(STATS)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "metrics"\n\n[tool.concurlint.knowledge]\nio = ["app.stats.moving_average"]\n')
    declared, how = warm(project)
    assert how == "computed" and not places(declared, "CCL101")
    # the same docstring edit under this configuration: compared with this configuration's report
    edit(project, "stats.py", "over a window of 50 points", "over the last 50 points")
    assert warm(project) == (declared, "reused")


def test_a_docstring_that_is_a_fact_is_not_reused(project):
    """A class whose docstring says its instances must not be shared between threads is a fact
    (``ClassInfo.not_thread_safe``): rewording the docstring that way runs the pass."""
    warm(project)
    edit(project, "session.py", "with its own connection.",
         "with its own connection: not thread-safe, do not share an instance between threads.")
    _, how = warm(project)
    assert how == "computed"


def test_a_damaged_manifest_or_report_is_not_trusted(project):
    before, _ = warm(project)
    reports = project / "cache" / "reports"
    [manifest] = list(reports.glob("*.manifest"))
    data = bytearray(manifest.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped: the HMAC no longer verifies
    manifest.write_bytes(bytes(data))
    edit(project, "stats.py", "over a window of 50 points", "over the last 50 points")
    assert warm(project) == (before, "computed")  # and a new manifest written

    for entry in reports.glob("*.entry"):  # the reports the manifest points to, damaged
        data = bytearray(entry.read_bytes())
        data[len(data) // 2] ^= 0x01
        entry.write_bytes(bytes(data))
    edit(project, "stats.py", "over the last 50 points", "over the 50 points before it")
    assert warm(project) == (before, "computed")


def test_after_an_edit_is_undone_the_next_edit_is_compared_with_the_files_as_they_are(project):
    original, _ = warm(project)
    edit(project, "report.py", "def summarise_all", "# one summary per series\ndef summarise_all")
    moved, how = warm(project)
    assert how == "computed" and places(moved, "CCL101") == {("app/report.py", 10)}

    (project / "app" / "report.py").write_text(REPORT)  # undone: the first report, as stored
    assert warm(project) == (original, "same inputs")
    # the same kind of edit again, in other words: lines move against the files as they are now
    edit(project, "report.py", "def summarise_all", "# a summary of each series\ndef summarise_all")
    assert warm(project) == (moved, "computed")

"""The call index kept from the last run (issue #16 item 10, ``concurlint/analysis/call_index.py``):
the whole-project scans visit only the calls that pass a test on the call and its target, and for a
module whose facts and call targets are unchanged the stored positions of those calls are reused.
After each edit the report with the kept cache is byte for byte a run from scratch, and the trace
shows that unchanged modules' answers were indeed reused (so the comparison tests the reuse).

Every run of the suite also sets ``CONCURLINT_CHECK_INDEX`` (conftest.py): each reused answer is
compared with testing every call again, and the pass runs a second time with every call passing
every test; the last tests here show that both guards fire.

The project: an image library. ``app/batch.py`` converts albums one after the other through
``convert_album``, in a module added later (``app/convert.py``); ``app/rotate.py`` starts the
heartbeat thread of ``app/monitor.py`` and may then fork; ``app/handlers.py``'s
coroutine calls ``fetch_thumbnail`` of ``app/thumbs.py``, which may wait.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import report_bytes

BATCH = '''"""Every album of the library, converted one after the other."""
from app.convert import convert_album


def convert_library(albums):
    done = []
    for album in albums:
        done.append(convert_album(album))
    return done
'''

CONVERT = '''"""One album's images, shrunk on a process pool."""
from concurrent.futures import ProcessPoolExecutor


def shrink(pixels):
    out = []
    for row in pixels[::2]:
        out.append([sum(row[i:i + 2]) // 2 for i in range(0, len(row), 2)])
    return out


def convert_album(album):
    with ProcessPoolExecutor() as pool:
        return list(pool.map(shrink, album))
'''

MONITOR = '''"""A heartbeat thread."""
import threading
import time


def beat():
    while True:
        time.sleep(5)


def start_heartbeat():
    t = threading.Thread(target=beat, daemon=True)
    t.start()
    return t
'''

ROTATE = '''"""Log rotation, done in a helper process once the heartbeat runs."""
import os

from app.monitor import start_heartbeat


def rotate(path):
    return path + ".1"
'''

FORKING = ROTATE + '''

def rotate_in_child(path):
    start_heartbeat()
    pid = os.fork()
    if pid == 0:
        rotate(path)
        os._exit(0)
    return pid
'''

THUMBS = '''"""Thumbnails, fetched from the image service."""
import urllib.request


def fetch_thumbnail(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()
'''

SCALED = '''"""Thumbnails, scaled from the image in memory."""


def fetch_thumbnail(pixels):
    return [row[::4] for row in pixels[::4]]
'''

HANDLERS = '''"""The web handlers."""
from app.thumbs import fetch_thumbnail


async def thumbnail(request):
    return fetch_thumbnail(request["url"])
'''


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "library"\n')
    app = tmp_path / "app"
    app.mkdir()
    for name, text in (("__init__", ""), ("batch", BATCH), ("monitor", MONITOR), ("rotate", ROTATE),
                       ("thumbs", THUMBS), ("handlers", HANDLERS)):
        (app / f"{name}.py").write_text(text)
    return tmp_path


def warm_equals_cold(project: Path, reused_at_least: int = 1) -> dict:
    """The report with the kept cache, byte for byte a run from scratch; the warm run reused the
    stored call-index answers of at least ``reused_at_least`` modules."""
    warm, trace = report_bytes(project, "--min-confidence", "low", "--cache-dir", project / "cache",
                               validate=False, traced=True)
    cold = report_bytes(project, "--min-confidence", "low", "--no-cache", validate=False)
    assert warm == cold
    if reused_at_least:
        got = re.search(r"call index: the answers of (\d+) of (\d+) modules reused", trace)
        assert got is not None and int(got.group(1)) >= reused_at_least, trace
    return json.loads(warm)


def places(doc: dict, code: str) -> set:
    return {(f["path"], f["line"]) for f in doc["findings"] if f["code"] == code}


def test_a_module_added_turns_an_unchanged_modules_call_into_a_project_call(project):
    """``batch.py`` is not edited and its call's target reads the same (``app.convert.convert_album``),
    but that target is a project function now: the module's stored answers do not hold (a test
    reads whether a target is a project function), and the loop that calls the new pool is found."""
    before = warm_equals_cold(project, reused_at_least=0)
    assert not places(before, "CCL103")

    (project / "app" / "convert.py").write_text(CONVERT)
    added = warm_equals_cold(project)
    assert places(added, "CCL103") == {("app/convert.py", 13)}

    (project / "app" / "convert.py").unlink()
    assert warm_equals_cold(project, reused_at_least=0) == before  # undone: the stored report


def test_a_fork_added_under_a_thread_an_unchanged_module_starts(project):
    before = warm_equals_cold(project, reused_at_least=0)
    assert not places(before, "CCL301")

    (project / "app" / "rotate.py").write_text(FORKING)  # monitor.py, which starts the thread, is not edited
    forking = warm_equals_cold(project)
    assert places(forking, "CCL301") == {("app/rotate.py", 13)}

    (project / "app" / "rotate.py").write_text(ROTATE)
    assert warm_equals_cold(project, reused_at_least=0) == before  # undone: the stored report


def test_a_wait_removed_below_an_unchanged_coroutine(project):
    before = warm_equals_cold(project, reused_at_least=0)
    assert places(before, "CCL501") == {("app/handlers.py", 6)}

    (project / "app" / "thumbs.py").write_text(SCALED)  # handlers.py is not edited
    scaled = warm_equals_cold(project)
    assert not places(scaled, "CCL501")

    (project / "app" / "thumbs.py").write_text(THUMBS)
    assert warm_equals_cold(project, reused_at_least=0) == before  # undone: the stored report


# ------------------------------------------------------------------ the guards
def _run(project: Path):
    from concurlint import engine
    from concurlint.config import load_config

    return engine.run([str(project / "app")], load_config(project / "app"), jobs=1)


@pytest.fixture
def in_process(monkeypatch, project):
    monkeypatch.setenv("CONCURLINT_CHECK_INDEX", "1")
    monkeypatch.setenv("CONCURLINT_CACHE_DIR", str(project / "cache"))
    return monkeypatch


def test_a_test_narrower_than_its_scan_is_caught(project, in_process):
    """A rule change that makes a scan act on calls its test does not pass (here: the fork test
    no longer passes ``os.fork``) fails the run with the name of the file to fix."""
    from concurlint.analysis import call_index

    (project / "app" / "rotate.py").write_text(FORKING)
    in_process.setitem(call_index.TESTS, "fork-point", lambda p, calls, targets: ())
    with pytest.raises(RuntimeError, match=r"call index: .*analysis/call_index\.py"):
        _run(project)


def test_a_test_that_reads_more_than_the_call_and_its_target_is_caught(project, in_process):
    """A test whose answer for an unchanged module changes between runs (it read something besides
    the call and its target) is caught when the stored answers are compared with this run's."""
    from concurlint.analysis import call_index

    reads_outside = {"on": False}
    in_process.setitem(call_index.TESTS, "project-call", lambda p, calls, targets: (
        i for i, (c, t) in enumerate(zip(calls, targets))
        if t in p.functions or (reads_outside["on"] and c.function is not None)))
    _run(project)
    reads_outside["on"] = True
    (project / "app" / "thumbs.py").write_text(SCALED)  # an edit elsewhere: the pass runs
    with pytest.raises(RuntimeError, match=r"the stored answers of test 'project-call' for \S*app/batch\.py"):
        _run(project)


def test_every_test_is_used_and_every_use_names_a_test():
    """The tests of the index are in one place: each one a scan uses, each one used."""
    from concurlint.analysis.call_index import TESTS

    root = Path(__file__).resolve().parent.parent / "concurlint"
    used = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for args in re.findall(r"index\.(?:calls|owned)\(([^)]*)\)", text):
            used.update(re.findall(r'"([a-z-]+)"', args))
        used.update(re.findall(r'_Walker\(project, [^\n]*?"([a-z-]+)"', text))
    assert used == set(TESTS)

"""Classification summaries kept from the last run are reused only when everything they were
computed from is unchanged (issue #16 item 10, ``concurlint/analysis/summary_store.py``): after
each edit the report with the kept cache is byte for byte a run from scratch, and the trace shows
that the unchanged functions' summaries were indeed reused (so the comparison tests the reuse,
not a full recomputation). Every CLI run of the suite also sets ``CONCURLINT_CHECK_REUSE``
(conftest.py): a warm run then classifies from scratch as well and stops on any difference.

The project: a nightly job. ``app/nightly.py`` runs ``summarise_batch`` (``app/batch.py``) on a
thread pool; it calls ``summarise`` (``app/summary.py``), which calls ``load_rows``
(``app/rows.py``): the kind of ``load_rows`` reaches the pool through two calls in two other
modules. ``app/store.py`` keeps results on a connection it cannot type (duck-typed), used from
``app/archive.py``; ``app/thumbs.py`` calls an extension the knowledge base does not know.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import report_bytes

FETCHING = '''"""Reading the rows of an export."""
import csv
import urllib.request


def load_rows(url):
    """The rows behind ``url``, fetched from the export service."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return list(csv.reader(response.read().decode().splitlines()))
'''

PARSING = '''"""Reading the rows of an export."""


def load_rows(text):
    """A checksum of every line of ``text``, character by character."""
    rows = []
    for line in text.splitlines():
        total = 0
        for ch in line:
            total = (total * 31 + ord(ch)) % 1000003
        rows.append(total)
    return rows
'''

SUMMARY = '''"""The summary of one export."""
from app.rows import load_rows


def summarise(source):
    rows = load_rows(source)
    return {"source": source, "rows": len(rows)}
'''

BATCH = '''"""One export's batch: its summary, labelled."""
from app.summary import summarise


def summarise_batch(source):
    summary = summarise(source)
    summary["label"] = source.rsplit("/", 1)[-1]
    return summary
'''

NIGHTLY = '''"""The nightly job: every export summarised on a thread pool."""
from concurrent.futures import ThreadPoolExecutor

from app.batch import summarise_batch


def run_nightly(sources):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(summarise_batch, sources))
'''

STORE = '''"""Where the summaries are kept: a DB-API connection handed in by the caller."""


class ResultStore:
    def __init__(self, conn):
        self._conn = conn

    def save(self, row):
        self._conn.execute("INSERT INTO summaries VALUES (?, ?)", (row["source"], row["rows"]))
'''

FLUSH = '''
    def flush(self):
        self._conn.commit()
'''

ARCHIVE = '''"""The archive: every summary saved to the result store."""
from app.store import ResultStore


def archive_all(conn, rows):
    store = ResultStore(conn)
    for row in rows:
        store.save(row)
'''

THUMBS = '''"""Thumbnails of the gallery's images."""
import acme_imaging


def thumbnail(image):
    return acme_imaging.render(image, size=128)
'''

GALLERY = '''"""A gallery page: the thumbnails of one album."""
from app.thumbs import thumbnail


def album_page(images):
    first = thumbnail(images[0])
    return {"cover": first, "count": len(images)}
'''

PAGES = '''"""Every album's page, rendered on a thread pool."""
from concurrent.futures import ThreadPoolExecutor

from app.gallery import album_page


def render_site(albums):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(album_page, albums))
'''

AUDIT = '''"""The audit trail: one line per event, appended to the log file."""


def record(event):
    with open("audit.log", "a", encoding="utf-8") as log:
        log.write(f"{event}\\n")
'''

HANDLERS = '''"""Request handlers: each one audited."""
from app.audit import record


def handle_upload(event):
    record(event)
    return "stored"
'''

PYPROJECT = '[project]\nname = "nightly"\n'
DECLARED = PYPROJECT + '\n[tool.concurlint.knowledge]\ncpu = ["acme_imaging.render"]\n'


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    app = tmp_path / "app"
    app.mkdir()
    for name, text in (("__init__", ""), ("rows", FETCHING), ("summary", SUMMARY), ("batch", BATCH),
                       ("nightly", NIGHTLY), ("store", STORE), ("archive", ARCHIVE), ("thumbs", THUMBS),
                       ("gallery", GALLERY), ("pages", PAGES), ("audit", AUDIT), ("handlers", HANDLERS)):
        (app / f"{name}.py").write_text(text)
    return tmp_path


def report(project: Path, *args) -> tuple:
    return report_bytes(project, "--min-confidence", "low", *args, validate=False, traced=True)


def warm_equals_cold(project: Path, reused_at_least: int = 1) -> dict:
    """The report with the kept cache, byte for byte a run from scratch; the warm run reused at
    least ``reused_at_least`` stored summaries (0: it may start from nothing, or answer with a
    stored report: an edit undone)."""
    warm, trace = report(project, "--cache-dir", project / "cache")
    cold, _ = report(project, "--no-cache")
    assert warm == cold
    if reused_at_least:
        got = re.search(r"classification: (\d+) summaries reused, (\d+) computed", trace)
        assert got is not None and int(got.group(1)) >= reused_at_least, trace
    return json.loads(warm)


def kind(doc: dict, qualname: str) -> str:
    return next((f["kind"] for f in doc["functions"] if f["qualname"] == qualname), "absent")


def places(doc: dict, code: str) -> set:
    return {(f["path"], f["line"]) for f in doc["findings"] if f["code"] == code}


CHAIN = ("app.rows.load_rows", "app.summary.summarise", "app.batch.summarise_batch")


def test_a_kind_changed_two_calls_down_in_other_modules_reaches_the_pool(project):
    before = warm_equals_cold(project, reused_at_least=0)
    assert [kind(before, q) for q in CHAIN] == ["io", "io", "io"]
    assert not places(before, "CCL101")

    (project / "app" / "rows.py").write_text(PARSING)
    after = warm_equals_cold(project)  # summary.py, batch.py and nightly.py were not edited
    assert [kind(after, q) for q in CHAIN] == ["cpu", "cpu", "cpu"]
    assert places(after, "CCL101") == {("app/nightly.py", 9)}

    (project / "app" / "rows.py").write_text(FETCHING)  # undone
    assert warm_equals_cold(project, reused_at_least=0) == before


def test_a_method_added_to_a_class_used_duck_typed(project):
    before = warm_equals_cold(project, reused_at_least=0)
    # execute() alone on an untyped connection is no evidence of a wait
    assert kind(before, "app.store.ResultStore.save") == "unknown"
    assert kind(before, "app.archive.archive_all") == "unknown"

    # a new method commits on the same receiver: execute() in save() is a DB-API call now
    (project / "app" / "store.py").write_text(STORE + FLUSH)
    after = warm_equals_cold(project)
    assert kind(after, "app.store.ResultStore.save") == "io"
    assert kind(after, "app.archive.archive_all") == "io"  # archive.py was not edited

    (project / "app" / "store.py").write_text(STORE)
    assert warm_equals_cold(project, reused_at_least=0) == before


def test_a_knowledge_base_change_reaches_callers_in_other_modules(project):
    before = warm_equals_cold(project, reused_at_least=0)
    assert kind(before, "app.gallery.album_page") == "unknown" and not places(before, "CCL101")

    # no file changed, only what the user says about the extension: it is CPU-bound
    (project / "pyproject.toml").write_text(DECLARED)
    declared = warm_equals_cold(project, reused_at_least=0)  # another configuration: from nothing
    assert kind(declared, "app.thumbs.thumbnail") == "cpu" and kind(declared, "app.gallery.album_page") == "cpu"
    assert places(declared, "CCL101") == {("app/pages.py", 9)}

    (project / "app" / "rows.py").write_text(PARSING)  # and an edit under that configuration
    both = warm_equals_cold(project)
    assert places(both, "CCL101") == {("app/pages.py", 9), ("app/nightly.py", 9)}

    (project / "pyproject.toml").write_text(PYPROJECT)
    (project / "app" / "rows.py").write_text(FETCHING)
    assert warm_equals_cold(project, reused_at_least=0) == before


def test_a_renamed_then_deleted_module_in_the_middle_of_the_chain(project):
    (project / "app" / "rows.py").write_text(PARSING)
    parsing = warm_equals_cold(project, reused_at_least=0)
    assert places(parsing, "CCL101") == {("app/nightly.py", 9)}

    # renamed: summary.py still imports app.rows, which is no module any more
    (project / "app" / "rows.py").rename(project / "app" / "parsing.py")
    renamed = warm_equals_cold(project)
    assert kind(renamed, "app.parsing.load_rows") == "cpu" and kind(renamed, "app.rows.load_rows") == "absent"
    assert kind(renamed, "app.batch.summarise_batch") == "unknown" and not places(renamed, "CCL101")

    # the importer follows the rename: the chain is whole again
    (project / "app" / "summary.py").write_text(SUMMARY.replace("app.rows", "app.parsing"))
    followed = warm_equals_cold(project)
    assert places(followed, "CCL101") == {("app/nightly.py", 9)}

    # the middle module deleted: its caller resolves summarise to nothing
    (project / "app" / "summary.py").unlink()
    deleted = warm_equals_cold(project)
    assert kind(deleted, "app.summary.summarise") == "absent"
    assert kind(deleted, "app.batch.summarise_batch") == "unknown" and not places(deleted, "CCL101")

    (project / "app" / "summary.py").write_text(SUMMARY)
    (project / "app" / "parsing.py").rename(project / "app" / "rows.py")
    assert warm_equals_cold(project, reused_at_least=0) == parsing


def test_a_callee_turned_coroutine_with_the_same_summary(project):
    """``record`` becomes ``async def`` with the same body: its own summary is the same, but
    calling it without awaiting runs nothing, so its caller (not edited) no longer waits."""
    before = warm_equals_cold(project, reused_at_least=0)
    assert kind(before, "app.audit.record") == "io" and kind(before, "app.handlers.handle_upload") == "io"

    (project / "app" / "audit.py").write_text(AUDIT.replace("def record", "async def record"))
    after = warm_equals_cold(project)
    assert kind(after, "app.audit.record") == "io"
    assert kind(after, "app.handlers.handle_upload") == "unknown"

    (project / "app" / "audit.py").write_text(AUDIT)
    assert warm_equals_cold(project, reused_at_least=0) == before

"""A run after an edit reuses what did not change (per-file facts, whole reports) and must still
give exactly the report a run from scratch gives: the edited module's facts reach the modules
that import it. Through the real CLI, with a cache directory kept between runs as an editor or a
pre-commit hook keeps it. (How fast such a run is: bench/project_pass.py, docs/performance.md.)

The project: a feed refresher whose coroutine reads its state through a helper module. The helper
first keeps the state in memory, then is edited to fetch it from a state service with a blocking
HTTP call (blocking the event loop through the coroutine that calls it: CCL501 in the importer),
then the edit is undone.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import report_bytes, run_cli

FEEDS = '''"""The refresh endpoint: fetch every feed, keep the entries not seen before."""
import asyncio

from app.storage import entry_key, load_state


async def refresh(session, urls, state_path):
    seen = load_state(state_path)
    fresh = []
    for url in urls:
        async with session.get(url) as response:
            for entry in await response.json():
                if entry_key(entry) not in seen:
                    fresh.append(entry)
    return fresh


def main(urls):
    import aiohttp

    async def go():
        async with aiohttp.ClientSession() as session:
            # one refresh per feed, at the same time: a blocking call in one stalls the others
            batches = await asyncio.gather(*(refresh(session, [url], "state.json") for url in urls))
            return [entry for batch in batches for entry in batch]

    return asyncio.run(go())
'''

IN_MEMORY = '''"""Where fetched feed entries are kept between refreshes."""
_SEEN = {}


def entry_key(entry):
    return f"{entry['feed']}:{entry['id']}"


def load_state(path):
    """The entries already seen, keyed by entry_key."""
    return dict(_SEEN)
'''

FROM_SERVICE = '''"""Where fetched feed entries are kept between refreshes."""
import json
import urllib.request


def entry_key(entry):
    return f"{entry['feed']}:{entry['id']}"


def load_state(url):
    """The entries already seen, keyed by entry_key, from the state service."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)
'''


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "feeds"\n')
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "feeds.py").write_text(FEEDS)
    (app / "storage.py").write_text(IN_MEMORY)
    return tmp_path


def report(project: Path, *args) -> bytes:
    return report_bytes(project, *args)


def blocking(data: bytes) -> set:
    return {(f["path"], f["line"]) for f in json.loads(data)["findings"] if f["code"] == "CCL501"}


def test_an_edited_helper_changes_the_importers_findings(project):
    cache = project / "cache"
    before = report(project, "--cache-dir", cache)
    assert blocking(before) == set()  # the in-memory helper blocks nothing
    assert report(project, "--cache-dir", cache) == before  # warm, nothing changed

    (project / "app" / "storage.py").write_text(FROM_SERVICE)
    edited = report(project, "--cache-dir", cache)  # feeds.py's facts come from the cache
    assert blocking(edited) == {("app/feeds.py", 8)}, edited
    assert edited == report(project, "--no-cache")  # the same bytes as a run from scratch

    (project / "app" / "storage.py").write_text(IN_MEMORY)  # the edit undone
    assert report(project, "--cache-dir", cache) == before


def test_the_importer_named_alone_sees_the_edited_helper(project):
    """What pre-commit and the editor do: only the importer is named; the helper's facts come
    from the cache while it is unchanged and are recomputed once it changes."""
    cache = project / "cache"
    report(project, "--cache-dir", cache)
    check = ("check", "app/feeds.py", "--cache-dir", cache)
    proc = run_cli(*check, cwd=project)
    assert proc.returncode == 0 and "CCL501" not in proc.stdout, proc.stdout + proc.stderr

    (project / "app" / "storage.py").write_text(FROM_SERVICE)
    proc = run_cli(*check, cwd=project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith("app/feeds.py:8:12: CCL501 urllib.request.urlopen() blocks the event loop"), proc.stdout
    assert proc.stdout == run_cli("check", "app/feeds.py", "--no-cache", cwd=project).stdout

"""``[tool.concurlint.knowledge]``: every key does what docs/configuration.md says, for a direct
call, a call through a wrapper function and a call in a loop, through the real ``concurlint``.

Each project is a small realistic package that uses a library concurlint cannot see into; the
same project without the key is the negative case (the key is what makes the difference).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import report_json, run_cli, script

IMAGING = '''\
"""Thumbnail batch job: rendering is pure-Python work in a vendored library."""
from concurrent.futures import ThreadPoolExecutor
import json

from acme_imaging import render


def render_page(page):
    return render(page)


def render_album(pages):
    out = []
    for page in pages:
        out.append(render(page))
    return out


def build(pages, albums, manifests):
    with ThreadPoolExecutor(max_workers=8) as pool:
        direct = list(pool.map(render, pages))
        wrapped = list(pool.map(render_page, pages))
        looped = list(pool.map(render_album, albums))
        parsed = list(pool.map(json.loads, manifests))
    return direct, wrapped, looped, parsed


async def preview(page):
    return render(page)


async def preview_page(page):
    return render_page(page)


async def preview_album(pages):
    return [render(p) for p in pages]
'''

REPORTING = '''\
"""Nightly report: every row comes from the company database driver."""
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import acme_db


def load_customer(cid):
    return acme_db.query("select * from customers where id = %s", cid)


def load_region(cids):
    rows = []
    for cid in cids:
        rows.append(acme_db.query("select * from orders where customer = %s", cid))
    return rows


def nightly(cids, regions):
    with ProcessPoolExecutor() as procs:
        direct = list(procs.map(acme_db.query, cids))
        wrapped = list(procs.map(load_customer, cids))
        looped = list(procs.map(load_region, regions))
    with ThreadPoolExecutor() as threads:
        fine = list(threads.map(load_customer, cids))
    return direct, wrapped, looped, fine


async def customer_view(cid):
    return acme_db.query("select * from customers where id = %s", cid)


async def customer_page(cid):
    return load_customer(cid)


async def region_view(cids):
    for cid in cids:
        acme_db.query("select 1 from orders where customer = %s", cid)
'''

NATIVE = '''\
"""Image filters: the kernels are a C extension that drops the GIL."""
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from acme_native import filters


def sharpen(img):
    return filters.sharpen(img)


def sharpen_all(imgs):
    return [filters.sharpen(i) for i in imgs]


def pipeline(imgs, batches):
    with ThreadPoolExecutor() as pool:
        direct = list(pool.map(filters.sharpen, imgs))
        wrapped = list(pool.map(sharpen, imgs))
        looped = list(pool.map(sharpen_all, batches))
    with ProcessPoolExecutor() as procs:
        moved = list(procs.map(sharpen, imgs))
    return direct, wrapped, looped, moved
'''

CRAWLER = '''\
"""Crawler on the company's asyncio HTTP client."""
import asyncio

import acme_aio


async def fetch_page(client, url):
    return await client.get(url)


async def crawl(urls):
    client = acme_aio.Client()
    pages = []
    for url in urls:
        pages.append(await client.get(url))
    return pages


async def crawl_all(urls):
    client = acme_aio.Client()
    return await asyncio.gather(*[client.get(url) for url in urls])
'''


def _project(tmp_path: Path, name: str, source: str, knowledge: str) -> Path:
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / f"{name}.py").write_text(source)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.concurlint]\nmin-confidence = \"low\"\n" + (f"\n[tool.concurlint.knowledge]\n{knowledge}\n" if knowledge else ""))
    return pkg


def _line(source: str, text: str, nth: int = 1) -> int:
    """The line number of the ``nth`` line of ``source`` containing ``text``."""
    return [i for i, line in enumerate(source.splitlines(), 1) if text in line][nth - 1]


def _codes(doc: dict, code: str) -> set:
    return {f["line"] for f in doc["findings"] if f["code"] == code}


def _kinds(doc: dict) -> dict:
    return {f["qualname"]: (f["kind"], f["releases_gil"]) for f in doc["functions"]}


def _recs(doc: dict) -> dict:
    return {r["line"]: r for r in doc["recommendations"]}


def test_cpu_makes_a_library_call_the_heavy_work(tmp_path):
    _project(tmp_path, "thumbs", IMAGING, 'cpu = ["acme_imaging.render"]')
    doc = report_json("app", cwd=tmp_path)
    direct, wrapped, looped, parsed = (_line(IMAGING, t) for t in
                                       ("pool.map(render,", "pool.map(render_page", "pool.map(render_album", "json.loads"))
    assert _codes(doc, "CCL101") == {direct, wrapped, looped}
    kinds = _kinds(doc)
    assert kinds["app.thumbs.render_page"] == ("cpu", False)
    assert kinds["app.thumbs.render_album"] == ("cpu", False)
    rec = _recs(doc)[direct]
    assert (rec["function"], rec["kind"], rec["recommended"]) == ("acme_imaging.render", "cpu", "processes")
    assert _recs(doc)[parsed]["kind"] == "unknown"  # a shipped cpu entry alone stays light
    # in a coroutine: directly, through the wrapper, in a comprehension
    assert _codes(doc, "CCL502") == {_line(IMAGING, "return render(page)", nth=2),
                                     _line(IMAGING, "return render_page(page)"),
                                     _line(IMAGING, "[render(p) for p in pages]")}
    ev = " ".join(next(f for f in doc["functions"] if f["qualname"] == "app.thumbs.render_page")["evidence"])
    assert "declared in [tool.concurlint.knowledge]" in ev


def test_without_cpu_key_the_same_batch_job_is_not_reported(tmp_path):
    _project(tmp_path, "thumbs", IMAGING, "")
    doc = report_json("app", cwd=tmp_path)
    assert not _codes(doc, "CCL101") and not _codes(doc, "CCL502")
    assert _kinds(doc)["app.thumbs.render_page"][0] == "unknown"


def test_io_makes_callers_io_bound_and_blocking_in_coroutines(tmp_path):
    _project(tmp_path, "nightly", REPORTING, 'io = ["acme_db.query"]')
    doc = report_json("app", cwd=tmp_path)
    assert _codes(doc, "CCL102") == {_line(REPORTING, t) for t in
                                     ("procs.map(acme_db.query", "procs.map(load_customer", "procs.map(load_region")}
    assert _codes(doc, "CCL501") == {_line(REPORTING, "return acme_db.query(", nth=2),
                                     _line(REPORTING, "return load_customer(cid)"),
                                     _line(REPORTING, "acme_db.query(\"select 1 from orders")}
    kinds = _kinds(doc)
    assert kinds["app.nightly.load_customer"][0] == "io"
    assert kinds["app.nightly.load_region"][0] == "io"
    assert _recs(doc)[_line(REPORTING, "threads.map(load_customer")]["recommended"] == "threads"
    # the same project without the key: nothing to say
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\nmin-confidence = \"low\"\n")
    bare = report_json("app", cwd=tmp_path)
    assert not _codes(bare, "CCL102") and not _codes(bare, "CCL501")


def test_releases_gil_lets_threads_run_native_work(tmp_path):
    _project(tmp_path, "filters", NATIVE, 'releases-gil = ["acme_native.*"]')
    doc = report_json("app", cwd=tmp_path)
    assert not _codes(doc, "CCL101")
    kinds = _kinds(doc)
    assert kinds["app.filters.sharpen"] == ("cpu", True)
    assert kinds["app.filters.sharpen_all"] == ("cpu", True)
    recs = _recs(doc)
    for text in ("pool.map(filters.sharpen", "pool.map(sharpen,", "pool.map(sharpen_all"):
        rec = recs[_line(NATIVE, text)]
        assert (rec["kind"], rec["recommended"]) == ("cpu", "threads"), rec
    moved = recs[_line(NATIVE, "procs.map(sharpen")]
    assert (moved["recommended"], moved["alternatives"]) == ("processes", ["threads"])
    # declared cpu instead: the same threads are now the wrong model
    (tmp_path / "pyproject.toml").write_text(
        "[tool.concurlint]\nmin-confidence = \"low\"\n[tool.concurlint.knowledge]\ncpu = [\"acme_native.*\"]\n")
    held = report_json("app", cwd=tmp_path)
    assert len(_codes(held, "CCL101")) == 3


def test_async_io_is_waiting_not_blocking(tmp_path):
    _project(tmp_path, "crawler", CRAWLER, 'async-io = ["acme_aio.Client.*"]')
    doc = report_json("app", cwd=tmp_path)
    assert not _codes(doc, "CCL501") and not _codes(doc, "CCL502")
    by_name = {f["qualname"]: f for f in doc["functions"]}
    for q in ("app.crawler.fetch_page", "app.crawler.crawl"):
        assert by_name[q]["kind"] == "io"
    assert any("(async io)" in e for e in by_name["app.crawler.crawl"]["evidence"])
    gather = _recs(doc)[_line(CRAWLER, "asyncio.gather")]
    assert (gather["function"], gather["kind"], gather["recommended"]) == ("acme_aio.Client.get", "io", "asyncio")
    # without the key, the gathered call is of unknown kind
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\nmin-confidence = \"low\"\n")
    bare = report_json("app", cwd=tmp_path)
    assert _recs(bare)[_line(CRAWLER, "asyncio.gather")]["kind"] == "unknown"


def test_keys_name_the_projects_own_functions_and_method_patterns(tmp_path):
    """What the user says about a function of their own project wins over its body (it calls a
    driver concurlint cannot see into); ``Class.method_*`` patterns cover methods."""
    pkg = tmp_path / "shop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "db.py").write_text(
        "from shop import _driver\n\n\nclass Session:\n    def query_rows(self, sql):\n"
        "        return _driver.execute(sql)\n\n\ndef query(sql):\n    return _driver.execute(sql)\n")
    (pkg / "imaging.py").write_text("from shop import _kernels\n\n\ndef render(img):\n    return _kernels.raster(img)\n")
    jobs = (
        "from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor\n\n"
        "from shop.db import Session, query\nfrom shop.imaging import render\n\n\n"
        "def rows_for(sql):\n    return Session().query_rows(sql)\n\n\n"
        "def run(images, queries):\n"
        "    with ThreadPoolExecutor() as pool:\n        pictures = list(pool.map(render, images))\n"
        "    with ProcessPoolExecutor() as procs:\n        results = list(procs.map(query, queries))\n"
        "        rows = list(procs.map(rows_for, queries))\n"
        "    return pictures, results, rows\n\n\n"
        "async def handler(sql):\n    return query(sql)\n")
    (pkg / "jobs.py").write_text(jobs)
    # every finding, as in the other tests here (CCL101 reports at medium at most, docs/precision.md)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.concurlint]\nmin-confidence = "low"\n[tool.concurlint.knowledge]\n'
        'io = ["shop.db.query", "shop.db.Session.query_*"]\ncpu = ["shop.imaging.render"]\n')
    doc = report_json("shop", cwd=tmp_path)
    assert _codes(doc, "CCL101") == {_line(jobs, "pool.map(render")}
    assert _codes(doc, "CCL102") == {_line(jobs, "procs.map(query"), _line(jobs, "procs.map(rows_for")}
    assert _codes(doc, "CCL501") == {_line(jobs, "return query(sql)")}
    kinds = _kinds(doc)
    assert kinds["shop.db.query"][0] == "io" and kinds["shop.imaging.render"][0] == "cpu"
    assert kinds["shop.db.Session.query_rows"][0] == "io" and kinds["shop.jobs.rows_for"][0] == "io"


def test_changing_the_knowledge_invalidates_every_cache(tmp_path):
    """The per-file cache and the whole-report cache are keyed by the knowledge: a warm run after
    the key changed reports what a cold run would, in `check` and in flake8."""
    _project(tmp_path, "thumbs", IMAGING, "")
    cache = tmp_path / "cache"
    env = {"CONCURLINT_CACHE_DIR": str(cache)}
    first = run_cli("check", "app", "--select", "CCL101", cwd=tmp_path, env=env)
    assert first.returncode == 0 and "CCL101" not in first.stdout, first.stdout + first.stderr
    assert cache.is_dir()
    (tmp_path / "pyproject.toml").write_text(
        "[tool.concurlint]\nmin-confidence = \"low\"\n[tool.concurlint.knowledge]\ncpu = [\"acme_imaging.render\"]\n")
    warm = run_cli("check", "app", "--select", "CCL101", cwd=tmp_path, env=env)
    assert warm.stdout.count("CCL101") == 3, warm.stdout + warm.stderr
    flake = subprocess.run([script("flake8"), "--select", "CCL101", "app/thumbs.py"], cwd=tmp_path,
                           capture_output=True, text=True, env={**os.environ, **env})
    assert flake.stdout.count("CCL101") == 3, flake.stdout + flake.stderr

"""Precision on real-code shapes: confidence levels, one finding per root cause, and model changes
advised only where the work can move and the evidence is strong. Every test runs the real CLI
(or flake8) on a small realistic project."""
from __future__ import annotations

import json
import os
import subprocess
import textwrap

from conftest import FIXTURES, report_json, run_cli, script

SERVICE = '''\
"""An ingest service: a blocking storage client shared by many async handlers."""
import asyncio
import os
import time
import urllib.request


def fetch_manifest(url):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read()


async def handle_upload(url):
    return fetch_manifest(url)


async def handle_refresh(url):
    return fetch_manifest(url)


async def handle_status(url):
    return fetch_manifest(url)


async def setup_storage(root):
    os.makedirs(root, exist_ok=True)


async def poll_forever(url):
    while True:
        time.sleep(5)
        await asyncio.sleep(0)
'''


def _write(tmp_path, source, name="service.py"):
    (tmp_path / name).write_text(textwrap.dedent(source))
    return name


def test_one_blocking_helper_is_one_finding_with_the_other_places(tmp_path):
    name = _write(tmp_path, SERVICE)
    doc = report_json(name, cwd=tmp_path)
    urlopen = [f for f in doc["findings"] if "urlopen" in f["message"]]
    assert len(urlopen) == 1, urlopen
    f = urlopen[0]
    assert f["count"] == 3 and f["confidence"] == "high"
    others = {r["line"] for r in f["related"] if "also reached" in r["message"]}
    assert len(others) == 2
    # the direct, per-loop sleep is its own cause
    assert any("time.sleep" in f["message"] for f in doc["findings"])


STORE = '''\
"""A bot's local media store: its async API removes and copies whole folders on the loop."""
import asyncio
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def refresh_thumbnail(path):
    subprocess.run(["convert", str(path), str(path) + ".thumb.png"], check=True)


class MediaStore:
    def __init__(self, root):
        self.root = Path(root)
        self._thumbs = ThreadPoolExecutor(max_workers=2)

    async def delete_album(self, album):
        shutil.rmtree(self.root / album)

    async def delete_artist(self, artist):
        shutil.rmtree(self.root / "artists" / artist)

    async def purge(self):
        shutil.rmtree(self.root)
        self.root.mkdir()

    async def import_album(self, src, album):
        shutil.copytree(src, self.root / album)

    def queue_thumbnails(self, paths):
        for path in paths:
            self._thumbs.submit(refresh_thumbnail, path)

    def queue_cover(self, path):
        self._thumbs.submit(refresh_thumbnail, path)
'''


def test_one_pattern_repeated_in_a_file_is_one_finding_by_default(tmp_path):
    """The same blocking call in three coroutines of one file, the futures of one pool dropped at
    two submits: one finding each by default (the first place, listing the others); with
    --min-confidence medium every place is there, with its own message and fix."""
    name = _write(tmp_path, STORE, "store.py")
    doc = report_json(name, cwd=tmp_path)
    rmtree = [f for f in doc["findings"] if f["message"].startswith("shutil.rmtree()")]
    assert [f["line"] for f in rmtree] == [19], rmtree
    assert rmtree[0]["confidence"] == "high"
    again = [r for r in rmtree[0]["related"] if "same pattern again" in r["message"]]
    assert [r["line"] for r in again] == [22, 25] and "purge" in again[1]["message"]
    # another blocking call in the same file is another pattern: its own finding at high
    assert any(f["message"].startswith("shutil.copytree()") and f["confidence"] == "high" for f in doc["findings"])
    dropped = [f for f in doc["findings"] if f["code"] == "CCL602"]
    assert [f["line"] for f in dropped] == [33] and dropped[0]["confidence"] == "high"

    everything = report_json(name, "--min-confidence", "medium", cwd=tmp_path)
    rmtree = {f["line"]: f["confidence"] for f in everything["findings"] if f["message"].startswith("shutil.rmtree()")}
    assert rmtree == {19: "high", 22: "medium", 25: "medium"}
    dropped = {f["line"]: f["confidence"] for f in everything["findings"] if f["code"] == "CCL602"}
    assert dropped == {33: "high", 36: "medium"}

    # in the editor (the real flake8) the first place says how many more there are
    lines = subprocess.run([script("flake8"), "--select", "CCL5", name], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300).stdout.splitlines()
    rmtree = [line for line in lines if "shutil.rmtree()" in line]
    assert len(rmtree) == 1 and rmtree[0].startswith("store.py:19:9:") and "(2 more like it in this file)" in rmtree[0]

    # a second file with the same call is its own place to fix: its first finding stays high
    (tmp_path / "archive.py").write_text(textwrap.dedent('''\
        import shutil


        async def drop_archive(path):
            shutil.rmtree(path)
    '''))
    doc = report_json(name, "archive.py", cwd=tmp_path)
    assert {(f["path"], f["line"]) for f in doc["findings"] if f["message"].startswith("shutil.rmtree()")} \
        == {("store.py", 19), ("archive.py", 5)}


def test_a_method_copied_into_a_sibling_class_is_one_pattern():
    """The tunnel's monitor, written for the proxy and copied into the relay (another module, a
    class of another name): the copy is the same pattern again, medium, and the first place
    says there is one more like it -- not "in this file"."""
    doc = report_json("CCL501_tunnel", cwd=FIXTURES)
    found = [(f["path"], f["line"], f["confidence"]) for f in doc["findings"] if f["code"] == "CCL501"]
    assert found == [("CCL501_tunnel/proxy.py", 33, "high")], found
    again = [r for r in doc["findings"][0]["related"] if "same pattern again" in r["message"]]
    assert [(r["path"], r["line"]) for r in again] == [("CCL501_tunnel/relay.py", 30)]
    text = run_cli("report", "CCL501_tunnel", "--select", "CCL501", cwd=FIXTURES).stdout
    assert "CCL501_tunnel/proxy.py:33:13: CCL501" in text and "(1 more like it)" in text, text


def test_a_silenced_first_place_leaves_the_next_one_at_its_confidence(tmp_path):
    source = STORE.replace("shutil.rmtree(self.root / album)", "shutil.rmtree(self.root / album)  # noqa: CCL501")
    name = _write(tmp_path, source, "store.py")
    doc = report_json(name, cwd=tmp_path)
    assert [(f["line"], f["confidence"]) for f in doc["findings"] if f["message"].startswith("shutil.rmtree()")] \
        == [(22, "high")]


def test_start_up_code_is_low_confidence_and_hidden_by_default(tmp_path):
    name = _write(tmp_path, SERVICE)
    default = report_json(name, cwd=tmp_path)
    assert not any(f["function"].endswith("setup_storage") for f in default["findings"])
    low = report_json(name, "--min-confidence", "low", cwd=tmp_path)
    [makedirs] = [f for f in low["findings"] if f["function"].endswith("setup_storage")]
    assert makedirs["confidence"] == "low"
    # text output names the confidence when it is not high, and check's exit status follows it
    text = run_cli("check", name, "--no-cache", "--min-confidence", "low", cwd=tmp_path, check_exit=1).stdout
    assert "[low confidence]" in text and "(3 places)" in text


def test_min_confidence_in_config_and_bad_values(tmp_path):
    name = _write(tmp_path, SERVICE)
    (tmp_path / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "low"\n')
    doc = report_json(name, cwd=tmp_path)
    assert any(f["confidence"] == "low" for f in doc["findings"])
    (tmp_path / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "sure"\n')
    proc = run_cli("check", name, "--no-cache", cwd=tmp_path, check_exit=2)
    assert "min-confidence" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n")
    proc = run_cli("check", name, "--no-cache", "--min-confidence", "maybe", cwd=tmp_path, check_exit=2)
    assert "--min-confidence" in proc.stderr


def test_flake8_follows_min_confidence(tmp_path):
    name = _write(tmp_path, SERVICE)
    env = dict(os.environ)
    env.pop("CONCURLINT_CACHE_DIR", None)

    def flake8():
        return subprocess.run([script("flake8"), "--select", "CCL", name], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300).stdout

    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n")
    assert "makedirs" not in flake8()
    (tmp_path / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "low"\n')
    assert "makedirs" in flake8()


def test_sarif_carries_confidence_and_count(tmp_path):
    name = _write(tmp_path, SERVICE)
    proc = run_cli("report", name, "--format", "sarif", "--no-cache", cwd=tmp_path, check_exit=1)
    results = json.loads(proc.stdout)["runs"][0]["results"]
    assert all(r["properties"]["confidence"] == "high" for r in results)
    assert any(r["properties"].get("count") == 3 for r in results)


NOT_BLOCKING = '''\
"""Forms of blocking APIs that return at once."""
import functools
import socket


@functools.lru_cache(maxsize=None)
def local_ip():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("8.8.8.8", 80))
    return s.getsockname()[0]


def parse_numeric(host, port):
    return socket.getaddrinfo(host, port, flags=socket.AI_NUMERICHOST)


class Stream:
    def __init__(self, sock):
        self._sock = sock
        self._sock.setblocking(False)

    async def send(self, data):
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    async def fileno(self):
        return self._sock.fileno()

    async def connect(self, address):
        return self._sock.connect(address)


async def whoami():
    return local_ip()


async def resolve(host):
    return parse_numeric(host, 443)


def default_route_ip(reachable="8.8.8.8"):
    """The local address of the default route: a UDP connect sends no packet."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((reachable, 80))
        return s.getsockname()[0]
    finally:
        s.close()


async def banner():
    return f"listening on {default_route_ip()}"
'''


def test_calls_that_cannot_block_in_this_form_are_not_reported(tmp_path):
    name = _write(tmp_path, NOT_BLOCKING)
    doc = report_json(name, "--min-confidence", "low", cwd=tmp_path)
    assert [f for f in doc["findings"] if f["code"] == "CCL501"] == []


def test_a_udp_socket_still_waits_to_receive(tmp_path):
    name = _write(tmp_path, '''\
import socket


def query_dns(server, packet):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((server, 53))
    s.send(packet)
    return s.recv(512)


async def lookup(server, packet):
    return query_dns(server, packet)
''')
    doc = report_json(name, "--min-confidence", "low", cwd=tmp_path)
    msgs = [f["message"] for f in doc["findings"] if f["code"] == "CCL501"]
    assert len(msgs) == 1 and msgs[0].startswith("s.recv() blocks the event loop (via lookup -> query_dns)"), msgs


MODELS = '''\
"""A scheduler with a service thread, a coroutine and a real CPU batch."""
import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

ROUNDS = 200_000  # the batch's size, written in the code


def checksum(rows):
    total = 0
    for _ in range(ROUNDS):
        for x in rows[0]:
            total = (total * 31 + x) % 1000003
    return total


class Scheduler:
    def __init__(self):
        self.tasks = {}
        self.running = True

    def rebalance(self, rows):
        for row in rows:
            for x in row:
                self.tasks[x] = self.tasks.get(x, 0) + x * x

    def loop(self, rows):
        while self.running:
            for row in rows:
                for x in row:
                    self.tasks[x] = x * x

    async def score(self, rows):
        total = 0
        for row in rows:
            for x in row:
                total += x * x
        return total


def run(rows, sched: Scheduler):
    with ThreadPoolExecutor() as pool:
        pool.submit(checksum, rows)
        pool.submit(sched.rebalance, rows)
    threading.Thread(target=sched.loop, args=(rows,)).start()


async def main(rows, sched: Scheduler):
    await asyncio.gather(sched.score(rows))
'''


def test_model_changes_only_where_the_work_can_move(tmp_path):
    name = _write(tmp_path, MODELS)
    doc = report_json(name, "--min-confidence", "low", cwd=tmp_path)
    recs = {(r["function"] or "?").rsplit(".", 1)[-1]: r for r in doc["recommendations"]}
    assert (recs["checksum"]["current"], recs["checksum"]["recommended"]) == ("threads", "processes")
    assert recs["checksum"]["confidence"] == "high"
    for fn, why in (("rebalance", "changes self.tasks"), ("loop", "service loop")):
        r = recs[fn]
        assert r["recommended"] == r["current"] == "threads", r
        assert r["reason"].startswith("keep threads:") and why in r["reason"], r["reason"]
        assert r["confidence"] == "medium"
    score = recs["score"]
    assert score["recommended"] == "asyncio" and "cannot run in a process pool" in score["reason"]
    ccl101 = [f for f in doc["findings"] if f["code"] == "CCL101"]
    batch = MODELS.splitlines().index("        pool.submit(checksum, rows)") + 1
    assert [f["line"] for f in ccl101] == [batch]  # only the batch that can move


def test_processes_are_kept_where_the_pool_is_there_for_more_than_waiting():
    """Work that waits on the network in a process pool is not moved to threads when it also does
    CPU work in a helper of unknown kind (regexes over each page), when its waits are only local
    files, a program it reads from or its own set-up (a share mounted once), when the same pool runs CPU work
    beside it, when the pool is one process made for one whole job (isolation), when each task
    also runs a function its caller hands in (a `preprocess` hook), when each task starts child
    processes of its own (a sandbox), when it walks what it fetched in nested loops of Python (a
    clone's commits), when each task runs one external program and waits for it (a
    simulator), when its only waits are sleeps that pace it, when it
    also runs a model on a GPU (a library that releases the GIL), or when the other arm of the same
    test already hands the work to threads (a platform's choice), or when the pool's initializer
    sets each worker's log level (in threads it would set the caller's)."""
    from conftest import ROOT

    fixture = ROOT / "tests" / "fixtures" / "CCL102_kept_processes"
    doc = report_json(fixture, "--min-confidence", "low", cwd=ROOT)
    # the process pools' advice (lookups.py hands the same function to threads in its other branch)
    recs = {r["function"].rsplit(".", 1)[-1]: r for r in doc["recommendations"] if r["current"] == "processes"}
    reasons = {
        "process_url": "it also does CPU work in extract_links()",
        "search_supervisor": "the same pool also runs insert_load()",
        "whole_run": "a pool of one process made for this task",
        "_wrap": "its only waits are for work it hands to threads",
        "align_marker": "its waits are on the programs it runs",
        "_fetch_one": "it also runs preprocess(), a function its caller hands in",
        "check_sample": "check_sample() starts processes of its own (multiprocessing.Manager() in run_untrusted())",
        "lookup": "the other branch of the same test hands the same work to threads",
        # a SAX parse fed from bzcat's pipe, and features computed after a once-per-process mount
        "parse_partition": "its waits are on local files, programs it does not wait for, or its own set-up",
        "build_features": "its waits are on local files, programs it does not wait for, or its own set-up",
        # one clone, then every commit walked in Python (gitfive's get_repo)
        "mine_repo": "it also loops over its data in Python (nested loops from line 13)",
        # one simulator run per task (buildingspy, rev96b); fake records paced by sleeps (avalon, rev98a)
        "run_simulation": "each task runs one external program and waits for it (subprocess.Popen.wait())",
        "produce": "its only waits are pauses (time.sleep()) that set its pace",
        # a model run on each process's own GPU beside the audio reads (f5-tts, rev103a)
        "score_shard": "it also computes in a library that releases the GIL (torch.nn.functional.cosine_similarity())",
        # each worker's log level lowered by the pool's initializer (mtdata, rev165a)
        "fetch_dataset": "its pool runs _worker_init() first in each worker process, which sets a logger's level",
    }
    for fn, why in reasons.items():
        r = recs[fn]
        assert r["current"] == r["recommended"] == "processes", r
        assert r["reason"].startswith("keep processes: " + why), r["reason"]
    assert recs["insert_load"]["recommended"] == "processes"
    # a sleep in an `except` block (retry until the log exists) is an error path: the work reads
    # and parses local files, which keeps its processes
    assert recs["load_log_file"]["recommended"] == "processes" and recs["load_log_file"]["reason"].startswith("kept: ")
    # no CCL102; the one-process pool's future is read by run_status() through the global
    assert not [f for f in doc["findings"] if f["code"] in ("CCL102", "CCL602")], doc["findings"]
    # a helper that looks a tool up once per process (a memo) does not make its callers wait
    kinds = {f["qualname"].rsplit(".", 1)[-1]: f["kind"] for f in doc["functions"]}
    assert kinds["pdftotext_available"] == "io" and kinds["wanted"] == "unknown"


PROTOCOLS = '''\
"""A line-protocol server: the socket and the cursor arrive untyped."""


def serve(conn, handlers):
    buf = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        buf += chunk
        while b"\\\\n" in buf:
            line, buf = buf.split(b"\\\\n", 1)
            handlers.get(line[:4], len)(line)


def totals(cursor, table):
    cursor.execute("select amount from " + table)
    return sum(row[0] for row in cursor.fetchall())


def wait_all(workers):
    for w in workers:
        w.join()


def render(rows, options):
    out = []
    for row in rows:
        for cell in row:
            out.append(", ".join(str(c) for c in cell) + options.get("sep", ";"))
    return out
'''


def test_waiting_is_recognised_through_protocols_on_untyped_objects(tmp_path):
    name = _write(tmp_path, PROTOCOLS)
    # every confidence: rules capped at medium (docs/precision.md) and less sure findings count too
    doc = report_json(name, "--min-confidence", "low", cwd=tmp_path)
    kinds = {f["qualname"].rsplit(".", 1)[-1]: f for f in doc["functions"]}
    assert kinds["serve"]["kind"] == "io" and "socket-like" in kinds["serve"]["evidence"][0]
    assert kinds["totals"]["kind"] == "io" and "db-api-like" in " ".join(kinds["totals"]["evidence"])
    assert kinds["wait_all"]["kind"] == "io"
    # str.join(items) and dict.get(key) are not waits: the nested loop stays CPU work
    assert kinds["render"]["kind"] == "cpu"
    assert doc["findings"] == []  # a protocol wait makes a kind, never a finding on its own


def test_a_capped_rule_keeps_its_own_judgement_below_the_ceiling(monkeypatch):
    """CCL503 reports at medium at most (its held-out record), which hides the difference its own
    confidence draws: a task running a callback a user handed in is high, one running a coroutine
    the project wires in itself (`PacketHandler(disconnect_callback=self.disconnect)`) low.
    With the ceiling lifted in this process, the rule's own levels show again."""
    import dataclasses

    from concurlint import engine
    from concurlint.config import load_config
    from concurlint.registry import all_meta
    from conftest import FIXTURES

    fixture = FIXTURES / "CCL503_wired_callbacks.py"
    monkeypatch.setitem(all_meta(), "CCL503", dataclasses.replace(all_meta()["CCL503"], ceiling="high"))
    config = load_config(fixture)
    config.min_confidence = "low"
    report = engine.run([str(fixture)], config, select=["CCL503"], jobs=1, use_cache=False)
    lines = fixture.read_text(encoding="utf-8").splitlines()

    def at(text):
        return next(n for n, line in enumerate(lines, 1) if text in line)

    levels = {f.line: f.confidence for f in report.findings}
    assert levels == {at("self._disconnect_callback()"): "low", at("self._resend_callback()"): "low",
                      at("self._on_message(self.topic"): "high"}, levels


WEBDAV = '''\
"""A small WebDAV file server built on the package's proxy-aware transport."""
import shutil

from aiohttp import web


async def handle_delete(request):
    root = request.app["root"]
    shutil.rmtree(root / request.match_info["path"])
    return web.Response(status=204)


def make_app(root):
    app = web.Application()
    app["root"] = root
    app.router.add_route("DELETE", "/{path:.*}", handle_delete)
    return app
'''


def test_examples_and_demos_shipped_with_a_package_are_medium_at_most(tmp_path):
    """The same handler removing a whole tree on the loop: high in the package's own server,
    medium in its ``examples/`` directory and in a ``widgets_demo.py`` module (code to read and
    run by hand: on the corpus 2 of 7 such findings at high were worth a change)."""
    pkg = tmp_path / "davkit"
    for sub in ("", "examples"):
        (pkg / sub).mkdir(exist_ok=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "server.py").write_text(WEBDAV)
    (pkg / "examples" / "fileserver.py").write_text(WEBDAV)
    (pkg / "widgets_demo.py").write_text(WEBDAV)
    doc = report_json(".", "--min-confidence", "low", cwd=tmp_path)
    got = {(os.path.normpath(f["path"]), f["code"], f["confidence"]) for f in doc["findings"]}
    assert got == {
        (os.path.join("davkit", "server.py"), "CCL501", "high"),
        (os.path.join("davkit", "examples", "fileserver.py"), "CCL501", "medium"),
        (os.path.join("davkit", "widgets_demo.py"), "CCL501", "medium"),
    }, got
    # the default output shows the package's own finding only
    shown = report_json(".", cwd=tmp_path)
    assert [os.path.normpath(f["path"]) for f in shown["findings"]] == [os.path.join("davkit", "server.py")]

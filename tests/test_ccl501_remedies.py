"""CCL501 says what to do instead, for the call it found: the asyncio form of that call when there
is one (``asyncio.sleep``, ``loop.getaddrinfo``, ``create_subprocess_exec``, ``wrap_future``), else
the call moved to a thread; a blocking helper reached through the call graph is the call to move.
Through the real CLI on a small web service."""
from __future__ import annotations

import textwrap

from conftest import report_json

SERVICE = '''
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import requests

thumbnails = ThreadPoolExecutor(max_workers=4)


def wait_for_quota(seconds):
    """Back off before calling the upstream API again."""
    time.sleep(seconds)


def fetch_profile(url):
    return requests.get(url, timeout=5).json()


def render_thumbnail(path):
    return path + ".png"


async def handle_upload(request, upload_dir):
    time.sleep(0.2)                                    # a direct sleep
    addr = socket.getaddrinfo(request.host, 443)       # DNS on the loop
    subprocess.run(["clamscan", upload_dir], check=True)
    wait_for_quota(1)                                  # a helper that sleeps
    profile = fetch_profile(request.profile_url)       # a helper that does HTTP
    shutil.rmtree(upload_dir)                          # a whole tree removed
    thumb = thumbnails.submit(render_thumbnail, upload_dir).result()
    return addr, profile, thumb
'''


def _messages(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "uploads.py").write_text(textwrap.dedent(SERVICE))
    doc = report_json(str(app), "--select", "CCL501", "--min-confidence", "low")
    return {f["line"]: f["message"].split("; ", 1)[1] for f in doc["findings"]}


def test_each_blocking_call_gets_the_asyncio_form_of_itself(tmp_path):
    msgs = _messages(tmp_path)
    assert msgs[27] == "use `await asyncio.sleep(...)`"
    assert msgs[28] == "use `await asyncio.get_running_loop().getaddrinfo(...)`"
    assert msgs[29].startswith("use `await asyncio.create_subprocess_exec(...)`")
    assert msgs[29].endswith("`await asyncio.to_thread(subprocess.run, ...)`")
    assert msgs[32] == "file IO has no asyncio API: `await asyncio.to_thread(shutil.rmtree, ...)`"
    assert msgs[33].startswith("await the future instead: `await asyncio.wrap_future(")


def test_a_blocking_helper_is_the_call_to_move(tmp_path):
    msgs = _messages(tmp_path)
    # the sleep is in wait_for_quota: that call moves to a thread (or the helper becomes async)
    assert msgs[30] == ("move the call to a thread: `await asyncio.to_thread(wait_for_quota, ...)`, "
                        "or make `wait_for_quota` a coroutine that awaits `asyncio.sleep(...)`")
    assert msgs[31] == ("move the call to a thread: `await asyncio.to_thread(fetch_profile, ...)`, "
                        "or give `fetch_profile` an async version")
    # never the generic list of every remedy
    assert not any("async counterpart" in m for m in msgs.values())


def test_trio_and_anyio_code_gets_their_own_forms(tmp_path):
    """The same service written for trio (or anyio): asyncio's calls would not work there, so the
    advice names trio's (anyio's) sleep, subprocess, resolver and thread forms."""
    for lib in ("trio", "anyio"):
        app = tmp_path / lib
        app.mkdir()
        (app / "uploads.py").write_text(f"import {lib}\n" + textwrap.dedent(SERVICE))
        doc = report_json(str(app), "--select", "CCL501", "--min-confidence", "low")
        msgs = {f["line"] - 1: f["message"].split("; ", 1)[1] for f in doc["findings"]}
        resolver = "trio.socket" if lib == "trio" else "anyio"
        assert msgs[27] == f"use `await {lib}.sleep(...)`", msgs
        assert msgs[28] == f"use `await {resolver}.getaddrinfo(...)`", msgs
        assert msgs[29] == f"use `await {lib}.run_process(...)`, or `await {lib}.to_thread.run_sync(subprocess.run, ...)`"
        assert msgs[30] == (f"move the call to a thread: `await {lib}.to_thread.run_sync(wait_for_quota, ...)`, "
                            f"or make `wait_for_quota` a coroutine that awaits `{lib}.sleep(...)`")
        assert not any("asyncio" in m for m in msgs.values()), msgs


def test_leaving_an_executor_block_is_not_fixed_by_moving_its_constructor(tmp_path):
    """`with ThreadPoolExecutor() as ex:` in a coroutine waits in the block's exit; the call that
    makes the executor does not wait. Wrapping it in `asyncio.to_thread` would hide the finding and
    keep the wait, so no fix is offered, and `concurlint fix` leaves the file alone."""
    from conftest import run_cli

    source = textwrap.dedent('''
        import asyncio
        from concurrent.futures import ThreadPoolExecutor


        def write_rows(path, rows):
            with open(path, "a", encoding="utf-8") as f:
                f.writelines(rows)


        async def save(path, rows):
            with ThreadPoolExecutor(max_workers=1) as executor:
                executor.submit(write_rows, path, rows).result
            return len(rows)
    ''')
    (tmp_path / "store.py").write_text(source)
    doc = report_json("store.py", "--min-confidence", "low", cwd=tmp_path)
    exits = [f for f in doc["findings"] if f["code"] == "CCL501" and f["message"].startswith("leaving ")]
    assert len(exits) == 1 and "fix" not in exits[0], exits
    assert "shutdown(wait=True)" in exits[0]["fix_unavailable"]
    run_cli("fix", "store.py", "--unsafe-fixes", "--select", "CCL501", "--min-confidence", "low", cwd=tmp_path,
            check_exit=1)
    assert (tmp_path / "store.py").read_text() == source

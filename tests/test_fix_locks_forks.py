"""`concurlint fix` for CCL504 (threading lock in coroutines -> asyncio lock), CCL205 (locks joined by `and`) and CCL301 (fork
while threads run -> an explicit spawn context), through the real command; the fixed log shipper
runs its helper process under spawn."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

from conftest import FIXTURES
from fixcheck import check_fix

COUNTS = textwrap.dedent('''\
    """Request counters for the API gateway's /metrics page."""
    import threading

    counts = {}
    counts_lock = threading.Lock()  # guards counts


    async def record(key, sink):
        with counts_lock:
            counts[key] = counts.get(key, 0) + 1
            await sink.publish(key, counts[key])  # held across an await: the deadlock


    async def snapshot():
        with counts_lock:  # a consistent copy
            return dict(counts)
    ''')


def test_lock_taken_only_by_coroutines_becomes_an_asyncio_lock(tmp_path):
    p = tmp_path / "counts.py"
    p.write_text(COUNTS, encoding="utf-8")
    # CCL504 reports at medium at most (docs/precision.md): fixed when medium findings are shown
    safe = check_fix(tmp_path, "counts.py", "--min-confidence", "medium")  # unsafe: nothing changes without --unsafe-fixes
    assert p.read_text(encoding="utf-8") == COUNTS
    assert safe["output"].count("[unsafe fix available: --unsafe-fixes]") == 2
    facts = check_fix(tmp_path, "counts.py", "--unsafe-fixes", "--min-confidence", "low")
    assert not [f for f in facts["after"] if f["code"] == "CCL504"]
    text = p.read_text(encoding="utf-8")
    assert "counts_lock = asyncio.Lock()  # guards counts" in text
    assert text.count("    async with counts_lock:") == 2
    assert "import threading" not in text and "import asyncio\n" in text


def test_lock_also_taken_by_a_thread_is_left_alone(tmp_path):
    source = COUNTS + textwrap.dedent('''\


        def flush_to_disk():
            # runs in the exporter thread
            with counts_lock:
                counts.clear()
        ''')
    p = tmp_path / "counts.py"
    p.write_text(source, encoding="utf-8")
    facts = check_fix(tmp_path, "counts.py", "--unsafe-fixes", "--min-confidence", "low")
    assert p.read_text(encoding="utf-8") == source
    assert "[not fixed: synchronous code takes the same lock" in facts["output"], facts["output"]


def test_instance_lock_and_the_rule_fixture(tmp_path):
    shutil.copy(FIXTURES / "CCL504.py", tmp_path / "CCL504.py")
    (tmp_path / "limiter.py").write_text(textwrap.dedent('''\
        """Per-client rate limiter used by the async API handlers only."""
        import threading


        class Limiter:
            def __init__(self, burst):
                self.burst = burst
                self._lock = threading.Semaphore(burst)

            async def run(self, handler, request):
                with self._lock:  # at most `burst` at once
                    return await handler(request)
        '''), encoding="utf-8")
    facts = check_fix(tmp_path, ".", "--unsafe-fixes", "--min-confidence", "low")
    text = (tmp_path / "limiter.py").read_text(encoding="utf-8")
    assert "self._lock = asyncio.Semaphore(burst)" in text and "async with self._lock:" in text
    # the rule fixture's lock is shared with a synchronous refill(); its waits are not `with`
    assert (tmp_path / "CCL504.py").read_bytes() == (FIXTURES / "CCL504.py").read_bytes()
    left = [f for f in facts["after"] if f["code"] == "CCL504"]
    assert left and all(f["path"] == "CCL504.py" for f in left)


SHIPPER = textwrap.dedent('''\
    """Log shipper: a heartbeat thread runs while a helper process compresses yesterday's log."""
    import multiprocessing
    import sys
    import threading

    STOP = threading.Event()


    def heartbeat():
        STOP.wait(60)


    def compress(name, out):
        with open(out, "w") as fh:
            fh.write(name + ".gz")


    def main(out):
        t = threading.Thread(target=heartbeat, daemon=True)
        t.start()
        p = multiprocessing.Process(target=compress, args=("app.log", out))
        p.start()  # forks while the heartbeat runs
        p.join()
        STOP.set()
        t.join()
        with open(out) as fh:
            print(fh.read(), p.exitcode)


    if __name__ == "__main__":
        main(sys.argv[1])
    ''')


def test_fork_while_threads_run_gets_a_spawn_context_and_runs(tmp_path):
    p = tmp_path / "shipper.py"
    p.write_text(SHIPPER, encoding="utf-8")
    # CCL301 reports at medium at most (docs/precision.md); after the fix none is left at any confidence
    facts = check_fix(tmp_path, "shipper.py", "--unsafe-fixes", "--min-confidence", "low")
    assert not [f for f in facts["after"] if f["code"] == "CCL301"], facts["output"]
    text = p.read_text(encoding="utf-8")
    assert 'p = multiprocessing.get_context("spawn").Process(target=compress, args=("app.log", out))' in text
    run = subprocess.run([sys.executable, "shipper.py", str(tmp_path / "out.txt")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "app.log.gz 0\n"


def test_rule_fixture_fork_points(tmp_path):
    shutil.copy(FIXTURES / "CCL301.py", tmp_path / "CCL301.py")
    # CCL301 reports at medium at most (docs/precision.md): fixed when medium findings are shown
    facts = check_fix(tmp_path, "CCL301.py", "--unsafe-fixes", "--min-confidence", "medium")
    text = (tmp_path / "CCL301.py").read_text(encoding="utf-8")
    assert 'multiprocessing.get_context("spawn").Process(target=rotate_logs)' in text
    assert 'get_context("fork")' not in text.split("# ----")[1]  # the positives
    left = [f for f in facts["after"] if f["code"] == "CCL301"]
    assert left and all("os.fork()" in f["message"] for f in left)
    assert facts["output"].count("[not fixed: os.fork() has no start method to choose") == len(left)


def test_locks_joined_by_and_are_each_entered(tmp_path):
    """CCL205: `with self.lock and socket.socket(...) as conn:` becomes `with self.lock,
    socket.socket(...) as conn:` -- every lock of the rule fixture is then really taken, the `as`
    target stays on the socket, and the optional lock (`or nullcontext()`) is left as it is."""
    shutil.copy(FIXTURES / "CCL205_power_strip.py", tmp_path / "strip.py")
    facts = check_fix(tmp_path, "strip.py", "--unsafe-fixes", "--select", "CCL205")
    text = (tmp_path / "strip.py").read_text(encoding="utf-8")
    assert "with self.lock, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as conn:  # CCL205" in text
    assert "with HITS.get_lock(), MISSES.get_lock():" in text
    assert "async with self._send_lock, self._recv_lock:  # CCL205" in text
    assert "with self._shared_lock or contextlib.nullcontext():" in text
    assert " and self." not in text and not [f for f in facts["after"] if f["code"] == "CCL205"]

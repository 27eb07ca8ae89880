"""Runs that must end, with every finding, whatever the input and however they are stopped (#18).

- Walks over the call graph and the class hierarchy are iterative: a 1,500-function chain from a
  thread target and from a process target, and a 1,500-class hierarchy under a Thread subclass,
  give their findings through check, report and flake8 instead of a RecursionError that loses
  every file's findings.
- A file that uses up its CPU budget (``$CONCURLINT_FILE_TIMEOUT``) is a CCL000; the rest of the
  run completes, and the timeout is never cached.
- SIGTERM, SIGKILL and SIGINT to a run in the middle of its worker pool leave no worker behind.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES, run_cli, script

N = 1500


def _deep_crawler(path):
    """A crawler whose every piece of work sits at the end of a 1,500-deep chain."""
    src = ["import multiprocessing", "import threading", "import requests", "",
           "pages_fetched = 0", "jobs_done = 0", ""]
    for i in range(N):
        if i + 1 < N:
            body = f"    return fetch_{i + 1}(url)\n"
        else:
            body = "    global pages_fetched\n    pages_fetched += 1\n    return requests.get(url, timeout=10).text\n"
        src.append(f"def fetch_{i}(url):\n{body}")
    for i in range(N):
        # the far end does two nested loops of arithmetic: one pass (sum(k * k for k in range(n)))
        # is the helper's own verdict and is not passed up a chain of single calls
        body = (f"    return crunch_{i + 1}(n)\n" if i + 1 < N
                else "    return sum(j * k for j in range(n) for k in range(n))\n")
        src.append(f"def crunch_{i}(n):\n{body}")
    src.append("class Worker0(threading.Thread):\n    def run(self):\n        global jobs_done\n        jobs_done += 1\n")
    src += [f"class Worker{i}(Worker{i - 1}):\n    pass\n" for i in range(1, N)]
    src.append(f"""
def main(urls):
    threads = [threading.Thread(target=fetch_0, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    workers = []
    for _ in urls:
        w = Worker{N - 1}()
        w.start()
        workers.append(w)
    p = multiprocessing.Process(target=crunch_0, args=(10_000,))
    p.start()
    p.join()
    for t in threads + workers:
        t.join()
""")
    path.write_text("\n".join(src))
    # a race 1,500 calls down is medium (how deep paths run depends on values not followed): the
    # runs below show medium findings too, through check, report and flake8 alike
    (path.parent / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "medium"\n')


def test_deep_chains_and_hierarchies_give_findings_not_a_traceback(tmp_path):
    _deep_crawler(tmp_path / "crawler.py")
    check = run_cli("check", "crawler.py", "--no-cache", cwd=tmp_path, check_exit=1)
    assert "Traceback" not in check.stderr and "RecursionError" not in check.stdout + check.stderr
    lines = check.stdout.splitlines()
    # the thread target's chain: the unlocked counter at its far end
    assert any("CCL201" in ln and "'pages_fetched'" in ln and "fetch_0" in ln for ln in lines), check.stdout
    # the Thread subclass 1,500 classes down: its run() found through every base
    assert any("CCL201" in ln and "'jobs_done'" in ln and "Worker0.run" in ln for ln in lines), check.stdout
    # the process started while those threads run
    assert any("CCL301" in ln and "Process.start()" in ln for ln in lines), check.stdout
    assert not any("CCL999" in ln or "CCL000" in ln for ln in lines), check.stdout

    report = run_cli("report", ".", "--format", "json", "--no-cache", cwd=tmp_path, check_exit=1)
    doc = json.loads(report.stdout)
    recs = {r["function"]: r for r in doc["recommendations"]}
    # the process target's chain is walked to its arithmetic: cpu, and processes is right for it
    assert recs["crawler.crunch_0"]["kind"] == "cpu" and recs["crawler.crunch_0"]["recommended"] == "processes"
    assert recs["crawler.fetch_0"]["kind"] == "io" and recs["crawler.fetch_0"]["recommended"] == "threads"

    flake8 = subprocess.run([script("flake8"), "--select", "CCL", "crawler.py"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert "Traceback" not in flake8.stderr, flake8.stderr
    assert "'jobs_done'" in flake8.stdout and "'pages_fetched'" in flake8.stdout, flake8.stdout


def test_shallow_hierarchy_gives_the_same_findings(tmp_path):
    """Negative control: the same program with a short chain has the same findings, so the deep
    one above is analysed, not skipped."""
    _deep_crawler(tmp_path / "crawler.py")
    text = (tmp_path / "crawler.py").read_text().replace(f"Worker{N - 1}()", "Worker2()")
    (tmp_path / "crawler.py").write_text(text)
    check = run_cli("check", "crawler.py", "--no-cache", cwd=tmp_path, check_exit=1)
    codes = sorted(ln.split()[1] for ln in check.stdout.splitlines())
    assert codes == ["CCL201", "CCL201", "CCL301"], check.stdout


# --------------------------------------------------------------------------- time budget
def _slow_module(path, megabytes=2):
    """~2 MB of ordinary handlers: parsing alone takes far more than 0.1 s of CPU (analysing 1 MB
    takes ~1 s)."""
    parts = ["import requests", ""]
    i = 0
    size = 0
    while size < megabytes * 1_000_000:
        block = (f"def handler_{i}(request, db):\n"
                 f"    rows = db.execute('select * from t where id = ?', (request.id,)).fetchall()\n"
                 f"    total = 0\n    for r in rows:\n        total += r[1] * {i}\n"
                 f"    return total, requests.get('http://svc/{i}', timeout=5).text\n")
        parts.append(block)
        size += len(block)
        i += 1
    path.write_text("\n".join(parts))


def _budget_project(tmp_path, megabytes=2):
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("CCL201.py", "CCL301.py", "CCL102_link_checker.py", "CCL402_scoring.py"):
        for k in range(2):  # eight small files or more: the worker pool is used
            (proj / f"{k}_{name}").write_text((FIXTURES / name).read_text())
    _slow_module(proj / "generated_handlers.py", megabytes)
    # CCL201 and CCL301 report at medium at most (docs/precision.md)
    (proj / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "medium"\n')
    return proj


def test_runaway_file_is_ccl000_and_the_run_completes(tmp_path):
    proj = _budget_project(tmp_path)
    cache = tmp_path / "cache"
    plain = run_cli("check", ".", "--no-cache", "-j2", cwd=proj,
                    env={"CONCURLINT_FILE_TIMEOUT": "0"}, check_exit=1)
    assert "generated_handlers.py" not in plain.stdout  # with no budget: analysed, clean
    # CPU time, not wall-clock: a 0.1 s budget is 10x what a small file needs and a tenth of
    # what parsing the generated one alone takes, however busy the machine is
    limited = run_cli("check", ".", "-j2", "--cache-dir", cache, cwd=proj,
                      env={"CONCURLINT_FILE_TIMEOUT": "0.1"}, check_exit=1)
    assert "Traceback" not in limited.stderr
    runaway = [ln for ln in limited.stdout.splitlines() if "generated_handlers.py" in ln]
    assert len(runaway) == 1 and runaway[0].startswith(
        "generated_handlers.py:1:1: CCL000 file could not be analysed: analysis took more than 0.1 s of CPU "
        "time ($CONCURLINT_FILE_TIMEOUT); not analysed"), limited.stdout
    others = [ln for ln in limited.stdout.splitlines() if "generated_handlers.py" not in ln]
    assert others == plain.stdout.splitlines()  # every other file's findings, unchanged
    # the timeout was not cached: with the default budget the file is analysed again
    again = run_cli("check", ".", "-j2", "--cache-dir", cache, cwd=proj, check_exit=1)
    assert again.stdout == plain.stdout


def test_budget_applies_to_a_single_file_run_and_a_bad_value_is_the_default(tmp_path):
    proj = _budget_project(tmp_path)
    one = run_cli("check", "generated_handlers.py", "--no-cache", cwd=proj,
                  env={"CONCURLINT_FILE_TIMEOUT": "0.1"}, check_exit=1)
    assert "CCL000" in one.stdout and "0.1 s of CPU time" in one.stdout
    bad = run_cli("check", "generated_handlers.py", "--no-cache", cwd=proj,
                  env={"CONCURLINT_FILE_TIMEOUT": "soon"}, check_exit=0)
    assert bad.stdout == ""


def test_budget_in_flake8(tmp_path):
    # 1 MB (still ~10x the budget): flake8's own checkers spend ~6 s of CPU on each megabyte
    proj = _budget_project(tmp_path, megabytes=1)
    env = dict(os.environ, CONCURLINT_FILE_TIMEOUT="0.1")
    flake8 = subprocess.run([script("flake8"), "--select", "CCL", "generated_handlers.py", "0_CCL201.py"],
                            cwd=proj, capture_output=True, text=True, timeout=600, env=env)
    assert "Traceback" not in flake8.stderr, flake8.stderr
    lines = flake8.stdout.splitlines()
    runaway = [ln for ln in lines if ln.startswith("generated_handlers.py")]
    assert len(runaway) == 1 and runaway[0].startswith(
        "generated_handlers.py:1:1: CCL000 file could not be analysed: analysis took more than 0.1 s of "
        "CPU time ($CONCURLINT_FILE_TIMEOUT); not analysed"), flake8.stdout
    assert sum(ln.startswith("0_CCL201.py") and "CCL201" in ln for ln in lines) == 3, flake8.stdout


# --------------------------------------------------------------------------- stopping a run
def _children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig,status,words,early", [
    (signal.SIGTERM, 143, "concurlint: terminated", False),
    (signal.SIGINT, 130, "concurlint: interrupted", False),
    (signal.SIGKILL, -signal.SIGKILL, None, False),
    # the moment the first worker is forked, before it has set up its own signal handling (a
    # worker that still had the CLI's handlers printed a traceback and the run could hang)
    (signal.SIGTERM, 143, "concurlint: terminated", True),
    (signal.SIGINT, 130, "concurlint: interrupted", True),
])
def test_stopped_run_leaves_no_worker_behind(tmp_path, sig, status, words, early):
    proj = tmp_path / "proj"
    proj.mkdir()
    _slow_module(proj / "handlers_0.py")
    text = (proj / "handlers_0.py").read_text()
    for k in range(1, 8):  # eight 2 MB files: seconds of work for each worker, mid-run for sure
        (proj / f"handlers_{k}.py").write_text(text)
    env = dict(os.environ, CONCURLINT_FILE_TIMEOUT="0")
    # stdout and stderr to files: a worker left alive would hold a pipe open
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        # Ctrl-C reaches a program whose SIGINT is not ignored; a suite started in the background by
        # a non-interactive shell (as .ci/run starts the other Pythons' suites) ignores SIGINT, and
        # its children would inherit that
        proc = subprocess.Popen([script("concurlint"), "check", ".", "--no-cache", "-j2"], cwd=proj,
                                stdout=out, stderr=err, env=env,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.monotonic() + 120
            wanted = 1 if early else 2
            while len(_children(proc.pid)) < wanted and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0 if early else 0.02)
            workers = _children(proc.pid)
            assert len(workers) >= wanted, "the worker pool never started"
            proc.send_signal(sig)
            workers = sorted(set(workers) | set(_children(proc.pid)))
            got = proc.wait(timeout=60)
            assert got == status, (got, (tmp_path / "err").read_text())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    deadline = time.monotonic() + 30
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [w for w in workers if _alive(w)]
    for w in left:  # do not leak them into the rest of the suite
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent"
    stderr = (tmp_path / "err").read_text()
    assert "Traceback" not in stderr, stderr
    if words is not None:
        assert stderr.strip() == words, stderr


def test_rule_budget_meter_times_out_one_item_and_restores_the_handler():
    """The project pass runs each rule on each module under one ``Meter`` (the handler installed
    once): an item that spends its CPU budget raises, the next item gets a whole budget again,
    and the previous SIGPROF handler is back afterwards. Counted in CPU work, not in time: the
    busy item loops until it is stopped (or fails after far more work than the budget)."""
    from concurlint.budget import BudgetExceeded, Meter

    before = signal.getsignal(signal.SIGPROF)
    meter = Meter(0.05)
    outcomes = []
    with meter.installed():
        for item in ("busy", "idle"):
            try:
                with meter:
                    if item == "busy":
                        start = time.process_time()
                        while time.process_time() - start < 30:
                            sum(range(1000))
                outcomes.append((item, "done"))
            except BudgetExceeded as exc:
                outcomes.append((item, exc.words()))
    assert outcomes == [("busy", "analysis took more than 0.05 s of CPU time ($CONCURLINT_FILE_TIMEOUT); "
                                 "not analysed"), ("idle", "done")]
    assert signal.getsignal(signal.SIGPROF) == before
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)

"""`concurlint probe` never leaves anything behind and answers a bad target in one sentence (#18
item 10, #16 item 7), through the installed console script:

- killed from outside (SIGTERM, as ``timeout`` sends; SIGKILL) or at its own ``--timeout``, the
  probe stops its runner, the target, a helper the target started with
  ``start_new_session=True`` and a daemon it double-forked, and removes its temporary directory;
- ``--memory-limit`` caps the child's address space;
- ``path/to/mod.py:func`` works like ``pkg.mod:func``; a target that cannot be imported or named
  is one sentence and exit status 2;
- on a busy machine the advice never says "confirms" next to a figure that says otherwise.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "probe_targets"))

from probe_testlib import TARGETS, concurlint_script, run_cli, validate  # noqa: E402

QUICK = ["--repeat", "1", "--tasks", "1", "--workers", "1", "--modes", "threads", "--retries", "0"]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def _notes(folder):
    return {name.split("-")[0]: int(name.split("-")[1]) for name in os.listdir(folder)}


def _wait_gone(pids, seconds=30):
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in pids if _alive(p)]
    for p in left:  # never leak them into the rest of the suite
        os.kill(p, signal.SIGKILL)
    return left


def _start(tmp_path, *extra):
    notes = tmp_path / "notes"
    notes.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    out = open(tmp_path / "out", "w")
    err = open(tmp_path / "err", "w")
    proc = subprocess.Popen(
        [concurlint_script(), "probe", "pt_detach:start_helpers_and_wait", "--args", json.dumps([str(notes)]),
         *QUICK, *extra], cwd=str(TARGETS), env=env, stdout=out, stderr=err)
    out.close()
    err.close()
    return proc, notes, tmp


def _wait_ready(proc, notes):
    deadline = time.monotonic() + 120
    while "ready" not in _notes(notes) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    found = _notes(notes)
    assert set(found) == {"helper", "daemon", "ready"}, (found, proc.poll())
    return found


@linux_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_probe_leaves_nothing_running_and_no_temporary_directory(tmp_path, sig):
    proc, notes, tmp = _start(tmp_path, "--timeout", "300")
    try:
        found = _wait_ready(proc, notes)  # the runner ("ready") is inside the target's call
        assert os.listdir(tmp), "the probe's temporary directory should exist while it runs"
        proc.send_signal(sig)
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _wait_gone(found.values()), "processes outlived the probe: %s" % found
    deadline = time.monotonic() + 30
    while os.listdir(tmp) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(tmp) == []
    stderr = (tmp_path / "err").read_text()
    assert "Traceback" not in stderr
    if sig == signal.SIGTERM:
        assert status == 143 and stderr.strip() == "concurlint probe: terminated"
    else:
        assert status == -signal.SIGKILL


@linux_only
def test_probe_timeout_kills_what_the_target_started_in_other_sessions(tmp_path):
    proc, notes, tmp = _start(tmp_path, "--timeout", "3", "--format", "json")
    try:
        status = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    report = validate(json.loads((tmp_path / "out").read_text()))
    assert status == 1 and report["error"]["kind"] == "timeout"
    found = _notes(notes)
    assert set(found) == {"helper", "daemon", "ready"}
    assert not _wait_gone(found.values(), seconds=10), found  # already gone: the probe waited for them
    assert os.listdir(tmp) == []


def test_memory_limit_turns_a_large_allocation_into_a_reported_memory_error():
    done = run_cli("pt_detach:load_table", "--args", "[1024]", "--memory-limit", "300", *QUICK, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = validate(json.loads(done.stdout))
    assert report["ok"] is False and "MemoryError" in report["error"]["message"]
    # the same call with room to spare
    done = run_cli("pt_detach:load_table", "--args", "[64]", "--memory-limit", "1024", *QUICK, "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert validate(json.loads(done.stdout))["ok"] is True


@pytest.mark.parametrize("value", ["0", "8", "lots"])
def test_memory_limit_must_be_megabytes(value):
    done = run_cli("pt_work:crunch", "--args", "[10]", "--memory-limit", value)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def _crunch_project(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "crunch.py").write_text(
        "def count_primes(limit):\n"
        "    \"\"\"How many primes below limit, by trial division.\"\"\"\n"
        "    found = 0\n"
        "    for n in range(2, limit):\n"
        "        if all(n % d for d in range(2, int(n ** 0.5) + 1)):\n"
        "            found += 1\n"
        "    return found\n")
    return tmp_path


@pytest.mark.parametrize("target", ["app/crunch.py:count_primes", "app.crunch:count_primes"])
def test_path_form_target_works_like_the_module_form(tmp_path, target):
    root = _crunch_project(tmp_path)
    done = run_cli(target, "--args", "[3000]", *QUICK, "--format", "json", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = validate(json.loads(done.stdout))
    assert report["ok"] is True and report["target"] == target
    assert report["function"]["module"] == "app.crunch" and report["function"]["qualname"] == "count_primes"
    assert report["result_repr"] == "430"
    assert report["static"]["available"] is True  # the same function, found by the static engine


def test_path_form_from_another_directory_and_in_pyproject(tmp_path):
    root = _crunch_project(tmp_path)
    (root / "pyproject.toml").write_text(
        "[[tool.concurlint.probe]]\ntarget = \"app/crunch.py:count_primes\"\nargs = [3000]\n")
    done = run_cli(*QUICK, "--format", "json", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert validate(json.loads(done.stdout))["result_repr"] == "430"
    elsewhere = run_cli(str(root / "app" / "crunch.py") + ":count_primes", "--args", "[3000]", *QUICK,
                        "--format", "json", cwd=TARGETS)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert validate(json.loads(elsewhere.stdout))["function"]["module"] == "app.crunch"


@pytest.mark.parametrize("target, words", [
    ("pt_broken_import:anything", "cannot import pt_broken_import:anything: RuntimeError: this module fails "
                                  "at import (pt_broken_import.py:1)"),
    ("pt_work:no_such_function", "cannot import pt_work:no_such_function: AttributeError: module 'pt_work' "
                                 "has no attribute 'no_such_function'"),
    ("pt_work.py:no_such_function", "cannot import pt_work.py:no_such_function: AttributeError: module "
                                    "'pt_work' has no attribute 'no_such_function'"),
    ("no_such_module:f", "cannot import no_such_module:f: ModuleNotFoundError: No module named 'no_such_module'"),
    ("app/nothere.py:f", "target 'app/nothere.py:f': there is no file app/nothere.py"),
])
def test_target_that_cannot_be_imported_is_one_sentence_and_exit_2(target, words):
    done = run_cli(target, *QUICK)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == "concurlint probe: error: %s\n" % words
    assert done.stdout == "" and "FAILED" not in done.stderr


def test_a_target_that_imports_but_raises_is_still_a_measured_failure():
    """Negative control: only import problems are usage errors; a call that raises is exit 1
    with the report."""
    done = run_cli("pt_bad:raises", "--args", "[42]", *QUICK)
    assert done.returncode == 1 and "FAILED: the target raised ValueError: bad input 42" in done.stdout


# --------------------------------------------------------------------------- advice wording
def _measured(level, speedup, raw, low, high):
    from concurlint.probe.harness import _add_static

    report = {
        "function": {"sourcefile": str(TARGETS / "pt_work.py"), "qualname": "crunch"},
        "python": "3.11.7", "free_threaded_build": False, "measured_kind": "cpu",
        "recommended": "processes", "load": {"level": level},
        "modes": {"serial": {"speedup": 1.0},
                  "processes": {"speedup": speedup, "speedup_raw": raw, "speedup_min": low, "speedup_max": high}},
    }
    spec = type("Spec", (), {"static": True})()
    _add_static(report, spec, {"processes"})
    assert report["static"]["recommended"] == "processes", report["static"]
    return report["advice"]


def test_busy_machine_with_contradicting_figures_is_inconclusive_not_confirmed():
    advice = _measured("busy", 1.35, 0.92, 0.71, 1.6)
    assert advice["verdict"] == "inconclusive"
    assert "confirm" not in advice["message"].replace("neither confirm nor contradict", "")
    assert "processes 1.35x over serial once the wait for a CPU is taken out, 0.92x on the wall clock" \
        in advice["message"]
    assert "processes 0.71x in its slowest run" in advice["message"]


@pytest.mark.parametrize("level, figures", [
    ("busy", (1.8, 1.5, 1.3, 2.0)),  # busy, but every figure agrees
    ("idle", (1.35, 0.92, 0.71, 1.6)),  # quiet machine: run-to-run noise is not doubt
])
def test_consistent_figures_or_a_quiet_machine_confirm(level, figures):
    advice = _measured(level, *figures)
    assert advice["verdict"] == "confirmed"
    assert advice["message"] == "measurement confirms the static advice (processes)"

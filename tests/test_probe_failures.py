"""A target that crashes, hangs, exits, raises, prints or cannot be pickled is a
reported failure (or an "impossible" mode), never a crash or hang of the probe."""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "probe_targets"))

from probe_testlib import probe, run_cli, validate  # noqa: E402

FAST = dict(tasks=2, workers=2, timeout=20)


def test_exception_in_target_is_reported_with_traceback():
    r = probe("pt_bad:raises", args=[42], modes=["threads"], **FAST)
    assert r["ok"] is False
    assert r["error"]["kind"] == "exception"
    assert "ValueError: bad input 42" in r["error"]["message"]
    assert 'pt_bad.py", line' in r["error"]["traceback"]
    assert "_runner.py" not in r["error"]["traceback"].splitlines()[1]


def test_os_exit_is_a_crash_with_status():
    r = probe("pt_bad:exits", modes=["threads"], **FAST)
    assert r["ok"] is False
    assert r["error"]["kind"] == "crash"
    assert r["error"]["exit_status"] == 3
    assert "exited with status 3" in r["error"]["message"]


def test_segfault_is_a_crash_with_the_faulthandler_traceback():
    r = probe("pt_bad:segfault", modes=["threads"], **FAST)
    assert r["ok"] is False
    assert r["error"]["kind"] == "crash"
    assert "SIGSEGV" in r["error"]["message"]
    assert "in segfault" in r["error"]["traceback"]


def test_hanging_target_is_killed_at_the_timeout():
    start = time.monotonic()
    r = probe("pt_bad:hangs", modes=["threads"], tasks=2, workers=2, timeout=1.5)
    assert time.monotonic() - start < 10
    assert r["ok"] is False
    assert r["error"]["kind"] == "timeout"
    assert "1.5 s" in r["error"]["message"]
    assert "in hangs" in r["error"]["traceback"]  # faulthandler's stack dump of the hung child


def test_hang_in_one_mode_keeps_the_other_results():
    r = probe("pt_bad:hangs_in_threads", modes=["threads", "processes"], tasks=2, workers=2, timeout=1.5)
    assert r["ok"] is False
    assert r["error"]["kind"] == "timeout" and r["error"]["mode"] == "threads"
    assert r["modes"]["serial"]["wall_s"] is not None
    assert "timed out" in r["modes"]["threads"]["error"]


def test_worker_process_dying_fails_only_that_mode():
    r = probe("pt_bad:exits_in_worker", modes=["threads", "processes"], **FAST)
    assert r["ok"] is False
    assert "BrokenProcessPool" in r["modes"]["processes"]["error"]
    assert r["modes"]["threads"]["speedup"] is not None


def test_lambda_callable_makes_processes_impossible():
    r = probe("pt_bad:as_lambda", args=[2], modes=["threads", "processes"], **FAST)
    assert r["ok"] is True
    proc = r["modes"]["processes"]
    assert proc["possible"] is False
    assert proc["why"].startswith("the callable cannot be pickled")
    assert r["modes"]["threads"]["speedup"] is not None


def test_lambda_result_makes_processes_impossible():
    r = probe("pt_bad:returns_lambda", modes=["processes"], **FAST)
    assert r["modes"]["processes"]["possible"] is False
    assert r["modes"]["processes"]["why"].startswith("the result cannot be pickled")


def test_import_error_is_reported():
    r = probe("pt_broken_import:anything", modes=["threads"], **FAST)
    assert r["ok"] is False and r["error"]["stage"] == "import"
    assert "this module fails at import" in r["error"]["message"]


def test_missing_function_is_reported():
    r = probe("pt_work:no_such_function", modes=["threads"], **FAST)
    assert r["ok"] is False and r["error"]["stage"] == "import"
    assert "no_such_function" in r["error"]["message"]


def test_printing_target_does_not_corrupt_json_output():
    done = run_cli("pt_work:chatty", "--args", "[200]", "--modes", "threads,processes", "--repeat", "1",
                   "--tasks", "2", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = validate(json.loads(done.stdout))
    assert report["ok"] is True
    assert "not json from the target" not in done.stdout


def test_cli_reports_crash_with_exit_1_and_no_traceback_of_its_own():
    done = run_cli("pt_bad:exits", "--modes", "threads", "--repeat", "1")
    assert done.returncode == 1
    assert "FAILED: the probe child exited with status 3" in done.stdout
    assert "Traceback" not in done.stderr

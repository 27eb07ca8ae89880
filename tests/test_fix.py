"""`concurlint fix`, through the installed command, one fixer at a time on the rule fixtures.

Every case checks (tests/fixcheck.py) that no finding is added, no comment is lost, the changed
files parse under Python 3.9 and this Python, and a second run changes nothing."""
from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import FIXTURES
from fixcheck import check_fix, findings, fix, snapshot


def _copy(tmp_path: Path, *names: str) -> Path:
    for n in names:
        shutil.copy(FIXTURES / n, tmp_path / n)
    return tmp_path


def _codes(found, code):
    return [f for f in found if f["code"] == code]


# (fixture, options, rule, how many of the rule's findings are left, what the fixed file contains)
CASES = [
    # one file written once is medium (not in the default output, so not fixed by default)
    ("CCL501.py", ["--unsafe-fixes"], "CCL501", 0,
     ["await asyncio.sleep(1)  # CCL501", "await asyncio.to_thread(convert, amount, currency)",
      "with open(dest, \"wb\") as f:  # CCL501:medium",
      # one directory listed, consumed by sorted(): medium (fixed in the test below)
      "return names + sorted(spool.glob(\"*.json\"))  # CCL501:medium"]),
    # a task stored in a local nobody reads is reported, not fixed (the finding says why);
    # CCL503 reports at medium at most (docs/precision.md): fixed when medium findings are shown
    ("CCL503_event_handlers.py", ["--min-confidence", "medium"], "CCL503", 1,
     ["task = asyncio.create_task(callback(event_type, data))  # CCL503",
      "task = asyncio.ensure_future(self._pointer(payload))  # CCL503",
      "task_2 = loop.create_task(task)  # CCL503", "task.add_done_callback(_background_tasks.discard)",
      "_background_tasks = set()"]),
    ("CCL303.py", [], "CCL303", 0,
     ['if __name__ == "__main__":\n    with Pool(2) as shared_pool:  # CCL303\n        PRECOMPUTED']),
    ("CCL303_ctx.py", [], "CCL303", 0, ['if __name__ == "__main__":\n    worker.start()  # CCL303']),
    ("CCL401_thumbnailer.py", ["--unsafe-fixes"], "CCL401", 0,
     ["def _shrink_task(p):\n    return shrink(p, 4)", "pool.map(_shrink_task, paths)",
      "queue.put(functools.partial(_report_queue_task, row))  # CCL401"]),
    # CCL402 reports at medium at most (docs/precision.md): fixed when medium findings are shown
    ("CCL402_scoring.py", ["--unsafe-fixes", "--min-confidence", "medium"], "CCL402", 0,
     ["def _score(weight, row):", "score = partial(_score, weight)", "\ndef normalise(row):\n    top = max(row) or 1",
      "\ndef worker(chunk):\n"]),
    ("CCL105_pixels.py", [], "CCL105", 0,
     ["pool.map(to_grey, range(PIXELS), chunksize=4096))  # CCL105",
      "pool.imap_unordered(to_grey, range(500_000), chunksize=1024))  # CCL105",
      "list(pool.imap(to_grey, range(10**6), 4096))"]),
]


def test_fix_removes_the_findings_and_keeps_the_promises(tmp_path):
    """All the rule fixtures in one project per confidence shown, every fix allowed: one run of
    each command."""
    for medium in (False, True):
        cases = [c for c in CASES if ("medium" in c[1]) == medium]
        root = tmp_path / ("medium" if medium else "default")
        root.mkdir()
        _fix_cases(root, cases, ["--unsafe-fixes"] + (["--min-confidence", "medium"] if medium else []))


def _fix_cases(tmp_path, cases, options):
    _copy(tmp_path, *(c[0] for c in cases))
    facts = check_fix(tmp_path, ".", *options)
    for fixture, _options, code, left, expected in cases:
        before = [f for f in _codes(facts["before"], code) if f["path"] == fixture]
        after = [f for f in _codes(facts["after"], code) if f["path"] == fixture]
        assert len(before) > left, fixture
        assert len(after) == left, (fixture, facts["output"])
        text = (tmp_path / fixture).read_text(encoding="utf-8")
        for snippet in expected:
            assert snippet in text, f"{snippet!r} not in the fixed {fixture}:\n{text}"


def test_safe_only_by_default_and_unsafe_fixes_are_named(tmp_path):
    _copy(tmp_path, "CCL501.py")
    facts = check_fix(tmp_path, "CCL501.py", "--min-confidence", "medium")
    text = (tmp_path / "CCL501.py").read_text(encoding="utf-8")
    assert "    await asyncio.sleep(1)  # CCL501" in text  # time.sleep is the safe one
    assert "to_thread" not in text.split("# ---- near misses")[0]
    assert facts["exit"] == 1  # findings remain
    out = facts["output"]
    assert out.count("[unsafe fix available: --unsafe-fixes]") == len(_codes(facts["after"], "CCL501")) - 1
    assert "[not fixed: a loop iterates over the result" in out
    assert "Fixed 1 finding in 1 file;" in out and "with an unsafe fix: rerun with --unsafe-fixes" in out


def test_consumed_listing_is_fixed_as_the_consumer_call(tmp_path):
    """``sorted(spool.glob(...))`` (medium): the consumer runs the lazy listing, so the whole
    call moves to the thread, not the glob() that only makes the generator."""
    _copy(tmp_path, "CCL501.py")
    check_fix(tmp_path, "CCL501.py", "--unsafe-fixes", "--min-confidence", "medium")
    text = (tmp_path / "CCL501.py").read_text(encoding="utf-8")
    assert 'names + await asyncio.to_thread(sorted, spool.glob("*.json"))' in text


def test_lambda_capturing_nothing_is_safe_one_that_captures_is_unsafe(tmp_path):
    _copy(tmp_path, "CCL401_thumbnailer.py")
    facts = check_fix(tmp_path, "CCL401_thumbnailer.py")
    text = (tmp_path / "CCL401_thumbnailer.py").read_text(encoding="utf-8")
    assert "pool.apply_async(_checksum_task, (blob,))" in text
    assert "queue.put(lambda: row)  # CCL401" in text  # captures `row`: unsafe, not applied
    assert len(_codes(facts["after"], "CCL401")) == 1


def test_diff_writes_nothing_and_applies_like_fix(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _copy(work, "CCL105_pixels.py", "CCL503_event_handlers.py")
    before = snapshot(work)
    proc = fix(".", work, "--diff", "--min-confidence", "medium", exit_code=1)  # CCL503: medium at most
    assert snapshot(work) == before, "--diff wrote a file"
    assert proc.stdout.startswith("--- a/"), proc.stdout
    assert "+++ b/CCL105_pixels.py" in proc.stdout and "+++ b/CCL503_event_handlers.py" in proc.stdout
    assert "Would fix 6 findings in 2 files; 1 finding left." in proc.stderr, proc.stderr  # medium shown: one more
    # the diff is the change `fix` makes
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run(["git", "apply", "-"], cwd=work, input=proc.stdout, text=True, check=True)
    patched = snapshot(work)
    other = tmp_path / "other"
    other.mkdir()
    _copy(other, "CCL105_pixels.py", "CCL503_event_handlers.py")
    fix(".", other, "--min-confidence", "medium", exit_code=1)  # the task kept in an unread local is left
    assert snapshot(other) == patched


def test_diff_with_nothing_to_fix_exits_0(tmp_path):
    (tmp_path / "clean.py").write_text(textwrap.dedent('''\
        import asyncio


        async def tick(n):
            await asyncio.sleep(n)  # already the async form
        '''), encoding="utf-8")
    proc = fix("clean.py", tmp_path, "--diff", exit_code=0)
    assert proc.stdout == ""
    assert "Would fix 0 findings in 0 files; 0 findings left." in proc.stderr


STATUS = textwrap.dedent('''\
    """Status page: polls two backends."""
    import asyncio
    import time


    async def poll_primary():
        time.sleep(0.2)  # noqa: CCL501 (measured: the backend answers in microseconds)
        return "ok"


    async def poll_replica():
        time.sleep(0.2)  # give the replica a head start
        return "ok"


    async def main():
        return await asyncio.gather(poll_primary(), poll_replica())
    ''')


def test_noqa_is_respected(tmp_path):
    (tmp_path / "status.py").write_text(STATUS, encoding="utf-8")
    check_fix(tmp_path, "status.py")
    text = (tmp_path / "status.py").read_text(encoding="utf-8")
    assert "    time.sleep(0.2)  # noqa: CCL501" in text
    assert "    await asyncio.sleep(0.2)  # give the replica a head start" in text
    assert "import time\n" in text  # still used by the suppressed line


def test_select_ignore_and_baseline_limit_the_fixes(tmp_path):
    _copy(tmp_path, "CCL105_pixels.py", "CCL503_event_handlers.py")
    before = snapshot(tmp_path)
    fix(".", tmp_path, "--select", "CCL105", exit_code=0)
    changed = {n for n, d in snapshot(tmp_path).items() if before[n] != d}
    assert changed == {"CCL105_pixels.py"}
    fix(".", tmp_path, "--ignore", "CCL5,CCL1", exit_code=0)
    assert (tmp_path / "CCL503_event_handlers.py").read_bytes() == before["CCL503_event_handlers.py"]
    proc = fix(".", tmp_path, "--select", "CCL9999", exit_code=2)
    assert "unknown rule code" in proc.stderr


def test_baseline_findings_are_left_alone(tmp_path):
    _copy(tmp_path, "CCL503_event_handlers.py")
    from conftest import run_cli

    run_cli("report", ".", "--write-baseline", "baseline.json", "--no-cache", "--min-confidence", "medium", cwd=tmp_path)
    (tmp_path / "late.py").write_text(textwrap.dedent('''\
        import asyncio


        async def handler(writer, on_ping):
            asyncio.create_task(on_ping(writer))  # new since the baseline
        '''), encoding="utf-8")
    before = (tmp_path / "CCL503_event_handlers.py").read_bytes()
    fix(".", tmp_path, "--baseline", "baseline.json", "--min-confidence", "medium", exit_code=0)  # CCL503: medium at most
    assert (tmp_path / "CCL503_event_handlers.py").read_bytes() == before
    assert "_background_tasks.add(task)" in (tmp_path / "late.py").read_text(encoding="utf-8")


BATCH_WITH_CONFIG = textwrap.dedent('''\
    """Batch job: the pool starts first, then the settings its workers read are loaded."""
    import multiprocessing
    import os


    def work(item):
        return item * SETTINGS["scale"]


    pool = multiprocessing.get_context("spawn").Pool(2)
    SETTINGS = {"scale": int(os.environ.get("SCALE", "3"))}
    print(pool.map(work, range(4)))
    pool.close()
    ''')


def test_main_guard_not_moved_when_a_function_reads_what_the_script_sets(tmp_path):
    (tmp_path / "batch.py").write_text(BATCH_WITH_CONFIG, encoding="utf-8")
    before = (tmp_path / "batch.py").read_bytes()
    facts = check_fix(tmp_path, "batch.py")
    assert (tmp_path / "batch.py").read_bytes() == before
    assert "CCL303" in facts["output"]
    assert "[not fixed: a function or class outside the script reads `SETTINGS`" in facts["output"], facts["output"]
    found = findings("batch.py", tmp_path)
    (ccl303,) = _codes(found, "CCL303")
    assert "fix" not in ccl303 and "reads `SETTINGS`" in ccl303["fix_unavailable"]


def test_bad_path_is_a_usage_error(tmp_path):
    proc = fix("missing.py", tmp_path, exit_code=2)
    assert "does not exist" in proc.stderr


def test_unparsable_file_is_left_alone_and_reported(tmp_path):
    shutil.copy(FIXTURES / "CCL000_merge_conflict.py", tmp_path / "broken.py")
    _copy(tmp_path, "CCL105_pixels.py")
    before = (tmp_path / "broken.py").read_bytes()
    proc = fix(".", tmp_path, exit_code=1)
    assert (tmp_path / "broken.py").read_bytes() == before
    assert "broken.py" in proc.stdout and "CCL000" in proc.stdout
    assert "chunksize=4096" in (tmp_path / "CCL105_pixels.py").read_text(encoding="utf-8")


def _apply(text: str, edits) -> str:
    """Apply a JSON fix's edits (as an editor or a bot would) to a file's text."""
    lines = text.splitlines(keepends=True)
    for e in sorted(edits, key=lambda e: (e["line"], e["col"]), reverse=True):
        start = sum(len(ln) for ln in lines[:e["line"] - 1]) + e["col"]
        end = sum(len(ln) for ln in lines[:e["end_line"] - 1]) + e["end_col"]
        joined = "".join(lines)
        lines = (joined[:start] + e["content"] + joined[end:]).splitlines(keepends=True)
    return "".join(lines)


def test_report_json_and_sarif_carry_the_fixes(tmp_path):
    import json

    from conftest import ROOT, run_cli

    _copy(tmp_path, "CCL501.py", "CCL105_pixels.py", "CCL201.py")
    found = findings(".", tmp_path, "--min-confidence", "medium")  # validated against concurlint/schemas/report.schema.json
    by_code = {}
    for f in found:
        by_code.setdefault(f["code"], []).append(f)
    assert all("fix" in f and f["fix"]["applicability"] == "safe" for f in by_code["CCL105"])
    sleeps = [f for f in by_code["CCL501"] if f["message"].startswith("time.sleep() blocks the event loop;")]
    assert [f["fix"]["applicability"] for f in sleeps] == ["safe"]
    assert {f["fix"]["applicability"] for f in by_code["CCL501"] if "fix" in f} == {"safe", "unsafe"}
    assert any("loop iterates" in f.get("fix_unavailable", "") for f in by_code["CCL501"])
    assert not any("fix" in f or "fix_unavailable" in f for f in by_code["CCL201"])  # no fixer
    # the edits of one fix, applied alone, are that fix
    (first,) = [f for f in by_code["CCL105"] if f["line"] == 22]
    text = (tmp_path / "CCL105_pixels.py").read_text(encoding="utf-8")
    fixed = _apply(text, first["fix"]["edits"])
    assert fixed == text.replace("range(PIXELS)))  # CCL105", "range(PIXELS), chunksize=4096))  # CCL105")
    assert all(e["path"] == "CCL105_pixels.py" for e in first["fix"]["edits"])

    proc = run_cli("report", ".", "--format", "sarif", "--no-cache", "--min-confidence", "medium", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    import jsonschema

    schema = json.loads((ROOT / "tests" / "data" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(doc))
    assert not errors, [e.message for e in errors[:5]]
    results = doc["runs"][0]["results"]
    fixed_results = [r for r in results if r.get("fixes")]
    assert len(fixed_results) == sum("fix" in f for f in found)
    change = next(r for r in fixed_results if r["ruleId"] == "CCL105")["fixes"][0]
    assert change["properties"]["applicability"] == "safe"
    (artifact,) = change["artifactChanges"]
    assert artifact["artifactLocation"]["uri"] == "CCL105_pixels.py"
    rep = artifact["replacements"][0]
    assert rep["deletedRegion"]["startLine"] == 22 and "chunksize=4096" in rep["insertedContent"]["text"]


def test_pre_commit_hook_concurlint_fix_is_declared():
    yaml = pytest.importorskip("yaml")
    from conftest import ROOT

    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    hook = hooks["concurlint-fix"]
    assert hook["entry"] == "concurlint fix" and hook["types"] == ["python"]
    assert hook["language"] == "python" and hook["require_serial"] is True
    assert {"concurlint", "concurlint-report"} <= set(hooks)


TALLY = textwrap.dedent('''\
    """Vote tally: counts ballots in worker processes."""
    import threading
    from concurrent.futures import ProcessPoolExecutor


    def tally(ballots):
        lock = threading.Lock()

        def count(ballot):
            with lock:  # one ballot at a time
                return len(ballot)

        with ProcessPoolExecutor() as pool:
            return sum(pool.map(count, ballots))
    ''')


def test_a_fix_that_would_add_a_finding_is_taken_back(tmp_path):
    # binding the captured lock with functools.partial would send the lock to the pool (CCL405)
    (tmp_path / "tally.py").write_text(TALLY, encoding="utf-8")
    facts = check_fix(tmp_path, "tally.py", "--unsafe-fixes", "--min-confidence", "medium")
    assert (tmp_path / "tally.py").read_text(encoding="utf-8") == TALLY
    assert "CCL402" in facts["output"] and "[not fixed: the fix would add a finding (CCL405)]" in facts["output"]
    assert "Fixed 0 findings in 0 files; 1 finding left." in facts["output"]
    assert facts["exit"] == 1

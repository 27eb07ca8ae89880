"""Fix planning re-renders, re-parses and re-diffs only what a fix changes (concurlint/fixes/splice.py).

The suite runs every CLI with CONCURLINT_SELF_CHECK_FIXES=1 (conftest.py): each planned fix's
text, check and edits are also computed the old way, on the whole module, and must be equal.
These tests add cases where the shortcuts must give way to the whole computation."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from fixcheck import fix

SYNC = '''\
"""Mirror a remote bucket into a local directory, one object at a time."""
import json
import subprocess
import time
from pathlib import Path

STATE = Path("state.json")


def load_state():
    if not STATE.exists():
        return {}
    with STATE.open() as fh:
        return json.load(fh)


def save_state(state):
    with STATE.open("w") as fh:
        json.dump(state, fh)


def list_remote(prefix):
    out = subprocess.check_output(["aws", "s3", "ls", prefix])
    return [line.split()[-1] for line in out.decode().splitlines()]


async def mirror(prefix, dest):
    state = load_state()
    for name in list_remote(prefix):
        if name in state:
            continue
        # the copy itself: one object
        subprocess.run(["aws", "s3", "cp", prefix + name, str(dest / name)], check=True)
        state[name] = True
    save_state(state)


async def pause_between_rounds(seconds):
    time.sleep(seconds)
'''


def _report(tmp_path: Path, name: str) -> dict:
    proc = run_cli("report", name, "--format", "json", "--min-confidence", "low", "--no-cache", cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def _edits(finding: dict) -> list:
    return [(e["line"], e["end_line"], e["content"]) for e in finding["fix"]["edits"]]


def test_fix_far_from_the_import_it_adds_has_two_small_edits(tmp_path):
    (tmp_path / "sync.py").write_text(SYNC)
    by_line = {f["line"]: f for f in _report(tmp_path, "sync.py")["findings"] if f["code"] == "CCL501"}
    copy = by_line[33]
    assert _edits(copy) == [
        (6, 6, "import asyncio\n"),
        (33, 34, '        await asyncio.to_thread(subprocess.run, ["aws", "s3", "cp", prefix + name, '
                 'str(dest / name)], check=True)\n')]
    # time.sleep's only use: the import goes too (three separate edits of one fix)
    assert _edits(by_line[39]) == [(4, 5, ""), (6, 6, "import asyncio\n"), (39, 40, "    await asyncio.sleep(seconds)\n")]
    assert "fix_unavailable" in by_line[29]  # the loop's iterable: not fixed
    # and `fix` writes exactly what the report shows
    fix("sync.py", tmp_path, "--min-confidence", "low", "--unsafe-fixes")
    fixed = (tmp_path / "sync.py").read_text()
    assert "\nimport asyncio\n" in fixed and "import time\n" not in fixed
    assert "        await asyncio.to_thread(subprocess.run, " in fixed
    assert "    await asyncio.sleep(seconds)\n" in fixed


def test_file_without_final_newline_is_rendered_whole_and_fixed_the_same(tmp_path):
    (tmp_path / "sync.py").write_text(SYNC.rstrip("\n"))
    found = {f["line"]: f for f in _report(tmp_path, "sync.py")["findings"] if f["code"] == "CCL501"}
    assert _edits(found[39])[-1] == (39, 40, "    await asyncio.sleep(seconds)")
    assert _edits(found[33])[0] == (6, 6, "import asyncio\n")


def test_repeated_lines_around_the_change_keep_difflib_edits(tmp_path):
    """Lines equal to the ones a fix adds, next to it: difflib's choice of which lines are 'the
    same' is not the changed lines alone; the edits are still exactly what difflib gives."""
    body = textwrap.dedent('''\
        import asyncio
        import time


        async def poll(client):
            time.sleep(1)
            await asyncio.sleep(1)
            await asyncio.sleep(1)
            time.sleep(1)
            await asyncio.sleep(1)
        ''')
    (tmp_path / "poll.py").write_text(body)
    found = [f for f in _report(tmp_path, "poll.py")["findings"] if f["code"] == "CCL501" and "fix" in f]
    assert len(found) == 2
    for f in found:
        (_, _, content), = [e for e in _edits(f) if "sleep" in e[2]]
        assert content == "    await asyncio.sleep(1)\n"
    # both fixes applied: every sleep awaits, nothing else moved
    fix("poll.py", tmp_path, "--min-confidence", "low")
    assert (tmp_path / "poll.py").read_text() == body.replace("    time.sleep(1)", "    await asyncio.sleep(1)")


# ---------------------------------------------------------------- the pieces, directly
@pytest.fixture()
def source():
    from concurlint.fixes.base import FixSource

    def make(text: str):
        src = FixSource(text)
        src.positions  # renders once: spans, indentation, parents
        return src
    return make


def _splice_text(src, old: str, new: str):
    start = src.text.index(old)
    return [(start, start + len(old), new)]


def test_edits_equal_difflib_when_a_block_repeats_the_inserted_lines(source):
    from concurlint.fixes import splice
    from concurlint.fixes.base import edits_between

    # the new lines repeat a longer run of the file than the unchanged head: difflib matches
    # them with it, so comparing the changed lines alone would give other edits
    head = "x = 1\ny = 2\nz = 3\n"
    text = head + "s = 4\n"
    src = source(text)
    splices = [(len(head), len(head), head)]
    new = splice.apply(text, splices)
    assert splice.edits(src, new, splices) == edits_between(text, new)
    assert edits_between(text, new)[0].line == 1  # difflib's own (unintuitive) answer


def test_edits_take_the_changed_lines_alone_when_that_is_the_same(source):
    from concurlint.fixes import splice
    from concurlint.fixes.base import edits_between

    text = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(40))
    src = source(text)
    splices = _splice_text(src, "return 17\n", "return 170\n")
    new = splice.apply(text, splices)
    b = new.splitlines(keepends=True)
    zones, hunks = splice._zones(src, new, b, splices)
    assert hunks == [(69, 70, 69, 70)]
    assert splice._zones_win(src, b, zones, hunks, 0, len(zones), 0, len(src.lines), 0, len(b))
    assert splice.edits(src, new, splices) == edits_between(text, new)


def test_self_check_catches_a_wrong_text(source):
    import libcst as cst

    from concurlint.fixes import _self_check

    src = source("async def f():\n    g()\n")
    with pytest.raises(AssertionError):
        _self_check(src, cst.parse_module("async def f():\n    await g()\n"), "async def f():\n    g(1)\n")


def test_the_suite_self_checks_fixes():
    assert os.environ.get("CONCURLINT_SELF_CHECK_FIXES") == "1"

"""The report does not depend on how it was computed: -j1 or -j2, cold or warm cache, a cache
entry corrupted on disk, two runs sharing one cache directory at the same time.

The tree is real code no one here wrote: part of the running interpreter's standard library.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from conftest import report_bytes, script

PACKAGES = ("concurrent", "asyncio", "multiprocessing", "logging")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    root = tmp_path_factory.mktemp("stdlib-part")
    for name in PACKAGES:
        shutil.copytree(stdlib / name, root / "proj" / name,
                        ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
    return root


def report(tree: Path, *args) -> bytes:
    return report_bytes(tree, *args, target="proj", validate=False)


def entries(cache: Path):
    """Per-file facts entries (two-hex-digit folders), not the whole-report entries."""
    return sorted(cache.glob("[0-9a-f][0-9a-f]/*.entry"))


@pytest.fixture(scope="module")
def reference(tree) -> bytes:
    data = report(tree, "--no-cache", "-j1")
    doc = json.loads(data)
    assert len(doc["functions"]) > 1000  # the whole tree was analysed, not an empty report
    return data


def test_jobs_and_cache_give_identical_bytes(tree, reference):
    for jobs in ("-j1", "-j2"):
        cache = tree / f"cache{jobs}"
        shutil.rmtree(cache, ignore_errors=True)
        assert report(tree, "--cache-dir", cache, jobs) == reference, f"cold {jobs}"
        n = len(entries(cache))
        assert n == len(list((tree / "proj").rglob("*.py"))), "every file's facts were cached"
        assert report(tree, "--cache-dir", cache, jobs) == reference, f"warm {jobs}"
        assert len(entries(cache)) == n
    assert report(tree, "--no-cache", "-j2") == reference


def test_one_changed_file_warm_equals_cold(tree, reference):
    cache = tree / "cache-edit"
    shutil.rmtree(cache, ignore_errors=True)
    report(tree, "--cache-dir", cache, "-j2")
    target = tree / "proj" / "concurrent" / "futures" / "thread.py"
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\n\ndef _added(pool):\n    return pool.submit(print, 1)\n")
        warm = report(tree, "--cache-dir", cache, "-j2")
        cold = report(tree, "--no-cache", "-j1")
        assert warm == cold
        assert warm != reference and b"_added" in warm
    finally:
        target.write_bytes(original)


# the kinds of edit bench/project_pass.py times (issue #16 item 10), on this tree: each moves
# lines, adds an import, a thread start or a statement inside a helper other modules call
EDITS = {
    "comment": ("concurrent/futures/thread.py", "def ", "# why the helpers below exist\n", "before"),
    "import": ("concurrent/futures/thread.py", "import ", "import json  # edited\n", "after"),
    "thread": ("concurrent/futures/thread.py", None,
               "\n\ndef _start_exit_thread():\n    threading.Thread(target=_python_exit).start()\n", "end"),
    "body": ("logging/__init__.py", "def getLogger(", "    name = name or None  # edited\n", "after"),
}


def _edited(text: str, at, line: str, where: str) -> str:
    if where == "end":
        return text + line
    lines = text.splitlines(keepends=True)
    i = next(n for n, ln in enumerate(lines) if ln.startswith(at))
    i += where == "after"
    return "".join(lines[:i] + [line] + lines[i:])


def test_each_kind_of_edit_warm_equals_cold(tree, reference):
    """After each kind of edit the benchmark times, the report with the kept cache (every other
    file's facts decoded from it) is byte for byte the report from scratch (facts never pickled)."""
    cache = tree / "cache-kinds"
    shutil.rmtree(cache, ignore_errors=True)
    assert report(tree, "--cache-dir", cache, "-j2") == reference
    for kind, (rel, at, line, where) in EDITS.items():
        target = tree / "proj" / rel
        original = target.read_text(encoding="utf-8")
        try:
            target.write_text(_edited(original, at, line, where), encoding="utf-8")
            warm = report(tree, "--cache-dir", cache, "-j2")
            assert warm == report(tree, "--no-cache", "-j1"), kind
            assert warm != reference, f"{kind}: the edit shows in the report (moved lines, a new function)"
        finally:
            target.write_text(original, encoding="utf-8")
    assert report(tree, "--cache-dir", cache, "-j2") == reference


def test_corrupt_cache_entries_are_healed(tree, reference):
    cache = tree / "cache-corrupt"
    shutil.rmtree(cache, ignore_errors=True)
    report(tree, "--cache-dir", cache, "-j1")
    files = entries(cache)
    broken = files[:: max(1, len(files) // 5)]
    assert len(broken) >= 4
    broken[0].write_bytes(b"")  # truncated
    broken[1].write_bytes(b"not a pickle at all" + broken[1].read_bytes()[:40])
    for p in broken[2:]:  # one bit flipped deep in the payload: still decodes, must not be trusted
        data = bytearray(p.read_bytes())
        data[len(data) * 2 // 3] ^= 0x04
        p.write_bytes(bytes(data))
    before = {p: p.read_bytes() for p in broken}
    [whole] = list((cache / "reports").glob("*.entry"))  # the unchanged-inputs shortcut
    data = bytearray(whole.read_bytes())
    data[len(data) // 2] ^= 0x01
    whole.write_bytes(bytes(data))
    assert report(tree, "--cache-dir", cache, "-j2") == reference
    assert report(tree, "--cache-dir", cache, "-j1") == reference
    for p in broken:  # recomputed and written back whole
        assert p.is_file() and p.read_bytes() != before[p]


def test_concurrent_runs_share_one_cache(tree, reference):
    cache = tree / "cache-shared"
    shutil.rmtree(cache, ignore_errors=True)
    env = dict(os.environ)
    env.pop("CONCURLINT_CACHE_DIR", None)
    procs = []
    for i in (1, 2):
        out = tree / f"concurrent-{i}.json"
        procs.append((out, subprocess.Popen(
            [script("concurlint"), "report", "--format", "json", "-o", str(out), "--cache-dir", str(cache),
             "-j2", "proj"], cwd=tree, env=env, stderr=subprocess.PIPE, text=True)))
    for out, proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1), err
        assert "Traceback" not in err, err
        assert out.read_bytes() == reference
    assert not list(cache.glob("*/.tmp-*")), "no half-written entries left behind"
    assert report(tree, "--cache-dir", cache, "-j1") == reference

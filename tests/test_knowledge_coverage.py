"""The standard-library knowledge base covers every public callable of the modules it lists.

``scripts/stdlib_callables.py`` lists them from the interpreter running it; the list of every
supported Python (3.9-3.14) is checked in (tests/data/stdlib_callables, written by
``python3.X scripts/stdlib_callables.py --write``), so every Python checks its own standard library
and all the others' lists too.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

from concurlint import knowledge

SCRIPT = ROOT / "scripts" / "stdlib_callables.py"
LISTS = sorted((ROOT / "tests" / "data" / "stdlib_callables").glob("3.*.txt"))


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def live_names():
    proc = run_script()
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_the_running_python_lists_the_modules_of_the_issue(live_names):
    names = set(live_names)
    assert len(names) > 2500
    for expected in ("os.path.join", "os.stat", "socket.socket.recv", "threading.Event.wait",
                     "subprocess.run", "json.loads", "hashlib.sha256", "asyncio.StreamReader.read",
                     "sqlite3.Cursor.fetchall", "concurrent.futures.Future.result", "pathlib.Path.read_text"):
        assert expected in names, expected
    # exceptions, enumerations and names borrowed from other modules are not listed
    for absent in ("json.JSONDecodeError", "socket.AddressFamily", "selectors.namedtuple", "ssl.socket"):
        assert absent not in names, absent


def test_every_callable_of_the_running_python_is_classified():
    proc = run_script("--unclassified")
    assert proc.stdout == "" and proc.returncode == 0, f"not classified:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("listing", LISTS, ids=[p.stem for p in LISTS])
def test_every_callable_of_each_checked_in_python_is_classified(listing):
    proc = run_script("--check", str(listing))
    assert proc.stdout == "" and proc.returncode == 0, f"not classified:\n{proc.stdout}{proc.stderr}"


def test_the_checker_reports_what_is_missing(tmp_path):
    listing = tmp_path / "names.txt"
    listing.write_text("os.path.join\nfrobnicate.spin\n")
    proc = run_script("--check", str(listing))
    assert proc.returncode == 1 and proc.stdout.split() == ["frobnicate.spin"]


SUPPORTED = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


def test_every_supported_python_has_its_checked_in_list():
    assert {p.stem for p in LISTS} >= set(SUPPORTED)
    this = "%d.%d" % sys.version_info[:2]
    assert this in SUPPORTED  # a new Python: add its list with --write (see the script's docstring)


def test_the_checked_in_list_of_the_running_python_is_up_to_date(live_names):
    listing = ROOT / "tests" / "data" / "stdlib_callables" / ("%d.%d.txt" % sys.version_info[:2])
    recorded = set(listing.read_text().split())
    # a patch release or a platform without dbm.gnu may differ by a name or two; a stale list by many
    assert len(set(live_names) ^ recorded) <= 5, sorted(set(live_names) ^ recorded)[:20]


@pytest.mark.parametrize("name, kind", [
    ("os.path.join", "neutral"), ("os.path.splitext", "neutral"), ("os.stat", "metadata-io"),
    ("os.path.exists", "metadata-io"), ("pathlib.PosixPath.stat", "metadata-io"),
    ("pathlib.PurePosixPath.with_suffix", "neutral"), ("os.listdir", "io"), ("io.TextIOWrapper.read", "io"),
    ("io.TextIOWrapper.fileno", "neutral"), ("io.StringIO.write", "neutral"), ("io.BytesIO.read", "neutral"),
    ("json.loads", "cpu-per-size"), ("re.compile", "neutral"), ("re.Pattern.findall", "cpu-per-size"),
    ("math.sqrt", "cpu"), ("math.factorial", "cpu-per-size"), ("hashlib.sha256", "releases-gil"),
    ("hashlib.blake2b.hexdigest", "neutral"), ("zlib.compressobj", "neutral"), ("time.sleep", "wait"),
    ("time.monotonic", "neutral"), ("threading.Event.wait", "wait"), ("threading.Event.set", "neutral"),
    ("queue.LifoQueue.get", "wait"), ("queue.Queue.put", "neutral"), ("subprocess.run", "wait"),
    ("subprocess.Popen.poll", "neutral"), ("socket.socket.recv", "io"), ("socket.socket.setblocking", "neutral"),
    ("socket.inet_aton", "neutral"), ("select.poll", "neutral"), ("selectors.EpollSelector.select", "wait"),
    ("asyncio.sleep", "async-io"), ("asyncio.create_task", "neutral"), ("asyncio.Queue.put_nowait", "neutral"),
    ("asyncio.SelectorEventLoop.sock_recv", "async-io"), ("sqlite3.Connection.cursor", "neutral"),
    ("sqlite3.Cursor.execute", "io"), ("urllib.parse.quote", "neutral"), ("urllib.request.urlopen", "io"),
    ("http.client.HTTPResponse.read", "io"), ("http.client.HTTPResponse.getheader", "neutral"),
    ("itertools.chain", "neutral"), ("functools.reduce", "neutral"), ("collections.Counter", "cpu-per-size"),
    ("concurrent.futures.ThreadPoolExecutor.submit", "neutral"), ("concurrent.futures.Future.result", "wait"),
    ("multiprocessing.pool.ThreadPool.map", "wait"), ("ssl.create_default_context", "neutral"),
])
def test_classified_with_care(name, kind):
    assert knowledge.load().stdlib_kind(name)[0] == kind


def test_releases_gil_entries_say_from_what_size():
    kb = knowledge.load()
    table = knowledge._shipped_tables()["stdlib"]
    for pattern in table["kinds"]["releases-gil"]:
        probe = pattern[:-1] + "x" if pattern.endswith("*") else pattern
        assert kb.stdlib.releases_gil_from(probe) is not None, pattern
    assert kb.stdlib.releases_gil_from("hashlib.sha256") == 2048
    assert kb.stdlib.releases_gil_from("hashlib.HASH.update") == 2048
    assert kb.stdlib.releases_gil_from("zlib.crc32") == 5121  # `len > 5 * 1024` in zlibmodule.c
    assert kb.stdlib.releases_gil_from("bz2.compress") == 0
    assert kb.stdlib.releases_gil_from("hashlib.pbkdf2_hmac") == 0  # key derivation: always
    assert kb.stdlib.releases_gil_from("zlib.Compress.compress") == 0


@pytest.mark.parametrize("name, size, category, weight, says", [
    # size unknown: the entry's kind, one call for a value the function makes (a key encoded)
    ("hashlib.sha256", None, "releases-gil", 1.0, "cpu, releases the GIL from 2048-byte inputs, size not known here"),
    ("hashlib.sha256", 8, "cpu", 1.0, "holds the GIL, released only from 2048 bytes"),
    ("hashlib.sha256", 2047, "cpu", 1.0, "holds the GIL"),
    ("hashlib.sha256", 2048, "releases-gil", 10.0, "releases the GIL: 2048-byte input"),
    ("zlib.crc32", 5120, "cpu", 1.0, "released only from 5121 bytes"),
    ("zlib.compress", 1, "releases-gil", 10.0, "releases the GIL"),
    ("numpy.dot", 8, "releases-gil", 10.0, "cpu, releases the GIL"),  # not the standard library: no threshold
])
def test_the_gil_release_follows_the_input_size(name, size, category, weight, says):
    kb = knowledge.load()
    got = kb.sized_cost(name, kb.category(name)[0], size)
    assert got[:2] == (category, weight) and says in got[2], got


def test_a_hash_of_what_the_caller_hands_in_weighs_as_the_entry_says():
    kb = knowledge.load()
    handed = kb.sized_cost("hashlib.sha256", "releases-gil", None, handed_in=True)  # def digest(blob)
    made = kb.sized_cost("hashlib.sha256", "releases-gil", None)  # sha256(key.encode())
    assert handed[:2] == ("releases-gil", 10.0) and made[:2] == ("releases-gil", 1.0)
    assert handed[2] == made[2] == "cpu, releases the GIL from 2048-byte inputs, size not known here"
    assert kb.sized_cost("zlib.compress", "releases-gil", None)[:2] == ("releases-gil", 10.0)  # compression: always


def test_the_cost_follows_the_input_size_only_for_per_size_entries():
    kb = knowledge.load()
    assert kb.sized_cost("json.loads", "cpu", None)[1] == 1.0  # unknown: one call
    assert kb.sized_cost("json.loads", "cpu", 40)[1] == 1.0  # a short input costs a call
    assert kb.sized_cost("json.loads", "cpu", 16 * 4096)[1] == 10.0  # 64 KiB: like a loop over data
    assert kb.sized_cost("json.loads", "cpu", 8 * 4096)[1] == 8.0
    assert kb.sized_cost("struct.unpack", "cpu", 1 << 20)[1] == 1.0  # per call whatever the size
    assert kb.stdlib.input_argument("re.sub") == (2, ("string",))
    assert kb.stdlib.input_argument("hashlib.new") == (1, ("data", "string"))
    assert kb.stdlib.input_argument("json.loads")[0] == 0


def test_no_pattern_has_two_kinds():
    table = knowledge._shipped_tables()["stdlib"]
    seen = {}
    for kind, patterns in table["kinds"].items():
        assert kind in knowledge.STDLIB_KINDS, kind
        for p in patterns:
            assert p not in seen, f"{p} is both {seen[p]} and {kind}"
            seen[p] = kind


def test_the_engine_sees_the_kinds():
    kb = knowledge.load()
    assert kb.category("os.stat") == ("io", "os.stat")
    assert kb.category("os.path.join") is None  # neutral: no evidence either way
    assert kb.category("json.loads")[0] == "cpu"
    assert kb.category("requests.get")[0] == "io"  # not standard library: calls.toml
    user = knowledge.load({"cpu": ["os.path.join"]})
    assert user.category("os.path.join") == ("cpu", "os.path.join")  # the user's word wins


def _brute_longest(name, table):
    """The definition: the value of the longest key ``name`` starts with."""
    keys = [k for k in table if name.startswith(k)]
    return table[max(keys, key=len)] if keys else None


def test_longest_prefix_lookup_matches_its_definition():
    """The prefix tables stop at the first head of the name that begins no key: the answers are
    those of trying every key, for every standard-library callable of every listed Python, the
    names the patterns themselves make, and heads of them (a name cut inside a key)."""
    kb = knowledge.load()
    names = set()
    for listing in (ROOT / "tests" / "data" / "stdlib_callables").glob("*.txt"):
        names.update(listing.read_text(encoding="utf-8").split())
    tables = [kb.stdlib._by_prefix] + [m._by_prefix for m in kb._matchers.values() if m.prefixes]
    for t in tables:
        for key in t.table:
            names.update({key, key + "x", key[:-1], key + ".sub.name", key[: len(key) // 2]})
    assert len(names) > 4000
    checked = 0
    for t in tables:
        for name in names:
            want = _brute_longest(name, t.table)
            assert t.longest(name) == want, name
            checked += want is not None
    assert checked > 1000  # names a prefix covers, not only misses
    # a table of keys that are heads of one another: the longest wins, the walk goes past a miss
    nested = knowledge._Prefixes({"a": 1, "ab.": 2, "ab.cd": 3, "abx": 4})
    assert [nested.longest(n) for n in ("a", "ab.c", "ab.cde", "abx.y", "b", "", "ab")] == [1, 2, 3, 4, None, None, 1]

"""The knowledge base's cost model decides the advice (issue #17 item 2), through the real CLI.

hashlib, hmac and zlib's checksums release the GIL only on large inputs (hashlib from 2048 bytes):
a checksum job hashing files in 1 MiB chunks runs in parallel in threads, a job hashing millions of
8-byte ids does not. Where the code fixes the size (a literal, ``f.read(N)``, ``to_bytes(8)``,
``struct.pack``, a slice ``data[i:i + N]``, a loop over ``iter(lambda: f.read(N), b"")``), the
verdict follows it; where it does not (``key.encode()``), it is what the entry says, as before.
Fixtures: tests/cost_model/backup (checksums.py: chunks of a file; sharding.py: short keys).
"""
from __future__ import annotations

import functools
import subprocess

from conftest import ROOT, report_json, script

PROJECT = ROOT / "tests" / "cost_model"
CHECKSUMS = PROJECT / "backup" / "checksums.py"
SHARDING = PROJECT / "backup" / "sharding.py"


@functools.lru_cache(maxsize=None)
def _report() -> dict:
    return report_json("backup", "--min-confidence", "low", cwd=PROJECT)


def function(name: str) -> dict:
    return next(f for f in _report()["functions"] if f["qualname"] == f"backup.{name}")


def line_of(path, needle: str) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def recommendation(path, needle: str) -> dict:
    line = line_of(path, needle)
    rel = str(path.relative_to(PROJECT))
    found = [r for r in _report()["recommendations"] if r["path"] == rel and r["line"] == line]
    assert len(found) == 1, (needle, _report()["recommendations"])
    return found[0]


def findings(path, code: str) -> list:
    rel = str(path.relative_to(PROJECT))
    return [f for f in _report()["findings"] if f["path"] == rel and f["code"] == code]


# ------------------------------------------------------------- big buffers: the GIL is released
def test_a_checksum_job_over_files_releases_the_gil_chunk_by_chunk():
    fd = function("checksums.file_digest")  # while block := f.read(CHUNK), CHUNK = 1 << 20
    assert (fd["kind"], fd["releases_gil"]) == ("mixed", True)
    assert "hashlib.HASH.update (cpu, releases the GIL: 1048576-byte input, from 2048 bytes)" in fd["evidence"][0]
    r = recommendation(CHECKSUMS, "pool.map(file_digest")
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert r["reason"].startswith("fits: file_digest() does its CPU work in C code that releases the GIL")


def test_every_way_of_reading_in_chunks_gives_the_size():
    legacy = function("checksums.legacy_digest")  # for block in iter(lambda: f.read(64 * 1024), b"")
    assert legacy["releases_gil"] is True and "65536-byte input" in legacy["evidence"][0]
    signed = function("checksums.signed_digest")  # mac.update(blob[start:start + CHUNK])
    assert (signed["kind"], signed["releases_gil"]) == ("cpu", True)
    assert "hmac.HMAC.update (cpu, releases the GIL: 1048576-byte input" in signed["evidence"][0]
    packed = function("checksums.compress_archive")  # compressobj().compress over partial(f.read, CHUNK)
    assert packed["releases_gil"] is True and "zlib.Compress.compress" in " ".join(packed["evidence"])
    for needle in ("pool.map(legacy_digest", "pool.map(signed_digest"):
        r = recommendation(CHECKSUMS, needle)
        assert (r["current"], r["recommended"]) == ("threads", "threads"), r
    r = recommendation(CHECKSUMS, "pool.map(compress_archive")
    assert (r["current"], r["recommended"], r["alternatives"]) == ("processes", "processes", ["threads"])


def test_the_checksum_job_is_told_nothing_is_wrong():
    assert not [f for f in _report()["findings"] if f["path"] == "backup/checksums.py"]


# ------------------------------------------------------- many tiny inputs: the GIL is held
def test_hashing_many_short_ids_holds_the_gil():
    counts = function("sharding.shard_counts")  # hashlib.sha1(uid.to_bytes(8, "big")) per user
    assert (counts["kind"], counts["releases_gil"]) == ("cpu", False)
    assert "hashlib.sha1 (cpu on a 8-byte input: holds the GIL, released only from 2048 bytes" in counts["evidence"][0]
    r = recommendation(SHARDING, "pool.map(shard_counts")
    # one loop of short hashes: light work, threads kept, and no claim that they run it in parallel
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert "light CPU work" in r["reason"] and "releases the GIL" not in r["reason"]
    assert function("sharding.bucket_of")["kind"] == "unknown"  # one 8-byte hash is no work to move


def test_a_bloom_filter_of_short_hashes_in_threads_is_ccl101():
    blooms = function("sharding.bloom_positions")  # blake2b(struct.pack(">QI", ...)) per item and seed
    assert (blooms["kind"], blooms["releases_gil"]) == ("cpu", False)
    r = recommendation(SHARDING, "pool.map(bloom_positions")
    # how many items and seeds, the code does not say: threads are kept, and CCL101 names the work
    assert (r["current"], r["recommended"], r["confidence"]) == ("threads", "threads", "medium")
    assert "by the kind of work alone it would be processes" in r["reason"]
    found = findings(SHARDING, "CCL101")
    assert [f["line"] for f in found] == [line_of(SHARDING, "pool.map(bloom_positions")]
    assert "12-byte input: holds the GIL" in found[0]["message"] and found[0]["confidence"] == "low"


def test_an_input_of_unknown_size_keeps_the_entrys_kind():
    tags = function("sharding.tag_keys")  # hashlib.sha1(key.encode("utf-8")): how long is a key?
    assert (tags["kind"], tags["releases_gil"]) == ("cpu", True)
    assert tags["evidence"][0].endswith("calls hashlib.sha1 (cpu, releases the GIL from 2048-byte inputs, size not known here)")
    r = recommendation(SHARDING, "pool.map(tag_keys")
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert not [f for f in findings(SHARDING, "CCL101") if f["line"] == line_of(SHARDING, "pool.map(tag_keys")]


def test_a_short_literal_costs_one_call():
    prefs = function("sharding.default_prefs")  # json.loads(DEFAULT_PREFS): 38 bytes, per size
    assert "json.loads (cpu on a 38-byte input: cost per size, in a loop)" in " ".join(prefs["evidence"])


def test_flake8_reports_the_bloom_filter_and_not_the_checksums():
    proc = subprocess.run([script("flake8"), "--select", "CCL", "backup/sharding.py", "backup/checksums.py"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert [ln.split(":")[:2] for ln in lines] == [["backup/sharding.py", str(line_of(SHARDING, "pool.map(bloom_positions"))]]
    assert "CCL101" in lines[0]

"""--shard K/N --facts-dir DIR in separate jobs, then --from-facts DIR: the unsharded report."""
from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest

from concurlint.shard import parse_shard, shard_of
from conftest import run_cli


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    root = tmp_path_factory.mktemp("shard")
    for name in ("concurrent", "asyncio"):
        shutil.copytree(stdlib / name, root / "proj" / name, ignore=shutil.ignore_patterns("__pycache__", "test*"))
    return root


def _report(tree: Path, *args) -> bytes:
    out = tree / "out.json"
    if out.exists():
        out.unlink()
    # every finding (on this tree only low ones: the default report has none to compare)
    proc = run_cli("report", "--format", "json", "-o", out, "--min-confidence", "low", *args, "proj", cwd=tree)
    assert proc.returncode in (0, 1), proc.stderr
    return out.read_bytes()


def test_merged_shards_equal_the_unsharded_report(tree):
    whole = _report(tree, "--no-cache", "-j1")
    facts = tree / "facts"
    for k in (1, 2, 3):
        # each "CI job" has its own (empty) cache and writes only its own facts
        proc = run_cli("report", "--shard", f"{k}/3", "--facts-dir", facts, "--cache-dir", tree / f"cache{k}",
                       "-j1", "proj", cwd=tree, check_exit=0)
        assert proc.stdout == ""
    assert sorted(p.name for p in facts.iterdir()) == [f"shard-{k}-of-3.pickle" for k in (1, 2, 3)]
    # every file was analysed by exactly one shard
    cached = [len(list((tree / f"cache{k}").glob("*/*.entry"))) for k in (1, 2, 3)]
    assert all(n > 0 for n in cached) and sum(cached) == len(list((tree / "proj").rglob("*.py")))
    assert _report(tree, "--from-facts", facts) == whole and b'"findings": []' not in whole
    text = run_cli("report", "--from-facts", facts, "proj", cwd=tree)
    assert text.returncode in (0, 1) and text.stdout


def test_missing_or_mixed_shards_are_usage_errors(tree):
    facts = tree / "partial"
    run_cli("report", "--shard", "1/2", "--facts-dir", facts, "--no-cache", "proj", cwd=tree, check_exit=0)
    proc = run_cli("report", "--from-facts", facts, "proj", cwd=tree, check_exit=2)
    assert "2/2" in proc.stderr
    run_cli("report", "--shard", "1/3", "--facts-dir", facts, "--no-cache", "proj", cwd=tree, check_exit=0)
    run_cli("report", "--from-facts", facts, "proj", cwd=tree, check_exit=2)
    assert "K/N" in run_cli("report", "--shard", "two", "--facts-dir", facts, "proj", cwd=tree, check_exit=2).stderr
    assert "--facts-dir" in run_cli("report", "--shard", "1/2", "proj", cwd=tree, check_exit=2).stderr
    run_cli("report", "--shard", "3/2", "--facts-dir", facts, "proj", cwd=tree, check_exit=2)


def test_shard_assignment_is_stable_and_spread():
    assert parse_shard(" 2 / 8 ") == (2, 8)
    names = [f"pkg/mod{i}.py" for i in range(400)]
    shards = [shard_of(n, 4) for n in names]
    assert shards == [shard_of(n, 4) for n in names]
    assert all(60 < shards.count(k) < 140 for k in (1, 2, 3, 4))

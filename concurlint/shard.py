"""Spread the per-file phase over CI jobs; one job merges the facts and does the project pass.

    # in each of N jobs of a CI matrix (K = 1..N), sharing nothing but an artifact directory:
    concurlint report --shard K/N --facts-dir facts/ src/
    # in one job after them all, with every job's facts/ gathered into one directory:
    concurlint report --from-facts facts/ --format sarif -o concurlint.sarif src/

A file belongs to shard ``K`` when a hash of its display path, modulo ``N``, is ``K - 1``: the
assignment does not depend on which other files exist, so adding a file moves no other file to a
different shard (and per-job caches stay warm). Each shard writes one file,
``shard-K-of-N.pickle``, atomically, sealed with a checksum and read back by a decoder that can
only build concurlint's own classes (``concurlint.sealed``). The merge checks that all N shards are there and were
computed by the same concurlint and knowledge configuration, orders the files as an unsharded
run discovers them, and runs the project-wide pass: its report is the unsharded report.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import List, Optional, Tuple

from concurlint.config import Config, ConfigError
from concurlint.sealed import RejectedFile, read_limited, seal, unseal, write_atomic

FORMAT = 2
_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_FILE_RE = re.compile(r"^shard-(\d+)-of-(\d+)\.pickle$")


def parse_shard(value: str) -> Tuple[int, int]:
    """``K/N`` with 1 <= K <= N, else a ConfigError."""
    m = _SHARD_RE.match(value or "")
    if not m:
        raise ConfigError(f"--shard '{value}' is not of the form K/N (e.g. 2/8)")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ConfigError(f"--shard '{value}': K must be between 1 and N")
    return k, n


def shard_of(display: str, n: int) -> int:
    """The 1-based shard a file belongs to."""
    digest = hashlib.sha256(display.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def write_shard(paths, config: Config, k: int, n: int, facts_dir: str, *, jobs: Optional[int] = None,
                use_cache: bool = True, progress=None) -> Path:
    """Analyse this shard's files and write their facts to ``facts_dir``; returns the file."""
    from concurlint import engine

    files = engine.discover(paths, config)
    mine = [(i, sf) for i, sf in enumerate(files) if shard_of(sf.display, n) == k]
    cache_dir = engine.cache_directory(config) if use_cache else None
    results = engine.analyse_files([sf for _, sf in mine], config, jobs or config.jobs or engine.default_jobs(),
                                   cache_dir, progress)
    payload = {
        "format": FORMAT, "salt": engine.cache_salt(config), "shard": k, "shards": n,
        "files": len(files), "results": [(i, r) for (i, _), r in zip(mine, results)],
    }
    out_dir = Path(facts_dir)
    target = out_dir / f"shard-{k}-of-{n}.pickle"
    # not authenticated with this user's key: shards travel between CI machines. The restricted
    # decoder (concurlint.sealed) is what keeps a forged shard from running code.
    if not write_atomic(target, seal(payload, authenticate=False)):
        raise ConfigError(f"cannot write facts to {facts_dir}")
    return target


def read_shards(facts_dir: str, config: Config) -> list:
    """Every shard's results in the order an unsharded run discovers the files."""
    from concurlint import engine

    d = Path(facts_dir)
    if not d.is_dir():
        raise ConfigError(f"--from-facts '{facts_dir}' is not a directory")
    found = {}
    for p in sorted(d.iterdir()):
        m = _FILE_RE.match(p.name)
        if m:
            found[(int(m.group(1)), int(m.group(2)))] = p
    if not found:
        raise ConfigError(f"no shard-K-of-N.pickle files in {facts_dir}")
    totals = {n for _, n in found}
    if len(totals) != 1:
        raise ConfigError(f"{facts_dir} mixes shard counts {sorted(totals)}: merge the facts of one run")
    n = totals.pop()
    missing = [k for k in range(1, n + 1) if (k, n) not in found]
    if missing:
        raise ConfigError(f"{facts_dir} lacks shard(s) {', '.join(f'{k}/{n}' for k in missing)}")
    salt = engine.cache_salt(config)
    merged = []
    counts = set()
    for k in range(1, n + 1):
        data = read_limited(found[(k, n)], 4 * 1024 * 1024 * 1024)
        if data is None:
            raise ConfigError(f"cannot read {found[(k, n)]}: not a regular file")
        try:
            payload = unseal(data, dict, authenticate=False)
        except RejectedFile as exc:
            raise ConfigError(f"{found[(k, n)]} is not a concurlint facts file of this version ({exc})") from None
        if payload.get("format") != FORMAT:
            raise ConfigError(f"{found[(k, n)]} is not a concurlint facts file of this version")
        if payload["salt"] != salt:
            raise ConfigError(f"{found[(k, n)]} was computed by another concurlint version or knowledge "
                              "configuration: run every shard and the merge with the same ones")
        counts.add(payload["files"])
        merged.extend(payload["results"])
    if len(counts) != 1:
        raise ConfigError(f"the shards in {facts_dir} saw different file lists ({sorted(counts)} files): "
                          "run them on the same checkout and paths")
    merged.sort(key=lambda item: item[0])
    return [r for _, r in merged]


def run(args, paths: List[str], config: Config, select, progress=None):
    """The CLI's entry: a shard run writes its facts and returns None; a merge returns the report."""
    from concurlint import engine
    from concurlint.registry import enabled_codes

    if args.shard and args.from_facts:
        raise ConfigError("--shard computes facts and --from-facts merges them: use one of them")
    if args.shard:
        if not args.facts_dir:
            raise ConfigError("--shard needs --facts-dir DIR to write the facts to")
        k, n = parse_shard(args.shard)
        write_shard(paths, config, k, n, args.facts_dir, jobs=args.jobs, use_cache=not args.no_cache,
                    progress=progress)
        return None
    results = read_shards(args.from_facts, config)
    codes = enabled_codes(select, (config.ignore or []) + (args.ignore or []))
    return engine.run_project(results, config, codes)

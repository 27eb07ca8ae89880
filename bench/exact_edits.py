#!/usr/bin/env python3
"""Exactness at scale: random single-line edits, each report with the kept cache against a run
from scratch, byte for byte (issue #16 item 10).

    python3 bench/exact_edits.py                        # bench/corpus/stdlib, 20 edits, seed 16
    python3 bench/exact_edits.py --edits 50 --seed 3 --corpus DIR

The corpus is copied to a temporary directory (the copy is edited, never the corpus) and a first
report fills the cache. Then each edit, one after the other on the same copy (as in an editor
session), changes one line of a file drawn at random: the line deleted, duplicated, turned into
``pass`` or followed by a new call at its indentation (``print(__name__)``), drawn among the
changes that leave the file valid Python (``ast.parse``; a drawn line is redrawn otherwise). After
each edit the real command runs twice: ``concurlint report --format json --min-confidence low`` with
the kept cache, then with ``--no-cache``; the script stops at the first pair that differs (exit 1)
and says which edit made it. Printed per edit: the file, the line, the kind of change, how the warm
report was made (``CONCURLINT_CACHE_TRACE``: classification summaries reused and computed) and the
CPU time of both runs (``os.wait4``; a guide only: the machine is shared).
"""
from __future__ import annotations

import argparse
import ast
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("delete", "duplicate", "pass", "call")


def edited(lines: list, at: int, kind: str) -> list:
    line = lines[at]
    indent = line[: len(line) - len(line.lstrip())]
    if kind == "delete":
        return lines[:at] + lines[at + 1:]
    if kind == "duplicate":
        return lines[:at + 1] + [line] + lines[at + 1:]
    if kind == "pass":
        return lines[:at] + [f"{indent}pass\n"] + lines[at + 1:]
    return lines[:at + 1] + [f"{indent}print(__name__)\n"] + lines[at + 1:]


def draw(rng: random.Random, tree: Path, files: list) -> tuple:
    """(file, line number, kind) of an edit that leaves the file valid Python, and its text."""
    while True:
        path = rng.choice(files)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        lines = text.splitlines(keepends=True)
        if not lines or not lines[-1].endswith("\n"):
            continue
        for _ in range(20):
            at = rng.randrange(len(lines))
            if not lines[at].strip():
                continue
            kind = rng.choice(KINDS)
            new = "".join(edited(lines, at, kind))
            try:
                ast.parse(new)
            except (SyntaxError, ValueError):
                continue
            return path, at + 1, kind, new


def run(tree: Path, out: Path, *args) -> tuple:
    cmd = [sys.executable, "-m", "concurlint", "report", "--format", "json", "--min-confidence", "low",
           "-o", str(out), "-j2", *args, tree.name]
    env = dict(os.environ, CONCURLINT_CACHE_TRACE="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.Popen(cmd, cwd=tree.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return usage.ru_utime + usage.ru_stime, err


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus" / "stdlib")
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}: run bench/run.py once to copy the standard library", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "corpus"
        shutil.copytree(args.corpus, tree)
        files = sorted(tree.rglob("*.py"))
        cache, warm, cold = Path(tmp) / "cache", Path(tmp) / "warm.json", Path(tmp) / "cold.json"
        run(tree, warm, "--cache-dir", str(cache))
        start = time.time()
        for i in range(args.edits):
            path, line, kind, text = draw(rng, tree, files)
            path.write_text(text, encoding="utf-8")
            where = f"{path.relative_to(tree)}:{line} ({kind})"
            warm_cpu, trace = run(tree, warm, "--cache-dir", str(cache))
            cold_cpu, _ = run(tree, cold, "--no-cache")
            how = re.search(r"classification: (\d+) summaries reused, (\d+) computed", trace)
            how = f"{how.group(1)} reused / {how.group(2)} computed" if how else trace.strip().splitlines()[-1]
            same = warm.read_bytes() == cold.read_bytes()
            print(f"edit {i + 1:2}: {where:<52} {'identical' if same else 'DIFFERENT'}; warm {warm_cpu:.2f} s, "
                  f"cold {cold_cpu:.2f} s CPU; {how}", flush=True)
            if not same:
                keep = HERE / "exact_edits_failure"
                keep.mkdir(exist_ok=True)
                shutil.copy(warm, keep / "warm.json")
                shutil.copy(cold, keep / "cold.json")
                print(f"the warm and cold reports differ after edit {i + 1}: {where}; both in {keep}")
                return 1
        print(f"{args.edits} edits, every warm report byte-identical to a run from scratch "
              f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

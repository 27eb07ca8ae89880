#!/usr/bin/env python3
"""Each rule's held-out record: its high- and medium-confidence findings as first reviewed on fresh packages.

    python3 bench/realcode/heldout.py                 # per rule and per batch, batches 14 to the last
    python3 bench/realcode/heldout.py --last 91       # only up to batch 91
    python3 bench/realcode/heldout.py --batches 90 91 # the per-batch figures of some batches
    python3 bench/realcode/heldout.py --write         # also update rules/*.toml's [precision] records

A review batch (``# batch rev92a (...)`` in reviewed.toml) is ten packages labelled at every
confidence level before any change was made for them: the labels, and the confidence written in
each stub's comment (``[warning, high confidence]``), measure the tool as it stood when the batch
was reviewed. Later runs may move a finding to another level, but its first-review entry stays; so
the record counts, per rule, the entries first reviewed at high (and, apart, at medium) confidence
in batches 14 (the first batch labelled before any change) to the last. Batches of other kinds (``lead21``, a lead's labels
of the corpus run's new findings) are not held out and are skipped.

``--write`` sets ``held_out_high``, ``held_out_medium`` and ``held_out_batches`` (and the comment above them) in each
rule's ``[precision]`` table; run ``scripts/gen_rule_docs.py`` after it, since the rule pages quote
the record. Standard library only.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import LABELS_FILE, REPO  # noqa: E402

FIRST = 14  # the first batch labelled before any change was made for it
HEADER = re.compile(r"^# batch (rev(\d+)\S*)")
OTHER_HEADER = re.compile(r"^# batch ")
FIELD = re.compile(r'^(package|code|label) = "([^"]*)"')
STUB_COMMENT = re.compile(r"^# \S+:\d+ \[(\w+)(?:, (\w+) confidence)?[,\]]")
RULES = REPO / "rules"


def first_reviews(path: Path) -> Tuple[List[Dict[str, object]], Dict[str, int]]:
    """Every ``[[finding]]`` under a review batch's header (batch, number, code, label, and the
    confidence its stub comment gave: ``high`` when the comment names none, the tool had no
    levels then), and every review batch's number by name (a batch may have no finding at all)."""
    out: List[Dict[str, object]] = []
    names: Dict[str, int] = {}
    batch: Optional[str] = None
    number = 0
    cur: Optional[Dict[str, object]] = None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = HEADER.match(line)
        if m or OTHER_HEADER.match(line):
            batch, number = (m.group(1), int(m.group(2))) if m else (None, 0)
            if batch is not None:
                names[batch] = number
            cur = None
            continue
        if line.startswith("[["):
            cur = None
            if line == "[[finding]]" and batch is not None:
                cur = {"batch": batch, "number": number, "confidence": None}
                out.append(cur)
            continue
        if cur is None:
            continue
        f = FIELD.match(line)
        if f:
            cur[f.group(1)] = f.group(2)
            continue
        c = STUB_COMMENT.match(line)
        if c and cur["confidence"] is None:
            cur["confidence"] = c.group(2) or "high"
    return [r for r in out if "code" in r and "label" in r], names


def record(rows, names: Dict[str, int], last: int, level: str = "high"):
    """(per-rule Counter of labels at ``level``, the batch names covered) for batches FIRST..last."""
    rules: Dict[str, Counter] = defaultdict(Counter)
    batches = {b for b, n in names.items() if FIRST <= n <= last}
    for r in rows:
        if not FIRST <= r["number"] <= last:
            continue
        if r["confidence"] == level and r["label"] in ("tp", "fp", "debatable"):
            rules[r["code"]][r["label"]] += 1
    return rules, batches


PRECISION_BLOCK = re.compile(
    r"(\[precision\]\n)(?:# [^\n]*\n)*(?:held_out_high = [^\n]*\n)?(?:held_out_medium = [^\n]*\n)?"
    r"(?:held_out_batches = [^\n]*\n)?")


def write_record(code: str, counts: Counter, medium: Counter, n_batches: int, last: int) -> bool:
    """Rewrite the record at the top of the rule's [precision] table; a rule with no such table
    (CCL000, a file that could not be read, has no record to keep) is left alone. Returns whether
    the file changed."""
    path = RULES / f"{code}.toml"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if "[precision]\n" not in text:
        return False
    block = ("[precision]\n"
             "# its high- and medium-confidence findings as first reviewed on real packages it had never seen\n"
             f"# ({n_batches} review batches of ten, {FIRST} to {last}, docs/precision.md)\n"
             f"held_out_high = {_table(counts)}\n"
             f"held_out_medium = {_table(medium)}\n"
             f"held_out_batches = {n_batches}\n")
    new = PRECISION_BLOCK.sub(lambda m: block, text, count=1)
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def _table(c: Counter) -> str:
    return f"{{ tp = {c['tp']}, fp = {c['fp']}, debatable = {c['debatable']} }}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(LABELS_FILE), help="label file (default: reviewed.toml)")
    ap.add_argument("--last", type=int, help="the last batch number counted (default: the highest)")
    ap.add_argument("--batches", nargs="*", type=int, help="print the figures of these batch numbers")
    ap.add_argument("--write", action="store_true", help="update the records in rules/*.toml")
    args = ap.parse_args(argv)
    rows, names = first_reviews(Path(args.labels))
    if not rows:
        print(f"heldout.py: no review batches in {args.labels}", file=sys.stderr)
        return 2
    last = args.last or max(names.values())
    if args.batches:
        for n in args.batches:
            per = defaultdict(Counter)
            for r in rows:
                if r["number"] == n:
                    per[r["confidence"] or "high"][r["label"]] += 1
            for level in ("high", "medium", "low"):
                c = per[level]
                print(f"batch {n} {level:6}: {sum(c.values()):4}  tp {c['tp']}  fp {c['fp']}  debatable {c['debatable']}")
    rules, batches = record(rows, names, last)
    medium, _ = record(rows, names, last, "medium")
    for level, per_rule in (("high", rules), ("medium", medium)):
        total = Counter()
        print(f"held out, {level} confidence as first reviewed, batches {FIRST}-{last} ({len(batches)} batches of ten)")
        for code in sorted(per_rule):
            c = per_rule[code]
            total.update(c)
            print(f"  {code}  tp {c['tp']:4}  fp {c['fp']:4}  debatable {c['debatable']:4}")
        n = sum(total.values())
        if n:
            print(f"  all     tp {total['tp']:4}  fp {total['fp']:4}  debatable {total['debatable']:4}  "
                  f"strict {total['tp'] / n:.2f}  lenient {(total['tp'] + total['debatable']) / n:.2f}")
    if args.write:
        changed = [code for code in sorted(set(rules) | set(medium))
                   if write_record(code, rules[code], medium[code], len(batches), last)]
        print(f"updated {len(changed)} rule files: {', '.join(changed) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""How right is concurlint's classification on real code? Scores the function kinds in the corpus
reports against the hand labels in ``reviewed-classification.toml``.

    python3 bench/realcode/classification.py                 # the figures, from sources/_reports
    python3 bench/realcode/classification.py --reports DIR   # from reports kept elsewhere
    python3 bench/realcode/classification.py --list          # also every disagreement, with its reason
    python3 bench/realcode/classification.py --json          # the figures as JSON on stdout
    python3 bench/realcode/classification.py --draw --seed 14 > more.toml   # stubs for a new sample

Run ``review.py`` first: it writes the reports (``sources/_reports/<package>.json``, key
``functions``). For each labelled function the kind the tool gives *now* is compared with the label:

- precision of each kind the tool gave: of the labelled functions the tool calls cpu, the fraction
  labelled cpu (the same for io and mixed);
- how many labelled functions the tool now calls unknown, and how many of those are labelled light
  (unknown is the honest answer for those);
- a confusion table, tool kind by label.

A label is keyed by package, path inside the package directory and qualname; when several functions
of one file share the qualname the one nearest the labelled line is taken. A label that matches no
function any more is counted as missing.

The sample is stratified by the tool's kind (so many cpu, so many io...) and capped per package, so
each kind's precision is an estimate for that kind; a figure pooled over kinds is not.

Standard library only, Python 3.9+.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HERE, SOURCES, TomlError, load_toml, toml_string  # noqa: E402

LABELS = HERE / "reviewed-classification.toml"
REPORTS = SOURCES / "_reports"
TOOL_KINDS = ("cpu", "io", "mixed")
ALL_TOOL_KINDS = ("cpu", "io", "mixed", "unknown", "missing")
LABEL_KINDS = ("cpu", "io", "mixed", "light")
KEYS = ("package", "path", "qualname", "line", "label", "reason")


def load_labels(path: Path) -> Tuple[List[Dict[str, Any]], int]:
    """The labelled functions, and how many stubs are still ``unreviewed``."""
    data = load_toml(path)
    labels, unreviewed, seen = [], 0, set()
    for i, item in enumerate(data.get("function", []), 1):
        missing = [k for k in KEYS if k not in item]
        if missing:
            raise TomlError(f"{path}: [[function]] #{i} has no {', '.join(missing)}")
        key = (item["package"], item["path"], item["qualname"], item["line"])
        if key in seen:
            raise TomlError(f"{path}: [[function]] #{i} is labelled twice: {key}")
        seen.add(key)
        if item["label"] == "unreviewed":
            unreviewed += 1
            continue
        if item["label"] not in LABEL_KINDS:
            raise TomlError(
                f"{path}: [[function]] #{i} ({item['qualname']}): label {item['label']!r} is not one "
                f"of {', '.join(LABEL_KINDS)}"
            )
        labels.append(item)
    return labels, unreviewed


def load_reports(directory: Path) -> Dict[str, List[Dict[str, Any]]]:
    """package name -> its functions, each with ``relpath`` (the path inside the package dir)."""
    out: Dict[str, List[Dict[str, Any]]] = {}
    for f in sorted(directory.glob("*.json")):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"warning: cannot read {f}: {exc}", file=sys.stderr)
            continue
        if not isinstance(data, dict) or "functions" not in data:
            continue  # a baseline or something else kept beside the reports
        funcs = []
        for fn in data["functions"]:
            fn = dict(fn)
            fn["relpath"] = fn["path"].split("/", 1)[1] if "/" in fn["path"] else fn["path"]
            funcs.append(fn)
        out[f.stem] = funcs
    return out


def index_functions(reports: Dict[str, List[Dict[str, Any]]]):
    idx: Dict[Tuple[str, str, str], List[Dict[str, Any]]] = defaultdict(list)
    for pkg, funcs in reports.items():
        for fn in funcs:
            idx[(pkg, fn["relpath"], fn["qualname"])].append(fn)
    return idx


def find(idx, label: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    cands = idx.get((label["package"], label["path"], label["qualname"]))
    if not cands:
        return None
    return min(cands, key=lambda fn: abs(fn["line"] - label["line"]))


def score(labels: List[Dict[str, Any]], reports: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    idx = index_functions(reports)
    confusion: Dict[str, Counter] = {k: Counter() for k in ALL_TOOL_KINDS}
    rows = []
    for lab in labels:
        if lab["package"] not in reports:
            tool = "missing"
            fn = None
        else:
            fn = find(idx, lab)
            tool = fn["kind"] if fn is not None else "missing"
        confusion.setdefault(tool, Counter())[lab["label"]] += 1
        rows.append((lab, tool, fn))
    precision = {}
    for kind in TOOL_KINDS:
        said = sum(confusion[kind].values())
        right = confusion[kind][kind]
        precision[kind] = {
            "tool": said,
            "right": right,
            "precision": round(right / said, 3) if said else None,
        }
    unknown = confusion["unknown"]
    result = {
        "labelled": len(labels),
        "precision": precision,
        "unknown": {"count": sum(unknown.values()), "light": unknown["light"]},
        "missing": sum(confusion["missing"].values()),
        "confusion": {k: {lk: confusion[k][lk] for lk in LABEL_KINDS} for k in confusion},
        "packages_without_report": sorted({lab["package"] for lab in labels} - set(reports)),
    }
    return {"result": result, "rows": rows}


def _pct(x: Optional[float]) -> str:
    return "   -" if x is None else f"{x:5.0%}"


def print_text(res: Dict[str, Any], rows, unreviewed: int, show_list: bool, reports_dir: Path) -> None:
    r = res
    print(f"classification vs {r['labelled']} hand labels (reports: {reports_dir})")
    if unreviewed:
        print(f"  ({unreviewed} stubs still unreviewed, not counted)")
    if r["packages_without_report"]:
        print(f"  no report for: {', '.join(r['packages_without_report'])} (their labels count as missing)")
    print()
    print("precision of each kind the tool gives")
    for kind in TOOL_KINDS:
        p = r["precision"][kind]
        print(f"  tool says {kind:<6} {p['right']:>3} / {p['tool']:<3} truly {kind:<6} {_pct(p['precision'])}")
    u = r["unknown"]
    print(f"  tool says unknown {u['count']:>3}   of which truly light {u['light']}")
    if r["missing"]:
        print(f"  labels matching no function now: {r['missing']}")
    print()
    head = "tool \\ label"
    print(f"  {head:<13}" + "".join(f"{k:>7}" for k in LABEL_KINDS) + f"{'total':>8}")
    for kind in ALL_TOOL_KINDS:
        row = r["confusion"].get(kind)
        if not row or (kind == "missing" and not sum(row.values())):
            continue
        print(f"  {kind:<13}" + "".join(f"{row[k]:>7}" for k in LABEL_KINDS) + f"{sum(row.values()):>8}")
    if show_list:
        print()
        print("disagreements (tool kind != label)")
        for lab, tool, fn in sorted(rows, key=lambda t: (t[1], t[0]["label"], t[0]["package"])):
            if tool == lab["label"] or (tool == "unknown" and lab["label"] == "light"):
                continue
            where = f"{lab['path']}:{fn['line'] if fn else lab['line']}"
            print(f"  {tool:>7} -> {lab['label']:<5} {lab['package']} {where} {lab['qualname']}")
            print(f"                  {lab['reason']}")


def draw(reports, seed: int, quotas: Dict[str, int], cap: int) -> List[Dict[str, Any]]:
    """The random sample of the labelling procedure: per tool kind (mixed, io, cpu in that order)
    shuffle its functions with one Random(seed) and take them in turn, skipping a package that has
    ``cap`` functions in the sample already. Returns the drawn functions (all of them, labelled or not)."""
    funcs: Dict[str, List[Dict[str, Any]]] = {k: [] for k in quotas}
    for pkg in sorted(reports):
        for fn in reports[pkg]:
            if fn["kind"] in funcs:
                funcs[fn["kind"]].append(dict(fn, package=pkg))
    rng = random.Random(seed)
    per: Counter = Counter()
    out = []
    for kind in ("mixed", "io", "cpu"):
        if kind not in quotas:
            continue
        pool = sorted(funcs[kind], key=lambda x: (x["path"], x["line"], x["qualname"]))
        rng.shuffle(pool)
        n = 0
        for fn in pool:
            if n == quotas[kind]:
                break
            if per[fn["package"]] >= cap:
                continue
            per[fn["package"]] += 1
            n += 1
            out.append(fn)
    return out


def print_stubs(drawn, labels) -> int:
    have = {(lab["package"], lab["path"], lab["qualname"]) for lab in labels}
    n = 0
    for fn in drawn:
        if (fn["package"], fn["relpath"], fn["qualname"]) in have:
            continue
        n += 1
        print("[[function]]")
        print(f"package = {toml_string(fn['package'])}")
        print(f"path = {toml_string(fn['relpath'])}")
        print(f"qualname = {toml_string(fn['qualname'])}")
        print(f"line = {fn['line']}")
        print('label = "unreviewed"')
        print('reason = ""')
        gil = ", releases the GIL" if fn.get("releases_gil") else ""
        ev = f"; {fn['evidence'][0].split(' ', 1)[-1]}" if fn.get("evidence") else ""
        print(f"# {fn['path']}:{fn['line']} tool: {fn['kind']}{gil}{ev}")
        print()
    return n


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=Path, default=REPORTS, help="directory of <package>.json reports")
    ap.add_argument("--labels", type=Path, default=LABELS, help="the labels (reviewed-classification.toml)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--list", action="store_true", help="list every disagreement with its reason")
    ap.add_argument("--draw", action="store_true",
                    help="print [[function]] stubs for a random sample (those not labelled yet)")
    ap.add_argument("--seed", type=int, default=13, help="seed of --draw (the labels use 13)")
    ap.add_argument("--cpu", type=int, default=70, help="--draw: functions the tool calls cpu")
    ap.add_argument("--mixed", type=int, default=20, help="--draw: functions the tool calls mixed")
    ap.add_argument("--io", type=int, default=30, help="--draw: functions the tool calls io")
    ap.add_argument("--cap", type=int, default=12, help="--draw: at most this many from one package")
    args = ap.parse_args(argv)

    try:
        labels, unreviewed = load_labels(args.labels)
    except (OSError, TomlError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.reports.is_dir():
        print(f"error: no reports in {args.reports}: run review.py first", file=sys.stderr)
        return 2
    reports = load_reports(args.reports)
    if not reports:
        print(f"error: no reports in {args.reports}: run review.py first", file=sys.stderr)
        return 2

    if args.draw:
        drawn = draw(reports, args.seed, {"cpu": args.cpu, "mixed": args.mixed, "io": args.io},
                     args.cap)
        n = print_stubs(drawn, labels)
        print(f"{len(drawn)} drawn, {n} not labelled yet", file=sys.stderr)
        return 0

    out = score(labels, reports)
    if args.json:
        json.dump(dict(out["result"], unreviewed=unreviewed), sys.stdout, indent=2)
        print()
    else:
        print_text(out["result"], out["rows"], unreviewed, args.list, args.reports)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run concurlint over the real-code corpus and score it against the reviewed labels.

    python3 bench/realcode/review.py                    # report: counts, precision, unreviewed, stale
    python3 bench/realcode/review.py --add-unreviewed   # also append stub labels for what is unreviewed
    python3 bench/realcode/review.py --check-targets    # exit 1 when a target is missed
    python3 bench/realcode/review.py --json             # the summary as JSON on stdout
    python3 bench/realcode/review.py -p redis -p trio   # only these packages

For every package of packages.toml (fetched by fetch.py into sources/), runs

    concurlint report <name>-<version> --format json --no-cache --min-confidence high --fail-on never

from inside sources/ (falling back to no ``--min-confidence`` when this concurlint does not know
the option yet), keeps the findings and the recommendations that change the model
(``recommended != current``), and matches each against reviewed.toml. A label is keyed by
package, path inside the package directory, code, function qualname and a normalised message
(see ``message_key``), plus ``nth`` when several findings share all of that; never by line.

Labels: findings ``tp`` / ``fp`` / ``debatable``; recommendations ``right`` / ``wrong``;
``unreviewed`` until a human decides (the rubric is /work/shared/REVIEWING.md; README.md here
summarises it). Precision is over reviewed findings only: strict = tp / reviewed, lenient =
(tp + debatable) / reviewed.

Targets (``--check-targets``): strict >= 0.70, lenient >= 0.90, recommendations right >= 0.90,
and nothing unreviewed (a precision over part of the findings proves nothing).
Exit status: 0, or 1 when ``--check-targets`` is given and a target is missed, or 2 when
concurlint could not be run on a package or the label file is malformed.

Standard library only (Python 3.9+). Nothing here uses the network.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    LABELS_FILE,
    REPO,
    SOURCES,
    TomlError,
    load_packages,
    load_toml,
    package_dir,
    toml_string,
)

TARGETS = {"strict_precision": 0.70, "lenient_precision": 0.90, "recommendation_accuracy": 0.90}
FINDING_LABELS = ("tp", "fp", "debatable")
REC_LABELS = ("right", "wrong")
UNREVIEWED = "unreviewed"
KEY_MESSAGE_MAX = 100

LABELS_HEADER = """\
# Reviewed findings of concurlint on the real-code corpus (bench/realcode/README.md).
#
# One [[finding]] or [[recommendation]] table per item. The first fields are the key that
# review.py matches on (never the line number): package, path (inside the package directory),
# code, function (qualname; "<module>" at module level), message (the normalised head of the
# message: text before the first ';', parenthesised details dropped except the last function of a
# "(via ...)" chain, free-standing numbers as '#'), and nth when several items share that key.
# For a recommendation: package, path, function, api, current, recommended, message (the
# normalised head of its reason), nth.
#
#   label  = "tp" | "fp" | "debatable"  for a finding
#            "right" | "wrong"          for a recommendation that changes the model
#            "unreviewed"               until someone decides (review.py --add-unreviewed writes these)
#   reason = one line: why (the rubric: /work/shared/REVIEWING.md)
#
# The comment under each stub shows where the item was and its full text when it was added.
"""


# ---------------------------------------------------------------------------------------------
# keys


def _drop_parentheticals(text: str) -> str:
    """Drop every ' (...)' group (balanced), keeping 'via X' with only the last hop of a chain."""
    out: List[str] = []
    i = 0
    while i < len(text):
        if text.startswith(" (", i):
            depth = 0
            j = i + 1
            while j < len(text):
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if depth == 0 and j < len(text):
                inner = text[i + 2 : j]
                if inner.startswith("via "):
                    out.append(" (via " + inner[4:].split("->")[-1].strip() + ")")
                i = j + 1
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def message_key(message: str) -> str:
    """The part of a message that identifies a finding across tool versions."""
    head = message.split(";", 1)[0]
    head = _drop_parentheticals(head)
    head = re.sub(r"(?<![A-Za-z0-9_.])\d+(\.\d+)?", "#", head)
    head = re.sub(r"\s+", " ", head).strip()
    if len(head) > KEY_MESSAGE_MAX:
        head = head[:KEY_MESSAGE_MAX].rstrip()
    return head


def rel_path(path: str, prefix: str) -> str:
    path = path.replace("\\", "/")
    if path.startswith(prefix + "/"):
        return path[len(prefix) + 1 :]
    return path


Key = Tuple[str, ...]


def finding_key(package: str, item: Dict[str, Any]) -> Key:
    return (package, item["path"], item["code"], item["function"], message_key(item["message"]))


def rec_key(package: str, item: Dict[str, Any]) -> Key:
    return (
        package,
        item["path"],
        item["function"],
        str(item.get("api") or ""),
        item["current"],
        item["recommended"],
        message_key(item.get("reason") or ""),
    )


def assign_nth(items: List[Dict[str, Any]], keyfn) -> None:
    """Give each item its key plus nth (1-based, in line order) among items sharing the key."""
    seen: Counter = Counter()
    for it in sorted(items, key=lambda x: (x["path"], x.get("line", 0), x.get("col", 0))):
        base = keyfn(it)
        seen[base] += 1
        it["_key"] = base + (seen[base],)


# ---------------------------------------------------------------------------------------------
# running concurlint


def default_tool() -> List[str]:
    venv = REPO / ".venv" / "bin" / "concurlint"
    if venv.is_file() and os.access(venv, os.X_OK):
        return [str(venv)]
    found = shutil.which("concurlint")
    if found:
        return [found]
    return [sys.executable, "-m", "concurlint"]


class ToolError(RuntimeError):
    pass


class Runner:
    def __init__(self, tool: List[str], extra: List[str], level: str = "high"):
        self.tool = tool
        self.extra = extra
        self.level = level
        self.min_confidence: Optional[bool] = None  # None: not tried yet
        self.notes: List[str] = []

    def run(self, target: str) -> Dict[str, Any]:
        base = [*self.tool, "report", target, "--format", "json", "--no-cache", "--fail-on", "never", *self.extra]
        if self.min_confidence is not False:
            proc = subprocess.run(
                [*base, "--min-confidence", self.level], cwd=SOURCES, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            if proc.returncode == 2 and "min-confidence" in proc.stderr:
                self.min_confidence = False
                self.notes.append(
                    "this concurlint does not accept --min-confidence; ran without it "
                    f"({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'exit 2'})"
                )
            else:
                self.min_confidence = True
        if self.min_confidence is False:
            proc = subprocess.run(base, cwd=SOURCES, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode not in (0, 1):
            raise ToolError(f"concurlint exited {proc.returncode} on {target}: {proc.stderr.strip()[-2000:]}")
        try:
            return json.loads(proc.stdout)
        except ValueError as exc:
            raise ToolError(f"concurlint printed no JSON report for {target}: {exc}") from None


def count_lines(root: Path) -> Tuple[int, int]:
    files = lines = 0
    for p in root.rglob("*.py"):
        files += 1
        with p.open("rb") as f:
            lines += sum(1 for _ in f)
    return files, lines


# ---------------------------------------------------------------------------------------------
# labels


def load_labels(path: Path) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], List[str]]:
    if not path.is_file():
        return [], [], []
    data = load_toml(path)
    problems: List[str] = []
    findings = data.get("finding", [])
    recs = data.get("recommendation", [])
    unknown = set(data) - {"finding", "recommendation"}
    if unknown:
        problems.append(f"unknown tables in {path.name}: {', '.join(sorted(unknown))}")
    for kind, rows, fields, allowed in (
        ("finding", findings, ("package", "path", "code", "function", "message", "label"), FINDING_LABELS),
        ("recommendation", recs, ("package", "path", "function", "current", "recommended", "message", "label"), REC_LABELS),
    ):
        for i, row in enumerate(rows, 1):
            missing = [f for f in fields if f not in row]
            if missing:
                problems.append(f"{kind} #{i} ({row.get('package')}, {row.get('path')}): missing {', '.join(missing)}")
                continue
            if row["label"] not in (*allowed, UNREVIEWED):
                problems.append(
                    f"{kind} #{i} ({row['package']}, {row['path']}, {row['function']}): label {row['label']!r} "
                    f"is not one of {', '.join(allowed)} or {UNREVIEWED}"
                )
            nth = row.get("nth", 1)
            if not isinstance(nth, int) or nth < 1:
                problems.append(f"{kind} #{i}: nth must be a positive integer")
                row["nth"] = 1
            if kind == "finding":
                row["_key"] = (row["package"], row["path"], row["code"], row["function"], message_key(row["message"]), row.get("nth", 1))
            else:
                row["_key"] = (
                    row["package"], row["path"], row["function"], str(row.get("api", "")), row["current"],
                    row["recommended"], message_key(row["message"]), row.get("nth", 1),
                )
    for kind, rows in (("finding", findings), ("recommendation", recs)):
        dup = Counter(r["_key"] for r in rows if "_key" in r)
        for key, n in dup.items():
            if n > 1:
                problems.append(f"{kind} label listed {n} times: {key}")
    return findings, recs, problems


def _stub_head(table: str, fields: Tuple[str, ...], key: tuple) -> List[str]:
    """``[[table]]``, the key fields (the last key element is ``nth``, written when > 1) and an
    unreviewed label."""
    lines = [f"[[{table}]]"] + [f"{name} = {toml_string(value)}" for name, value in zip(fields, key)]
    if key[len(fields)] > 1:
        lines.append(f"nth = {key[len(fields)]}")
    return lines + [f"label = {toml_string(UNREVIEWED)}", 'reason = ""']


def stub_finding(pkg: Dict[str, Any], f: Dict[str, Any]) -> str:
    lines = _stub_head("finding", ("package", "path", "code", "function", "message"), f["_key"])
    where = f"{pkg['name']}-{pkg['version']}/{f['path']}:{f.get('line')}"
    extra = f" [{f.get('severity')}"
    if f.get("confidence"):
        extra += f", {f['confidence']} confidence"
    if f.get("count"):
        extra += f", count {f['count']}"
    extra += "]"
    lines.append(f"# {where}{extra} {_oneline(f['message'])}")
    for r in f.get("related") or []:
        lines.append(f"#   related {r.get('path')}:{r.get('line')} {_oneline(r.get('message', ''))}")
    return "\n".join(lines) + "\n"


def stub_rec(pkg: Dict[str, Any], r: Dict[str, Any]) -> str:
    lines = _stub_head("recommendation",
                       ("package", "path", "function", "api", "current", "recommended", "message"), r["_key"])
    lines.append(
        f"# {pkg['name']}-{pkg['version']}/{r['path']}:{r.get('line')} [kind {r.get('kind')}] {_oneline(r.get('reason', ''))}"
    )
    return "\n".join(lines) + "\n"


def _oneline(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


# ---------------------------------------------------------------------------------------------
# scoring


def ratio(num: int, den: int) -> Optional[float]:
    return round(num / den, 4) if den else None


def fmt(x: Optional[float]) -> str:
    return "  -  " if x is None else f"{x:.2f}"


def review(args) -> int:
    pkgs = load_packages()
    if args.package:
        unknown = set(args.package) - {p["name"] for p in pkgs}
        if unknown:
            print(f"review.py: not in packages.toml: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        pkgs = [p for p in pkgs if p["name"] in args.package]
    missing = [p for p in pkgs if not (package_dir(p) / ".fetched").is_file()]
    if missing:
        print(
            "review.py: not fetched yet: " + ", ".join(f"{p['name']}-{p['version']}" for p in missing)
            + "\n  run: python3 bench/realcode/fetch.py",
            file=sys.stderr,
        )
        return 2
    labels_path = Path(args.labels)
    try:
        flabels, rlabels, problems = load_labels(labels_path)
    except (TomlError, OSError) as exc:
        print(f"review.py: cannot read {labels_path}: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"review.py: {labels_path} has problems:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2

    runner = Runner(shlex.split(args.concurlint) if args.concurlint else default_tool(), args.tool_arg,
                    args.min_confidence)
    reports_dir = SOURCES / "_reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    selected = {p["name"] for p in pkgs}
    flabel_by_key = {r["_key"]: r for r in flabels if r["package"] in selected}
    rlabel_by_key = {r["_key"]: r for r in rlabels if r["package"] in selected}
    used_f: set = set()
    used_r: set = set()

    per_pkg: List[Dict[str, Any]] = []
    per_code: Dict[str, Counter] = defaultdict(Counter)
    unreviewed_f: List[Tuple[Dict[str, Any], Dict[str, Any]]] = []
    unreviewed_r: List[Tuple[Dict[str, Any], Dict[str, Any]]] = []
    wrong_recs: List[Dict[str, Any]] = []
    items_f: List[Dict[str, Any]] = []
    items_r: List[Dict[str, Any]] = []
    t_all = time.perf_counter()
    for pkg in pkgs:
        target = package_dir(pkg).name
        files, lines = count_lines(package_dir(pkg))
        t0 = time.perf_counter()
        try:
            report = runner.run(target)
        except ToolError as exc:
            print(f"review.py: {exc}", file=sys.stderr)
            return 2
        seconds = time.perf_counter() - t0
        (reports_dir / f"{pkg['name']}.json").write_text(json.dumps(report, indent=1))
        findings = []
        for f in report.get("findings", []):
            if runner.min_confidence is False and f.get("confidence", "high") != "high":
                continue  # the option is missing but the field is there: filter here
            f = dict(f)
            f["path"] = rel_path(f["path"], target)
            f["function"] = f.get("function") or "<module>"
            findings.append(f)
        recs = []
        for r in report.get("recommendations", []):
            if r.get("recommended") == r.get("current"):
                continue
            r = dict(r)
            r["path"] = rel_path(r["path"], target)
            r["function"] = r.get("function") or "<module>"
            recs.append(r)
        assign_nth(findings, lambda f: finding_key(pkg["name"], f))
        assign_nth(recs, lambda r: rec_key(pkg["name"], r))

        row = Counter()
        for f in findings:
            lab = flabel_by_key.get(f["_key"])
            label = lab["label"] if lab else UNREVIEWED
            if lab:
                used_f.add(f["_key"])
            if label == UNREVIEWED:
                unreviewed_f.append((pkg, f))
            f["_label"] = label
            f["_reason"] = lab.get("reason", "") if lab else ""
            row[label] += 1
            per_code[f["code"]][label] += 1
            items_f.append(f)
        for r in recs:
            lab = rlabel_by_key.get(r["_key"])
            label = lab["label"] if lab else UNREVIEWED
            if lab:
                used_r.add(r["_key"])
            if label == UNREVIEWED:
                unreviewed_r.append((pkg, r))
            elif label == "wrong":
                wrong_recs.append(r)
            r["_label"] = label
            row["rec_" + label] += 1
            items_r.append(r)
        per_pkg.append(
            {
                "package": pkg["name"],
                "version": pkg["version"],
                "category": pkg["category"],
                "files": files,
                "lines": lines,
                "seconds": round(seconds, 2),
                "findings": len(findings),
                "by_code": dict(sorted(Counter(f["code"] for f in findings).items())),
                "tp": row["tp"],
                "fp": row["fp"],
                "debatable": row["debatable"],
                "unreviewed": row[UNREVIEWED],
                "recommendations": len(report.get("recommendations", [])),
                "model_changes": len(recs),
                "right": row["rec_right"],
                "wrong": row["rec_wrong"],
                "recs_unreviewed": row["rec_" + UNREVIEWED],
            }
        )
    total_seconds = time.perf_counter() - t_all

    stale_f = [r for k, r in flabel_by_key.items() if k not in used_f]
    stale_r = [r for k, r in rlabel_by_key.items() if k not in used_r]

    tot = Counter()
    for c in per_code.values():
        tot.update(c)
    reviewed = tot["tp"] + tot["fp"] + tot["debatable"]
    rec_tot = Counter(r["_label"] for r in items_r)
    rec_reviewed = rec_tot["right"] + rec_tot["wrong"]
    summary = {
        "schema": "concurlint-realcode-review/1",
        "tool": _tool_version(runner),
        "min_confidence_option": runner.min_confidence,
        "notes": runner.notes,
        "packages": per_pkg,
        "totals": {
            "packages": len(per_pkg),
            "files": sum(p["files"] for p in per_pkg),
            "lines": sum(p["lines"] for p in per_pkg),
            "seconds": round(total_seconds, 2),
            "findings": len(items_f),
            "tp": tot["tp"],
            "fp": tot["fp"],
            "debatable": tot["debatable"],
            "unreviewed": tot[UNREVIEWED],
            "model_changes": len(items_r),
            "right": rec_tot["right"],
            "wrong": rec_tot["wrong"],
            "recs_unreviewed": rec_tot[UNREVIEWED],
        },
        "by_code": {
            code: {
                "findings": sum(c.values()),
                "tp": c["tp"],
                "fp": c["fp"],
                "debatable": c["debatable"],
                "unreviewed": c[UNREVIEWED],
                "strict_precision": ratio(c["tp"], c["tp"] + c["fp"] + c["debatable"]),
                "lenient_precision": ratio(c["tp"] + c["debatable"], c["tp"] + c["fp"] + c["debatable"]),
            }
            for code, c in sorted(per_code.items())
        },
        "strict_precision": ratio(tot["tp"], reviewed),
        "lenient_precision": ratio(tot["tp"] + tot["debatable"], reviewed),
        "recommendation_accuracy": ratio(rec_tot["right"], rec_reviewed),
        "targets": dict(TARGETS),
        "unreviewed": [
            {"package": p["name"], "path": f["path"], "line": f.get("line"), "code": f["code"],
             "function": f["function"], "message": f["message"]}
            for p, f in unreviewed_f
        ],
        "unreviewed_recommendations": [
            {"package": p["name"], "path": r["path"], "line": r.get("line"), "function": r["function"],
             "current": r["current"], "recommended": r["recommended"], "reason": r.get("reason", "")}
            for p, r in unreviewed_r
        ],
        "stale": [_public(r) for r in stale_f],
        "stale_recommendations": [_public(r) for r in stale_r],
    }
    summary["unreviewed_without_entry"] = sum(1 for _, f in unreviewed_f if f["_key"] not in flabel_by_key) + sum(
        1 for _, r in unreviewed_r if r["_key"] not in rlabel_by_key
    )
    missed = check_targets(summary)
    summary["targets_missed"] = missed

    if args.add_unreviewed and (unreviewed_f or unreviewed_r):
        added = write_stubs(labels_path, flabel_by_key, rlabel_by_key, unreviewed_f, unreviewed_r)
        summary["stubs_added"] = added
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print_text(summary, args)
    if runner.notes and args.json:
        for n in runner.notes:
            print(f"note: {n}", file=sys.stderr)
    if args.check_targets and missed:
        return 1
    return 0


def _public(row: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _tool_version(runner: Runner) -> str:
    try:
        proc = subprocess.run([*runner.tool, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return proc.stdout.strip()
    except OSError:
        return "?"


def check_targets(s: Dict[str, Any]) -> List[str]:
    missed = []
    t = s["totals"]
    for name in ("strict_precision", "lenient_precision"):
        value = s[name]
        if value is None:
            if t["findings"]:
                missed.append(f"{name}: no finding reviewed")
        elif value < TARGETS[name]:
            missed.append(f"{name} {value:.2f} < {TARGETS[name]:.2f}")
    acc = s["recommendation_accuracy"]
    if acc is None:
        if t["model_changes"]:
            missed.append("recommendation_accuracy: no recommendation reviewed")
    elif acc < TARGETS["recommendation_accuracy"]:
        missed.append(f"recommendation_accuracy {acc:.2f} < {TARGETS['recommendation_accuracy']:.2f}")
    if t["unreviewed"] or t["recs_unreviewed"]:
        missed.append(f"{t['unreviewed']} findings and {t['recs_unreviewed']} recommendations unreviewed")
    return missed


def write_stubs(path: Path, flabel_by_key, rlabel_by_key, unreviewed_f, unreviewed_r) -> int:
    """Append stub entries for unreviewed items that have no entry at all (an existing
    'unreviewed' entry is left as it is)."""
    chunks = []
    for pkg, f in unreviewed_f:
        if f["_key"] not in flabel_by_key:
            chunks.append(stub_finding(pkg, f))
    for pkg, r in unreviewed_r:
        if r["_key"] not in rlabel_by_key:
            chunks.append(stub_rec(pkg, r))
    if not chunks:
        return 0
    new = not path.is_file()
    with path.open("a", encoding="utf-8") as out:
        if new:
            out.write(LABELS_HEADER)
        else:
            text = path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):
                out.write("\n")
        for c in chunks:
            out.write("\n" + c)
    return len(chunks)


def print_text(s: Dict[str, Any], args) -> None:
    w = print
    w(f"concurlint: {s['tool']}")
    for n in s["notes"]:
        w(f"note: {n}")
    w("")
    hdr = f"{'package':22} {'version':12} {'lines':>7} {'secs':>5} {'find':>5} {'tp':>4} {'fp':>4} {'deb':>4} {'unrev':>5} | {'chg':>4} {'right':>5} {'wrong':>5} {'unrev':>5}  codes"
    w(hdr)
    w("-" * len(hdr))
    for p in s["packages"]:
        codes = " ".join(f"{c}:{n}" for c, n in p["by_code"].items())
        w(
            f"{p['package']:22} {p['version']:12} {p['lines']:>7} {p['seconds']:>5.1f} {p['findings']:>5} {p['tp']:>4} "
            f"{p['fp']:>4} {p['debatable']:>4} {p['unreviewed']:>5} | {p['model_changes']:>4} {p['right']:>5} "
            f"{p['wrong']:>5} {p['recs_unreviewed']:>5}  {codes}"
        )
    t = s["totals"]
    w("-" * len(hdr))
    w(
        f"{'total':22} {'':12} {t['lines']:>7} {t['seconds']:>5.1f} {t['findings']:>5} {t['tp']:>4} {t['fp']:>4} "
        f"{t['debatable']:>4} {t['unreviewed']:>5} | {t['model_changes']:>4} {t['right']:>5} {t['wrong']:>5} "
        f"{t['recs_unreviewed']:>5}"
    )
    w("")
    w(f"{'code':8} {'find':>5} {'tp':>4} {'fp':>4} {'deb':>4} {'unrev':>5} {'strict':>7} {'lenient':>7}")
    for code, c in s["by_code"].items():
        w(
            f"{code:8} {c['findings']:>5} {c['tp']:>4} {c['fp']:>4} {c['debatable']:>4} {c['unreviewed']:>5} "
            f"{fmt(c['strict_precision']):>7} {fmt(c['lenient_precision']):>7}"
        )
    w("")
    tg = s["targets"]
    w(f"strict precision  tp/reviewed             {fmt(s['strict_precision'])}  (target >= {tg['strict_precision']:.2f})")
    w(f"lenient precision (tp+debatable)/reviewed {fmt(s['lenient_precision'])}  (target >= {tg['lenient_precision']:.2f})")
    w(
        f"model changes     right/reviewed          {fmt(s['recommendation_accuracy'])}  "
        f"(target >= {tg['recommendation_accuracy']:.2f})"
    )
    w(f"reviewed: {t['tp'] + t['fp'] + t['debatable']} of {t['findings']} findings, "
      f"{t['right'] + t['wrong']} of {t['model_changes']} model changes; whole run {t['seconds']:.1f}s")
    if s["unreviewed"] or s["unreviewed_recommendations"]:
        w("")
        w(f"UNREVIEWED ({len(s['unreviewed'])} findings, {len(s['unreviewed_recommendations'])} recommendations)")
        shown = 0
        for u in s["unreviewed"]:
            if args.limit and shown >= args.limit:
                break
            w(f"  {u['package']}: {u['path']}:{u['line']} {u['code']} [{u['function']}] {_oneline(u['message'])[:160]}")
            shown += 1
        for u in s["unreviewed_recommendations"]:
            if args.limit and shown >= args.limit:
                break
            w(
                f"  {u['package']}: {u['path']}:{u['line']} {u['current']} -> {u['recommended']} [{u['function']}] "
                f"{_oneline(u['reason'])[:140]}"
            )
            shown += 1
        rest = len(s["unreviewed"]) + len(s["unreviewed_recommendations"]) - shown
        if rest > 0:
            w(f"  ... and {rest} more (--limit 0 shows all)")
        if s.get("stubs_added"):
            w(f"  {s['stubs_added']} stub entries appended to {args.labels}: fill in label and reason")
        elif "stubs_added" in s:
            w(f"  every one already has an entry (label \"unreviewed\") in {args.labels}: fill in label and reason")
        elif s["unreviewed_without_entry"]:
            w(f"  ({s['unreviewed_without_entry']} have no entry yet: review.py --add-unreviewed appends stubs to the label file)")
        else:
            w(f"  (each has a stub entry in {args.labels}: fill in label and reason)")
    if s["stale"] or s["stale_recommendations"]:
        w("")
        w(f"STALE labels: match nothing now ({len(s['stale'])} findings, {len(s['stale_recommendations'])} recommendations)")
        for r in s["stale"]:
            nth = f" nth={r['nth']}" if r.get("nth", 1) > 1 else ""
            w(f"  {r['package']}: {r['path']} {r['code']} [{r['function']}] {r['message']!r}{nth} ({r['label']})")
        for r in s["stale_recommendations"]:
            w(f"  {r['package']}: {r['path']} {r['current']} -> {r['recommended']} [{r['function']}] {r['message']!r} ({r['label']})")
    if s["targets_missed"]:
        w("")
        w("targets missed: " + "; ".join(s["targets_missed"]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-p", "--package", action="append", default=[], help="only this package (repeatable)")
    ap.add_argument("--labels", default=str(LABELS_FILE), help="label file (default: bench/realcode/reviewed.toml)")
    ap.add_argument("--add-unreviewed", action="store_true", help="append stub entries for unreviewed items to the label file")
    ap.add_argument("--check-targets", action="store_true", help="exit 1 when a precision/accuracy target is missed")
    ap.add_argument("--min-confidence", default="high", choices=("high", "medium", "low"),
                    help="score the findings reported at this confidence and above (default: high, the default output)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    ap.add_argument("--limit", type=int, default=50, help="unreviewed items listed in the text output (0: all)")
    ap.add_argument("--concurlint", default=None, help="command that runs concurlint (default: the repo's .venv, then PATH)")
    ap.add_argument("--tool-arg", action="append", default=[], help="extra argument for concurlint report (repeatable)")
    args = ap.parse_args(argv)
    return review(args)


if __name__ == "__main__":
    sys.exit(main())

"""Text output: flake8-style lines for ``check``; a readable report for ``report``."""
from __future__ import annotations

from collections import Counter
from typing import List

from concurlint.output.escape import printable

COLORS = {"error": "\033[31m", "warning": "\033[33m", "info": "\033[36m", "bold": "\033[1m", "dim": "\033[2m"}
RESET = "\033[0m"


def _c(text: str, style: str, color: bool) -> str:
    return f"{COLORS[style]}{text}{RESET}" if color else text


def qualifier(f) -> str:
    """' (3 places)', ' (2 more like it in this file)' (' (2 more like it)' when some are in other
    files), ' [medium confidence]': shown only when they say something."""
    out = ""
    if getattr(f, "count", 1) > 1:
        out += f" ({f.count} places)"
    if getattr(f, "echoes", 0):
        elsewhere = any(r.get("path") != f.path for r in getattr(f, "related", ())
                        if str(r.get("message", "")).startswith("the same pattern again"))
        out += f" ({f.echoes} more like it{'' if elsewhere else ' in this file'})"
    conf = getattr(f, "confidence", "high")
    if conf != "high":
        out += f" [{conf} confidence]"
    return out


def render_check(report, show_source: bool = False, color: bool = False) -> str:
    out: List[str] = []
    sources = {}
    for f in report.findings:
        loc = _c(f"{printable(f.path)}:{f.line}:{f.col + 1}:", "bold", color)
        out.append(f"{loc} {_c(f.code, f.severity, color)} {printable(f.message)}{qualifier(f)}")
        if show_source:
            if f.path not in sources:
                try:
                    with open(f.path, encoding="utf-8", errors="replace") as fh:
                        sources[f.path] = fh.read().splitlines()
                except OSError:
                    sources[f.path] = []
            lines = sources[f.path]
            if 0 < f.line <= len(lines):
                out.append("    " + printable(lines[f.line - 1].rstrip()))
                out.append("    " + " " * f.col + "^")
    return "".join(line + "\n" for line in out)


def plural(n: int, word: str, many: str = "") -> str:
    """'1 file', '2 files', '0 info' (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


LEGEND = (
    "Legend: error = will crash, deadlock or corrupt data; warning = likely wrong or slow; info = advice.",
    "        line:col count from 1, as flake8 shows them (the JSON report's col counts from 0).",
)
FINDINGS_HEAD = "Findings (path:line:col: CODE [severity] what is wrong; what to do instead)"
RECOMMENDATIONS_HEAD = "Recommendations (path:line: dispatched function [its kind] current -> recommended model: why)"


def status_line(findings, fail_on: str) -> str:
    """The last line: why the exit status is what it is, and where a rule is explained."""
    from concurlint.cli import FAIL_RANK, SEVERITY_RANK

    threshold = FAIL_RANK[fail_on]
    failing = [f for f in findings if SEVERITY_RANK[f.severity] >= threshold]
    if failing:
        levels = {"error": "error", "warning": "warning or error", "info": "any severity"}[fail_on]
        head = f"Exit status 1: {plural(len(failing), 'finding')} of {levels} severity (--fail-on {fail_on})."
    elif findings:
        head = f"Exit status 0: no finding reaches --fail-on {fail_on}."
    else:
        head = "Exit status 0: no findings."
    if findings:
        head += f" `concurlint explain {findings[0].code}` explains a rule and how to fix it."
    return head


def below_line(report) -> str:
    """What --min-confidence left out, and how to see it ("" when nothing was)."""
    below = Counter(conf for _path, conf in getattr(report, "below", ()))
    if not below:
        return ""
    parts = ", ".join(f"{below[c]} {c}" for c in ("medium", "low") if below[c])
    level = "medium" if below["medium"] else "low"
    return (f"Not shown: {plural(sum(below.values()), 'finding')} at lower confidence ({parts}); "
            f"--min-confidence {level} shows {'them' if level == 'low' or not below['low'] else 'the medium ones'} "
            f"(docs/precision.md).")


def render_report(report, color: bool = False, fail_on: str = "warning") -> str:
    out: List[str] = []
    findings = report.findings
    by_sev = Counter(f.severity for f in findings)
    out.append(_c("concurlint report", "bold", color))
    out.append(f"{plural(report.files, 'file')}, {plural(len(report.functions), 'function')}, "
               f"{plural(len(report.recommendations), 'dispatch site')}, {plural(len(findings), 'finding')} "
               f"({plural(by_sev.get('error', 0), 'error')}, {plural(by_sev.get('warning', 0), 'warning')}, "
               f"{by_sev.get('info', 0)} info)")
    baseline = getattr(report, "baseline", None)
    if baseline:
        out.append(f"{plural(baseline['suppressed'], 'finding')} suppressed by baseline {printable(baseline['path'])}")
    out.extend(_c(line, "dim", color) for line in LEGEND)
    out.append("")
    if findings:
        out.append(_c(FINDINGS_HEAD, "bold", color))
        for f in findings:
            out.append(f"  {printable(f.path)}:{f.line}:{f.col + 1}: {_c(f.code, f.severity, color)} "
                       f"[{f.severity}] {printable(f.message)}{qualifier(f)}")
        out.append("")
    if report.recommendations:
        out.append(_c(RECOMMENDATIONS_HEAD, "bold", color))
        for r in report.recommendations:
            change = r["current"] if r["current"] == r["recommended"] else f"{r['current']} -> {r['recommended']}"
            target = r["function"] or "?"
            alts = f" (also: {', '.join(r['alternatives'])})" if r["alternatives"] else ""
            out.append(f"  {printable(r['path'])}:{r['line']}: {target} [{r['kind']}] {change}{alts}: "
                       f"{printable(r['reason'])}")
        out.append("")
        dispatched = sorted({r["function"] for r in report.recommendations if r["function"]})
        by_name = {f["qualname"]: f for f in report.functions}
        rows = [by_name[q] for q in dispatched if q in by_name]
        if rows:
            out.append(_c("Dispatched functions", "bold", color))
            width = max(len(r["qualname"]) for r in rows)
            out.append(f"  {'function':<{width}}  {'kind':<7}  {'GIL':<9}  evidence")
            for r in rows:
                gil = {True: "released", False: "held", None: "-"}[r["releases_gil"]]
                ev = r["evidence"][0] if r["evidence"] else ""
                out.append(f"  {r['qualname']:<{width}}  {r['kind']:<7}  {gil:<9}  {ev}")
            out.append("")
    from concurlint.output.readiness import text_section

    out.extend(text_section(report))
    kinds = Counter(f["kind"] for f in report.functions)
    out.append("Functions by kind: " + ", ".join(f"{k} {kinds.get(k, 0)}" for k in ("cpu", "io", "mixed", "unknown")))
    out.append("")
    out.append(_c(status_line(findings, fail_on), "bold", color))
    if below_line(report):
        out.append(below_line(report))
    return "\n".join(out) + "\n"

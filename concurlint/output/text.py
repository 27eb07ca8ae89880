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
    """' (3 places)', ' [medium confidence]': shown only when they say something."""
    out = ""
    if getattr(f, "count", 1) > 1:
        out += f" ({f.count} places)"
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


def render_report(report, color: bool = False) -> str:
    out: List[str] = []
    findings = report.findings
    by_sev = Counter(f.severity for f in findings)
    out.append(_c("concurlint report", "bold", color))
    out.append(f"{report.files} files, {len(report.functions)} functions, "
               f"{len(report.recommendations)} dispatch sites, {len(findings)} findings "
               f"({by_sev.get('error', 0)} errors, {by_sev.get('warning', 0)} warnings, {by_sev.get('info', 0)} info)")
    out.append("")
    if findings:
        out.append(_c("Findings", "bold", color))
        for f in findings:
            out.append(f"  {printable(f.path)}:{f.line}:{f.col + 1}: {_c(f.code, f.severity, color)} "
                       f"[{f.severity}] {printable(f.message)}{qualifier(f)}")
        out.append("")
    if report.recommendations:
        out.append(_c("Recommendations", "bold", color))
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
    return "\n".join(out) + "\n"

"""``--format markdown``: a report for ``$GITHUB_STEP_SUMMARY`` and pull-request comments.

Summary counts by rule family and severity, the findings grouped by file (each with a relative
link ``path#Lline``), then the recommendations table (site, current -> recommended, why).
"""
from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Dict, List
from urllib.parse import quote

from concurlint.output.escape import printable
from concurlint.output.text import below_line, qualifier

FAMILIES = OrderedDict([
    ("CCL0", "input"),
    ("CCL1", "model fit"),
    ("CCL2", "shared mutable state"),
    ("CCL3", "fork hazards"),
    ("CCL4", "pickling"),
    ("CCL5", "asyncio"),
    ("CCL6", "thread lifecycle"),
    ("CCL9", "internal"),
])
SEVERITIES = ("error", "warning", "info")
ICONS = {"error": ":x:", "warning": ":warning:", "info": ":information_source:"}


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _inline(text) -> str:
    """Text safe inside inline code."""
    t = str(text).replace("\n", " ")
    return f"`` {t} ``" if "`" in t else f"`{t}`"


def _link(path: str, line: int) -> str:
    p = path.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return f"{quote(p, safe='/', errors='surrogateescape')}#L{line}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def render_markdown(report, fail_on: str = "warning") -> str:
    from concurlint.output.text import status_line
    from concurlint.registry import all_meta

    metas = all_meta()
    findings = report.findings
    out: List[str] = ["# concurlint report", ""]
    by_sev = Counter(f.severity for f in findings)
    out.append(
        f"{_plural(report.files, 'file')}, {_plural(len(report.functions), 'function')}, "
        f"{_plural(len(report.recommendations), 'dispatch site')}: **{_plural(len(findings), 'finding')}** "
        f"({_plural(by_sev.get('error', 0), 'error')}, {_plural(by_sev.get('warning', 0), 'warning')}, "
        f"{by_sev.get('info', 0)} info)."
    )
    baseline = getattr(report, "baseline", None)
    if baseline:
        out.append(f"{_plural(baseline['suppressed'], 'finding')} suppressed by baseline {_inline(baseline['path'])}.")
    out.append("")

    if findings:
        out += ["## Summary", "", "| family | error | warning | info | total |", "|---|---:|---:|---:|---:|"]
        counts: Dict[str, Counter] = OrderedDict()
        for f in findings:
            counts.setdefault(f.code[:4], Counter())[f.severity] += 1
        for prefix in sorted(counts):
            c = counts[prefix]
            name = FAMILIES.get(prefix, "other")
            out.append(f"| {prefix}xx {name} | {c.get('error', 0)} | {c.get('warning', 0)} | "
                       f"{c.get('info', 0)} | {sum(c.values())} |")
        out.append(f"| **all** | {by_sev.get('error', 0)} | {by_sev.get('warning', 0)} | "
                   f"{by_sev.get('info', 0)} | **{len(findings)}** |")
        out.append("")

    if findings:
        out += ["## Findings", ""]
        by_file: Dict[str, list] = OrderedDict()
        for f in findings:
            by_file.setdefault(f.path, []).append(f)
        for path, items in by_file.items():
            out.append(f"### {_inline(path)} ({len(items)})")
            out.append("")
            for f in items:
                meta = metas.get(f.code)
                name = f" {meta.name}" if meta else ""
                where = f" (in {_inline(f.function)})" if f.function else ""
                out.append(f"- {ICONS.get(f.severity, '')} [line {f.line}]({_link(f.path, f.line)}) "
                           f"**{f.code}**{name} ({f.severity}): {f.message.strip()}{where}{qualifier(f)}")
            out.append("")
    else:
        out += ["No findings.", ""]
    if report.recommendations:
        out += ["## Recommendations", "",
                "| site | function | kind | current -> recommended | why |",
                "|---|---|---|---|---|"]
        for r in report.recommendations:
            site = f"[{_cell(r['path'])}:{r['line']}]({_link(r['path'], r['line'])})"
            fn = _inline(_cell(r["function"])) if r.get("function") else "?"
            if r["current"] == r["recommended"]:
                change = f"{r['current']} (fits)"
            else:
                change = f"{r['current']} -> **{r['recommended']}**"
            if r.get("alternatives"):
                change += f" (also: {', '.join(r['alternatives'])})"
            out.append(f"| {site} | {fn} | {r.get('kind', 'unknown')} | {_cell(change)} | {_cell(r['reason'])} |")
        out.append("")

    from concurlint.output.readiness import markdown_section

    out += markdown_section(report, _cell, _inline)
    out += [status_line(findings, fail_on), ""]
    if below_line(report):
        out += [below_line(report), ""]
    return "\n".join(printable(line) for line in out)

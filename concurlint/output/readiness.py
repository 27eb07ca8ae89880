"""The free-threading readiness section (``report.readiness``) of the text, Markdown and SARIF
reports; JSON carries the list as it is (top-level ``"readiness"``). See docs/free-threading.md."""
from __future__ import annotations

from typing import List

VERDICT_WORDS = {"ready": "ready", "needs-locks": "needs locks", "unknown": "unknown"}


def _modules(report) -> list:
    return getattr(report, "readiness", None) or []


def text_section(report) -> List[str]:
    if getattr(report, "readiness", None) is None:
        return []
    out = ["Free-threading readiness"]
    for m in _modules(report):
        out.append(f"  {m['path']} ({m['module']}): {VERDICT_WORDS[m['verdict']]}")
        for s in m["state"]:
            out.append(f"      {s['name']} (line {s['line']}, {s['kind']}): guarded by {s['guarded_by']}")
    if not _modules(report):
        out.append("  no library modules")
    return out + [""]


def markdown_section(report, cell, inline) -> List[str]:
    if getattr(report, "readiness", None) is None:
        return []
    out = ["## Free-threading readiness", "", "| module | verdict | shared mutable state (guarded by) |",
           "|---|---|---|"]
    for m in _modules(report):
        state = "; ".join(f"{inline(s['name'])} line {s['line']} ({cell(s['guarded_by'])})" for s in m["state"]) or "none"
        out.append(f"| {inline(m['module'])} | **{VERDICT_WORDS[m['verdict']]}** | {state} |")
    return out + [""]


def sarif_properties(report) -> dict:
    """Run-level properties: the readiness list under ``concurlint/readiness``."""
    if getattr(report, "readiness", None) is None:
        return {}
    return {"concurlint/readiness": _modules(report)}

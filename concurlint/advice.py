"""Classification + dispatch sites -> the recommended concurrency model for each site.

The decision table is written out in docs/models.md; this module is its implementation.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

MODELS = ("serial", "threads", "processes", "asyncio", "interpreters", "free-threading", "distributed")


def _has_interpreters(version) -> bool:
    return version is None or version >= (3, 14)


def recommend(kind: str, releases_gil: Optional[bool], is_async: bool, current: str,
              version, free_threaded: bool) -> Tuple[str, List[str], str]:
    """(recommended, alternatives, reason) for work of ``kind`` handed to ``current``."""
    interp_ok = version is not None and version >= (3, 14)
    if current == "asyncio" or is_async:
        if kind in ("cpu", "mixed") and not releases_gil:
            return ("processes", ["threads"] if free_threaded else ["interpreters"] if interp_ok else [],
                    "CPU-bound work in a coroutine blocks the event loop; run it in a process pool via run_in_executor")
        return ("asyncio", [], "coroutines waiting on IO: asyncio interleaves many waits on one thread")
    if kind == "cpu" or kind == "mixed":
        if releases_gil:
            return ("threads", ["processes"],
                    "the CPU work runs in C code that releases the GIL, so threads run it in parallel without pickling")
        if free_threaded:
            return ("free-threading", ["processes"],
                    "pure-Python CPU work runs in parallel in threads on a free-threaded build (shared state needs locks)")
        alts = []
        if interp_ok:
            alts.append("interpreters")
        alts.append("free-threading")
        reason = ("pure-Python CPU work holds the GIL; threads serialise it, processes run it on every core"
                  if kind == "cpu" else
                  "the work mixes IO with pure-Python CPU work that holds the GIL; processes keep every core busy")
        return ("processes", alts, reason)
    if kind == "io":
        return ("threads", ["asyncio"],
                "IO-bound work waits with the GIL released; threads overlap the waits without pickling or process start-up")
    return (current, [], "no CPU- or IO-heavy work found; the current model is kept")


def recommendations(ctx) -> List[dict]:
    out = []
    version = ctx.config.version_tuple()
    ft = ctx.config.free_threaded
    for site in ctx.sites:
        fn = ctx.project.functions.get(site.function) if site.function else None
        summary = ctx.summaries.get(site.function) if site.function else None
        kind = summary.kind if summary else "unknown"
        rg = summary.releases_gil if summary else None
        is_async = bool(fn and fn.is_async)
        current = site.model
        if current == "distributed" or current == "serial":
            rec, alts, reason = current, [], f"{site.api} hands work to a distributed engine; kept"
            if current == "serial":
                reason = "a sequential backend runs the work serially"
        else:
            rec, alts, reason = recommend(kind, rg, is_async, current, version, ft)
        if rec == current and kind != "unknown":
            reason = f"fits: {reason}"
        out.append({
            "path": site.path, "line": site.call.line, "function": site.function,
            "current": current, "recommended": rec,
            "alternatives": [a for a in alts if a != rec],
            "reason": reason,
            "api": site.api,
            "kind": kind,
        })
    out.sort(key=lambda r: (r["path"], r["line"], r["function"] or ""))
    return out

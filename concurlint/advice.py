"""Classification + dispatch sites -> the recommended concurrency model for each site.

The decision table is written out in docs/models.md ("The decision table") and implemented in
``concurlint.decision_table``; this module applies it to each dispatch site, and the CCL1xx rules
(``concurlint/checks/model_fit.py``) report the sites where the table says the chosen model does
not fit.

Inputs per site: the model the code uses (``DispatchSite.model``), what the dispatched work does
(``Summary.kind`` / ``releases_gil`` of the resolved function, or the knowledge-base category of
a library callable), whether it is a coroutine, the start method of a process pool, and the
configured target: ``target-version`` (``interpreters`` only from 3.14, fork advice per 3.12/3.14)
and whether it is a free-threaded build (``3.13t``/``3.14t``: only then is ``free-threading``
recommended rather than offered as an alternative). A change of model is advised only when the
work can move (``concurlint.movable``) and the evidence is strong (``concurlint.strong_evidence``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from concurlint.analysis.facts import Call, ModuleFacts
from concurlint.analysis.hints import serves_requests
from concurlint.decision_table import (  # noqa: F401  (recommend, MODELS: this module's API too)
    HEAVY_CPU, MODELS, Target, Work, _name, recommend,
)
from concurlint.movable import _pool_of_one, _receiver, why_not_movable
from concurlint.strong_evidence import _local_io, reachable_io, sized_by, sizes_guessed, strong_evidence

def work_of(ctx, site) -> Work:
    """Classify what a site runs: a project function's summary, else the knowledge base's
    category of a library callable (``ex.submit(requests.get, url)`` is IO)."""
    fn_name = site.function
    fn = ctx.project.functions.get(fn_name) if fn_name else None
    summary = ctx.summaries.get(fn_name) if fn_name else None
    if summary is not None:
        blocking = None
        if fn is not None and fn.is_async and summary.blocking is not None:
            blocking = summary.blocking[1]
        light = (summary.kind == "cpu" and not summary.releases_gil and summary.py + summary.gil < HEAVY_CPU
                 and not summary.recursive)
        io_calls = reachable_io(ctx, fn_name) if summary.kind in ("io", "mixed") else []
        local = ctx.shared(_local_io)
        return Work(fn_name, summary.kind, summary.releases_gil, bool(fn and fn.is_async),
                    list(summary.evidence), blocking, light, io_calls,
                    any(not local.match(c) for c in io_calls))
    if fn_name:
        cat = ctx.project.kb.category(fn_name)
        if cat is not None:
            c = cat[0]
            ev = [f"{fn_name} ({c})"]
            if c in ("io", "async-io"):
                local = ctx.shared(_local_io)
                return Work(fn_name, "io", None, c == "async-io", ev, io_calls=[fn_name],
                            network_io=not local.match(fn_name))
            if c == "releases-gil":
                return Work(fn_name, "cpu", True, False, ev)
            if ctx.project.kb.declared(fn_name) is not None:  # the user says it is the heavy work
                return Work(fn_name, "cpu", False, False, [f"{fn_name} (cpu, declared in [tool.concurlint.knowledge])"])
            # one library call holding the GIL is light unless the library says otherwise
    return Work(fn_name)



def site_start_method(site) -> Optional[str]:
    return site.start_method or site.meta.get("start_method_default")


def advise_with_confidence(ctx, site) -> Tuple[Work, str, List[str], str, str]:
    """The decision table, then the gate: a change of model is advised only when the work can
    move and the evidence is strong (confidence high); otherwise the current model is kept and
    the reason says why."""
    work, rec, alts, reason = _table(ctx, site)
    if rec == site.model:
        conf = "low" if work.kind == "unknown" else "high"
        return work, rec, alts, reason, conf
    target = Target(ctx.config.version_tuple(), ctx.config.free_threaded)
    if site.model == "interpreters" and target.version is not None and not target.interpreters:
        return work, rec, alts, reason, "high"  # the current model does not exist there
    blocker = why_not_movable(ctx, site, work, rec) or strong_evidence(ctx, work, site.model, rec) \
        or _one_task(ctx, site, work, rec)
    if blocker is None:
        blocker = sizes_guessed(ctx, work, site.model, rec)
        if blocker is None:
            return work, rec, alts, reason + sized_by(ctx, work, site.model), "high"
        work.tentative = rec
    kept = f"keep {site.model}: {blocker}"
    if reason:  # what the kind of work alone would have said, so the evidence stays visible
        kept += f" (by the kind of work alone it would be {rec}: {reason})"
    return work, site.model, [a for a in [rec] + alts if a != site.model], kept, "medium"


def _one_task(ctx, site, work: Work, rec: str) -> Optional[str]:
    """CPU work handed to threads with no fan-out in sight: processes make CPU tasks faster only
    by running several at once, so a change to them is advised only where several are handed over
    together -- a map, a submit in a loop or comprehension that is not awaited in turn, other
    computing tasks of the same pool in the same function, a request handler (one call per
    request, many requests at a time), or a function its callers call in a loop. Otherwise the
    threads take one task off the caller, keep the loop free or overlap it with other waits, and
    the reason says which (27 threads -> processes changes on real code were labelled wrong, none
    right: pyprland's one palette per wallpaper change, krkn-lib's pool of one thread,
    hdl-checker's static check beside the compiler run, haystack's to_thread awaited in turn)."""
    if site.model != "threads" or rec not in ("processes", "interpreters") or work.kind != "cpu":
        return None
    if site.iterable is not None or site.style == "joblib" or not site.call.function:
        return None  # a map (joblib's Parallel over a generator): the fan-out is the call itself
    if site.call.loop >= 0 and not site.call.awaited:
        return None  # handed over once per item, each left running while the next is handed over
    if _pool_of_one(ctx.project, site, ("ThreadPoolExecutor", "ThreadPool")):
        # `pool = ThreadPoolExecutor(max_workers=1); return pool.submit(_monitor_pods, ...)`: a
        # worker thread that takes the work off the caller (krkn-lib's pod watch, rev117a's three
        # wrong changes); a pool of one process would not run it faster
        return ("its pool has one worker, made for this task: it takes the work off the calling thread, "
                "and a pool of one process would not run it any faster")
    caller = ctx.project.functions.get(site.call.function)
    if caller is not None and serves_requests(caller):
        return None  # once per request, beside the other requests' calls
    if site.call.awaited:
        # `colors = await asyncio.to_thread(get_dominant_colors, path)` once per wallpaper change:
        # the coroutine waits for this one call, which runs in a thread to keep the loop free, not
        # to run beside others (pyprland's palette: rev116d's two wrong model changes); in a loop,
        # each call ends before the next starts (haystack's evaluator)
        turn = " in turn, each ending before the next starts" if site.call.loop >= 0 else " where it is made"
        return (f"it is one call, awaited{turn}: the thread keeps the event loop free while it "
                "runs, and processes speed up CPU work only by running several such calls at once")
    pool = _pool_of(site)
    # tasks handed over together, each left running while the next is handed over (an awaited
    # call has ended before the next starts)
    others = [(other, work_of(ctx, other).kind) for other in ctx.sites_by_path.get(site.path, [])
              if other is not site and other.call.function == site.call.function
              and _pool_of(other) == pool and not other.call.awaited] if pool is not None else []
    if any(kind == "cpu" for _, kind in others):
        return None  # two computing tasks at once: processes would run them side by side
    if others:
        # the pool's other tasks wait (or do work of unknown kind): hdl-checker's static check of
        # one file beside the compiler run (rev113c's wrong model change)
        other, kind = others[0]
        return (f"it is one task here, handed to the pool beside {_name(other.function)} ({kind} work): "
                f"threads already overlap the two, and processes speed up CPU work only by running "
                f"several such tasks at once")
    if any(not call.awaited for _, call in ctx.shared(loop_callers).get(site.call.function, ())):
        return None  # its function is called once per item somewhere: a task per item
    return ("it is one task, handed over once (no loop, map or gather here hands over more, and no "
            "caller calls this function in a loop): the thread takes it off the caller, and processes "
            "speed up CPU work only by running several such tasks at once")


def loop_callers(ctx) -> Dict[str, List[Tuple[ModuleFacts, Call]]]:
    """function qualname -> the calls of it made inside a loop (anywhere in the project)."""
    project = ctx.project
    out: Dict[str, List[Tuple[ModuleFacts, Call]]] = {}
    for mod, call in project.index.calls("project-call"):
        if call.loop < 0 or call.function is None:
            continue
        t = project.call_target(call)
        if t in project.functions:
            out.setdefault(t, []).append((mod, call))
    return out


def _pool_of(site) -> Optional[str]:
    """The pool a site hands its task to, by the name it has there (``pool`` of
    ``pool.apply_async(...)``, or the executor the analysis resolved)."""
    if site.executor is not None and site.executor.text:
        return site.executor.text
    return _receiver(site) or None


def _table(ctx, site) -> Tuple[Work, str, List[str], str]:
    work = work_of(ctx, site)
    target = Target(ctx.config.version_tuple(), ctx.config.free_threaded)
    rec, alts, reason = recommend(
        work.kind, work.releases_gil, work.is_async, site.model, target.version, target.free_threaded,
        function=work.function, evidence=work.evidence, start_method=site_start_method(site),
        blocking=work.blocking, api=site.api, cloudpickle=site.cloudpickle or site.style == "joblib",
        light=work.light, network_io=work.network_io or not work.io_calls,
    )
    if not target.interpreters:
        alts = [a for a in alts if a != "interpreters"]
    if not target.free_threaded and rec == "free-threading":  # never recommended on a GIL build
        rec = "processes"
    seen = []
    for a in alts:
        if a != rec and a not in seen and a in MODELS:
            seen.append(a)
    return work, rec, seen, reason


def recommendations(ctx) -> List[dict]:
    out = []
    for site in ctx.sites:
        work, rec, alts, reason, conf = _advice_of(ctx, site)
        out.append({
            "path": site.path, "line": site.call.line, "function": site.function,
            "current": site.model, "recommended": rec,
            "alternatives": alts,
            "reason": reason,
            "api": site.api,
            "kind": work.kind,
            "confidence": conf,
        })
    out.sort(key=lambda r: (r["path"], r["line"], r["function"] or ""))
    return out


def _advice_table(ctx) -> dict:
    table = {}
    for site in ctx.sites:
        try:
            table[id(site)] = advise_with_confidence(ctx, site)
        except RecursionError:  # one pathological site must not take the whole report with it
            table[id(site)] = (Work(site.function), site.model, [],
                               "the work is too deeply nested to analyse; the current model is kept", "low")
    return table


def _advice_of(ctx, site) -> Tuple[Work, str, List[str], str, str]:
    table = ctx.shared(_advice_table) if hasattr(ctx, "shared") else {}
    return table.get(id(site)) or advise_with_confidence(ctx, site)


def ctx_advice(ctx, site) -> Tuple[Work, str, List[str], str]:
    """The advice for a site, computed once per run and shared by the CCL1xx rules."""
    return _advice_of(ctx, site)[:4]

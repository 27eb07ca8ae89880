"""Classification + dispatch sites -> the recommended concurrency model for each site.

The decision table is written out in docs/models.md ("The decision table"); this module is its
implementation, and the CCL1xx rules (``concurlint/checks/model_fit.py``) report the sites where
the table says the chosen model does not fit.

Inputs per site: the model the code uses (``DispatchSite.model``), what the dispatched work does
(``Summary.kind`` / ``releases_gil`` of the resolved function, or the knowledge-base category of
a library callable), whether it is a coroutine, the start method of a process pool, and the
configured target: ``target-version`` (``interpreters`` only from 3.14, fork advice per 3.12/3.14)
and whether it is a free-threaded build (``3.13t``/``3.14t``: only then is ``free-threading``
recommended rather than offered as an alternative).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, NamedTuple, Optional, Tuple

from concurlint.analysis.hints import is_memoised

MODELS = ("serial", "threads", "processes", "asyncio", "interpreters", "free-threading", "distributed")
# Pure-Python CPU weight (classify's units: one loop of unknown length doing arithmetic is 10, a
# nested one 100, a nested loop that only indexes/compares about 33) from which CPU work is worth
# moving to another model: more than one plain loop over data of unknown size.
HEAVY_CPU = 30.0


@dataclass
class Work:
    """What a dispatch site runs, as far as the analysis can tell."""

    function: Optional[str]
    kind: str = "unknown"  # cpu | io | mixed | unknown
    releases_gil: Optional[bool] = None
    is_async: bool = False
    evidence: List[str] = field(default_factory=list)
    blocking: Optional[str] = None  # a blocking call reachable from a coroutine
    light: bool = False  # CPU work too small to be worth moving (one loop over unknown data)
    io_calls: List[str] = field(default_factory=list)  # library IO calls reachable, sync only
    network_io: bool = False  # some of them wait on the network / other processes / timers


@dataclass
class Target:
    """The Python the advice is for."""

    version: Optional[Tuple[int, int]] = None  # None: not configured
    free_threaded: bool = False

    @property
    def interpreters(self) -> bool:
        """InterpreterPoolExecutor / concurrent.interpreters exist (3.14+). Unknown target: no."""
        return self.version is not None and self.version >= (3, 14)

    @property
    def label(self) -> str:
        if self.version is None:
            return "the target Python"
        return "%d.%d%s" % (self.version[0], self.version[1], "t" if self.free_threaded else "")


def _name(fn: Optional[str]) -> str:
    return (fn or "the work").rsplit(".", 1)[-1] + ("()" if fn else "")


def _evidence(work: Work) -> str:
    """The first piece of evidence, without its path prefix: '12 nested for loop over ...'."""
    if not work.evidence:
        return ""
    ev = work.evidence[0]
    head, sep, rest = ev.partition(" ")
    if sep and ":" in head:
        return f" (line {head.rsplit(':', 1)[-1]}: {rest})"
    return f" ({ev})"


def _engine(api: str) -> str:
    for key, label in (("dask", "dask"), ("ray", "ray"), ("MPI", "MPI (mpi4py)"), ("joblib", "joblib")):
        if key in api:
            return label
    return api or "the distributed engine"


def _cpu_alternatives(target: Target, exclude: str) -> List[str]:
    alts = []
    if target.interpreters:
        alts.append("interpreters")
    if not target.free_threaded:
        alts.append("free-threading")
    return [a for a in alts if a != exclude]


def start_method_note(start_method: Optional[str], target: Target) -> str:
    """What the start method in use means for this pool: fork / forkserver / spawn per target."""
    v = target.version
    if start_method == "fork":
        note = ("fork start method: workers start fast, but forking a process that runs threads can "
                "deadlock the child")
        if v is not None and v >= (3, 12):
            note += " (DeprecationWarning from 3.12)"
        return note + ", and fork is unavailable on Windows; prefer forkserver"
    if start_method == "forkserver":
        return ("forkserver start method: workers fork from a clean server process (safe with threads); "
                "work must pickle and the main module needs a __main__ guard")
    if start_method == "spawn":
        return ("spawn start method: each worker starts a fresh interpreter and re-imports the main "
                "module (slow start, picklable work, __main__ guard needed)")
    if start_method is None:  # "?": a context the analysis could not follow: say nothing
        if v is None:
            return ("default start method: fork on Linux before 3.14, forkserver from 3.14, spawn on "
                    "macOS and Windows; keep work picklable and the main module guarded")
        if v >= (3, 14):
            return ("default start method on Linux is forkserver from 3.14 (spawn on macOS/Windows): "
                    "work must pickle and the main module needs a __main__ guard")
        return ("default start method is fork on Linux before 3.14 (spawn on macOS/Windows): do not "
                "start threads before the workers fork, or use a forkserver context")
    return ""


class _Case(NamedTuple):
    """Everything one row of the decision table looks at."""

    target: Any
    name: Any
    ev: Any
    heavy_py: Any
    kind: Any
    releases_gil: Any
    is_async: Any
    current: Any
    version: Any
    free_threaded: Any
    start_method: Any
    blocking: Any
    api: Any
    cloudpickle: Any
    light: Any
    network_io: Any


def _row_light(c: _Case) -> Optional[Tuple[str, List[str], str]]:
    """Rows of the decision table: a little CPU work: whatever runs it, moving it would not pay for itself."""
    (target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
     start_method, blocking, api, cloudpickle, light, network_io) = c
    if light and kind == "cpu" and current not in ("asyncio",) and not is_async:
        return (current, [], f"fits: {name} does only light CPU work{ev}; another model would not pay for its overhead")
    return None


def _row_coroutine(c: _Case) -> Optional[Tuple[str, List[str], str]]:
    """Rows of the decision table: coroutines handed to the event loop."""
    (target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
     start_method, blocking, api, cloudpickle, light, network_io) = c
    if current == "asyncio" or (is_async and current not in ("threads", "processes", "interpreters", "distributed")):
        if heavy_py:
            if free_threaded:
                return ("free-threading", ["processes"],
                        f"{name} does pure-Python CPU work{ev} on the event loop, stalling every other "
                        f"coroutine; on a free-threaded build asyncio.to_thread runs it in parallel")
            return ("asyncio", ["processes"],
                    f"keep asyncio, but {name} does pure-Python CPU work{ev} on the event loop, stalling "
                    f"every other coroutine: a coroutine cannot run in a process pool, so move that work "
                    f"into a plain function and await loop.run_in_executor(ProcessPoolExecutor, ...) on it")
        if kind in ("cpu", "mixed"):
            return ("threads", ["processes"],
                    f"{name} does CPU work in C code that releases the GIL{ev}; asyncio.to_thread "
                    f"keeps the event loop free while it runs")
        if blocking:
            return ("asyncio", ["threads"],
                    f"{name} blocks the event loop in {blocking}; use an async client or wrap that "
                    f"call in asyncio.to_thread")
        if kind == "io":
            return ("asyncio", [],
                    f"fits: {name} awaits IO{ev}; asyncio overlaps many such waits on one thread")
        return ("asyncio", [], f"fits: {name} is a coroutine with no heavy CPU or blocking work found")
    return None


def _row_interpreters_missing(c: _Case) -> Optional[Tuple[str, List[str], str]]:
    """Rows of the decision table: interpreters before they exist."""
    (target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
     start_method, blocking, api, cloudpickle, light, network_io) = c
    if current == "interpreters" and version is not None and not target.interpreters:
        rec = "threads" if kind == "io" or (kind in ("cpu", "mixed") and releases_gil) else "processes"
        return (rec, [], f"{api or 'InterpreterPoolExecutor'} needs Python 3.14; the target is {target.label}")
    return None


def _row_pure_python(c: _Case) -> Optional[Tuple[str, List[str], str]]:
    """Rows of the decision table: pure-Python CPU work."""
    (target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
     start_method, blocking, api, cloudpickle, light, network_io) = c
    if heavy_py:
        what = "pure-Python CPU work" if kind == "cpu" else "IO mixed with heavy pure-Python CPU work"
        if current == "threads" or current == "serial":
            if free_threaded:
                return ("free-threading", ["processes"],
                        f"fits on {target.label}: {name} is {what}{ev}, and free-threaded threads run "
                        f"it on every core; state they share needs locks")
            verb = "threads run it one at a time" if current == "threads" else "it runs on one core"
            reason = (f"{name} is {what}{ev}: it holds the GIL, so {verb}; processes run it on "
                      f"every core")
            if current == "threads" and target.interpreters:
                reason += " (or interpreters, one GIL each)"
            return ("processes", _cpu_alternatives(target, "processes"), reason)
        if current == "processes":
            alts = _cpu_alternatives(target, "processes")
            if free_threaded:
                alts = ["free-threading"] + alts
            if free_threaded:
                reason = (f"fits: {name} is {what}{ev}; processes run it on every core, and on "
                          f"{target.label} threads would too, without pickling (shared state needs locks)")
            else:
                reason = f"fits: {name} is {what}{ev}; processes run it on every core despite the GIL"
            note = "" if cloudpickle else start_method_note(start_method, target)
            return ("processes", alts, reason + ("; " + note if note else ""))
        if current == "interpreters":
            if api == "Interpreter.call":
                return ("interpreters", ["processes"],
                        f"fits: {name} is {what}{ev} and the interpreter has its own GIL, but "
                        f"Interpreter.call runs it in the calling thread: use call_in_thread or an "
                        f"InterpreterPoolExecutor to run several at once")
            return ("interpreters", ["processes"],
                    f"fits: {name} is {what}{ev}; each interpreter has its own GIL, so they run in "
                    f"parallel in one process (arguments are still pickled; C extensions must support "
                    f"subinterpreters)")
        if current == "distributed":
            return ("distributed", ["processes"],
                    f"fits: {name} is {what}{ev}; {_engine(api)} runs it in worker processes across "
                    f"machines (on a single machine a process pool costs less)")
    return None


def _row_gil_released(c: _Case) -> Optional[Tuple[str, List[str], str]]:
    """Rows of the decision table: CPU work in C that releases the GIL."""
    (target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
     start_method, blocking, api, cloudpickle, light, network_io) = c
    if kind in ("cpu", "mixed") and releases_gil:
        if current == "threads":
            return ("threads", ["processes"],
                    f"fits: {name} does its CPU work in C code that releases the GIL{ev}, so threads "
                    f"run it in parallel without pickling")
        if current in ("processes", "interpreters"):
            return (current, ["threads"],
                    f"fits: {name} does its CPU work in C code that releases the GIL{ev}; threads would "
                    f"also run it in parallel and avoid pickling the data")
        if current == "serial":
            return ("threads", ["processes"],
                    f"{name} does its CPU work in C code that releases the GIL{ev}: threads run it in "
                    f"parallel")
        return (current, ["threads"], f"fits: {name} does CPU work in C code{ev}; {api} spreads it")
    return None


def _row_io_bound(c: _Case) -> Optional[Tuple[str, List[str], str]]:
    """Rows of the decision table: IO-bound work."""
    (target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
     start_method, blocking, api, cloudpickle, light, network_io) = c
    if kind == "io":
        if current == "threads":
            return ("threads", ["asyncio"],
                    f"fits: {name} waits on IO{ev}; threads overlap the waits (the GIL is released "
                    f"while waiting); asyncio scales further for thousands of connections")
        if current in ("processes", "interpreters"):
            what = "process start-up and pickling" if current == "processes" else "interpreter start-up and pickling"
            if not network_io:
                # a pool of processes over local files is nearly always there for what happens
                # between the reads (parsing, converting, compressing), which the classification
                # cannot weigh: on real code the move to threads was wrong (streaming's JSONL-to-
                # shards converter), so the model is kept and threads are the alternative
                return (current, ["threads"],
                        f"kept: {name} reads and writes local files{ev}; file IO releases the GIL, so "
                        f"threads would overlap it without {what}, but whatever it parses or converts "
                        f"between reads holds the GIL, and its weight is not known here")
            return ("threads", ["asyncio"],
                    f"{name} waits on IO{ev}: {what} buy nothing, as the GIL is released while "
                    f"waiting; a thread pool overlaps the waits")
        if current == "distributed":
            return ("threads", ["asyncio", "distributed"],
                    f"{name} waits on IO{ev}; a cluster adds scheduling and serialisation, threads or "
                    f"asyncio overlap the waits on one machine")
        if current == "serial":
            return ("threads", ["asyncio"], f"{name} waits on IO{ev}: threads overlap the waits")
    return None


def _row_nothing_heavy(c: _Case) -> Optional[Tuple[str, List[str], str]]:
    """Rows of the decision table: nothing heavy found."""
    (target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
     start_method, blocking, api, cloudpickle, light, network_io) = c
    if current == "distributed":
        return ("distributed", [], f"{_engine(api)} runs the work on its workers; no heavy work was found to "
                                   f"judge it by")
    if current == "serial":
        return ("serial", [], "a sequential backend runs the work serially; no heavy work found")
    return (current, [], f"no CPU- or IO-heavy work found in {name}; the current model is kept")


# in order: the first row that answers decides
_ROWS = (_row_light, _row_coroutine, _row_interpreters_missing, _row_pure_python, _row_gil_released,
         _row_io_bound, _row_nothing_heavy)


def recommend(kind: str, releases_gil: Optional[bool], is_async: bool, current: str,
              version, free_threaded: bool, *, function: Optional[str] = None,
              evidence: Optional[List[str]] = None, start_method: Optional[str] = None,
              blocking: Optional[str] = None, api: str = "",
              cloudpickle: bool = False, light: bool = False,
              network_io: bool = True) -> Tuple[str, List[str], str]:
    """(recommended, alternatives, reason) for work of ``kind`` handed to ``current``.

    The rows of the decision table in docs/models.md, one ``_row_*`` function per group.
    """
    target = Target(tuple(version) if version else None, free_threaded)
    work = Work(function, kind, releases_gil, is_async, list(evidence or []), blocking)
    name = _name(function)
    ev = _evidence(work)
    heavy_py = kind in ("cpu", "mixed") and not releases_gil
    c = _Case(target, name, ev, heavy_py, kind, releases_gil, is_async, current, version, free_threaded,
              start_method, blocking, api, cloudpickle, light, network_io)
    for row in _ROWS:
        hit = row(c)
        if hit is not None:
            return hit
    raise AssertionError("the last row always answers")


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


def _local_io(ctx):
    from concurlint.knowledge import Matcher

    return Matcher(ctx.project.kb.table("dispatch").get("local_io", {}).get("calls", []))


def _io_index(ctx) -> dict:
    return {}


def reachable_io(ctx, qualname: str) -> List[str]:
    """The library IO calls (knowledge-base category ``io``) reachable from a project function
    through synchronous calls, in the order a depth-first walk meets them, memoised per run.
    Iterative: a chain of thousands of helpers must not exhaust the interpreter's stack."""
    memo = ctx.shared(_io_index) if hasattr(ctx, "shared") else {}
    if qualname in memo:
        return memo[qualname]
    project = ctx.project
    out: List[str] = []
    present: set = set()
    seen = {qualname}
    fn = project.functions.get(qualname)
    stack = [iter(project.calls_of(fn))] if fn is not None else []
    while stack:
        call = next(stack[-1], None)
        if call is None:
            stack.pop()
            continue
        t = project.call_target(call)
        if t is None:
            continue
        if t in project.functions and not _declared_io(project, t):
            if project.functions[t].is_async and not call.awaited:
                continue
            if t in memo:
                found = memo[t]
            elif t in seen:
                continue
            else:
                seen.add(t)
                stack.append(iter(project.calls_of(project.functions[t])))
                continue
        else:
            cat = project.kb.category(t)
            found = [t] if cat is not None and cat[0] == "io" else []
        for c in found:
            if c not in present:
                present.add(c)
                out.append(c)
    if _declared_io(project, qualname) and qualname not in present:
        out.insert(0, qualname)
    memo[qualname] = out
    return out


def _declared_io(project, qualname: str) -> bool:
    """A project function the user's knowledge declares ``io``: it is the IO call itself."""
    declared = project.kb.declared(qualname)
    return declared is not None and declared[0] == "io"


def site_start_method(site) -> Optional[str]:
    return site.start_method or site.meta.get("start_method_default")


# ---------------------------------------------------------------- can the work move? how sure?
# CPU weight (classify's units) from which a change of model is advised at all: nested loops over
# the data, or CPU-heavy library calls in a loop. One loop over data of unknown size is not
# evidence enough to tell a maintainer to restructure their code.
STRONG_CPU = HEAVY_CPU
SERVICE_APIS = ("threading.Thread", "threading.Thread subclass", "multiprocessing.Process",
                "multiprocessing.Process subclass")


def _service_loop(fn) -> bool:
    """A thread or process body built around ``while`` loops: a service, not a batch of tasks."""
    return fn is not None and any(loop.desc.startswith("while") for loop in fn.loops)


def _writes_state(fn) -> Optional[str]:
    """The first state outliving the call that ``fn`` changes (``self.x``, a module global)."""
    if fn is None:
        return None
    for acc in fn.accesses:
        if acc.kind in ("write", "mutate", "rmw"):
            name = acc.target.split(":", 1)[-1].rsplit(".", 1)[-1]
            return f"self.{name}" if acc.target.startswith("attr:") and fn.cls else name
    return None


def why_not_movable(ctx, site, work: Work, rec: str) -> Optional[str]:
    """Why the work cannot move from ``site.model`` to ``rec`` (None when it can)."""
    fn = ctx.project.functions.get(work.function) if work.function else None
    if rec in ("processes", "interpreters"):
        if work.is_async:
            return f"{_name(work.function)} is a coroutine, and a coroutine cannot run in a process pool"
        if site.api in SERVICE_APIS and _service_loop(fn):
            return (f"{_name(work.function)} is a long-running service loop (a `while` loop), not a "
                    f"batch of tasks")
        memo = next((d for d in fn.decorators if is_memoised([d])), None) if fn is not None else None
        if memo is not None:
            return (f"{_name(work.function)} is memoised ({memo.split('(')[0]}): in a "
                    f"child process each call fills the child's cache, and the calling process's "
                    f"cache, which spares the work on a repeat, stays empty")
        thread_body = site.api == "threading.Thread subclass"
        state = None if thread_body else _writes_state(fn)  # a Thread's run() keeps its result on self
        if state is not None:
            return (f"{_name(work.function)} changes {state}, and a child process would change only "
                    f"its own copy")
    if site.model == "processes" and rec != "processes":
        if site.api.startswith("multiprocessing.Process"):
            return "a dedicated process is usually there for isolation, which threads do not give"
    return None


def strong_evidence(ctx, work: Work, current: str, rec: str) -> Optional[str]:
    """Why the evidence is too weak to advise ``current`` -> ``rec`` (None when it is strong)."""
    summary = ctx.summaries.get(work.function) if work.function else None
    if rec in ("processes", "interpreters") and work.kind in ("cpu", "mixed"):
        if summary is None:
            return None  # a library callable the knowledge base calls CPU-heavy
        if summary.py + summary.gil < STRONG_CPU and not summary.recursive:
            return "its CPU work is one loop over data of unknown size"
        if work.kind == "mixed":
            return "it also waits on IO"
        return None
    if rec == "threads" and current in ("processes", "interpreters", "distributed") and work.kind == "io":
        if not work.io_calls and summary is not None:
            return "no library IO call was found"
        if summary is not None and summary.py >= CPU_EVIDENCE:
            return "it also does CPU work"
        return None
    return None


CPU_EVIDENCE = 10.0


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
    blocker = why_not_movable(ctx, site, work, rec) or strong_evidence(ctx, work, site.model, rec)
    if blocker is None:
        return work, rec, alts, reason, "high"
    kept = f"keep {site.model}: {blocker}"
    if reason:  # what the kind of work alone would have said, so the evidence stays visible
        kept += f" (by the kind of work alone it would be {rec}: {reason})"
    return work, site.model, [a for a in [rec] + alts if a != site.model], kept, "medium"


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

"""The decision table of docs/models.md: the kind of work and the model it is handed to -> the
recommended model, the alternatives and the reason.

Pure: it knows nothing of projects or sites. ``concurlint.advice`` works out what each dispatch
site runs (``Work``) and gates every change of model on whether the work can move and how strong
the evidence is; the rows here say what the kind of work alone calls for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, NamedTuple, Optional, Tuple

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
    # the model the kind of work points to, kept because the evidence is loops over data of a
    # size the code does not show (strong_evidence.sizes_guessed): CCL101 still names the work
    tentative: Optional[str] = None


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

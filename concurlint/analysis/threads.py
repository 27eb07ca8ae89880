"""Which functions run outside the main thread (or in a child process), and how they got there.

Built once per run from the dispatch sites (``analysis.dispatch``) and the project call graph, and
memoised with ``ctx.shared(thread_map)`` so every rule that needs it pays once.

- An *entry* is a dispatch site handing a project function to threads (``threading.Thread``
  targets, ``Thread`` subclasses' ``run``, thread pools, ``ThreadPool``, ``asyncio.to_thread``,
  ``run_in_executor`` with ``None`` or a thread pool) or to processes (process pools,
  ``multiprocessing.Process``).
- An entry is *repeated* when the same code can run in several threads at once: a ``map``, a site
  inside a loop (unless each turn awaits or joins its thread), a site in a function that is itself
  called in a loop (up to three callers up, e.g. a server's per-request ``process_request``), or a
  function dispatched from several sites (a site in an after-fork hook, which restarts the thread
  in the child, does not count with the parent's sites).
- Every function reachable from an entry through project calls is *reached*; a call made while a
  lock is held protects everything below it, so ``unlocked`` only keeps what is reachable through
  call edges made with no lock held.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from concurlint.knowledge import Matcher
from concurlint.analysis.facts import Function
from concurlint.analysis.hints import loops_within, stored_names
from concurlint.analysis.walk import Walk, drive

AFTER_FORK = ("os.register_at_fork", "multiprocessing.util.register_after_fork")
AFTER_FORK_NAMES = frozenset({"register_after_fork"})
THREAD_MODELS = ("threads",)
PROCESS_MODELS = ("processes",)
# objects that are safe to share between threads (or meant to be shared between processes)
THREAD_SAFE_TYPES = frozenset({
    "queue.Queue", "queue.SimpleQueue", "queue.LifoQueue", "queue.PriorityQueue",
    "threading.local", "contextvars.ContextVar", "threading.Event", "threading.Lock", "threading.RLock",
    "threading.Condition", "threading.Semaphore", "threading.BoundedSemaphore", "threading.Barrier",
    "multiprocessing.Queue", "multiprocessing.JoinableQueue", "multiprocessing.SimpleQueue",
    "multiprocessing.Value", "multiprocessing.Array", "multiprocessing.Manager",
    "multiprocessing.managers.SyncManager", "multiprocessing.Event", "multiprocessing.Lock",
    "asyncio.Queue", "weakref.WeakValueDictionary", "weakref.WeakKeyDictionary", "weakref.WeakSet",
})


@dataclass
class Entry:
    """One dispatch site that runs project code in another thread or process."""

    key: int
    site: object  # DispatchSite
    function: str
    model: str  # "threads" | "processes"
    repeated: bool
    bound_class: Optional[str] = None  # the instance's class when a bound method is dispatched
    short: str = ""
    # repeated only because the method that starts `self.work` in a thread is called again and
    # again (a `start()` called per new object): each run has its own object, so the object's
    # own attributes are not shared between those threads
    per_object: bool = False

    def repeated_on(self, instance_state: bool) -> bool:
        return self.repeated and not (instance_state and self.per_object)

    def describe(self) -> str:
        """``'crawl' (ThreadPoolExecutor.map at app.py:30)``"""
        return f"'{self.short}' ({self.site.api} at {self.site.path}:{self.site.call.line})"

    def related(self, message: str = "") -> dict:
        call = self.site.call
        return {"path": self.site.path, "line": call.line, "col": call.col,
                "message": message or f"'{self.short}' is started here with {self.site.api}"}


@dataclass
class Reach:
    """How a function is reached from one entry: the chain of calls from the entry function."""

    entry: Entry
    chain: Tuple[str, ...]
    unlocked: bool  # reachable through call edges made with no lock held


@dataclass
class ThreadMap:
    entries: List[Entry] = field(default_factory=list)
    thread: Dict[str, List[Reach]] = field(default_factory=dict)
    process: Dict[str, List[Reach]] = field(default_factory=dict)
    # callbacks run in a freshly forked child, where no other thread exists
    fork_child: set = field(default_factory=set)

    def runs_in_thread(self, qualname: Optional[str]) -> bool:
        return bool(qualname) and qualname in self.thread

    def thread_reaches(self, qualname: str, unlocked_only: bool = False) -> List[Reach]:
        return [r for r in self.thread.get(qualname, ()) if r.unlocked or not unlocked_only]

    def process_reaches(self, qualname: str) -> List[Reach]:
        return self.process.get(qualname, [])


def short_name(qualname: Optional[str], project=None) -> str:
    """``Class.method`` or ``function`` for messages."""
    if not qualname:
        return "?"
    fn = project.functions.get(qualname) if project is not None else None
    if fn is not None:
        if fn.cls:
            return f"{fn.cls.rsplit('.', 1)[-1]}.{fn.name}"
        return fn.name
    parts = qualname.replace(".<locals>", "").split(".")
    # Class.method reads better than the bare method name
    if len(parts) >= 2 and parts[-2][:1].isupper() and not parts[-2].isupper():
        return ".".join(parts[-2:])
    return parts[-1]


def chain_text(chain: Tuple[str, ...], project=None) -> str:
    return " -> ".join(short_name(q, project) for q in chain)


def call_graph(project, locked: Optional[Set[str]] = None) -> Dict[str, List[Tuple[str, bool]]]:
    """function -> [(callee, called with a lock held)] for callees defined in the project; a
    callee whose decorator holds a lock around it (``locked``: ``lock_decorated``, computed here
    when not given) is always called with one."""
    graph: Dict[str, List[Tuple[str, bool]]] = {}
    # diagnostics-only code (warnings, tracebacks: knowledge base `cold-paths`) is not followed
    cold = Matcher(project.kb.table("calls").get("cold-paths", []))
    if locked is None:
        locked = lock_decorated(project)
    for q, calls in project.edges().items():
        graph[q] = [(t, bool(call.locks) or t in locked) for call, t in calls if t != q and not cold.match(t)]
    return graph


def lock_decorated(project) -> Set[str]:
    """Functions whose project decorator runs them with a lock held: a function nested in the
    decorator calls one of its enclosing functions' parameters inside ``with lock:``
    (``def wrapper(*a, **kw): with lock: return func(*a, **kw)``: fromager's
    ``@with_thread_lock()``, rev124c's CCL202 fp)."""
    wrappers: Set[str] = set()
    for q, fn in project.functions.items():
        if fn.parent is None:
            continue
        outer = [project.functions.get(p) for p in _enclosing(q)]
        params = {p for f in outer if f is not None for p in f.params}
        # `with self._lock:` in a wrapper whose `self` has no class the analysis knows: a lock by
        # its name (mockupdb's @_synchronized, rev128c's CCL202 fp)
        named = [(a, b) for text, a, b in getattr(fn, "with_blocks", ()) if _LOCK_NAME.search(text)]
        if any(c.text in params and (c.locks or any(a <= c.line <= b for a, b in named))
               for c in project.calls_of(fn)):
            wrappers.update(p for p in _enclosing(q) if p in project.functions)
    if not wrappers:
        return set()
    return {q for q, fn in project.functions.items() if any(d in wrappers for d in fn.decorators)}


_LOCK_NAME = re.compile(r"(lock|mutex)\w*$", re.I)


def _enclosing(qualname: str) -> List[str]:
    """The functions a nested function sits in, innermost last (``a.<locals>.b.<locals>.c``:
    ``a``, ``a.<locals>.b``)."""
    parts = qualname.split(".<locals>.")
    return [".<locals>.".join(parts[:i]) for i in range(1, len(parts))]


def _callers(project) -> Dict[str, List[Tuple[Optional[str], int]]]:
    """function -> [(calling function, loop index of the call)]"""
    out: Dict[str, List[Tuple[Optional[str], int]]] = {}
    by_name: Dict[str, List[str]] = {}
    for q, fn in project.functions.items():
        if fn.cls:
            by_name.setdefault(fn.name, []).append(q)
    for _, call in project.index.calls("project-call", "self-method"):
        t = project.call_target(call)
        if t in project.functions:
            out.setdefault(t, []).append((call.function, call.loop))
        # self.m() in a base class reaches a mixin's override of m when some project class
        # inherits from both (socketserver.ThreadingMixIn.process_request)
        if call.method and call.receiver is not None and call.receiver.kind == "instance" and call.function:
            caller = project.functions.get(call.function)
            if caller is None or not caller.cls or call.receiver.text not in (caller.params[:1] or ["self"]):
                continue
            for q in by_name.get(call.method, ()):
                if q != t and _share_subclass(project, caller.cls, project.functions[q].cls):
                    out.setdefault(q, []).append((call.function, call.loop))
    return out


def _share_subclass(project, a: Optional[str], b: Optional[str]) -> bool:
    if not a or not b:
        return False
    # {class: project classes that are subclasses of it}, built once per project: asking
    # is_subclass for every class at every self.m() call is quadratic (minutes on the stdlib)
    index = getattr(project, "_subclasses_index", None)
    if index is None:
        index = {}
        for k in project.classes:
            for base in _ancestors(project, k):
                index.setdefault(base, set()).add(k)
        project._subclasses_index = index
    return not index.get(a, set()).isdisjoint(index.get(b, set()))


def _ancestors(project, cls: str) -> set:
    """Every name ``project.is_subclass(cls, name)`` holds for."""
    out = set()
    todo = [cls]
    while todo:
        c = todo.pop()
        if not c or c in out:
            continue
        out.add(c)
        info = project.classes.get(c)
        if info is not None:
            todo.extend(project.resolve(b) for b in info.bases)
    return out


def _serial_pool(site) -> Optional[tuple]:
    """The pool a task is handed to, when it has a single worker (``max_workers=1``)."""
    pool = site.executor if site.executor is not None else site.call.receiver
    if pool is None or pool.kind != "instance" or pool.meta.get("max_workers") != "1":
        return None
    return (pool.qualname, pool.line, pool.col, pool.text)


def _called_repeatedly(fn: Optional[str], callers) -> bool:
    return drive(_repeated_walk(fn, callers, 3, set()))


def _repeated_walk(fn: Optional[str], callers, depth: int, seen: set) -> Walk:
    if fn is None or depth <= 0:
        return False
    if fn in seen:
        return False
    seen.add(fn)
    for caller, loop in callers.get(fn, ()):
        if loop >= 0:
            return True
        if (yield _repeated_walk(caller, callers, depth - 1, seen)):
            return True
    return False


def _bound_class(project, v) -> Optional[str]:
    if v is not None and v.kind == "partial" and v.inner:
        v = v.inner[0]
    if v is None or v.kind != "bound-method" or not v.inner:
        return None
    return project.value_type(v.inner[0])


def thread_target_arg(project, cls: Optional[str], call):
    """The ``target`` a ``Thread`` construction hands in: the keyword, or the second positional
    argument (``Thread(group, target)``) when the class takes ``Thread.__init__``'s parameters --
    not a subclass with an ``__init__`` of its own (``IrisSystemThread("restart", ioloop, cb)``)."""
    target = call.kwargs.get("target")
    if target is not None or len(call.args) < 2:
        return target
    if cls and cls != "threading.Thread" and project.find_method(cls, "__init__") in project.functions:
        return None
    return call.args[1]


def _constructor_target(project, site) -> Tuple[Optional[str], Optional[object]]:
    """``Thread(target=f).start()`` when ``Thread`` is a project class: ``f`` (and its value)."""
    v = site.callable
    if v is None or not v.line:
        return None, None
    for call in site.module.calls:
        if call.line == v.line and call.col == v.col:
            target = thread_target_arg(project, project.resolve(call.target), call)
            return project.function_of_value(target), target
    return None, None


def _on_own_self(project, site, v) -> bool:
    """``Thread(target=self._daemon)`` in a method of the object's own class."""
    if v is not None and v.kind == "partial" and v.inner:
        v = v.inner[0]
    starter = project.functions.get(site.call.function or "")
    if v is None or v.kind != "bound-method" or not v.inner or starter is None or not starter.cls:
        return False
    return v.inner[0].text == (starter.params[:1] or ["self"])[0]


def build(ctx) -> ThreadMap:
    project = ctx.project
    tm = ThreadMap()
    callers = _callers(project)
    locked = lock_decorated(project)
    graph = call_graph(project, locked)
    per_function: Dict[Tuple[str, bool], int] = {}
    candidates = []
    for _, call in project.index.calls("after-fork"):
        t = project.call_target(call)
        if t in AFTER_FORK or (t in project.functions and t.rsplit(".", 1)[-1] in AFTER_FORK_NAMES):
            # (a copy of multiprocessing in the project itself: multiprocess, billiard)
            values = [call.kwargs[k] for k in ("after_in_child",) if k in call.kwargs]
            if t != "os.register_at_fork":
                values += list(call.args[1:2]) + [call.kwargs[k] for k in ("func",) if k in call.kwargs]
            for v in values:
                q = project.function_of_value(v)
                if q in project.functions:
                    tm.fork_child.add(q)
    for site in ctx.sites:
        if site.model not in THREAD_MODELS + PROCESS_MODELS:
            continue
        fn, callable_ = site.function, site.callable
        if fn in ("threading.Thread.run", "multiprocessing.process.BaseProcess.run"):
            # analysing threading.py itself makes Thread a project class: the work is the target
            fn, callable_ = _constructor_target(project, site)
        if fn not in project.functions:
            continue
        # a thread started again in an after-fork hook replaces, in the child, the one the
        # parent started: the two never run in one process
        key = (fn, site.call.function in tm.fork_child)
        if site.call.function != fn or site.call.loop >= 0:
            # a function that starts its own next run (`Timer(120, ping).start()` at the end of
            # ping) is a chain of runs one after another, not a second thread beside the first
            per_function[key] = per_function.get(key, 0) + 1
        candidates.append((site, fn, callable_))
    serial: Dict[tuple, int] = {}  # a single-worker pool -> the key its tasks share
    for i, (site, fn, callable_) in enumerate(candidates):
        repeated = (site.style == "map" or (site.call.loop >= 0 and not _awaited_in_turn(site)
                                            and not _joined_in_turn(project, site))
                    or per_function.get((fn, site.call.function in tm.fork_child), 0) > 1
                    or _called_repeatedly(site.call.function, callers))
        pool = _serial_pool(site)
        key = i
        if pool is not None:
            # ThreadPoolExecutor(max_workers=1): its tasks run one after another on one thread,
            # whichever call submitted them -- one thread, never several at once
            repeated = False
            key = serial.setdefault(pool, i)
        bound = _bound_class(project, callable_) if callable_ is not site.call.receiver else None
        per_object = (repeated and bound is not None and site.style != "map" and site.call.loop < 0
                      and per_function.get((fn, site.call.function in tm.fork_child), 0) <= 1
                      and _on_own_self(project, site, callable_))
        entry = Entry(key, site, fn, "threads" if site.model in THREAD_MODELS else "processes",
                      repeated, bound, short_name(fn, project), per_object)
        tm.entries.append(entry)
        target = tm.thread if entry.model == "threads" else tm.process
        _walk(entry, graph, target, locked)
    return tm


def _awaited_in_turn(site) -> bool:
    """``while not stop.is_set(): await loop.run_in_executor(None, reach.check)``: the coroutine
    waits for each turn's thread before the next turn starts it, so its loop runs one at a time
    (firewalla-snmp-proxy's ping loop, rev157c's medium fps). A coroutine run by several tasks at
    once is repeated by its callers, not by this loop."""
    return site.call.awaited and site.model in THREAD_MODELS


def _joined_in_turn(project, site) -> bool:
    """A thread made in a loop and joined later in the same turn (``while not self._stopping:
    self._message_thread = Thread(target=...); self._message_thread.start(); ...;
    self._message_thread.join()``): each turn's thread ends before the next starts, so the loop
    runs one at a time (pycomfoconnect's reconnect loop, rev154b's medium fp)."""
    fn = project.functions.get(site.call.function or "")
    if fn is None or site.model not in THREAD_MODELS:
        return False
    names = _thread_names(fn, site.call)
    made = (site.call.line, site.call.col)
    turn = loops_within(fn, site.call.loop)
    # the joined object: by the name it is kept under, or as the instance this call made
    return any(c.method == "join" and c.receiver is not None and c.loop in turn and c.line > site.call.line
               and not c.in_handler and (c.receiver.text in names or (c.receiver.line, c.receiver.col) == made)
               for c in project.calls_of(fn))


def _thread_names(fn: Function, call) -> Set[str]:
    """The names the thread a site makes is kept under: ``t = Thread(...)``, ``self._t =
    Thread(...)`` (then ``t.start()``), or the receiver of ``t.start()`` itself."""
    if call.method == "start" and call.receiver is not None:
        return {call.receiver.text}
    return stored_names(fn, call)


def _walk(entry: Entry, graph, target: Dict[str, List[Reach]], locked: Set[str]) -> None:
    # breadth-first, so the recorded chain is a shortest one; a function first reached under a
    # lock is revisited if it is later reached without one
    best: Dict[str, Reach] = {}
    start = Reach(entry, (entry.function,), entry.function not in locked)
    best[entry.function] = start
    todo = deque([start])
    while todo:
        r = todo.popleft()
        for callee, locked in graph.get(r.chain[-1], ()):
            unlocked = r.unlocked and not locked
            old = best.get(callee)
            if old is not None and (old.unlocked or not unlocked):
                continue
            nr = Reach(entry, r.chain + (callee,), unlocked)
            best[callee] = nr
            todo.append(nr)
    for q, r in best.items():
        target.setdefault(q, []).append(r)


def thread_map(ctx) -> ThreadMap:
    """The memoised map for this run: ``ctx.shared(thread_map)``."""
    return build(ctx)


# ------------------------------------------------------------------ shared state helpers
def state_info(project, target: str) -> Tuple[str, Optional[str], Optional[int], Optional[object]]:
    """(description, path, line, value) of the definition of a shared-state key."""
    kind, _, name = target.partition(":")
    if kind == "global":
        mod_name, _, short = name.rpartition(".")
        mod = project.by_module.get(mod_name)
        g = mod.globals.get(short) if mod is not None else None
        if g is not None and mod is not None:
            return f"module global '{short}'", mod.path, g.line, g.value
        return f"module global '{short}'", None, None, None
    cls_name, _, attr = name.rpartition(".")
    info = project.classes.get(cls_name)
    cls_short = cls_name.rsplit(".", 1)[-1]
    if info is not None:
        v = info.attrs.get(attr)
        fn = next(iter(info.methods.values()), None)
        mod = project.function_module.get(fn) if fn else None
        if mod is None:
            mod = next((m for m in project.modules if cls_name in m.classes), None)
        if v is not None and mod is not None:
            level = "class attribute" if is_class_level(project, cls_name, attr) else "attribute"
            return f"{level} '{cls_short}.{attr}'", mod.path, v.line or info.line, v
        if mod is not None:
            return f"attribute '{cls_short}.{attr}'", mod.path, info.line, None
    return f"attribute '{cls_short}.{attr}'", None, None, None


# declarations of a per-instance field in the class body (dataclasses, attrs, pydantic)
FIELD_FACTORIES = frozenset({"dataclasses.field", "field", "attr.ib", "attr.attrib", "attrs.field", "attr.field",
                             "pydantic.Field", "pydantic.fields.Field", "Field", "msgspec.field"})


def is_class_level(project, cls_name: str, attr: str) -> bool:
    """Is ``attr`` assigned in the class body (shared by every instance), not in a method?"""
    info = project.classes.get(cls_name)
    if info is None or attr not in info.attrs:
        return False
    value = info.attrs[attr]
    line = value.line
    if not line:
        return False
    if value.qualname in FIELD_FACTORIES or value.text.split("(", 1)[0] in FIELD_FACTORIES:
        return False  # `errors: list = field(default_factory=list)`: each instance gets its own
    for q in info.methods.values():
        fn: Optional[Function] = project.functions.get(q)
        if fn is not None and fn.line <= line <= fn.end_line:
            return False
    return True


def is_thread_safe_value(project, value) -> bool:
    if value is None:
        return False
    t = project.value_type(value) or (value.qualname if value.kind in ("instance", "call") else None)
    if not t:
        return False
    if t in THREAD_SAFE_TYPES:
        return True
    # multiprocessing.Manager().dict() and friends: proxies
    return t.startswith("multiprocessing.managers.") or t.endswith("Proxy")

"""Where a program forks, which start method is in effect, and which threads run at that moment.

Used by the CCL3xx rules. Everything is computed from the facts, once per run (``ctx.shared``):

- *fork points*: ``os.fork()``/``os.forkpty()``/``pty.fork()``, and the calls that launch worker
  processes (``Process.start()``, ``Pool()``, ``ProcessPoolExecutor.submit/map``) with the start
  method the code asks for (``get_context('spawn')``, ``mp_context=``, ``set_start_method`` in
  the same module) or ``None`` for the platform default;
- *thread starts*: the calls listed in ``rules/knowledge/threads.toml``, each with the position in
  its function where it is stopped again (``join()``, the end of a ``with`` block, ``shutdown()``)
  or never;
- ``running_at``: a thread still running when a given call executes: started earlier in the same
  function, left running by a function called earlier, by a caller before its call (up the call
  graph), by module-level code of an imported project module, or because the function itself is
  run by a thread.

Positions are (line, col) inside one function (or one module's top level): source order, which is
execution order for straight-line code. Loops that fork and later start a thread are not modelled.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from concurlint.analysis.facts import FORK_SOMETIMES, Call, ModuleFacts
from concurlint.analysis.hints import exclusive, guard_holds, is_test_code
from concurlint.analysis.platforms import WASM, WINDOWS
from concurlint.analysis.walk import Walk, drive

INF = (10 ** 9, 0)
Pos = Tuple[int, int]
Key = Tuple[str, str]  # ("fn", qualname) | ("module", module path)

OS_FORKS = {"os.fork": "os.fork()", "os.forkpty": "os.forkpty()", "pty.fork": "pty.fork()"}
POOL_CTORS = ("multiprocessing.Pool", "multiprocessing.pool.Pool", "multiprocessing.context.BaseContext.Pool")
PPE_LAUNCH = ("concurrent.futures.ProcessPoolExecutor.submit", "concurrent.futures.ProcessPoolExecutor.map")
PROCESS_START = "multiprocessing.Process.start"
SPAWN_LIKE = ("spawn", "forkserver")
SET_START_METHOD = ("multiprocessing.set_start_method", "multiprocessing.context.BaseContext.set_start_method")


@dataclass
class ThreadStart:
    module: ModuleFacts
    call: Call
    what: str
    end: Pos = INF
    # how sure a multiprocessing fork while it runs is a hazard (threads.toml `mp-fork-confidence`:
    # a multiprocessing queue's feeder thread, whose state multiprocessing resets in its children)
    mp_fork_confidence: str = "high"

    @property
    def pos(self) -> Pos:
        return (self.call.line, self.call.col)

    def related(self, message: str = "") -> dict:
        return {"path": self.module.path, "line": self.call.line, "col": self.call.col,
                "message": message or f"thread started here: {self.what}"}


@dataclass
class ForkPoint:
    module: ModuleFacts
    call: Call
    kind: str  # "os" | "multiprocessing"
    what: str  # for messages: "os.fork()", "multiprocessing.Pool()"
    start_method: Optional[str]  # explicit method; None = platform default; "?" = unknown

    @property
    def key(self) -> Key:
        return key_of(self.module, self.call)


@dataclass
class Running:
    """A thread running at some point, and how we know."""

    start: ThreadStart
    via: List[dict] = field(default_factory=list)  # related locations explaining the path

    def describe(self) -> str:
        return f"{self.start.what} at {self.start.module.path}:{self.start.call.line}"


def key_of(module: ModuleFacts, call: Call) -> Key:
    return ("fn", call.function) if call.function else ("module", module.path)


def literal(text: str) -> Optional[str]:
    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return v if isinstance(v, str) else None


# what stops the threads of an object a helper made and returned (a pool's handler threads, a
# started thread): `close()` alone does not, its `join()` then does
_STOPS = frozenset({"join", "terminate", "shutdown", "stop"})


class ProcessModel:
    def __init__(self, ctx):
        self.ctx = ctx
        self.project = project = ctx.project
        table = project.kb.table("threads")
        self.stdlib: Dict[str, dict] = dict(table.get("stdlib", {}))
        self.lib_calls = set(table.get("libraries", {}).get("calls", []))
        self.import_modules = tuple(table.get("imports", {}).get("modules", []))
        self.calls: Dict[Key, List[Tuple[ModuleFacts, Call]]] = {}
        self.callers: Dict[str, List[Tuple[ModuleFacts, Call]]] = {}
        for mod, call in project.all_calls():
            self.calls.setdefault(key_of(mod, call), []).append((mod, call))
        for mod, call in project.index.calls("project-call"):
            t = project.call_target(call)
            if t in project.functions:
                self.callers.setdefault(t, []).append((mod, call))
        for lst in self.calls.values():
            lst.sort(key=lambda mc: (mc[1].line, mc[1].col))
        self.thread_run: Dict[str, object] = {}  # function -> the dispatch site that runs it in a thread
        for site in ctx.sites:
            if site.model == "threads" and site.function in project.functions:
                self.thread_run.setdefault(site.function, site)
        self._starts: Dict[Key, List[ThreadStart]] = {}
        self._leaves: Dict[Tuple[Key, bool], Optional[Running]] = {}
        self.start_methods = self._set_start_methods()
        self.fork_points = self._fork_points()

    # ------------------------------------------------------------ start methods
    def _set_start_methods(self) -> Dict[str, str]:
        """module path -> the method a ``set_start_method(...)`` of that module asks for: at module
        level, or else in a function (``multiprocessing.set_start_method(method, force=True)`` in
        a processor's constructor, before it starts its processes); one chosen at run time (a
        variable) is unknown, "?"."""
        out: Dict[str, str] = {}
        in_functions: Dict[str, str] = {}
        for mod, call in self.project.index.calls("set-start-method"):
            t = self.target(call)
            if t in SET_START_METHOD and call.args:
                m = literal(call.args[0].text)
                if call.function is None:
                    out[mod.path] = m if m else "?"
                elif call.function in self.project.functions and not is_test_code(mod.module, call.function):
                    in_functions[mod.path] = m if m and in_functions.get(mod.path, m) == m else "?"
        for path, m in in_functions.items():
            out.setdefault(path, m)
        return out

    def target(self, call: Call) -> Optional[str]:
        return self.project.call_target(call)  # memoised on the call

    def forkless(self, call: Call) -> bool:
        """The call runs only where there is no fork (``if sys.platform == "win32":``, Pyodide):
        a thread it starts is never running at a fork, and a fork there never happens."""
        return self.project.platform_of(call) in (WINDOWS, WASM)

    def method_for(self, mod: ModuleFacts, call: Call) -> Optional[str]:
        m = None
        recv = call.receiver
        if recv is not None:
            m = recv.meta.get("start_method")
        for k in ("mp_context", "context"):
            if k in call.kwargs:
                m = call.kwargs[k].meta.get("start_method") or "?"
        if m is None:
            m = self.start_methods.get(mod.path)
        return m

    def default_is_fork(self) -> bool:
        """Can the platform default be fork? Linux before 3.14 (no target: every Python)."""
        v = self.ctx.config.version_tuple()
        return v is None or v < (3, 14)

    def is_fork(self, fp: ForkPoint) -> bool:
        if fp.start_method in ("fork", FORK_SOMETIMES):
            return True
        return fp.start_method is None and self.default_is_fork()

    def is_spawn_like(self, fp: ForkPoint) -> bool:
        """Does this launch run under spawn/forkserver somewhere? The default is spawn on macOS
        and Windows for every version, so only an explicit fork escapes."""
        return fp.kind == "multiprocessing" and (fp.start_method is None or fp.start_method in SPAWN_LIKE)

    def method_words(self, fp: ForkPoint) -> str:
        if fp.start_method in SPAWN_LIKE:
            return f"the '{fp.start_method}' start method"
        if fp.start_method in ("fork", FORK_SOMETIMES):
            return "the 'fork' start method"
        v = self.ctx.config.version_tuple()
        if v is not None and v >= (3, 14):
            return "the default start method (forkserver on Linux, spawn on macOS and Windows)"
        return "the default start method on macOS and Windows (spawn; forkserver on Linux from 3.14)"

    def fork_words(self, fp: ForkPoint) -> str:
        if fp.kind == "os":
            return fp.what
        if fp.start_method in ("fork", FORK_SOMETIMES):
            return f"{fp.what} with the 'fork' start method"
        return f"{fp.what} with the default 'fork' start method (Linux, Python before 3.14)"

    # -------------------------------------------------------------- fork points
    def _fork_points(self) -> List[ForkPoint]:
        out: List[ForkPoint] = []
        launched = set()  # ProcessPoolExecutor forks its workers at the first submit/map only
        for mod, call in self.project.index.calls("fork-point"):
            t = self.target(call)
            if t is None:
                continue
            if t in OS_FORKS:
                out.append(ForkPoint(mod, call, "os", OS_FORKS[t], "fork"))
            elif t == PROCESS_START:
                out.append(ForkPoint(mod, call, "multiprocessing", "Process.start()", self.method_for(mod, call)))
            elif t in POOL_CTORS:
                out.append(ForkPoint(mod, call, "multiprocessing", "multiprocessing.Pool()",
                                     self.method_for(mod, call)))
            elif t in PPE_LAUNCH:
                r = call.receiver
                if r is not None and r.line:
                    ident = (mod.path, key_of(mod, call), r.line, r.col)
                    if ident in launched:
                        continue
                    launched.add(ident)
                what = "ProcessPoolExecutor." + t.rsplit(".", 1)[-1] + "()"
                out.append(ForkPoint(mod, call, "multiprocessing", what, self.method_for(mod, call)))
        return out

    # ----------------------------------------------------------- thread starts
    def starts(self, key: Key) -> List[ThreadStart]:
        """Thread starts made directly in one function (or module top level), with their end."""
        if key in self._starts:
            return self._starts[key]
        calls = self.calls.get(key, [])
        out: List[ThreadStart] = []
        for i, (mod, call) in enumerate(calls):
            t = self.target(call)
            if t is None or self.forkless(call):
                continue
            spec = self.stdlib.get(t)
            if spec is not None:
                out.append(ThreadStart(mod, call, spec.get("what", t), self._end(calls, i, spec.get("stops", [])),
                                       spec.get("mp-fork-confidence", "high")))
            elif t in self.lib_calls:
                out.append(ThreadStart(mod, call, f"{t}()"))
            elif t == "threading.Thread":
                # threads built here and started through a name the analysis cannot follow
                # (``for t in threads: t.start()``): the first later unresolved .start()
                for j in range(i + 1, len(calls)):
                    c2 = calls[j][1]
                    if c2.method == "start" and self.target(c2) is None:
                        end = INF
                        for k in range(j + 1, len(calls)):
                            c3 = calls[k][1]
                            if c3.method == "join" and self.target(c3) in (None, "threading.Thread.join"):
                                end = (c3.line, c3.col)
                                break
                        out.append(ThreadStart(mod, c2, "threading.Thread(...).start()", end))
                        break
        self._starts[key] = out
        return out

    def _end(self, calls: List[Tuple[ModuleFacts, Call]], i: int, stops: List[str]) -> Pos:
        call = calls[i][1]
        # the object the threads belong to: the receiver (t.start(), ex.submit()) or the call itself (Pool())
        owner = call.receiver
        idents = {(call.line, call.col)}  # Pool(): the call made the object
        if owner is not None and owner.line:
            idents.add((owner.line, owner.col))  # t.start(), ex.submit(): the receiver is the object
        if "with" in stops:
            for _, c in calls:
                if c.block_end and (c.line, c.col) in idents:
                    return (c.block_end, 10 ** 6)
        for _, c in calls[i + 1:]:
            if c.method in stops and c.receiver is not None and (c.receiver.line, c.receiver.col) in idents:
                return (c.line, c.col)
        if "join" in stops and call.method == "start":
            return self._joined_from_list(calls[i + 1:], call.text.rpartition(".")[0])
        return INF

    def _stopped_later(self, key: Key, made: Call, until: Pos) -> bool:
        """What ``made`` returned (a pool, a started thread) is stopped again before ``until``:
        ``pool = util.get_pool(n)`` ... ``pool.join()`` / ``pool.terminate()`` (a ``finally`` too),
        or ``with make_pool() as pool:`` whose block ends before it."""
        if made.block_end and (made.block_end, 10 ** 6) < until:
            return True
        name = made.assigned_to
        if not name:
            return False
        for _, c in self.calls.get(key, []):
            if (made.line, made.col) < (c.line, c.col) < until and c.method in _STOPS \
                    and c.receiver is not None and (c.receiver.text == name
                                                    or (c.receiver.line, c.receiver.col) == (made.line, made.col)):
                return True
        return False

    def _joined_from_list(self, later: List[Tuple[ModuleFacts, Call]], name: str) -> Pos:
        """``threads.append(t)`` after ``t.start()``, then ``for t in threads: t.join()``: the
        thread ends at that join."""
        lists = {c.text.rpartition(".")[0] for _, c in later if c.method == "append" and c.args
                 and c.args[0].text == name}
        for _, c in later:
            if c.method != "join" or c.loop < 0 or not lists:
                continue
            fn = self.project.functions.get(c.function or "")
            loop = fn.loops[c.loop] if fn is not None and c.loop < len(fn.loops) else None
            if loop is not None and any(loop.desc.endswith(f" over {lst}") for lst in lists):
                return (c.line, c.col)
        return INF

    def leaves_running(self, key: Key) -> Optional[Running]:
        """A thread that is still running when this function returns (or this module is imported)."""
        return drive(self._leaves_running(key, 0, set()))

    def _leaves_running(self, key: Key, depth: int, seen: set) -> Walk:
        # a module reached through an import: its main guard does not run (a self-test starting a
        # thread under `if __name__ == "__main__":`, NetEase-MusicBox's kill_thread, rev129d)
        imported = key[0] == "module" and depth > 0
        memo = (key, imported)
        if memo in self._leaves:
            return self._leaves[memo]
        if key in seen or depth > 12:
            return None
        seen.add(key)
        found = None
        for s in self.starts(key):
            if s.end == INF and not (imported and s.call.in_main_guard):
                found = Running(s)
                break
        if found is None:
            for mod, call in self.calls.get(key, []):
                if imported and call.in_main_guard:
                    continue
                t = self.target(call)
                if t in self.project.functions and not self.forkless(call):
                    r = yield self._leaves_running(("fn", t), depth + 1, seen)
                    if r is not None and self._stopped_later(key, call, INF):
                        continue  # `pool = make_pool()` ... `pool.join()`: stopped before the return
                        step = _rel(mod, call, f"calls {_short(t)}, which leaves it running")
                        found = Running(r.start, r.via + [step])
                        break
        if found is None and key[0] == "module":
            found = yield self._imported_running(key[1], depth, seen)
        if depth == 0 or found is not None:
            self._leaves[memo] = found
        return found

    def _imported_running(self, path: str, depth: int, seen: set) -> Walk:
        mod = next((m for m in self.project.modules if m.path == path), None)
        if mod is None:
            return None
        for name, line, col in mod.import_lines:
            if self.import_modules and any(name == m or name.startswith(m + ".") for m in self.import_modules):
                return Running(ThreadStart(mod, Call(line, col, line, col, None, name, name), f"import {name}"))
            other = self.project.by_module.get(name) or self.project.by_module.get(name.rpartition(".")[0])
            if other is not None and other is not mod:
                r = yield self._leaves_running(("module", other.path), depth + 1, seen)
                if r is not None:
                    return Running(r.start, r.via + [{"path": mod.path, "line": line, "col": col,
                                                      "message": f"importing {other.module} starts it"}])
        return None

    def running_at(self, mod: ModuleFacts, call: Call) -> Optional[Running]:
        """A thread still running when ``call`` executes, if the program shows one."""
        return drive(self._running_at(mod, call, 0, set()))

    def _running_at(self, mod: ModuleFacts, call: Call, depth: int, seen: set) -> Walk:
        key = key_of(mod, call)
        if (key, call.line, call.col) in seen or depth > 10:
            return None
        seen.add((key, call.line, call.col))
        pos = (call.line, call.col)
        here = self.project.functions.get(key[1]) if key[0] == "fn" else None
        child = self._fork_child_from(here, call)
        if child:
            # in the child of an earlier fork (`pid = os.fork(); if pid == 0: ... os.fork()`):
            # only the forking thread survives a fork, so only threads started since count
            return next((Running(s) for s in self.starts(key) if (child, 0) < s.pos < pos < s.end), None)
        for s in self.starts(key):
            if s.pos < pos < s.end and not _same_owner(s.call, call) and not (
                    here is not None and exclusive(here, s.call.line, call.line)):
                return Running(s)  # (not a thread started in the other part of an if/elif)
        for m2, c2 in self.calls.get(key, []):
            if (c2.line, c2.col) >= pos:
                break
            t = self.target(c2)
            if t in self.project.functions and not self.forkless(c2):
                r = self.leaves_running(("fn", t))
                if r is not None and not self._stopped_later(key, c2, pos):
                    return Running(r.start, r.via + [_rel(m2, c2, f"calls {_short(t)}, which leaves it running")])
        if key[0] == "module":
            return drive(self._imported_running(mod.path, 0, set()))
        fn = key[1]
        site = self.thread_run.get(fn)
        if site is not None:
            ts = ThreadStart(site.module, site.call, f"{site.api} running {_short(fn)}")
            return Running(ts)
        here = self.project.functions.get(fn)
        for m2, c2 in self.callers.get(fn, []):
            if here is not None and not guard_holds(here, call.line, c2):
                continue  # `if multiprocess:` around the call, and this caller leaves it False
            if self.forkless(c2):
                continue
            r = yield self._running_at(m2, c2, depth + 1, seen)
            if r is not None:
                return Running(r.start, r.via + [_rel(m2, c2, f"calls {_short(fn)}")])
        return None

    def _fork_child_from(self, fn, call: Call) -> int:
        """The first line of the child branch of an earlier fork in ``fn`` that ``call`` is in
        (``pid = os.fork()`` then ``if pid == 0:`` / ``if not pid:``), else 0."""
        if fn is None or not fn.guards:
            return 0
        names = {c.assigned_to for c in self.project.calls_of(fn)
                 if c.assigned_to and c.line < call.line and self.target(c) in OS_FORKS}
        for name, op, const, first, last in fn.guards:
            if name in names and first <= call.line <= last and ((op == "==" and const == "0") or op == "falsy"):
                return first
        return 0

    # --------------------------------------------------------- reachability
    def reached_from(self, fn: str, want):
        """The first (module, call, chain) in ``fn`` or the functions it calls for which
        ``want(module, call)`` is true."""
        return drive(self._reached_from(fn, want, 0, set()))

    def _reached_from(self, fn: str, want, depth: int, seen: set) -> Walk:
        if fn in seen or depth > 8:
            return None
        seen.add(fn)
        for mod, call in self.calls.get(("fn", fn), []):
            if want(mod, call):
                return mod, call, []
        for mod, call in self.calls.get(("fn", fn), []):
            t = self.target(call)
            if t in self.project.functions:
                r = yield self._reached_from(t, want, depth + 1, seen)
                if r is not None:
                    return r[0], r[1], [_rel(mod, call, f"calls {_short(t)}")] + r[2]
        return None

    def reachable_functions(self, fn: str, limit: int = 6) -> List[str]:
        out, todo = [fn], [(fn, 0)]
        seen = {fn}
        while todo:
            f, d = todo.pop()
            if d >= limit:
                continue
            for _, call in self.calls.get(("fn", f), []):
                t = self.target(call)
                if t in self.project.functions and t not in seen:
                    seen.add(t)
                    out.append(t)
                    todo.append((t, d + 1))
        return out


def _same_owner(a: Call, b: Call) -> bool:
    """Two calls on the same object (a second ``ex.submit()`` does not fork again)."""
    ra, rb = a.receiver, b.receiver
    return ra is not None and rb is not None and bool(ra.line) and (ra.line, ra.col) == (rb.line, rb.col)


def _rel(mod: ModuleFacts, call: Call, message: str) -> dict:
    return {"path": mod.path, "line": call.line, "col": call.col, "message": message}


def _short(q: Optional[str]) -> str:
    if not q:
        return "?"
    return q.replace(".<locals>", "").rsplit(".", 1)[-1] + "()"


def process_model(ctx) -> ProcessModel:
    """The shared analysis (use ``ctx.shared(process_model)``)."""
    return ProcessModel(ctx)

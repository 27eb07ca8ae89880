"""CCL4xx: objects that cannot be pickled, sent where multiprocessing (or an interpreter pool) pickles.

Process pools pickle the callable and its arguments for every task; multiprocessing queues and
pipes pickle what is put in them; ``Process`` objects, pool initializers and their arguments are
pickled when the start method is spawn or forkserver (macOS and Windows always; Linux from 3.14).
Thread pools pickle nothing, and cloudpickle-based libraries (joblib/loky, dask, ray, multiprocess)
accept lambdas and nested functions, so they are never reported here.

Values are followed, not only read where they are sent (issue #17): a local name bound earlier
(the finding's ``related`` places say where the value was made), elements appended or added to a
local container before the send, the element of a comprehension, functions defined in nested
blocks, ``functools.partial`` bindings, module-level functions replaced by a project decorator
whose wrapper lacks ``functools.wraps`` (pickle finds functions by qualified name, and finds the
wrapper), and values passed as arguments into a project function that sends its parameter to a
pool.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis.facts import FORK_SOMETIMES, Call, ModuleFacts, Value
from concurlint.analysis.hints import binds_instance
from concurlint.analysis.processes import SET_START_METHOD
from concurlint.registry import Finding, Rule

LOCKS = {
    "threading.Lock", "threading.RLock", "threading.Condition", "threading.Semaphore",
    "threading.BoundedSemaphore", "threading.Event", "threading.Barrier",
    "asyncio.Lock", "asyncio.Semaphore", "asyncio.Event", "asyncio.Condition",
}
MP_LOCKS = {"multiprocessing.Lock"}  # picklable only by inheritance into a Process
FILES = {"io.IOBase"}
CONNECTIONS = {
    "sqlite3.Connection", "sqlite3.Cursor", "psycopg.Connection", "psycopg.Cursor",
    "psycopg2.extensions.connection", "psycopg2.extensions.cursor", "pymysql.connections.Connection",
    "pymysql.cursors.Cursor", "sqlalchemy.engine.Connection", "sqlalchemy.orm.Session",
    "sqlalchemy.engine.Engine",
}
QUEUE_SENDS = {
    "multiprocessing.Queue.put": "multiprocessing.Queue.put",
    "multiprocessing.Queue.put_nowait": "multiprocessing.Queue.put_nowait",
    "multiprocessing.connection.Connection.send": "Connection.send (multiprocessing.Pipe)",
}
POOL_CONSTRUCTORS = {
    "concurrent.futures.ProcessPoolExecutor": "ProcessPoolExecutor",
    "multiprocessing.Pool": "multiprocessing.Pool",
    "multiprocessing.pool.Pool": "multiprocessing.Pool",
    "multiprocessing.context.BaseContext.Pool": "Pool",
}
PROCESS_APIS = ("multiprocessing.Process",)


@dataclass
class Problem:
    code: str
    what: str
    value: Value
    confidence: str = "high"
    # how the value reached the send: (path or None for the reporting module, line, col, message)
    trail: List[Tuple[Optional[str], int, int, str]] = field(default_factory=list)


# Methods that put an element into a container (the element's position among the arguments).
ADDERS = {"append": 0, "add": 0, "appendleft": 0, "insert": 1, "extend": 0, "extendleft": 0, "update": 0}
WRAPS = ("functools.wraps", "functools.update_wrapper")


class Flow:
    """What the value flow needs from the whole project, computed once per run: the nested
    functions of each function, the calls that add to a named local container, and the calls of
    each project function."""

    def __init__(self, project):
        self.project = project
        self.children: Dict[str, List[str]] = {}
        for q, fn in project.functions.items():
            if fn.parent:
                self.children.setdefault(fn.parent, []).append(q)
        self.added: Dict[Tuple[str, Optional[str], str], List[Call]] = {}
        self.callers: Dict[str, List[Tuple[object, Call]]] = {}
        self.wrapping: set = set()  # functions that call functools.wraps / update_wrapper
        for mod, call in project.index.calls("project-call", "flow"):
            if call.method in ADDERS and call.receiver is not None and call.receiver.kind == "container":
                name = call.text[: -len(call.method) - 1] if call.text.endswith("." + call.method) else ""
                if name.isidentifier():  # later.append(x): `later` names a local container
                    self.added.setdefault((mod.path, call.function, name), []).append(call)
            target = project.call_target(call)
            if target is None:
                continue
            if target in WRAPS and call.function:
                self.wrapping.add(call.function)
            if target in project.functions:
                self.callers.setdefault(target, []).append((mod, call))
        self._replacing: Dict[str, Optional[str]] = {}

    def grown(self, v: Value, path: str, function: Optional[str], before: int) -> Value:
        """``v`` (a container bound to a local name) with the elements added to it by
        ``name.append(x)`` / ``extend`` / ``add`` / ``insert`` in the same function before line
        ``before``."""
        if v.kind != "container" or not v.text.isidentifier():
            return v
        extra = []
        for call in self.added.get((path, function, v.text), ()):
            if call.line >= before:
                continue
            pos = ADDERS[call.method]
            if len(call.args) > pos:
                a = call.args[pos]
                if call.method in ("extend", "extendleft", "update") and a.kind == "container":
                    extra.extend(_added(x, v.text, call) for x in a.inner)
                else:
                    extra.append(_added(a, v.text, call))
        if not extra:
            return v
        return Value(v.kind, v.qualname, v.text, v.line, v.col, v.local, list(v.inner) + extra, v.attr,
                     v.size, v.meta)

    def wrapper_without_wraps(self, decorator: str) -> Optional[str]:
        """The nested function a project decorator returns in place of the function it decorates,
        when nothing in it copies the function's name with ``functools.wraps``; else None."""
        if decorator in self._replacing:
            return self._replacing[decorator]
        found = None
        todo, seen = [decorator], set()
        nested: List[str] = []
        wraps = False
        while todo:
            q = todo.pop()
            if q in seen:
                continue
            seen.add(q)
            if q in self.wrapping:
                wraps = True
            for c in self.children.get(q, ()):
                fn = self.project.functions.get(c)
                if fn is None or fn.is_lambda:
                    continue
                if any(self.project.resolve(d) in WRAPS or d in WRAPS for d in fn.decorators):
                    wraps = True
                nested.append(c)
                todo.append(c)
        if nested and not wraps:
            found = nested[-1] if len(nested) == 1 else sorted(nested, key=lambda q: q.count("."))[-1]
        self._replacing[decorator] = found
        return found


def _added(v: Value, name: str, call: Call) -> Value:
    meta = dict(v.meta)
    meta["added_to"] = f"{name}:{call.line}:{call.col}:{call.method}"
    return Value(v.kind, v.qualname, v.text, v.line or call.line, v.col if v.line else call.col, v.local,
                 v.inner, v.attr, v.size, meta)


def _element(v: Value) -> Optional[Value]:
    """The element a comprehension makes (``[lambda: n for n in ns]``), from its description."""
    kind = v.meta.get("element_kind")
    if not kind:
        made_by = v.meta.get("element_call")  # [Envelope(r) for r in rows]: instances of what it calls
        if not made_by:
            return None
        line, _, col = v.meta.get("made", f"{v.line}:{v.col}").partition(":")
        return Value("call", made_by, v.text, int(line), int(col or 0))
    line, _, col = v.meta.get("element_at", "0:0").partition(":")
    return Value(kind, v.meta.get("element_qualname") or None, v.meta.get("element_text", ""), int(line),
                 int(col or 0), v.meta.get("element_local") == "1")


def _short(name: Optional[str]) -> str:
    if not name:
        return "?"
    return name.replace(".<locals>", "").rsplit(".", 1)[-1]


def unpicklable(v: Value, project, *, allow_mp_lock: bool = False, depth: int = 0,
                flow: Optional[Flow] = None) -> Optional[Problem]:
    """Why ``v`` cannot be pickled by the standard pickle module, or None."""
    p = _unpicklable(v, project, allow_mp_lock=allow_mp_lock, depth=depth, flow=flow)
    if p is not None and depth == 0:
        made = p.value.meta.get("made")
        if made and not p.trail:
            line, _, col = made.partition(":")
            if int(line) != p.value.line:
                p.trail.append((None, int(line), int(col or 0), f"the {_noun(p)} is made here"))
        added = p.value.meta.get("added_to")
        if added:
            name, line, col, method = added.split(":")
            p.trail.append((None, int(line), int(col), f"it is put into '{name}' here ({name}.{method})"))
    return p


def _noun(p: Problem) -> str:
    return p.what.split(" (inside ")[0]


def _unpicklable(v: Value, project, *, allow_mp_lock: bool = False, depth: int = 0,
                 flow: Optional[Flow] = None) -> Optional[Problem]:
    if depth > 4:
        return None
    if v.kind == "lambda":
        return Problem("CCL401", "lambda", v)
    if v.kind == "function" and v.local:
        return Problem("CCL402", f"nested function '{_short(v.qualname)}'", v)
    if v.kind in ("function", "ref") and v.qualname and flow is not None:
        p = _decorated(v, project, flow)
        if p is not None:
            return p
    if v.kind == "class" and v.local:
        return Problem("CCL403", f"local class '{_short(v.qualname)}'", v)
    if v.kind == "generator" and v.qualname is None or v.kind == "generator" and v.qualname in ("builtins.map", "builtins.filter", "builtins.zip", "builtins.enumerate", "builtins.iter"):
        return Problem("CCL404", "generator", v)
    if v.kind == "call" and v.qualname:
        target = project.resolve(v.qualname)
        fn = project.functions.get(target)
        if fn is not None and fn.is_generator:
            return Problem("CCL404", f"generator returned by {_short(target)}()", v)
        if target in project.classes and project.classes[target].local:
            return Problem("CCL403", f"instance of local class '{_short(target)}'", v)
    if v.kind == "instance":
        t = project.value_type(v)
        if v.local or (t in project.classes and project.classes[t].local):
            return Problem("CCL403", f"instance of local class '{_short(t)}'", v)
        if t in LOCKS or (t in MP_LOCKS and not allow_mp_lock):
            # an attribute set to another type in another branch of __init__ (a Manager's Event
            # proxy when processes are used, a threading.Event for threads): not certain
            return Problem("CCL405", t, v, "low" if v.meta.get("or_type") else "high")
        if t in FILES:
            return Problem("CCL406", "open file object", v)
        if t in CONNECTIONS:
            return Problem("CCL407", f"{t} database handle", v)
        if t in project.classes:
            held = _held_unpicklable(t, project, depth, allow_mp_lock)
            if held is not None:
                attr, problem = held
                return Problem("CCL408", f"object of class '{_short(t)}' holding {problem.what} in '{attr}'", v)
    if v.kind == "bound-method":
        recv = v.inner[0] if v.inner else None
        t = project.value_type(recv) if recv is not None else None
        if t is not None and t in project.classes:
            if project.classes[t].local:
                return Problem("CCL403", f"bound method of local class '{_short(t)}'", v)
            method = project.functions.get(v.qualname or "")
            if method is not None and not binds_instance(method):
                # self.helper for a @staticmethod is the plain function, pickled by name; for a
                # @classmethod it is bound to the class, pickled by reference: no instance travels
                return None
            held = _held_unpicklable(t, project, depth, allow_mp_lock, sent=v.qualname)
            if held is not None:
                attr, problem = held
                return Problem("CCL408", f"bound method '{v.attr}' of an object holding {problem.what} in 'self.{attr}'", v)
    if v.kind == "partial" and v.inner:
        for inner in v.inner:
            p = _unpicklable(inner, project, allow_mp_lock=allow_mp_lock, depth=depth + 1, flow=flow)
            if p is not None:
                return Problem(p.code, f"functools.partial wrapping a {p.what}", v, p.confidence, p.trail)
    if v.kind == "container":
        inner_values = list(v.inner)
        element = _element(v)
        if element is not None:
            inner_values.append(element)
        for inner in inner_values:
            p = _unpicklable(inner, project, allow_mp_lock=allow_mp_lock, depth=depth + 1, flow=flow)
            if p is not None:
                where = v.meta.get("type", "a container").replace("builtins.", "")
                if inner is element:
                    where = f"made by a {where} comprehension"
                else:
                    where = f"inside {where}"
                value = inner if inner.line else v
                if inner.meta.get("added_to") and not value.meta.get("added_to"):
                    value = inner
                return Problem(p.code, f"{p.what} ({where})", value, p.confidence, p.trail)
    return None


def _decorated(v: Value, project, flow: Flow) -> Optional[Problem]:
    """A module-level function replaced by a project decorator whose wrapper lacks functools.wraps:
    pickle looks the function up by its qualified name, finds the wrapper, and fails."""
    target = project.resolve(v.qualname)
    fn = project.functions.get(target)
    if fn is None or fn.parent is not None or fn.cls is not None:
        return None
    for d in fn.decorators:
        dq = project.resolve(d) or d
        if dq not in project.functions:
            continue
        wrapper = flow.wrapper_without_wraps(dq)
        if wrapper is None:
            continue
        mod = project.function_module.get(wrapper)
        wfn = project.functions[wrapper]
        trail = [(mod.path if mod is not None else None, wfn.line, wfn.col,
                  f"'{_short(dq)}' replaces '{fn.name}' with '{wfn.name}', without functools.wraps")]
        # medium: that the decorator returns its nested function is read from its shape, not seen
        return Problem("CCL402", f"function '{fn.name}' replaced by decorator '{_short(dq)}' (its wrapper "
                                 f"'{wfn.name}' lacks functools.wraps)", v, "medium", trail)
    return None


def _held_unpicklable(cls: str, project, depth: int, allow_mp_lock: bool = False,
                      sent: Optional[str] = None) -> Optional[Tuple[str, Problem]]:
    """An attribute of instances of ``cls`` that makes them unpicklable, unless the class
    defines ``__getstate__``/``__reduce__`` to leave it out. ``allow_mp_lock``: the object is
    pickled while a process is spawned (``Process(target=obj.method)``), when multiprocessing's
    locks and queues do pickle. ``sent``: the method sent; an attribute only it sets is made in
    the worker, after the object was pickled (sniffles' ``self._shutdown = threading.Event()``
    at the top of ``run_worker``: rev155d's medium fps)."""
    info = project.classes.get(cls)
    if info is None:
        return None
    if any(m in info.methods for m in ("__getstate__", "__reduce__", "__reduce_ex__")):
        return None
    for attr, value in sorted(info.attrs.items()):
        if sent is not None and _set_only_in(project, cls, attr, sent):
            continue
        if value.kind in ("instance", "lambda") or (value.kind == "function" and value.local):
            p = _unpicklable(value, project, allow_mp_lock=allow_mp_lock, depth=depth + 1)
            if p is not None and p.code != "CCL408":
                return attr, p
    return None


def _set_only_in(project, cls: str, attr: str, method: str) -> bool:
    """Every write of ``self.<attr>`` in the class's methods is in ``method``, but for ``None``
    placeholders (``self.dying = None  # type: threading.Event`` in ``__init__``: pros-cli's share
    bridge, whose spawned ``_start`` makes the event, rev158b's medium fp)."""
    target = f"attr:{cls}.{attr}"
    methods = (project.functions.get(f"{cls}.{name}") for name in project.classes[cls].methods)
    writers = {fn.qualname for fn in methods
               if fn is not None and any(a.target == target and a.kind == "write" and a.op != "= None"
                                         for a in fn.accesses)}
    return writers == {method}


class _Pickling(Rule):
    """Shared logic: one pass over the module's dispatch sites and pickling calls per run; each
    CCL4 rule keeps the problems with its own code."""

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        for call, problem, api, fn in ctx.shared(_all_problems).get(module.path, ()):
            if problem.code != self.code:
                continue
            related = [{"path": path or module.path, "line": line, "col": col, "message": message}
                       for path, line, col, message in problem.trail]
            yield ctx.report(self.code, module, _Pos(problem.value, call), function=fn,
                             what=problem.what, api=api, snippet=f"{api}:{problem.value.text}",
                             related=related, confidence=problem.confidence)


@dataclass
class _Pos:
    line: int
    col: int
    end_line: int
    end_col: int
    text: str

    def __init__(self, v: Value, call: Call):
        self.line = v.line or call.line
        self.col = v.col if v.line else call.col
        self.end_line = call.end_line
        self.end_col = call.end_col
        self.text = v.text


def _asks_for_fork(project, module: ModuleFacts, always: bool = False) -> bool:
    """The module calls ``multiprocessing.set_start_method('fork')`` (at module level, under its
    main guard, or in a function). ``always``: as a statement of the module's top, unconditional
    (or alone in a ``try`` there, which only guards against a context set already), so the
    program forks wherever it runs at all (rtv's terminal module, bitwarden-menu's ``__main__``)."""
    return any(_sets_fork(project, c)
               and (not always or (c.function is None and not c.in_main_guard and not c.platform
                                   and (c.col == 0 or (c.in_try and c.col == 4))))
               for c in module.calls)


def _forks_first(project, call: Call) -> bool:
    """The function starting the process forces fork itself, on every platform, before it
    (``multiprocessing.set_start_method("fork", force=True)`` then ``Process(target=run)``, run a
    closure: xgboost-ray's tracker, rev157b's medium fp). Fork does not exist on Windows, where
    that call raises before any process starts."""
    fn = project.functions.get(call.function) if call.function else None
    return fn is not None and any(c.line < call.line and not c.platform and not c.in_handler and _sets_fork(project, c)
                                  for c in project.calls_of(fn))


def _sets_fork(project, c: Call) -> bool:
    """``multiprocessing.set_start_method("fork")`` (also a context's)."""
    return bool(c.args) and c.args[0].text.strip("'\"") == "fork" and project.call_target(c) in SET_START_METHOD


def _pickled_values(site) -> Tuple[List[Value], bool]:
    """Values a site pickles, and whether that only happens under spawn/forkserver."""
    values: List[Value] = []
    if site.callable is not None:
        values.append(site.callable)
    values.extend(site.args)
    if site.iterable is not None and site.iterable.kind == "container":
        values.extend(site.iterable.inner)
    only_spawn = site.api in ("multiprocessing.Process",) or site.api.endswith("Process subclass")
    return values, only_spawn


def _all_problems(ctx) -> dict:
    out: dict = {}
    project = ctx.project
    flow = Flow(project)

    def add(mod, call, problem, api):
        if problem.value.line and problem.value.line != call.line:
            problem.trail.append((None, call.line, call.col, f"it is sent to {api} here"))
        out.setdefault(mod.path, []).append((call, problem, api, call.function))

    def check_value(mod, call, v, api, allow_mp_lock=False):
        v = flow.grown(v, mod.path, call.function, call.line)
        p = unpicklable(v, project, allow_mp_lock=allow_mp_lock, flow=flow)
        if p is not None:
            add(mod, call, p, api)
        elif v.kind in ("name", "instance") and call.function:
            _through_parameter(mod, call, v, api, allow_mp_lock)

    def _through_parameter(mod, call, v, api, allow_mp_lock):
        """``def submit(pool, fn): pool.submit(fn)`` called with a lambda: report the caller."""
        fn = project.functions.get(call.function)
        if fn is None or v.text not in fn.params:
            return
        i = fn.params.index(v.text)
        if fn.cls is not None:
            i -= 1  # called as obj.method(...): self is not among the arguments
        for cmod, ccall in flow.callers.get(fn.qualname, ()):
            arg = ccall.kwargs.get(v.text)
            if arg is None and 0 <= i < len(ccall.args):
                arg = ccall.args[i]
            if arg is None:
                continue
            arg = flow.grown(arg, cmod.path, ccall.function, ccall.line)
            p = unpicklable(arg, project, allow_mp_lock=allow_mp_lock, flow=flow)
            if p is None:
                continue
            p.trail.append((mod.path, call.line, call.col, f"{fn.name}() sends its parameter '{v.text}' to {api} here"))
            add(cmod, ccall, p, f"{api} in {fn.name}()")

    for site in ctx.sites:
        if site.model not in ("processes", "interpreters") or site.cloudpickle:
            continue
        if site.style == "joblib":
            continue
        values, only_spawn = _pickled_values(site)
        if only_spawn and (site.start_method == "fork"
                           or (site.start_method is None and (_asks_for_fork(project, site.module, always=True)
                                                              or _forks_first(project, site.call)))):
            continue  # forked wherever it runs: nothing is pickled
        api = site.api
        if only_spawn:
            api = f"{api} under spawn/forkserver"
        before = len(out.get(site.module.path, ()))
        for v in values:
            check_value(site.module, site.call, v, api, allow_mp_lock=only_spawn)
        # `multiprocessing.set_start_method('fork')` for the whole program (usually under a
        # platform test: fork where it exists, the default elsewhere): as a context that is fork
        # on some platforms only
        program_fork = site.start_method is None and _asks_for_fork(project, site.module)
        if only_spawn and (site.start_method == FORK_SOMETIMES or program_fork):
            # fork where the code mostly runs, spawn only on the platforms left to the default
            # (which the path may never reach): medium
            found = out.get(site.module.path, [])
            for i in range(before, len(found)):
                call, problem, api_, fn_ = found[i]
                if problem.confidence == "high":
                    found[i] = (call, replace(problem, confidence="medium"), api_, fn_)
    cloud_types = ("loky.", "multiprocess.", "joblib.", "distributed.", "ray.")
    for mod, call in project.index.calls("pickled"):
        target = project.call_target(call)
        if target is None:
            continue
        if target in QUEUE_SENDS:
            for v in call.args[:1]:
                check_value(mod, call, v, QUEUE_SENDS[target])
            continue
        if target in POOL_CONSTRUCTORS or target.endswith("BaseContext.Pool"):
            if target.startswith(cloud_types):
                continue
            start = None
            for k in ("mp_context", "context"):
                if k in call.kwargs:
                    start = call.kwargs[k].meta.get("start_method")
            if start is None and call.receiver is not None:
                start = call.receiver.meta.get("start_method")
            if start == "fork":
                continue
            name = POOL_CONSTRUCTORS.get(target, "Pool")
            init = call.kwargs.get("initializer")
            if init is None and name != "ProcessPoolExecutor" and len(call.args) > 1:
                init = call.args[1]
            init_args = call.kwargs.get("initargs")
            for v, what in ((init, "initializer"), (init_args, "initargs")):
                if v is None:
                    continue
                vals = list(v.inner) if what == "initargs" and v.kind == "container" else [v]
                for val in vals:
                    check_value(mod, call, val, f"{name}({what}=...) under spawn/forkserver", allow_mp_lock=True)
    return out


class LambdaSentToProcessPool(_Pickling):
    code = "CCL401"


class NestedFunctionSentToProcessPool(_Pickling):
    code = "CCL402"


class LocalClassSentToProcessPool(_Pickling):
    code = "CCL403"


class GeneratorSentToProcessPool(_Pickling):
    code = "CCL404"


class LockSentToProcessPool(_Pickling):
    code = "CCL405"


class OpenFileSentToProcessPool(_Pickling):
    code = "CCL406"


class ConnectionSentToProcessPool(_Pickling):
    code = "CCL407"


class UnpicklableBoundMethod(_Pickling):
    code = "CCL408"

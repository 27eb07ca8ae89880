"""CCL4xx: objects that cannot be pickled, sent where multiprocessing (or an interpreter pool) pickles.

Process pools pickle the callable and its arguments for every task; multiprocessing queues and
pipes pickle what is put in them; ``Process`` objects, pool initializers and their arguments are
pickled when the start method is spawn or forkserver (macOS and Windows always; Linux from 3.14).
Thread pools pickle nothing, and cloudpickle-based libraries (joblib/loky, dask, ray, multiprocess)
accept lambdas and nested functions, so they are never reported here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Call, ModuleFacts, Value
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


def _short(name: Optional[str]) -> str:
    if not name:
        return "?"
    return name.replace(".<locals>", "").rsplit(".", 1)[-1]


def unpicklable(v: Value, project, *, allow_mp_lock: bool = False, depth: int = 0) -> Optional[Problem]:
    """Why ``v`` cannot be pickled by the standard pickle module, or None."""
    if depth > 4:
        return None
    if v.kind == "lambda":
        return Problem("CCL401", "lambda", v)
    if v.kind == "function" and v.local:
        return Problem("CCL402", f"nested function '{_short(v.qualname)}'", v)
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
            return Problem("CCL405", t, v)
        if t in FILES:
            return Problem("CCL406", "open file object", v)
        if t in CONNECTIONS:
            return Problem("CCL407", f"{t} database handle", v)
        if t in project.classes:
            held = _held_unpicklable(t, project, depth)
            if held is not None:
                attr, problem = held
                return Problem("CCL408", f"object of class '{_short(t)}' holding {problem.what} in '{attr}'", v)
    if v.kind == "bound-method":
        recv = v.inner[0] if v.inner else None
        t = project.value_type(recv) if recv is not None else None
        if t is not None and t in project.classes:
            if project.classes[t].local:
                return Problem("CCL403", f"bound method of local class '{_short(t)}'", v)
            held = _held_unpicklable(t, project, depth)
            if held is not None:
                attr, problem = held
                return Problem("CCL408", f"bound method '{v.attr}' of an object holding {problem.what} in 'self.{attr}'", v)
    if v.kind == "partial" and v.inner:
        for inner in v.inner:
            p = unpicklable(inner, project, allow_mp_lock=allow_mp_lock, depth=depth + 1)
            if p is not None:
                return Problem(p.code, f"functools.partial wrapping a {p.what}", v)
    if v.kind == "container" and v.inner:
        for inner in v.inner:
            p = unpicklable(inner, project, allow_mp_lock=allow_mp_lock, depth=depth + 1)
            if p is not None:
                return Problem(p.code, f"{p.what} (inside {v.meta.get('type', 'a container').replace('builtins.', '')})", inner)
    return None


def _held_unpicklable(cls: str, project, depth: int) -> Optional[Tuple[str, Problem]]:
    """An attribute of instances of ``cls`` that makes them unpicklable, unless the class
    defines ``__getstate__``/``__reduce__`` to leave it out."""
    info = project.classes.get(cls)
    if info is None:
        return None
    if any(m in info.methods for m in ("__getstate__", "__reduce__", "__reduce_ex__")):
        return None
    for attr, value in sorted(info.attrs.items()):
        if value.kind in ("instance", "lambda") or (value.kind == "function" and value.local):
            p = unpicklable(value, project, depth=depth + 1)
            if p is not None and p.code != "CCL408":
                return attr, p
    return None


class _Pickling(Rule):
    """Shared logic: one pass over the module's dispatch sites and pickling calls per run; each
    CCL4 rule keeps the problems with its own code."""

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        for call, problem, api, fn in ctx.shared(_all_problems).get(module.path, ()):
            if problem.code != self.code:
                continue
            yield ctx.report(self.code, module, _Pos(problem.value, call), function=fn,
                             what=problem.what, api=api, snippet=f"{api}:{problem.value.text}")


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

    def add(mod, call, problem, api):
        out.setdefault(mod.path, []).append((call, problem, api, call.function))

    for site in ctx.sites:
        if site.model not in ("processes", "interpreters") or site.cloudpickle:
            continue
        if site.style == "joblib":
            continue
        values, only_spawn = _pickled_values(site)
        if only_spawn and site.start_method == "fork":
            continue
        api = site.api
        if only_spawn:
            api = f"{api} under spawn/forkserver"
        for v in values:
            p = unpicklable(v, project, allow_mp_lock=only_spawn)
            if p is not None:
                add(site.module, site.call, p, api)
    cloud_types = ("loky.", "multiprocess.", "joblib.", "distributed.", "ray.")
    for mod, call in project.all_calls():
        target = project.call_target(call)
        if target is None:
            continue
        if target in QUEUE_SENDS:
            for v in call.args[:1]:
                p = unpicklable(v, project)
                if p is not None:
                    add(mod, call, p, QUEUE_SENDS[target])
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
                    p = unpicklable(val, project, allow_mp_lock=True)
                    if p is not None:
                        add(mod, call, p, f"{name}({what}=...) under spawn/forkserver")
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

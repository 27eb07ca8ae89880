"""CCL3xx: fork hazards.

- CCL301 a fork (``os.fork``, the ``fork`` start method, or the Linux default before 3.14) while
  threads the program started are still running;
- CCL302 ``subprocess`` with ``preexec_fn`` in a program that runs threads;
- CCL303 worker processes launched at import time (module level, or a function called from it)
  without an ``if __name__ == "__main__":`` guard, under spawn/forkserver;
- CCL304 process workers reading module globals that the parent sets only at run time (under the
  main guard or from a function), which spawn/forkserver children never see;
- CCL305 locks, connections and client sessions created in the parent and used by forked workers.

The program-wide facts (fork points, start methods, running threads) come from
``concurlint.analysis.processes``.
"""
from __future__ import annotations

import functools
from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis.hints import is_test_code
from concurlint.analysis.facts import Call, ModuleFacts
from concurlint.analysis.processes import ProcessModel, process_model
from concurlint.analysis.values import INITIALIZER_AT
from concurlint.registry import Finding, Rule

POPEN_LIKE = ("subprocess.Popen", "subprocess.run", "subprocess.call", "subprocess.check_call",
              "subprocess.check_output")

LOCK_KINDS = frozenset({"threading.Lock", "threading.RLock", "threading.Condition", "threading.Semaphore",
                        "threading.BoundedSemaphore"})

# What must not be shared with a forked child, and why.
INHERITED = {
    "threading.Lock": "a threading.Lock",
    "threading.RLock": "a threading.RLock",
    "threading.Condition": "a threading.Condition",
    "threading.Semaphore": "a threading.Semaphore",
    "threading.BoundedSemaphore": "a threading.BoundedSemaphore",
    "sqlite3.Connection": "an sqlite3 connection",
    "sqlite3.Cursor": "an sqlite3 cursor",
    "psycopg.Connection": "a psycopg connection",
    "psycopg2.extensions.connection": "a psycopg2 connection",
    "pymysql.connections.Connection": "a PyMySQL connection",
    "sqlalchemy.engine.Engine": "an SQLAlchemy engine (its connection pool)",
    "sqlalchemy.engine.Connection": "an SQLAlchemy connection",
    "sqlalchemy.orm.Session": "an SQLAlchemy session",
    "redis.Redis": "a Redis client (its connection pool)",
    "requests.Session": "a requests.Session (its pooled sockets)",
    "httpx.Client": "an httpx.Client (its pooled sockets)",
    "urllib3.PoolManager": "a urllib3 PoolManager (its pooled sockets)",
    "http.client.HTTPConnection": "an HTTP connection",
    "http.client.HTTPSConnection": "an HTTPS connection",
    "smtplib.SMTP": "an SMTP connection",
    "ftplib.FTP": "an FTP connection",
}


def _model(ctx) -> ProcessModel:
    return ctx.shared(process_model)


class ForkAfterThreadStart(Rule):
    code = "CCL301"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        m = _model(ctx)
        for fp in m.fork_points:
            if fp.module.path != module.path or not m.is_fork(fp) or m.forkless(fp.call):
                continue
            r = m.running_at(fp.module, fp.call)
            if r is None:
                continue
            start = r.start
            if start.module.path == fp.module.path and (start.call.line, start.call.col) == (fp.call.line, fp.call.col):
                continue  # a pool's own handler threads start after it has forked its workers
            if fp.kind == "os":
                advice = ("start the threads after the fork, or run the child with subprocess or "
                          "multiprocessing.get_context('spawn')")
            else:
                advice = ("use multiprocessing.get_context('spawn') (or 'forkserver') for it, or start the "
                          "threads after the worker processes")
            related = [r.start.related()] + r.via
            # a child that replaces itself with exec at once, as subprocess does, touches no
            # lock another thread held: on real code every such finding was judged not worth a
            # change (gpg's and pymux's panes, bitwarden-menu's `bw` login: debatable)
            conf = start.mp_fork_confidence if fp.kind == "multiprocessing" else (
                "low" if _child_execs(ctx.project, fp.call) else "high")
            if is_test_code(start.module.module, start.call.function):
                conf = "low"  # the thread is a test's: the library's own fork is not the hazard
            yield ctx.report(self.code, module, fp.call, function=fp.call.function, related=related,
                             fork=m.fork_words(fp), thread=r.describe(), advice=advice, confidence=conf)


def _child_execs(project, call: Call) -> bool:
    """``pid = os.fork(); if pid == 0: ... os.execvp(...)`` (in the branch, or in the one project
    function it calls there): a fork-exec whose child only rearranges file descriptors before
    replacing itself, the way subprocess does; a lock held by another thread is rarely touched."""
    fn = project.functions.get(call.function or "")
    if fn is None:
        return False
    for name, op, const, first, last in fn.guards:
        if first <= call.line or not ((op == "==" and const == "0") or op == "falsy"):
            continue
        # the name the fork's pid went to; `pid, fd = pty.fork()` (a tuple, not recorded): the
        # test of the next lines (its body's first statement within a few lines, comments above it)
        if name != call.assigned_to and (call.assigned_to or first > call.line + 6):
            continue
        inside = [c for c in project.calls_of(fn) if first <= c.line <= last]
        for c in inside:
            t = project.call_target(c) or ""
            if t.startswith(EXECS):
                return True
            callee = project.functions.get(t)
            if callee is not None and any((project.call_target(d) or "").startswith(EXECS)
                                          for d in project.calls_of(callee)):
                return True
    return False


EXECS = ("os.exec", "os.posix_spawn")


class PreexecFnInThreadedProgram(Rule):
    code = "CCL302"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        m = _model(ctx)
        for call in module.calls:
            v = call.kwargs.get("preexec_fn")
            if v is None or (v.kind == "literal" and v.text == "None"):
                continue
            t = m.target(call)
            if t not in POPEN_LIKE:
                continue
            r = m.running_at(module, call)
            if r is None:
                continue
            yield ctx.report(self.code, module, call, function=call.function,
                             related=[r.start.related()] + r.via, api=t, thread=r.describe(),
                             instead=_preexec_instead(v.qualname))


def _preexec_instead(fn: Optional[str]) -> str:
    known = {
        "os.setsid": "start_new_session=True",
        "os.setpgrp": "process_group=0 (Python 3.11+)",
        "os.setpgid": "process_group=... (Python 3.11+)",
        "os.umask": "umask=...",
        "os.setuid": "user=...",
        "os.setgid": "group=...",
        "os.setgroups": "extra_groups=...",
        "os.nice": "a wrapper command such as ['nice', ...]",
    }
    if fn in known:
        return known[fn]
    return "start_new_session/process_group/user/group/umask arguments or a wrapper command"


def _launches_reached(ctx) -> dict:
    """CCL303's memo for this run: project function -> the spawn-like launch it reaches (with
    the chain of calls), or None."""
    return {}


class MissingMainGuard(Rule):
    code = "CCL303"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        if module.module == "__main__" or module.module.endswith(".__main__"):
            # `python -m pkg` runs pkg/__main__.py; a spawn or forkserver child never re-runs it
            # (multiprocessing.spawn skips main modules named __main__), so no guard is needed
            return
        m = _model(ctx)
        launches = [fp for fp in m.fork_points if m.is_spawn_like(fp)]
        if not launches:
            return
        here = [fp for fp in launches if fp.module.path == module.path]
        # asked only for a module that launches at import (it reads every module's imports)
        on_demand = functools.lru_cache(maxsize=None)(lambda: _loaded_on_demand(ctx.project, module))
        for fp in here:
            if fp.call.function is None and not fp.call.in_main_guard:
                conf = "medium" if on_demand() and not _runs_own_function(module, fp.call) else "high"
                yield ctx.report(self.code, module, fp.call, what=fp.what, method=m.method_words(fp), via="",
                                 confidence=conf)
        by_call = {id(fp.call): fp for fp in launches}
        for call in module.calls:
            if call.function is not None or call.in_main_guard:
                continue
            t = m.target(call)
            if t not in ctx.project.functions:
                continue
            memo = ctx.shared(_launches_reached)  # the same launches for every module: one walk per function
            if t not in memo:
                memo[t] = m.reached_from(t, lambda mod, c: id(c) in by_call)
            found = memo[t]
            if found is None:
                continue
            mod2, c2, chain = found
            fp = by_call[id(c2)]
            related = [dict(r) for r in chain] + [{"path": mod2.path, "line": c2.line, "col": c2.col,
                                "message": f"{fp.what} launches worker processes here"}]
            yield ctx.report(self.code, module, call, related=related, what=fp.what,
                             method=m.method_words(fp), via=f" (through {t.rsplit('.', 1)[-1]}())",
                             confidence="medium" if on_demand() else "high")


def _loaded_on_demand(project, module: ModuleFacts) -> bool:
    """A module of a package that the project imports only inside functions (``def webapp():
    from .web import start_web_app``, nxbt's command), never at a module's top: a spawn or
    forkserver child re-imports the program's main module and the module of the function it
    runs, so it reaches this module's top only if one of those imports it at theirs -- which the
    project shows nowhere (rev92b's high fp). Its own main guard, if any, is a developer's run
    with ``python -m`` (as for CCL509, a demo). A module nothing imports may be the library's
    public face (``pathos.mp_map``): kept. The names that load it are its own and its packages'
    but the top one's, whose ``__init__`` loading a submodule is part of loading that package."""
    if "." not in module.module:
        return False
    parts = module.module.split(".")
    names = {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
    ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
    lazy = False
    for other in project.modules:
        if other is module or other.module in ancestors:
            continue
        for name, line, _col in other.import_lines:
            if not any(name == n or name.startswith(n + ".") for n in names):
                continue
            if any(fn.line < line <= fn.end_line for fn in other.functions.values()):
                lazy = True
            else:
                return False  # imported at a module's top: a child importing that one runs this
    return lazy


def _runs_own_function(module: ModuleFacts, call: Call) -> bool:
    """The launch hands the workers a function of this module (``Process(target=worker)``): a
    spawn child imports this module to find it, and runs the launch again."""
    prefix = module.module + "."
    return any(v.qualname and v.qualname.startswith(prefix) for v in [*call.args, *call.kwargs.values()])


def _process_sites(ctx, m: ProcessModel):
    """(site, ForkPoint-like start method) for process dispatch sites whose callable is ours."""
    for site in ctx.sites:
        if site.model != "processes" or site.cloudpickle or site.style == "joblib":
            continue
        if site.function not in ctx.project.functions:
            continue
        method = site.start_method
        call = site.call
        if method is None:
            method = m.method_for(site.module, call)
        if method is None and call.receiver is not None and call.receiver.meta.get("start_method"):
            method = call.receiver.meta.get("start_method")
        yield site, method


def _global_reads(ctx, m: ProcessModel, fn: str) -> List[Tuple[str, str, object]]:
    """(module, name, access) for module globals read by ``fn`` and what it calls."""
    out = []
    seen = set()
    for f in m.reachable_functions(fn):
        info = ctx.project.functions[f]
        for acc in info.accesses:
            if acc.kind not in ("read", "check") or not acc.target.startswith("global:"):
                continue
            modname, _, name = acc.target[len("global:"):].rpartition(".")
            if (modname, name) in seen:
                continue
            seen.add((modname, name))
            out.append((modname, name, acc, f))
        # a global bound only in the main guard after the function was defined is not an access
        mod = ctx.project.function_module[f]
        enclosing = None  # the closure's names, read only for a main-guard global
        for name in info.loaded_names:
            g = mod.globals.get(name)
            if g is None or not g.in_main_guard or name in info.params or name in info.local_names \
                    or (mod.module, name) in seen:
                continue
            if enclosing is None:
                enclosing = _enclosing_names(ctx.project, info)
            if name not in enclosing:
                seen.add((mod.module, name))
                out.append((mod.module, name, _Loc(info.line, info.col), f))
        # NAME.method(...) on a global is not recorded as an access: match the call's receiver
        by_pos = {(g.value.line, g.value.col): g for g in mod.globals.values() if g.value.line}
        for call in ctx.project.calls_of(info):
            r = call.receiver
            g = by_pos.get((r.line, r.col)) if r is not None and r.line else None
            if g is not None and (mod.module, g.name) not in seen:
                seen.add((mod.module, g.name))
                out.append((mod.module, g.name, call, f))
    return out


def _enclosing_names(project, fn) -> set:
    """The names the functions around a nested function bind (its closure's), which hide the
    module's globals of the same spelling (patator's ``module``, a local of ``consume()`` read by
    its nested ``shutdown()``)."""
    out: set = set()
    parent = project.functions.get(fn.parent) if fn.parent else None
    while parent is not None:
        out.update(parent.params)
        out.update(parent.local_names)
        parent = project.functions.get(parent.parent) if parent.parent else None
    return out


class _Loc:
    def __init__(self, line: int, col: int):
        self.line, self.col = line, col


def _writers(ctx, modname: str, name: str) -> List[Tuple[str, object]]:
    """Functions that rebind the global ``modname.name`` (``global name; name = ...``), each with
    its first such access, in the project's order of functions."""
    return ctx.shared(_global_writers).get(f"global:{modname}.{name}", [])


def _global_writers(ctx) -> Dict[str, List[Tuple[str, object]]]:
    """``global:module.name`` -> what ``_writers`` answers for it, for every global, once per run
    (asked per global read by a worker, a scan of every function's accesses cost ~0.1 s a run)."""
    out: Dict[str, List[Tuple[str, object]]] = {}
    for q, fn in ctx.project.functions.items():
        first: Dict[str, object] = {}
        for acc in fn.accesses:
            if acc.kind in ("write", "rmw") and acc.target.startswith("global:") and acc.target not in first:
                first[acc.target] = acc
        for key, acc in first.items():
            out.setdefault(key, []).append((q, acc))
    return out




def _initializers(ctx, m: ProcessModel) -> set:
    out = set()
    for _, call in ctx.project.index.calls("initializer"):
        v = call.kwargs.get("initializer")
        at = INITIALIZER_AT.get(ctx.project.call_target(call) or "")
        if v is None and at is not None and len(call.args) > at:
            v = call.args[at]  # `multiprocessing.Pool(jobs, _mp_init, initargs=(argv,))`
        if v is not None:
            f = ctx.project.function_of_value(v)
            if f:
                out.add(f)
    return out


def _runs_at_import(m: ProcessModel, fn: str) -> bool:
    """Is ``fn`` called from unguarded module-level code (so a spawned child runs it too)?"""
    for _, call in m.callers.get(fn, []):
        if call.function is None and not call.in_main_guard:
            return True
    return False


class WorkerReliesOnForkInheritedState(Rule):
    code = "CCL304"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        m = _model(ctx)
        inits = None
        for site, method in _process_sites(ctx, m):
            if site.module.path != module.path:
                continue
            if method not in (None, "spawn", "forkserver"):
                continue
            if inits is None:
                inits = _initializers(ctx, m)
            worker_fns = set(m.reachable_functions(site.function))
            reported = set()
            for modname, name, acc, reader in _global_reads(ctx, m, site.function):
                gmod = ctx.project.by_module.get(modname)
                g = gmod.globals.get(name) if gmod is not None else None
                if g is None or g.value.kind in ("function", "class", "ref"):
                    continue
                how = None
                related = []
                if g.in_main_guard:
                    how = "assigned only under `if __name__ == \"__main__\":`"
                    related.append({"path": gmod.path, "line": g.line, "col": g.col,
                                    "message": f"'{name}' is set here, in the parent only"})
                else:
                    every = _writers(ctx, modname, name)
                    if any(q in worker_fns and a.kind == "write" for q, a in every):
                        continue  # the worker sets its own copy (`if not _configured: ... _configured = True`)
                    if any(q in inits and a.kind == "write" for q, a in every):
                        continue  # the pool's initializer sets it in each worker (flake8's `_mp_init`)
                    writers = [(q, a) for q, a in every
                               if q not in worker_fns and q not in inits and not _runs_at_import(m, q)]
                    if writers and g.assigned_in_function:
                        q, a = writers[0]
                        wmod = ctx.project.function_module[q]
                        how = f"set at run time by {q.rsplit('.', 1)[-1]}() in the parent"
                        related.append({"path": wmod.path, "line": a.line, "col": a.col,
                                        "message": f"'{name}' is rebound here, in the parent"})
                if how is None or name in reported:
                    continue
                reported.add(name)
                rmod = ctx.project.function_module[reader]
                related.append({"path": rmod.path, "line": acc.line, "col": acc.col,
                                "message": f"the worker reads '{name}' here"})
                method_words = (f"'{method}'" if method else
                                "spawn/forkserver (the default on macOS and Windows, and on Linux from 3.14)")
                yield ctx.report(self.code, module, site.call, function=site.call.function, related=related,
                                 name=name, worker=reader.rsplit(".", 1)[-1], how=how, method=method_words)


class ResourceInheritedAcrossFork(Rule):
    code = "CCL305"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        m = _model(ctx)
        for site, method in _process_sites(ctx, m):
            if site.module.path != module.path:
                continue
            if method == "fork":
                when = "the 'fork' start method"
            elif method is None and m.default_is_fork():
                when = "the default 'fork' start method (Linux, Python before 3.14)"
            else:
                continue
            reported = set()
            for modname, name, acc, reader in _global_reads(ctx, m, site.function):
                gmod = ctx.project.by_module.get(modname)
                g = gmod.globals.get(name) if gmod is not None else None
                if g is None or g.assigned_in_function:
                    continue
                what = _inherited_kind(ctx, g.value)
                if what is None or name in reported:
                    continue
                reported.add(name)
                rmod = ctx.project.function_module[reader]
                related = [{"path": gmod.path, "line": g.line, "col": g.col,
                            "message": f"'{name}' is created here, in the parent"},
                           {"path": rmod.path, "line": acc.line, "col": acc.col,
                            "message": f"the worker uses '{name}' here"}]
                # a lock is copied in the state it had: locked only if a thread held it at the
                # fork; with no thread running, each child just has its own lock (a hazard only
                # if the author meant it to exclude other processes, which the code cannot say:
                # on real code, 0 of 9 such findings were, the per-process copy was what was
                # wanted -- a guard of a cache each process keeps)
                conf = "low" if ctx.project.value_type(g.value) in LOCK_KINDS and \
                    m.running_at(site.module, site.call) is None else "high"
                yield ctx.report(self.code, module, site.call, function=site.call.function, related=related,
                                 name=name, what=what, worker=reader.rsplit(".", 1)[-1], when=when,
                                 confidence=conf)


def _inherited_kind(ctx, v) -> Optional[str]:
    t = ctx.project.value_type(v)
    return INHERITED.get(t) if t else None

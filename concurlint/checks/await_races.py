"""CCL506: a lost update across ``await`` (every mode, one event loop is enough).

A coroutine reads shared state (``self.X``, a class attribute or a module global), awaits, and
then writes that state from what it read; other tasks run at every ``await``, so one of them can
change the state in between and its update is lost:

- read-modify-write with the await inside: ``self.total += await fetch()``;
- check-then-act across an await: ``if self.token is None: ... await ...; self.token = ...``
  (both tasks see ``None`` and both refresh) or ``if self.token is None: self.token = await refresh()``;
- a stale local: ``n = self.count`` ... ``await ...`` ... ``self.count = n + 1``.

Not reported: the write or the read made while an ``asyncio.Lock`` (or any lock) is held
(``async with self._lock:`` around the read, the await and the write, or ``await
self._lock.acquire()`` before them); a re-read after the await;
``ContextVar`` and the other values ``analysis.threads`` knows to be safe; a write that does not
use what was read, or resets it to a constant; a test followed by a write of the state before the
first await (the task claimed it: another task sees the new value). The await positions come from
``Function.awaits``, the reads and writes from ``Function.accesses`` (``Access.into`` names the local a read was taken into).
"""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Access, Function, ModuleFacts
from concurlint.analysis.hints import FRESH_CLOCK, RESOURCE, exclusive, is_cli_code, is_lifecycle, is_test_code
from concurlint.analysis.library import CONSTANT
from concurlint.analysis.threads import is_thread_safe_value, state_info
from concurlint.checks.asyncio_rules import TASK_FACTORIES
from concurlint.checks.asyncio_tasks import _target_at
from concurlint.registry import Finding, Rule

Pos = Tuple[int, int]
# the context manager of an `async with` that serialises the tasks (asyncio's, anyio's or a project's own)
LOCKISH = re.compile(r"(Lock|Semaphore|Condition|Mutex|CapacityLimiter)\b[^.]*$|(^|[._])(lock|mutex|sem)\w*$", re.I)
# classes that implement synchronisation themselves: their waits are the point
PRIMITIVE = re.compile(r"(Lock|Semaphore|Condition|Event|Queue|Barrier|Limiter|Mutex)$")
# a test against one state (`==`, `!=`, `is X` but not `is None`): a state machine, not a value
STATE_MACHINE = re.compile(r"==|!=|\bis\s+(not\s+)?(?!None\b)\w")
# objects made to be used by many tasks at once
TASK_SHARED = re.compile(r"(Client|Pool|Cache|Session|Registry|Manager|Limiter|Scheduler|Broker)$")


class _Pos:
    def __init__(self, line: int, col: int, text: str = ""):
        self.line, self.col, self.end_line, self.end_col, self.text = line, col, line, col, text


def _between(awaits: List[Pos], after: Pos, write: Access) -> Optional[Pos]:
    """The first await after ``after`` that runs before ``write`` stores (its own line included:
    the right-hand side is evaluated before the store)."""
    for a in sorted(awaits):
        if a > after and a[0] <= write.line:
            return a
    return None


def _uses(op: str, name: str) -> bool:
    return bool(name) and re.search(rf"(?<![\w.]){re.escape(name)}\b", op) is not None


def _locked_spans(fn: Function, calls=None) -> List[Tuple[int, int]]:
    """Where a lock is held: ``async with lock:`` blocks, and ``await lock.acquire()`` up to the
    ``lock.release()`` on the same object (or the end of the function: released elsewhere)."""
    spans = [(a, b) for what, a, b in fn.async_withs if LOCKISH.search(what)]
    for c in calls or ():
        recv = c.text[:-len(".acquire")] if c.text.endswith(".acquire") else None
        if recv and c.awaited and LOCKISH.search(recv):
            ends = [r.line for r in calls if r.text == recv + ".release" and r.line > c.line]
            spans.append((c.line, min(ends) if ends else fn.end_line))
    return spans


def _inside(spans: List[Tuple[int, int]], *lines: int) -> bool:
    return any(all(a <= ln <= b for ln in lines) for a, b in spans)


def _rechecked_under_lock(fn: Function, spans: List[Tuple[int, int]], w: Access) -> bool:
    """Double-checked locking: the write sits under a lock after a test of the same state under
    that lock (``if key in self._conns: ...`` then ``async with self._lock: if key in
    self._conns: return ...; self._conns[key] = await connect()``): the test outside only skips
    the lock when the work is done."""
    return any(a <= c.line < w.line <= b for a, b in spans for c in fn.accesses
               if c.target == w.target and (c.kind == "check" or c.in_check))


def _called_under_lock(ctx) -> Tuple[set, set]:
    """(coroutines every project caller awaits while holding a lock: the lock covers them,
    functions the project calls at all)."""
    project = ctx.project
    held: dict = {}
    overrides: dict = {}  # target -> the subclasses' overrides of it, computed once per target
    spans: dict = {}
    for mod, call in project.index.calls("project-call"):
        t = project.call_target(call)
        if t not in project.functions or not call.function:
            continue
        caller = project.functions.get(call.function)
        if call.locks:
            locked = True
        elif caller is None:
            locked = False
        else:
            if caller.qualname not in spans:
                spans[caller.qualname] = _locked_spans(caller, list(project.calls_of(caller)))
            locked = _inside(spans[caller.qualname], call.line)
        held.setdefault(t, []).append(locked)
        # ``self.m()`` in a base class runs a subclass's override of ``m`` as well (only
        # coroutines matter here: the rule looks at nothing else)
        fn = project.functions[t]
        if not fn.cls:
            continue
        if t not in overrides:
            overrides[t] = [q for q in project.overrides(t) if project.functions[q].is_async]
        for q in overrides[t]:
            held.setdefault(q, []).append(locked)
    return {q for q, flags in held.items() if all(flags)}, set(held)


def _task_drivers(ctx) -> Tuple[Dict[str, int], Dict[str, List[str]]]:
    """(coroutine -> how many places start it as a task, function -> the functions that call
    it). A task factory is asyncio's or a project helper named like one (``util.create_task``)."""
    project = ctx.project
    started: Dict[str, int] = {}
    callers: Dict[str, List[str]] = {}
    bodies = set()  # where the coroutine call handed to a factory is written: not a direct call
    for mod, call in project.index.calls("task-factory"):
        t = project.call_target(call) or ""
        if t in TASK_FACTORIES or (t in project.functions and t.rsplit(".", 1)[-1] in ("create_task", "ensure_future")):
            coro = call.args[0] if call.args else None
            if coro is not None and coro.kind == "call":
                body = coro.qualname or _target_at(project, mod, coro)
                if body in project.functions:
                    started[body] = started.get(body, 0) + 1
                    bodies.add((mod.path, coro.line, coro.col))
    for mod, call in project.index.calls("project-call"):
        t = project.call_target(call)
        if t in project.functions and call.function and (mod.path, call.line, call.col) not in bodies:
            callers.setdefault(t, []).append(call.function)
    return started, callers


def _one_task(project, fn: Function, drivers, depth: int = 0) -> bool:
    """Only one task ever runs ``fn``: it is the body of a task started at one place and called
    nowhere else (``self._task = create_task(self._coordination_routine())``), or a private
    coroutine of the same class called only from such code. Two tasks cannot interleave in it."""
    started, callers = drivers
    direct = callers.get(fn.qualname, [])
    if started.get(fn.qualname) == 1 and not direct:
        return True
    if depth > 4 or not direct or not fn.name.startswith("_"):
        return False
    for q in set(direct):
        g = project.functions.get(q)
        if g is None or not g.is_async or g.cls != fn.cls or not _one_task(project, g, drivers, depth + 1):
            return False
    return True


# the protocol methods one task drives for the object it iterates, enters or awaits
ONE_DRIVER = frozenset({"__anext__", "__aiter__", "__aenter__", "__aexit__", "__await__"})
# `= _State.CLOSED`, `= WebSocketState.DISCONNECTED`: a state constant, not the stale value
ENUM_MEMBER = re.compile(r"^= [A-Za-z_][\w]*\.[A-Z][A-Z0-9_]*$")


class LostUpdateAcrossAwait(Rule):
    code = "CCL506"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        covered, called = ctx.shared(_called_under_lock)
        drivers = ctx.shared(_task_drivers)
        for fn in module.functions.values():
            if not fn.is_async or not fn.awaits or fn.is_lambda or fn.qualname in covered:
                continue
            if fn.cls and PRIMITIVE.search(fn.cls.rsplit(".", 1)[-1]):
                continue
            spans = _locked_spans(fn, [module.calls[i] for i in fn.calls])
            done = set()
            for i, w in enumerate(fn.accesses):
                if w.locks or w.target in done or not (w.kind in ("write", "rmw") or w.op.startswith("[...] =")):
                    continue
                if not self.shared(project, w) or (w.kind == "write" and (CONSTANT.match(w.op) or ENUM_MEMBER.match(w.op)
                                                                          or FRESH_CLOCK.match(w.op))):
                    continue  # a reset to a constant (`self.fut = None`) or a fresh time: no stale value carried
                found = self.stale_read(fn, i, w, module.calls)
                if found is None:
                    continue
                how, r, at = found
                if _inside(spans, r.line, w.line) or _rechecked_under_lock(fn, spans, w):
                    continue
                if exclusive(fn, r.line, w.line):
                    continue  # the read and the write are on different branches of an `if`
                at = next((a for a in sorted(fn.awaits) if a >= at and a[0] <= w.line
                           and not exclusive(fn, a[0], w.line) and not exclusive(fn, r.line, a[0])), None)
                if at is None:
                    continue  # every await between them is on another branch than the write
                done.add(w.target)
                desc, path, line, _ = state_info(project, w.target)
                related = [{"path": module.path, "line": at[0], "col": at[1], "message": "other tasks run at this await"}]
                if (r.line, r.col) != (w.line, w.col):
                    related.append({"path": module.path, "line": w.line, "col": w.col,
                                    "message": f"the write '{w.op}' based on the stale value"})
                if path:
                    related.append({"path": path, "line": line, "col": 0, "message": f"{desc} is defined here"})
                yield ctx.report(self.code, module, _Pos(r.line, r.col, r.op), function=fn.qualname, related=related,
                                 confidence=("low" if _one_task(project, fn, drivers)
                                             else self.confidence(project, module, fn, w, r, fn.qualname in called)),
                                 state=desc, how=how,
                                 await_line=at[0], write=f"'{w.op}' at line {w.line}")

    @staticmethod
    def shared(project, w: Access) -> bool:
        if w.target.startswith("attr:") and not w.via_self:
            return True  # Cls.X / cls.X: a class attribute every task sees
        desc, path, line, value = state_info(project, w.target)
        if is_thread_safe_value(project, value):
            return False
        return w.target.startswith("attr:") or path is not None

    @staticmethod
    def stale_read(fn: Function, index: int, w: Access, calls=None) -> Optional[Tuple[str, Access, Pos]]:
        """(how the write depends on the read, the read, the await between) or None."""
        if w.kind == "rmw":
            at = next((a for a in fn.awaits if a[0] == w.line and a[1] > w.col), None)
            if at is not None:
                return f"'{w.op}' with an await on its right-hand side", w, at
        earlier = fn.accesses[:index]
        checks = [a for a in fn.accesses if a.kind == "check" and a.target == w.target and not a.locks
                  and a.line < w.line]
        for c in checks:
            at = _between(fn.awaits, (c.line, c.col), w)
            if at is None or LostUpdateAcrossAwait.reread(earlier, w.target, at):
                continue
            if LostUpdateAcrossAwait.claimed(fn, c, w.target, at):
                continue
            return f"checked ('{c.op}')", c, at
        for r in reversed(earlier):
            if r.target == w.target and r.kind == "read" and r.into and not r.locks and _uses(w.op, r.into):
                at = _between(fn.awaits, (r.line, r.col), w)
                if at is not None and not LostUpdateAcrossAwait.rebound(fn, r, w, calls):
                    return f"read into '{r.into}'", r, at
                break
        return None

    @staticmethod
    def rebound(fn: Function, r: Access, w: Access, calls) -> bool:
        """The local name the read went into is bound again, from something new, before the write
        (``services = self._cache.get(key)`` ... ``services = Collection()`` ... ``self._cache[key] =
        services``): the value written is not the one read."""
        if any(name == r.into and r.line < line <= w.line for name, line in fn.rebinds):
            return True
        if calls is None:
            return False
        for i in fn.calls:
            c = calls[i]
            if c.assigned_to == r.into and r.line < c.line <= w.line \
                    and not any(_uses(v.text or "", r.into) for v in list(c.args) + list(c.kwargs.values())) \
                    and not (c.text or "").startswith(r.into + "."):
                return True
        return False

    @staticmethod
    def claimed(fn: Function, check: Access, target: str, at: Pos) -> bool:
        """The state is written after the test and before the await, on the await's path
        (``if self.http is None: self.http = factory(); if iscoroutine(self.http): self.http =
        await self.http``; ``if key not in self._fetchers: self._fetchers[key] = None`` as a
        placeholder): another task that runs at the await sees it set, not the old value."""
        return any(a.target == target and (a.kind == "write" or (a.kind == "mutate" and a.op.startswith("[...] =")))
                   and (a.line, a.col) > (check.line, check.col)
                   and a.line < at[0] and not exclusive(fn, a.line, at[0]) for a in fn.accesses)

    @staticmethod
    def reread(earlier: List[Access], target: str, at: Pos) -> bool:
        """Read again, in a test, after the await: the write acts on a fresh value."""
        return any(a.target == target and a.in_check and (a.line, a.col) > at for a in earlier)

    @staticmethod
    def confidence(project, module: ModuleFacts, fn: Function, w: Access, r: Access, called: bool) -> str:
        if is_test_code(module.module, fn.qualname) or is_cli_code(module.module):
            return "low"  # a test; or a command-line program's own module: one command at a time
        if r.into and w.op.strip() == f"= {r.into}":
            return "low"  # old = self.x; self.x = new; await ...; self.x = old: a save and restore
        if r.kind == "check" and w.op.startswith("[...] =") and not LostUpdateAcrossAwait.takes_resource(module, fn, w):
            return "low"  # `if key not in cache: ... cache[key] = await fetch(key)`: a keyed fill, a duplicate fetch at worst
        if r.kind == "check" and STATE_MACHINE.search(r.op):
            return "low"  # `if self.state == X`: the path that awaits usually leaves (returns, raises)
        if w.via_self and not LostUpdateAcrossAwait.task_shared(project, w.target[5:].rpartition(".")[0]):
            return "low"  # an object's own state: usually one task owns the object at a time
        if w.via_self and _one_consumer(project, w.target[5:].rpartition(".")[0]):
            return "low"  # a cursor or a response: consumed by the one task that made it (DB-API)
        if fn.name in ONE_DRIVER:
            return "low"  # `async for` / `async with` / `await obj`: the one task using the object drives it
        if is_lifecycle(fn.qualname):
            return "low"  # connect/start/close: usually one task calls it once
        if fn.name.startswith("_") and not fn.name.endswith("__") and not called:
            return "low"  # a private helper whose callers are not seen: they may hold the lock
        if fn.name.startswith("_") and not fn.name.endswith("__") and w.via_self:
            return "low"  # a private helper of the object: its own machinery decides who runs it when
        if r.kind == "check" and LostUpdateAcrossAwait.cached_query(project, module, fn, w):
            return "low"  # both tasks would store the same answer: a duplicate query, not a lost update
        if r.kind == "check" and LostUpdateAcrossAwait.lazy_answer(module, fn, w, r):
            return "low"  # both tasks load an equivalent value: a duplicate load, not a leak
        return "high"

    @staticmethod
    def takes_resource(module: ModuleFacts, fn: Function, w: Access) -> bool:
        """``self._pending[node] = await open_connection(host, port)``: the value stored is a
        resource taken at the await (the overwritten one leaks). Not when it is entered into an
        exit stack (``await stack.enter_async_context(...)``): the stack closes every one."""
        if not w.op.startswith("[...] = await"):
            return False
        awaited = [module.calls[i] for i in fn.calls if module.calls[i].line == w.line and module.calls[i].awaited]
        return any(RESOURCE.search(c.text) for c in awaited) and not any(
            c.text.endswith("enter_async_context") for c in awaited)

    @staticmethod
    def lazy_answer(module: ModuleFacts, fn: Function, w: Access, r: Access) -> bool:
        """``if self._credentials is None: self._credentials = await provider.load_credentials()``:
        lazy initialisation from an awaited call that answers a question (credentials, a
        configuration, a path); two tasks both load it and the second value replaces an equally
        good first. Not when the call hands out a resource to release (a connection, a lease):
        the overwritten one leaks."""
        if not (re.search(r"\bis\s+None\b", r.op) or r.op.lstrip().startswith("not ")):
            return False
        if w.op.startswith(("= {", "= [", "= (")):
            # `self._server_info = {"version": info.build_tags, ...}` from a reply awaited above:
            # a record of an answer, whatever the call that fetched it was named
            return True
        if not w.op.startswith("= await"):
            return False
        awaited = [module.calls[i] for i in fn.calls if module.calls[i].line == w.line and module.calls[i].awaited]
        return bool(awaited) and not any(RESOURCE.search(c.text) for c in awaited)

    @staticmethod
    def cached_query(project, module: ModuleFacts, fn: Function, w: Access) -> bool:
        """``if self.cwd is None: self.cwd = await self.realpath(".")``: the value stored is what
        one of the object's own methods answers to constant arguments (a host name, a working
        directory); a resource taken from another object (``await self.pool.get_connection()``)
        is not."""
        for i in fn.calls:
            c = module.calls[i]
            if c.line != w.line or not c.awaited:
                continue
            head, _, method = c.text.rpartition(".")
            callee = project.functions.get(project.call_target(c) or "")
            if callee is None or callee.cls is None:
                continue  # a callable held in an attribute (a token fetcher passed in): anything
            if head in ("self", "cls") and method and all(a.kind == "literal" for a in c.args) \
                    and all(v.kind == "literal" for v in c.kwargs.values()) and not c.star_args:
                return True
        return False

    @staticmethod
    def task_shared(project, cls: str) -> bool:
        """Is the class made for many tasks at once: it holds an asyncio lock or semaphore, or
        its name says it is a client, pool, cache or session?"""
        info = project.classes.get(cls)
        if info is None:
            return False
        if TASK_SHARED.search(info.name):
            return True
        for v in info.attrs.values():
            t = project.value_type(v) or (v.qualname if v.kind in ("instance", "call") else None) or ""
            if LOCKISH.search(t):
                return True
        return False


# objects that one task makes and consumes: a DB-API cursor ("cursors are not shared between
# tasks"), an HTTP response and its body, a query's result set
ONE_CONSUMER = re.compile(r"(Cursor|Response|ResultSet|QueryResult)(Base|Mixin)?$")


def _one_consumer(project, cls: str) -> bool:
    """The class (or a base of it) is named as a cursor, a response or a result."""
    return any(ONE_CONSUMER.search(c.rsplit(".", 1)[-1]) for c in project.ancestors(cls))

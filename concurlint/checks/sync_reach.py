"""Reachability through synchronous code, for the asyncio rules (CCL501, CCL505).

``_Walker`` finds, once per run, the call matching a predicate that waits longest below every
synchronous project function, by the shortest chain of calls that stay on the caller's thread. A wait that a
zero makes return at once (``select(..., timeout)`` with a ``timeout=0`` default, a loop over
``range(n)``) is reached only through calls that give that parameter something else.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Tuple

from concurlint.analysis.facts import Call, Function, Value
from concurlint.analysis.hints import argument_for
from concurlint.knowledge import Matcher


# waits that take a timeout: (its position, its keyword)
TIMEOUT_ARGS = {
    "select.select": (3, "timeout"), "select.poll.poll": (0, "timeout"), "select.epoll.poll": (0, "timeout"),
    "select.devpoll.poll": (0, "timeout"), "selectors.BaseSelector.select": (0, "timeout"),
    "zmq.Poller.poll": (0, "timeout"),
}
ZERO = ("0", "0.0", "False")
# decorators that make a plain function run in a worker thread when called (the call returns a
# handle at once): Textual's `@work` on a non-async method requires `thread=True`
THREAD_WORKERS = frozenset({"textual.work", "textual.worker.work"})


def in_worker_thread(fn: Function) -> bool:
    """``@work(thread=True) def _ensure_tzdata(self): ...``: calling it from a coroutine starts a
    worker thread; its body does not run on the caller's thread."""
    return not fn.is_async and any(d in THREAD_WORKERS for d in fn.decorators)


def on_worker_loop(fn: Function) -> bool:
    """``@work(thread=True) async def refresh(self): ...``: Textual runs the coroutine on an event
    loop of its own in the worker thread, alone there."""
    return fn.is_async and fn.thread_decorated and any(d in THREAD_WORKERS for d in fn.decorators)


def _timeout_of(call: Call, target: str) -> Optional[Value]:
    pos, key = TIMEOUT_ARGS[target]
    return call.kwargs.get(key) or (call.args[pos] if len(call.args) > pos else None)


def _literal_false(v: Optional[Value]) -> bool:
    return v is not None and v.kind == "literal" and v.text in ("False", "0", "0.0")


# ---------------------------------------------------------------- reachability through sync code
@dataclass
class Reach:
    chain: Tuple[str, ...]  # functions from the caller's callee down to the one making the call
    desc: str
    path: str
    line: int
    col: int
    weight: float = 3  # wait_weight of the call (3 network/process/sleep, 2 files, 1 metadata)
    target: str = ""  # what the call resolves to (``time.sleep``), for naming the remedy

    def through(self, caller: str) -> "Reach":
        """The same call, reached one function further up."""
        return replace(self, chain=(caller,) + self.chain)


class _Walker:
    """The shortest chain from a synchronous project function to the call matching ``pred`` that
    waits longest (a ``subprocess.run`` two calls down is named over an ``os.path.exists`` in the
    function itself: the message names the wait that matters),
    without leaving synchronous code (async callees are not run by calling them; generators only
    when iterated) and without entering diagnostics-only code (``cold-paths`` in the knowledge
    base: a warning or a traceback being formatted is not the loop's normal work).

    Computed once for the whole project: functions that make a matching call directly are at
    distance 1, and a breadth-first walk over the reversed call graph gives every other function
    its nearest one, so the chain shown is the shortest, whatever the depth; a caller already
    reached is reached again only by a longer wait (weights only grow, so the walk ends)."""

    def __init__(self, project, pred: Callable[[Call, Optional[str]], Optional[str]], test: str,
                 weight: Callable[[str], int] = lambda target: 3,
                 subject: Callable[[Call, Optional[str]], Optional[str]] = lambda call, target: target):
        """``test``: the test of ``analysis/call_index.py`` that every call ``pred`` names passes;
        ``subject``: the call that does the work a named call stands for (the listing that
        ``sorted(path.iterdir())`` consumes), weighed and kept as the reach's target."""
        self.p = project
        self.pred = pred
        self.test = test
        self.weight = weight
        self.subject = subject
        self.cold = Matcher(project.kb.table("calls").get("cold-paths", []))
        self.table: Optional[Dict[str, Reach]] = None
        self.conditional: Dict[str, Tuple[str, Reach]] = {}

    def runs(self, call: Call, target: Optional[str]) -> Optional[Function]:
        """The sync project function this call runs on the caller's thread, if any."""
        if target is None or call.use == "raise":
            return None  # `raise ffmpeg_failed(...)`: the error is built only on the failure path
        fn = self.p.functions.get(target)
        if fn is None or fn.is_async or self.cold.match(target) or in_worker_thread(fn):
            return None
        if fn.is_generator and call.use != "iter":
            return None
        return fn

    def _build(self) -> Dict[str, Reach]:
        p = self.p
        table: Dict[str, Reach] = {}
        callers: Dict[str, List[Tuple[str, Call]]] = {}
        queue: deque = deque()
        self.conditional = {}
        candidates = p.index.owned(self.test)  # the calls pred may name, per function
        edges = p.edges()
        for q, fn in p.functions.items():
            if fn.is_async or self.cold.match(q) or in_worker_thread(fn):
                continue
            mod = p.function_module[q]
            named = set()  # the calls pred names: not calls of a callee that may wait
            for call in candidates.get(q, ()):
                target = p.call_target(call)
                desc = self.pred(call, target)
                if desc is None:
                    continue
                named.add(id(call))
                target = self.subject(call, target)
                param = _param_condition(fn, call, target)
                if param is not None:
                    # waits only when the caller passes a non-zero value for `param`
                    self.conditional.setdefault(q, (param, Reach((q,), desc, mod.path, call.line, call.col,
                                                                  self.weight(target or ""), target or "")))
                    continue
                # the call in this function that waits longest is the one to name
                w = self.weight(target or "")
                if q not in table:
                    table[q] = Reach((q,), desc, mod.path, call.line, call.col, w, target or "")
                    queue.append(q)
                elif w > table[q].weight:
                    table[q] = Reach((q,), desc, mod.path, call.line, call.col, w, target or "")
            for call, target in edges[q]:
                if named and id(call) in named:
                    continue
                callee = self.runs(call, target)
                if callee is not None and callee.qualname != q:
                    callers.setdefault(callee.qualname, []).append((q, call))
        pending = deque(self.conditional.items())
        while pending or queue:
            while pending:
                q, (param, r) = pending.popleft()
                if q in table:
                    continue
                for caller, call in callers.get(q, ()):
                    if caller in table:
                        continue
                    handed = _handed_param(p.functions[q], param, call, p.functions[caller])
                    if handed is not None:
                        # `_launch_add(api, ..., build)` inside `def launch_add(..., build=False)`:
                        # the caller passes its own parameter on, so it waits only when its caller
                        # gives that one a value (CCL505 asyncio.run under `if build:`)
                        if caller not in self.conditional:
                            self.conditional[caller] = (handed, r.through(caller))
                            pending.append((caller, self.conditional[caller]))
                        continue
                    if _passes_nonzero(p.functions[q], param, call, p):
                        table[caller] = r.through(caller)
                        queue.append(caller)
            if not queue:
                break
            q = queue.popleft()
            r = table[q]
            for caller, call in callers.get(q, ()):
                known = table.get(caller)
                if known is not None and known.weight >= r.weight:
                    continue  # it already reaches a wait as long, by a chain no longer
                reach = r.through(caller)
                guard = _param_condition(p.functions[caller], call, None)
                if guard is not None:
                    # `if use_server_time: server_time()`: the helper that waits is called only
                    # when the caller's caller turns the parameter on (the longest wait under the
                    # same test is the one to name: `if path: open(path); run_pip(path)`)
                    known = self.conditional.get(caller)
                    if known is None or (known[0] == guard and known[1].weight < reach.weight):
                        self.conditional[caller] = (guard, reach)
                        pending.append((caller, self.conditional[caller]))
                    continue
                table[caller] = reach
                queue.append(caller)
        return table

    def reach(self, q: str, call: Optional[Call] = None) -> Optional[Reach]:
        """The nearest matching call below ``q``; with ``call`` (the call of ``q`` being
        judged), also a wait that depends on what that call passes (``timeout=5``)."""
        if self.table is None:
            self.table = self._build()
        r = self.table.get(q)
        if r is None and call is not None and q in self.conditional:
            param, r = self.conditional[q]
            if not _passes_nonzero(self.p.functions[q], param, call, self.p):
                return None
        return r


def _param_condition(fn: Function, call: Call, target: Optional[str]) -> Optional[str]:
    """The parameter of ``fn`` the wait depends on, when a zero makes it return at once: the
    timeout of a ``select``/``poll`` given as a parameter whose default is 0
    (``def select(self, sock, timeout=0): select.select([sock], [], [], timeout)``), or the count
    of the ``for _ in range(n)`` loop around it (``n=0``: it never runs)."""
    if target in TIMEOUT_ARGS:
        t = _timeout_of(call, target)
        if t is not None and t.kind in ("name", "instance") and t.text in fn.params and dict(fn.defaults).get(t.text) in ZERO:
            return t.text
    i = call.loop
    while 0 <= i < len(fn.loops):
        loop = fn.loops[i]
        if loop.desc.startswith("for loop over range(") and loop.desc.endswith(")"):
            n = loop.desc[len("for loop over range("):-1]
            if n in fn.params:
                return n
        i = loop.parent
    for name, op, const, first, last in fn.guards:
        # `if timeout is not None: ... time.sleep(...)`, `if retry: ... time.sleep(...)`: the wait
        # runs only when the caller passes the parameter (its default turns it off)
        if first <= call.line <= last and name in fn.params:
            if op == "is not" and const == "None":
                return name + "|none"
            if op == "truthy":
                return name + "|falsy"
    return None


def _handed_param(fn: Function, param: str, call: Call, caller: Function) -> Optional[str]:
    """The caller's own parameter that ``call`` hands on unchanged as ``param`` (same condition
    suffix), when the caller's default for it turns the wait off too; else None."""
    name, sep, kind = param.partition("|")
    given = argument_for(fn, name, call)
    if given is None or isinstance(given, str) or not given.text.isidentifier() or given.text not in caller.params:
        return None
    off = ("None",) if kind == "none" else FALSY if kind == "falsy" else ZERO
    default = dict(caller.defaults).get(given.text)
    if default is None or default not in off:
        return None
    return given.text + sep + kind


FALSY = ZERO + ("None", "''", '""', "[]", "{}", "()")


def _passes_nonzero(fn: Function, param: str, call: Call, project=None) -> bool:
    """Does ``call`` (of ``fn``) give ``param`` a value other than zero (by default too)? With a
    ``|none`` suffix: other than None; with ``|falsy``: a true value. ``self.flag`` counts as
    zero when every assignment of that attribute in the project stores a zero (``self.flag =
    False`` in ``__init__``, a setting kept for compatibility)."""
    param, _, kind = param.partition("|")
    off = ("None",) if kind == "none" else FALSY if kind == "falsy" else ZERO
    given = argument_for(fn, param, call)
    if given is None:
        return call.star_args or "**" in call.kwargs or dict(fn.defaults).get(param) not in off
    if isinstance(given, str):
        return given not in off  # the default it keeps
    if project is not None and given.text.startswith("self.") and _attribute_always(project, call, given.text[5:], off):
        return False
    return not (given.kind == "literal" and given.text in off)


def _attribute_always(project, call: Call, name: str, off) -> bool:
    """Every write of ``self.<name>`` in the class of the function making ``call`` (and in the
    rest of the project) stores one of the constants ``off``."""
    caller = project.functions.get(call.function) if call.function else None
    if caller is None or caller.cls is None or not name.isidentifier():
        return False
    target = f"attr:{caller.cls}.{name}"
    writes = [a for f in project.functions.values() for a in f.accesses if a.target == target
              and a.kind in ("write", "mutate", "rmw")]
    return bool(writes) and all(a.kind == "write" and a.op.startswith("= ") and a.op[2:].strip() in off
                                for a in writes)

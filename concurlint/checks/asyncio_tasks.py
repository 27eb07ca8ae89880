"""CCL503: a task created and dropped (the event loop keeps only a weak reference to it).

Confidence follows what the task runs and what keeps it alive: high when it runs code the project
was handed (a parameter, a user's callback or handler: it may await anything, and its errors are
lost); medium when it runs one of the project's own coroutines (what those await, a connection or
a stream, is usually held by the loop's transports while they wait); low when every wait of the
task holds it (the loop's timer, the instance's own queue or condition) or when it is started
during start-up or shut-down (a lifecycle method, or a function installed as a signal handler).
"""
from __future__ import annotations

from typing import Iterator, Optional

from concurlint.analysis.facts import Call, ModuleFacts
from concurlint.analysis.hints import is_cli_code, is_lifecycle, is_test_code
from concurlint.checks.asyncio_rules import TASK_FACTORIES
from concurlint.checks.library import SIGNAL_CALLS
from concurlint.registry import Finding, Rule


# ---------------------------------------------------------------- CCL503
class DanglingTask(Rule):
    code = "CCL503"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        handlers = ctx.shared(_signal_handlers)
        for call in module.calls:
            if call.use != "discard" and not _unused_local(module, call):
                continue
            target = project.call_target(call)
            api = TASK_FACTORIES.get(target or "")
            made, related = call, []
            if api is None:
                # `call_later(coro)` where the helper is `return asyncio.create_task(coro)`: the
                # helper hands the task to its caller, who drops it
                inner = _returned_task(project, target)
                if inner is None:
                    continue
                api = target.rsplit(".", 1)[-1]
                hmod = _module_of(project, module, inner)
                related = [{"path": hmod.path, "line": inner.line, "col": inner.col,
                            "message": f"{api}() returns the task {TASK_FACTORIES[project.call_target(inner)]}() makes here"}]
                if not _passes_parameter(project, target, inner):
                    made = inner  # the helper makes the coroutine itself: judge what it runs
            if made is call and call.args and _uncalled(project, call.args[0]):
                continue  # `create_task(self.poll)`: no task is made, it raises TypeError (CCL507)
            where = _module_of(project, module, made)  # the module of the call that makes the task
            if _never_suspends(project, where, made):
                continue  # it runs to its end in its first step, while the loop's ready queue holds it
            if is_test_code(module.module, call.function) or is_lifecycle(call.function):
                conf = "low"  # a test helper, or a task started while shutting down
            elif is_cli_code(module.module):
                conf = "low"  # a command-line program's own module: one command's run, awaited to its end
            elif _in_any(call.function, handlers):
                conf = "low"  # started by a signal handler: once, usually to shut down
            elif _kept_alive(project, where, made):
                conf = "low"  # what it waits on holds it: the object's own queue, or a timer
            elif _runs_callers_code(project, where, made):
                # a coroutine the code was handed (a user's handler, a callback, a coroutine
                # passed in): it may await something only it references, and its errors are lost
                conf = "high"
            else:
                # the project's own coroutine, or an object's: what it awaits (a connection, a
                # stream, a timer, a future the object keeps) is held by the loop's transports and
                # handles, or by the live object, while it waits. On real code 142 of 175 such
                # findings at medium were wrong and 20 not worth it, for 13 real ones
                # (docs/precision.md, twelfth round): low
                conf = "low"
            if related and conf == "high":
                # through a helper: the helper may be a fire-and-forget API whose task something
                # else holds (prompt_toolkit's run_in_terminal), which is not followed
                conf = "medium"
            yield ctx.report(self.code, module, call, function=call.function, api=api, confidence=conf,
                             related=related)


def _unused_local(module: ModuleFacts, call: Call) -> bool:
    """``task = asyncio.create_task(...)`` and ``task`` never read again in the function: the
    reference dies with the frame, as good as dropped."""
    if call.use != "assign" or not call.assigned_to or not call.assigned_to.isidentifier() or not call.function:
        return False
    fn = module.functions.get(call.function)
    if fn is None or call.assigned_to in fn.globals_declared:
        return False
    name = call.assigned_to
    if name in fn.loaded_names and module.functions.get(fn.qualname) is fn:
        return False  # read in the function itself (the usual case): no need to scan the others
    # read in the function, in a function nested in it (a `cancel()` closure), or in one it is
    # nested in (a `nonlocal task` set by an inner function, awaited by the outer one)
    inner = fn.qualname + ".<locals>."
    related = [f for q, f in module.functions.items() if q == fn.qualname or q.startswith(inner)]
    parent = fn.parent
    while parent:
        outer = module.functions.get(parent)
        if outer is None:
            break
        related.append(outer)
        parent = outer.parent
    return not any(name in f.loaded_names for f in related)


def _runs_callers_code(project, module: ModuleFacts, call: Call) -> bool:
    """The task runs a coroutine this code did not write: a parameter (``def run_task(task):
    loop.create_task(task)``), the result of calling a callable it was handed or looked up
    (``asyncio.create_task(callback(event))``, ``res = listener(msg); loop.create_task(res)``,
    ``ensure_future(self._pointer(payload))`` where ``_pointer`` is no method of the class)."""
    coro = call.args[0] if call.args else call.kwargs.get("coro")
    fn = project.functions.get(call.function) if call.function else None
    if coro is None or fn is None:
        return False
    if coro.kind == "call":
        return _calls_handed_callable(project, module, fn, coro)
    name = coro.text
    if not name.isidentifier():
        return False
    if name in fn.params and name not in ("self", "cls"):
        return True
    made = [module.calls[i] for i in fn.calls if module.calls[i].assigned_to == name]
    return len(made) == 1 and _calls_handed_callable(project, module, fn, made[0], value=False)


def _calls_handed_callable(project, module: ModuleFacts, fn, coro, value: bool = True) -> bool:
    """``coro`` (a call, as a Value or a Call) calls a callable held in a name or in an attribute
    of ``self`` that is no method of the class: code handed in, not the project's own."""
    target = (coro.qualname or _target_at(project, module, coro)) if value else project.call_target(coro)
    if target is not None:
        return False
    callee = coro.text.split("(", 1)[0]
    if callee.endswith("]"):
        return True  # `handlers[name](event)`: a callable looked up in a table
    if callee.isidentifier():
        if callee in module.imports or callee in module.functions or callee in module.classes:
            return False
        # `handler = table.get(kind)` from a table of the project's own methods: not handed in
        looked_up = [module.calls[i] for i in fn.calls if module.calls[i].assigned_to == callee]
        return not (looked_up and all(_own_table(project, c) for c in looked_up))
    head, _, attr = callee.partition(".")
    if head != "self" or not attr.isidentifier() or fn.cls is None:
        return False
    info = project.classes.get(fn.cls)
    return info is not None and attr not in info.methods and not any(
        attr in (project.classes[b].methods if b in project.classes else {}) for b in info.bases) \
        and not _wired_to_own_code(project, fn.cls, attr)


def _wired_to_own_code(project, cls: str, attr: str) -> bool:
    """``self.attr`` holds a callable the project itself wires in: every value the attribute
    gets is a parameter of the class's constructor, and every construction of the class in the
    project passes one of the project's own functions there (``MqttPackageHandler(...,
    disconnect_callback=self.disconnect)``). A coroutine of the project's own, then, not code a
    user handed in. A class the project never constructs is public API: its callbacks are the
    user's."""
    init = project.functions.get(cls + ".__init__")
    if init is None:
        return False
    key = f"attr:{cls}.{attr}"
    sources = {a.op[2:] for q in project.classes[cls].methods.values() if q in project.functions
               for a in project.functions[q].accesses if a.target == key and a.kind == "write"}
    if len(sources) != 1 or not sources <= set(init.params[1:]):
        return False  # set from several places, or not from a constructor parameter
    param = sources.pop()
    index = init.params.index(param) - 1
    made = project.calls_to(init.qualname)  # `Handler(...)` runs Handler.__init__
    if not made:
        return False
    for c in made:
        value = c.kwargs.get(param) or (c.args[index] if index < len(c.args) else None)
        if value is None or value.kind not in ("bound-method", "function") or value.qualname not in project.functions:
            return False
    return True


def _own_table(project, call: Call) -> bool:
    """``table.get(kind)`` on a dict display whose values are all the project's own functions
    or methods (``{'welcome': self._handle_welcome, ...}``)."""
    recv = call.receiver
    if call.method != "get" or recv is None or recv.kind != "container" or not recv.inner:
        return False
    return all(v.kind in ("bound-method", "function") and v.qualname in project.functions for v in recv.inner)


def _returned_task(project, target: Optional[str]) -> Optional[Call]:
    """In a sync project function, ``return asyncio.create_task(coro)``: the call that makes
    the task its caller receives."""
    fn = project.functions.get(target or "")
    if fn is None or fn.is_async:
        return None
    for c in project.calls_of(fn):
        if c.use == "return" and project.call_target(c) in TASK_FACTORIES:
            return c
    return None


def _passes_parameter(project, target: str, inner: Call) -> bool:
    """The helper wraps the coroutine its caller hands it (``def call_later(coro): return
    asyncio.create_task(coro)``)."""
    fn = project.functions[target]
    return bool(inner.args) and inner.args[0].text in fn.params


def _module_of(project, module: ModuleFacts, call: Call) -> ModuleFacts:
    return project.function_module.get(call.function or "", module) if call.function else module


def _owner_alive(project, call: Call, coro_text: str) -> bool:
    """The object whose method the task runs outlives the wait: it is the creator's own ``self``,
    or a local of a coroutine that goes on awaiting after it made the task (``worker =
    make_worker(); loop.create_task(worker.run()); async for ...: await ...``)."""
    receiver = coro_text.split("(", 1)[0].rpartition(".")[0]
    if receiver.startswith("self.") or receiver == "self":
        return True
    creator = project.functions.get(call.function) if call.function else None
    if creator is None or not creator.is_async or not receiver.isidentifier():
        return False
    # it awaits later, or on the next turn of the loop the task is made in (`async for` included)
    since = creator.loops[call.loop].line if 0 <= call.loop < len(creator.loops) else call.line + 1
    return any(line >= since and line != call.line for line, _ in creator.awaits)


def _signal_handlers(ctx) -> frozenset:
    """The functions the project installs as signal handlers (``signal.signal(SIGTERM, stop)``,
    ``loop.add_signal_handler(SIGINT, self.shutdown)``)."""
    project = ctx.project
    out = set()
    for _mod, call in project.index.calls("signal-handler"):
        if len(call.args) < 2:
            continue
        t = project.call_target(call)
        if t in SIGNAL_CALLS or (t is None and call.method == "add_signal_handler"):
            handler = call.args[1]
            if handler.kind in ("function", "bound-method", "lambda") and handler.qualname:
                out.add(handler.qualname)
    return frozenset(out)


def _in_any(function, handlers) -> bool:
    """``function`` is one of ``handlers`` or nested in one."""
    return bool(function) and any(function == h or function.startswith(h + ".<locals>.") for h in handlers)


def _target_at(project, module: ModuleFacts, value) -> Optional[str]:
    """What the call written at ``value``'s position resolves to across the project
    (``worker = create_worker(); worker.run()``: the return annotation of another module)."""
    for c in module.calls:
        if c.line == value.line and c.col == value.col:
            return project.call_target(c)
    return None


# waits on the loop's timer: the timer handle holds the sleeping task
TIMER_WAITS = frozenset({"asyncio.sleep", "anyio.sleep", "anyio.sleep_until"})


def _task_coroutine(project, module: ModuleFacts, call: Call):
    """(the project coroutine function a task-making call runs, the Value of its call), or Nones."""
    coro = call.args[0] if call.args else None
    if coro is None or coro.kind != "call":
        return None, None
    fn = project.functions.get(coro.qualname or _target_at(project, module, coro) or "")
    return (fn, coro) if fn is not None and fn.is_async else (None, None)


def _no_suspension(project, fn) -> bool:
    """No ``await``, ``async for`` or ``async with`` in the coroutine: it runs to its end in its
    first step."""
    return not fn.awaits and not fn.async_withs and not any(c.awaited for c in project.calls_of(fn)) \
        and not any(loop.desc.startswith("async for") for loop in fn.loops)


def _never_suspends(project, module: ModuleFacts, call: Call) -> bool:
    """The task runs a project coroutine that never suspends (``asyncio.create_task(
    self.terminate())`` where ``terminate`` only sets flags, a callback that only
    ``put_nowait``s), and no subclass overrides it with one that might: until it ends, in its
    first step, the loop's ready queue holds it, so it cannot be collected before it finishes."""
    fn, _coro = _task_coroutine(project, module, call)
    return fn is not None and not fn.is_generator and _no_suspension(project, fn) and not project.overrides(fn.qualname)


def _kept_alive(project, module: ModuleFacts, call: Call) -> bool:
    """The task's coroutine is a project coroutine and every wait in it is on something that
    holds the task while it waits: the loop's timer (``await asyncio.sleep(...)``), an object its
    own instance holds (``await self.queue.get()``, ``await self.cond.wait()``), or another project
    coroutine that only waits on such things. Such a task cannot be collected midway."""
    first, coro = _task_coroutine(project, module, call)
    if first is None:
        return False
    todo, seen = [(first, _owner_alive(project, call, coro.text))], {first.qualname}
    while todo:
        fn, bound = todo.pop()
        me = fn.params[0] + "." if bound and fn.cls is not None and fn.params else None
        if _no_suspension(project, fn):
            continue  # it runs to its end in its first step, nothing to collect midway
        waits = [c for c in project.calls_of(fn) if c.awaited]
        if not waits and not fn.awaits:
            return False  # only an `async for` or `async with`: what it waits on is not followed
        called = {(c.line, c.col) for c in waits}
        for line, col in fn.awaits:
            if (line, col + 6) in called:
                continue
            # `await self.main_task`: a future the live object holds, which holds the task in turn
            if not (me is not None and any(a.via_self and a.kind == "read" and (a.line, a.col) == (line, col + 6)
                                           for a in fn.accesses)):
                return False
        for c in waits:
            target = project.call_target(c)
            if target in TIMER_WAITS or (me is not None and c.text.startswith(me) and "." in c.text[len(me):]):
                continue  # the loop's timer, or self.q.get(): held while it waits
            callee = project.functions.get(target) if target else None
            if callee is None or not callee.is_async:
                return False
            if callee.qualname not in seen and len(seen) < 50:
                seen.add(callee.qualname)
                todo.append((callee, me is not None and c.text.startswith(me)))
            elif callee.qualname not in seen:
                return False
    return True


def _uncalled(project, arg) -> bool:
    """A function handed where a coroutine is wanted, not called (``create_task(self.poll)``):
    a function, a lambda, or a method the project defines."""
    return arg.kind in ("function", "lambda") or (arg.kind == "bound-method" and arg.qualname in project.functions)

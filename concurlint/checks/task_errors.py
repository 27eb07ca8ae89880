"""CCL602: does a submitted task lose its errors when its future is dropped? Not when it cannot
fail (``submit(lambda: None)``, ``submit(barrier.wait)``), when it catches every exception itself
or in the one project function it hands the work to, when a standard-library method it ends in
does (a pooled socketserver's ``process_request_thread``), when it only hands a coroutine to an
event loop, or only dispatches to handlers that each catch everything. A task whose own handler
or decorator decides what an error does, or a callable the submitter was handed, is low."""
from __future__ import annotations

from typing import List, Optional

from concurlint.analysis.facts import Call, ModuleFacts
from concurlint.checks.own_loops import FACADE_RUNNERS


def _known_task(project, value) -> bool:
    """The submitted callable is found: a project function or method, or one the knowledge base
    knows (``shutil.rmtree``, ``requests.get``)."""
    q = project.function_of_value(value) if value is not None else None
    return q is not None and (q in project.functions or project.kb.category(q) is not None)


# calls that do not raise on the arguments such warm-up tasks give them
# `submit(barrier.wait)` to warm a pool up, `submit(event.set)`: nothing that can fail (a barrier
# with no timeout that nobody aborts)
NEVER_FAIL = frozenset({"time.sleep", "threading.Barrier.wait", "threading.Event.set", "threading.Event.wait",
                        # waits for futures without raising their exceptions (it returns them sorted)
                        "concurrent.futures.wait"})
# a blocking put of one item into an unbounded or bounded queue: it waits for room, it does not fail
BLOCKING_PUTS = frozenset({"queue.Queue.put", "queue.SimpleQueue.put"})
# hand a coroutine or a callback to an event loop: they fail only once the loop is closed (at
# shut-down); a task made of nothing else has no error to lose
HAND_OFFS = frozenset({"asyncio.run_coroutine_threadsafe", "asyncio.AbstractEventLoop.call_soon_threadsafe"})
CONTEXT_RUN = frozenset({"contextvars.Context.run"})
# standard-library methods that catch every exception of the work they run and hand it to their
# own handler (socketserver's handle_error logs it, then the request is shut down): the recipe
# `self.pool.submit(self.process_request_thread, request, client_address)` loses nothing
HANDLES_ITS_OWN = frozenset({"socketserver.ThreadingMixIn.process_request_thread"})


def _context_run(project, value) -> bool:
    """``ctx.run`` of a ``contextvars`` context (``ctx = contextvars.copy_context()``)."""
    if project.function_of_value(value) in CONTEXT_RUN:
        return True
    return value.kind == "bound-method" and value.attr == "run" and bool(value.inner) \
        and value.inner[0].qualname == "contextvars.copy_context"


def _never_raises(project, value) -> bool:
    """The submitted function catches every exception around its work, itself or in the one
    project function it hands the work to (``def _run(): self.run_listeners(msg)``)."""
    q = project.function_of_value(value) if value is not None else None
    if q in NEVER_FAIL or (q or _inherited(project, value)) in HANDLES_ITS_OWN:
        return True  # `submit(lambda: time.sleep(0.1))`: the lambda is read as the call it makes
    if q is None and value is not None:
        same = _methods_named(project, value.text)
        # `submit(next_request.call_api)` on a receiver of unknown type: every method of the
        # project with that name catches everything
        return bool(same) and all(_never_raises_fn(project, m) for m in same)
    return _never_raises_fn(project, q)


# tests that pick a branch and do not raise on what such dispatchers give them
TYPE_TESTS = frozenset({"builtins.isinstance", "builtins.issubclass", "builtins.callable"})


def _never_raises_fn(project, q: Optional[str], depth: int = 0) -> bool:
    for _ in range(3):
        fn = project.functions.get(q or "")
        if fn is None:
            return False
        if fn.catches_all:
            return True
        if fn.is_async:
            return True  # the worker only makes a coroutine (or async generator): CCL507's matter
        if fn.abstract and fn.cls is not None:
            # `self.service.execute(...)` resolved to the base class's `raise NotImplementedError`:
            # the implementations in the project's subclasses are what runs
            impls = [m for m in _methods_named(project, "x." + fn.name)
                     if m != q and project.is_subclass(project.functions[m].cls, fn.cls)]
            return bool(impls) and all(_never_raises_fn(project, m) for m in impls)
        calls = list(project.calls_of(fn))
        if len(calls) == 2 and calls[0].text == "super().emit" and _log_handler(project, fn.cls):
            return True  # a logging handler's emit() catches every error itself (handleError)
        if _ends_in_own_handler(project, fn, [c for c in calls if c.text != "super"]):
            return True
        quiet = all(_never_fails(project, c) for c in calls)
        # the calls' receivers and the names they are handed (`wait(futures); queue.put(None)`)
        heads = {c.text.split(".", 1)[0] for c in calls} | {a.text for c in calls for a in c.args}
        if quiet and set(fn.loaded_names) <= heads and not fn.ops_outside_loops and not fn.accesses and not fn.loops:
            # `submit(lambda: None)`, `def _noop(): pass`, `submit(lambda: time.sleep(0.1))`:
            # nothing that can fail (a pool warmed up or woken, a worker replaced)
            return True
        if _only_hands_off(project, fn, calls):
            return True
        ran = _runs_one_coroutine(project, fn, calls)
        if ran is not None:
            return project.functions[ran].catches_all
        if len(calls) > 1 and depth < 2 and not fn.loops and not fn.accesses and not fn.ops_outside_loops:
            # `if isinstance(task, Downsample): self._downsample(task) else: self._encode(task)`:
            # a dispatcher whose every branch catches everything itself (wsidicom's encoder pool)
            handed = [t for t in (project.call_target(c) for c in calls) if t not in TYPE_TESTS]
            return bool(handed) and all(t in project.functions and _never_raises_fn(project, t, depth + 1)
                                        for t in handed)
        if len(calls) != 1:
            return False
        q = project.call_target(calls[0])
    return False


def _never_fails(project, call) -> bool:
    """A call that cannot raise: ``time.sleep``, an event's ``set``, ``concurrent.futures.wait``,
    a blocking ``put`` of one item (c8y-api's sentinel after waiting for the page fetches:
    rev97a's high fp)."""
    t = project.call_target(call)
    return t in NEVER_FAIL or (t in BLOCKING_PUTS and len(call.args) == 1 and not call.kwargs)


# calls that make, set or close the loop a task runs its coroutine on
LOOP_SETUP = frozenset({"asyncio.set_event_loop", "asyncio.new_event_loop", "asyncio.AbstractEventLoop.close"})


def _runs_one_coroutine(project, fn, calls) -> Optional[str]:
    """``lambda: asyncio.run(self._callback_safely(cb, node))``: the task runs one project
    coroutine to its end (maybe after setting the loop it runs it on, reading attributes for
    it), so it raises what the coroutine's body raises (nothing, when that body
    catches every exception and logs it: mcp-agent's watch callbacks). The coroutine's qualname."""
    # `asyncio.set_event_loop(self.loop); self.loop.run_until_complete(self.scan())`: setting up
    # the loop it runs on (metacycle's Bluetooth manager, rev109a's high fp)
    calls = [c for c in calls if project.call_target(c) not in LOOP_SETUP]
    if len(calls) != 2 or fn.loops or any(a.kind != "read" for a in fn.accesses) or fn.ops_outside_loops:
        return None
    runner = next((c for c in calls if project.call_target(c) in FACADE_RUNNERS), None)
    made = next((c for c in calls if c is not runner), None)
    if runner is None or made is None or not runner.args or runner.args[0].kind != "call" \
            or (runner.args[0].line, runner.args[0].col) != (made.line, made.col):
        return None
    q = project.call_target(made)
    f = project.functions.get(q or "")
    return q if f is not None and f.is_async and not f.is_generator else None


def _ends_in_own_handler(project, fn, calls) -> bool:
    """An override that prepares the request and ends by handing it to the base class's method,
    which catches every exception (``super().process_request_thread(request, client_address)``
    after enabling keep-alive): the errors of the work go to the server's handle_error."""
    last = calls[-1] if calls else None
    if fn.cls is None or last is None or last.method != fn.name or not last.text.startswith("super("):
        return False
    return any(f"{base}.{fn.name}" in HANDLES_ITS_OWN for base in project.ancestors(fn.cls) if base != fn.cls)


def _inherited(project, value) -> Optional[str]:
    """``self.process_request_thread`` where the class inherits the method from outside the
    project: the base's method (``socketserver.ThreadingMixIn.process_request_thread``)."""
    owner = value.inner[0] if value is not None and value.attr and value.inner else None
    if owner is None or owner.kind != "instance" or owner.qualname not in project.classes:
        return None
    return project.find_method(owner.qualname, value.attr)


def _only_hands_off(project, fn, calls) -> bool:
    """``asyncio.run_coroutine_threadsafe(self._notify(), self.loop)``: the task only hands a
    coroutine (made by calling a project coroutine function, which runs none of its body) or a
    callback to an event loop, in straight-line code."""
    if fn.loops or fn.ops_outside_loops or not calls:
        return False
    targets = [project.call_target(c) for c in calls]
    made = [t for t in targets if t not in HAND_OFFS]
    return len(made) < len(targets) and all(
        t in project.functions and project.functions[t].is_async and not project.functions[t].is_generator
        for t in made)


def _log_handler(project, cls: Optional[str]) -> bool:
    """The class derives from one of the standard library's logging handlers."""
    return any(c.startswith("logging.") and c.endswith("Handler") for c in project.ancestors(cls))


def _methods_named(project, text: str) -> List[str]:
    """The project's methods named like the last part of ``obj.method`` (none for other text)."""
    head, _, name = (text or "").rpartition(".")
    if not head or not name.isidentifier():
        return []
    return [q for q in project.functions_named(name) if project.functions[q].cls is not None]


def _handed_in(module: ModuleFacts, call: Call, value) -> bool:
    """The submitted callable is a parameter of the function that submits it (``def schedule(self,
    callback, *args): self._executor.submit(callback, *args)``): a generic scheduler, whose caller
    decides what errors do (it usually wraps the callback)."""
    fn = module.functions.get(call.function) if call.function else None
    if fn is None or value is None:
        return False
    if value.kind in ("name", "instance") and value.text in fn.params:
        return True
    # `def tracked(): captured.run(fn, *args)` nested in `submit(self, fn, ctx, *args)`: the
    # closure only wraps the callable handed in, which decides what its errors do
    inner = module.functions.get(f"{fn.qualname}.<locals>.{value.text}") if value.text.isidentifier() else None
    handed = set(fn.params) - {"self", "cls"}
    return inner is not None and any(
        c.text in handed or (c.method == "run" and c.args and c.args[0].text in handed)
        for c in (module.calls[i] for i in inner.calls))


def _guards_errors(project, value) -> bool:
    """The submitted project function's work is one ``try`` whose handlers do not re-raise
    (``Function.guards_errors``)."""
    q = project.function_of_value(value) if value is not None else None
    fn = project.functions.get(q or "")
    return fn is not None and fn.guards_errors


def _handles_errors(project, value) -> bool:
    """The submitted function has a top-level ``try`` with a handler for every exception, or a
    project decorator wraps it in one (``@wrap_with_logs``: logs every exception, then re-raises)."""
    if value is not None and value.kind == "call" and value.qualname in project.functions:
        # `executor.submit(build_runnable(func, logger))`: the factory returns a nested wrapper
        # that catches and logs every exception (slack-bolt's lazy listener runner)
        factory = project.functions[value.qualname]
        return any(getattr(project.functions.get(f"{factory.qualname}.<locals>.{name}"), "handles_errors", False)
                   for name in factory.returned_names)
    q = project.function_of_value(value) if value is not None else None
    fn = project.functions.get(q or "")
    if fn is None:
        return False
    if fn.handles_errors:
        return True
    for d in fn.decorators:
        deco = project.resolve(d) if d else None
        if deco in project.functions:
            inner = deco + ".<locals>."
            if any(w.handles_errors for k, w in project.functions.items() if k.startswith(inner)):
                return True
    return False


def wrapping_submit(project, call) -> bool:
    """``self._thread_pool.submit(self.client_disconnect, message)`` on a project executor class
    whose own ``submit`` hands the base class a wrapper of the task that catches and logs every
    exception (``return super().submit(self._function_wrapper, fn, *args)``: the "stack-traced"
    executor recipe; openvpn-auth-azure-ad, a rev139c high fp)."""
    fn = project.functions.get(project.call_target(call) or "")
    if fn is None or fn.cls is None or not call.method:
        return False
    return any(c.method == call.method and c.text.startswith("super(") and c.args
               and _handles_errors(project, c.args[0]) for c in project.calls_of(fn))


# how a task hands its outcome to whoever waits for it, instead of through its future
DELIVERIES = frozenset({"set", "set_result", "set_exception", "put", "put_nowait", "notify", "notify_all"})
# what else may run outside the task's `try`: bookkeeping that does not fail on a task's data
BOOKKEEPING = frozenset({"get", "pop", "setdefault", "append", "discard", "add", "remove", "acquire", "release",
                         "clock", "time", "monotonic", "perf_counter", "debug", "info", "warning", "error",
                         "exception", "len", "isinstance"})


def _delivers_outcome(project, value) -> bool:
    """The submitted project function tries its work (``try: addrinfo = socket.getaddrinfo(...)
    except OSError: ip = None``) and hands the outcome -- a value or the failure -- to whoever
    waits, through an Event it sets, a queue or a future of its own, outside the ``try``; beside
    that only bookkeeping (a cache entry, a lock, a clock): the dropped future holds nothing
    anyone would read (px-proxy's DNS resolver, rev129a's high fp)."""
    q = project.function_of_value(value) if value is not None else None
    fn = project.functions.get(q or "")
    if fn is None:
        return False
    calls = project.calls_of(fn)
    outside = [c for c in calls if not c.in_try and not c.in_handler]
    tried = [c for c in calls if c.in_try]
    if not tried or not outside:
        return False
    delivered = False
    for c in outside:
        name = c.method or c.text.rsplit(".", 1)[-1]
        if name in DELIVERIES:
            delivered = True
        elif name not in BOOKKEEPING:
            return False
    return delivered

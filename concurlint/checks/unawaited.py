"""CCL507: a coroutine function of the project called as a statement, its coroutine never awaited.

``self.flush()`` where ``flush`` is an ``async def``: the call only makes a coroutine object, which
is dropped; the body never runs (Python warns "coroutine ... was never awaited" when the object is
collected, if warnings are shown at all). Only calls whose target is certain are reported: a plain
function of the project, a method of the caller's own class called through ``self``/``cls``, or
a method called on a local name or parameter whose type the analysis knows to be a project class
(an annotated parameter, an object made from the class) and that the function does not test,
defined ``async def`` with no decorator that could turn it into something else, and with no
synchronous method of the same name elsewhere in the class's family (a subclass that overrides
it with a plain ``def`` makes the call right for that subclass).

Also a call of such a coroutine function whose result is assigned to a name the function then
takes for the coroutine's value (iterates, indexes, reads an attribute of, hands to a function
that needs the value itself) and never awaits, returns or hands to anything that could keep it
(``_used_as_result``): the coroutine never runs either, and the use fails.
"""
from __future__ import annotations

import ast
from typing import Iterator, Optional

from concurlint.analysis.facts import Call, Function, ModuleFacts
from concurlint.analysis.hints import GUARD_TESTS, is_test_code
from concurlint.registry import Finding, Rule

# decorators that leave an ``async def`` a coroutine function
_KEEPS_COROUTINE = frozenset({"staticmethod", "classmethod", "abstractmethod", "override", "overload",
                              "final", "wraps"})


class CoroutineNeverAwaited(Rule):
    code = "CCL507"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        for call in module.calls:
            if call.use != "discard" or call.awaited:
                continue
            target = coroutine_target(project, call)
            if target is None or _dead_branch(project, module, call) or _not_a_coroutine_here(project, call):
                continue
            caller = project.functions.get(call.function) if call.function else None
            if _for_the_twin(project, module, caller):
                continue  # plain code in an unasync source: in the generated sync twin it is right
            if is_test_code(module.module, call.function):
                conf = "low"
            elif caller is None or not caller.is_async:
                # from plain code (`def __exit__(self): self.close()`): in libraries with a sync
                # and an async face this is often decided at run time -- a wrapper made at import,
                # an `inspect.iscoroutinefunction` test around it (neo4j, pyrogram)
                conf = "medium"
            else:
                conf = "high"  # a coroutine that forgot `await`
            yield ctx.report(self.code, module, call, function=call.function, what=_never_awaited(call.text),
                             fix=AWAIT_IT, confidence=conf, related=_defined_here(project, target),
                             pattern=((call.function, target),))
        yield from self._used_as_result(ctx, module)
        yield from self._handed_uncalled(ctx, module)
        yield from self._run_by_a_worker(ctx, module)

    def _run_by_a_worker(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        """``threading.Thread(target=self.execute_rcon)``, ``pool.submit(fetch_all)``,
        ``loop.run_in_executor(None, self.refresh)``, a Thread subclass whose ``run`` is ``async
        def``: a thread, process or interpreter calls the coroutine function as a plain one, gets
        a coroutine and drops it (Python warns "never awaited" there, if anyone sees it): the
        body never runs. The function must be a coroutine function of the project as certain as
        above; an asyncio site (``create_task``, ``gather``) is the other check's."""
        project = ctx.project
        for site in ctx.sites_by_path.get(module.path, []):
            if site.model not in _WORKER_MODELS or site.style not in ("call", "map", "executor"):
                continue
            fn = project.functions.get(site.function) if site.function else None
            if fn is None or not _certain_coroutine_function(project, fn) or _dead_branch(project, module, site.call):
                continue  # (`if _IS_SYNC: Thread(target=self._run)`: code for a generated twin)
            caller = project.functions.get(site.call.function) if site.call.function else None
            if _for_the_twin(project, module, caller):
                continue  # plain code in an unasync source: it runs in the generated sync twin
            subclass = site.api.endswith(" subclass")
            if not subclass and (site.callable is None or site.callable.kind not in _UNCALLED):
                continue
            worker = {"threads": "thread", "processes": "process", "interpreters": "interpreter"}[site.model]
            what = (f"{site.call.text}() starts a thread whose run() is `async def`" if subclass and site.model == "threads"
                    else f"{site.call.text}() starts a process whose run() is `async def`" if subclass
                    else f"{site.callable.text} is handed to {site.api} uncalled")
            yield ctx.report(self.code, module, site.call, function=site.call.function,
                             what=f"{what}: the {worker} calls the coroutine function, gets a coroutine and drops it",
                             fix=f"run it on an event loop there (a plain function that calls `asyncio.run({fn.name}(...))`), "
                                 "or make it a plain function",
                             confidence="high", related=_defined_here(project, fn.qualname))

    def _handed_uncalled(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        """``asyncio.ensure_future(self.async_dim)``: the coroutine function itself, not a
        coroutine, handed to what runs awaitables (``create_task``, ``ensure_future``, ``gather``,
        ``run_until_complete``, ``asyncio.run``...): it raises TypeError there, and the body never
        runs. The function must be a coroutine function of the project as certain as above (no
        decorator that could change it, no synchronous method of the name in a related class)."""
        project = ctx.project
        for call in module.calls:
            target = project.call_target(call)
            if target not in TAKE_AWAITABLES:
                continue
            for arg in call.args[:1] if target not in MANY_AWAITABLES else call.args:
                fn = project.functions.get(arg.qualname) if arg.kind in ("function", "bound-method") \
                    and arg.qualname else None
                if fn is None or not _certain_coroutine_function(project, fn):
                    continue
                runner = call.text.rsplit(".", 1)[-1] if "." in call.text else call.text
                yield ctx.report(self.code, module, call, function=call.function,
                                 what=f"{arg.text} is handed to {runner}() uncalled, which raises TypeError (it "
                                      "wants a coroutine and gets the coroutine function)",
                                 fix=f"call it: `{runner}({arg.text}(...))`", confidence="high",
                                 related=_defined_here(project, fn.qualname))

    def _used_as_result(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        """``info = build_payload(...)`` then ``for p in info`` / ``info.url`` / ``info[0]`` /
        ``os.stat(info)``, where ``build_payload`` is a coroutine function of the project: the
        code takes the coroutine for the value it would return (a TypeError or AttributeError at
        run time, often swallowed by a broad ``except``), and it is never awaited. Not when the
        function awaits the name anywhere (``if inspect.isawaitable(info): info = await info``),
        returns it, or hands it to a call that could keep it (anything but a function that needs
        the value itself: ``tasks.append(task)`` is kept for ``gather``)."""
        project = ctx.project
        for fn in module.functions.values():
            calls = [module.calls[i] for i in fn.calls]
            made = []  # (the assigning call, the coroutine function it certainly calls)
            for c in calls:
                if c.use == "assign" and c.assigned_to and not c.awaited:
                    target = coroutine_target(project, c)
                    if target is not None:
                        made.append((c, target))
            if not made:
                continue
            uses = [u for u in fn.result_uses if u[1] != "await"]
            awaited = {u[0] for u in fn.result_uses if u[1] == "await"} | set(fn.returned_names)
            for call, target in made:
                name = call.assigned_to
                if name in awaited:
                    continue
                later = [u for u in uses if u[0] == name and u[2] >= call.line and u[3] == call.target]
                taken = _taken_by(project, calls, name, call.line, call.target)
                if taken is None or not (later or taken) or _dead_branch(project, module, call):
                    continue
                if any(name in g.loaded_names for g in module.functions.values() if g.parent == fn.qualname):
                    continue  # a nested function uses it too: it may await it
                how = taken or _how(later[0])
                conf = "high" if fn.is_async and not is_test_code(module.module, fn.qualname) else "medium"
                yield ctx.report(self.code, module, call, function=fn.qualname,
                                 what=_never_awaited(call.text, f" (`{name}` is used as its result: {how})"),
                                 fix=AWAIT_IT, confidence=conf, related=_defined_here(project, target),
                                 # the same coroutine function called so in several places of one
                                 # function (each branch of a page reader): one missing await to
                                 # learn (alluxiofs' three pages, two labelled one root cause)
                                 pattern=((fn.qualname, target),))


AWAIT_IT = "await it (or hand it to asyncio.create_task and keep the task)"
# what runs the awaitable handed to it (its first argument; all of them for MANY_AWAITABLES)
TAKE_AWAITABLES = frozenset({"asyncio.create_task", "asyncio.ensure_future", "asyncio.AbstractEventLoop.create_task",
                             "asyncio.AbstractEventLoop.run_until_complete", "asyncio.run", "asyncio.Runner.run",
                             "asyncio.TaskGroup.create_task", "asyncio.gather", "asyncio.wait_for", "asyncio.shield",
                             "asyncio.run_coroutine_threadsafe"})
MANY_AWAITABLES = frozenset({"asyncio.gather"})
# what calls the callable it is handed as a plain function, in a worker (dispatch sites' models)
_WORKER_MODELS = frozenset({"threads", "processes", "interpreters"})
# a callable handed over uncalled: a function, a bound method, a partial or a lambda around one call
_UNCALLED = frozenset({"function", "bound-method", "ref", "partial", "lambda"})


def _never_awaited(callee: str, used: str = "") -> str:
    return f"{callee}() makes a coroutine that is never awaited{used}"


def _coroutine_function(fn: Function) -> bool:
    """``async def``, not an async generator (its call returns an async generator: nothing to
    await) nor a lambda, with no decorator that could make it something else (``@sync_compatible``,
    ``@run_in_thread``: what it returns is not known)."""
    return fn.is_async and not fn.is_generator and not fn.is_lambda \
        and all(d.rsplit(".", 1)[-1] in _KEEPS_COROUTINE for d in fn.decorators)


def _certain_coroutine_function(project, fn: Function) -> bool:
    """``fn`` is a coroutine function whatever object it is reached through: ``_coroutine_function``
    and no plain ``def`` of its name in a related class."""
    return _coroutine_function(fn) and (fn.cls is None or not _sync_twin(project, fn))


def _defined_here(project, target: str) -> list:
    """The coroutine function's definition, as the finding's related location."""
    fn, where = project.functions.get(target), project.function_module.get(target)
    if fn is None:
        return []  # a library's coroutine function
    return [] if where is None else [{"path": where.path, "line": fn.line, "col": fn.col,
                                      "message": f"{fn.name}() is defined `async def` here"}]


def _how(use) -> str:
    name, how, line, _made = use
    if how == "for":
        return f"iterated on line {line}"
    if how == "[]":
        return f"`{name}[...]` on line {line}"
    return f"`{name}{how}` on line {line}"


# functions that need the value itself (a sized or iterable object, a path, a number, JSON): a
# coroutine handed to them fails; any other call may keep it (``tasks.append(task)``, a project
# helper, ``asyncio.gather``) and await it later
_VALUE_TAKERS = frozenset({"builtins.len", "builtins.int", "builtins.float", "builtins.bytes", "builtins.open",
                           "builtins.sorted", "builtins.list", "builtins.tuple", "builtins.set", "builtins.dict",
                           "builtins.sum", "builtins.min", "builtins.max", "builtins.enumerate", "builtins.zip",
                           "builtins.iter", "builtins.next", "builtins.abs", "builtins.round"})
_VALUE_MODULES = ("os.", "shutil.", "json.", "pathlib.", "base64.", "hashlib.", "mimetypes.", "urllib.parse.")


def _taken_by(project, calls, name: str, line: int, made: Optional[str]) -> Optional[str]:
    """How the calls after ``line`` take ``name``: "passed to os.stat() on line N" for the first
    function that needs the value and gets the one ``made`` (the callee of the assignment)
    returned -- it fails there, whatever else keeps the coroutine (alluxiofs' pages appended for
    a gather and measured with len() first: rev124b's recall miss); else None when a call may
    keep it to await later (anything but a function that needs the value itself), "" when none
    takes it."""
    out, kept = "", False
    for c in calls:
        if c.line < line:
            continue
        passed = [a for a in list(c.args) + list(c.kwargs.values()) if a.text == name]
        if not passed:
            continue  # (`name.method()`: an attribute use, recorded in Function.result_uses)
        t = project.call_target(c)
        if t is None or t in project.functions or not (t in _VALUE_TAKERS or (
                t.startswith(_VALUE_MODULES) and t.count(".") == 1 + t.startswith(("os.path.", "urllib.parse.")))):
            kept = True
            continue
        if any(a.kind == "call" and a.qualname == made for a in passed):
            out = out or f"passed to {t}() on line {c.line}"
    return out or (None if kept else "")


# library coroutine functions a call names certainly (a module's function, or a method of an
# object whose class is known): `asyncio.sleep(10)` left without `await` in a polling loop polls
# without pause (alluxiofs' load progress, rev124b's recall miss)
LIBRARY_COROUTINES = frozenset({
    "asyncio.sleep", "asyncio.wait_for", "asyncio.wait", "asyncio.to_thread", "asyncio.open_connection",
    "asyncio.open_unix_connection", "asyncio.start_server", "asyncio.start_unix_server",
    "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
    "asyncio.Queue.get", "asyncio.Queue.put", "asyncio.Queue.join", "asyncio.Event.wait",
    "asyncio.Condition.wait", "asyncio.Lock.acquire", "asyncio.Semaphore.acquire",
    "asyncio.StreamWriter.drain", "asyncio.StreamWriter.wait_closed",
    "asyncio.subprocess.Process.wait", "asyncio.subprocess.Process.communicate",
    "anyio.sleep", "trio.sleep",
})


def coroutine_target(project, call: Call) -> Optional[str]:
    """The project coroutine function ``call`` certainly runs (or a library coroutine function
    of ``LIBRARY_COROUTINES``), or None."""
    target = project.call_target(call)
    if target in LIBRARY_COROUTINES:
        if target.count(".") > 1 and not _receiver_type(project, call):
            # `self._lock.acquire()`: an attribute may hold another class's object (neo4j's
            # cooperative locks, whose acquire() is plain, beside asyncio.Lock)
            return None
        return target
    fn = project.functions.get(target) if target else None
    if fn is None or not _coroutine_function(fn):
        return None
    text = call.text
    if fn.cls is None:
        if "." in text and not _module_attribute(project, call, target):
            return None
        return target
    head, _, rest = text.partition(".")
    if head not in ("self", "cls") or "." in rest:
        if not _typed_receiver(project, call, fn):
            return None  # obj.method(): the object's class is a guess
        receiver = _receiver_class(project, call)
    else:
        caller = project.functions.get(call.function) if call.function else None
        if caller is None or caller.cls is None or (caller.cls != fn.cls and not project.is_subclass(caller.cls, fn.cls)):
            return None  # `self` is not an instance of the method's class
        # `self` is an instance of the caller's class or of a subclass: a base's plain `def` of
        # the name is overridden on the way (AsyncDatasets(Datasets) with its own async method)
        receiver = caller.cls
    if _sync_twin(project, fn, receiver):
        return None
    return target


def _typed_receiver(project, call: Call, fn: Function) -> bool:
    """``device.save()`` where ``device`` is known to be an instance of a project class that has
    the method (``_receiver_class``)."""
    cls = _receiver_class(project, call)
    return cls is not None and (cls == fn.cls or project.is_subclass(cls, fn.cls))


def _receiver_type(project, call: Call) -> Optional[str]:
    """The class the call's receiver is known to be an instance of: a parameter annotated
    with it or a local the function made from it (an attribute ``self.session``, or a local taken
    from one, may be set to objects of several classes in several places, of which the analysis
    keeps one), whose class the function does not test itself (``if isinstance(resp,
    AsyncResponse): await resp.close() else: resp.close()``)."""
    recv = call.receiver
    name = call.text.rsplit(".", 1)[0] if "." in call.text else ""
    if recv is None or recv.kind != "instance" or not recv.qualname or not name.isidentifier() \
            or name in ("self", "cls"):
        return None
    caller = project.functions.get(call.function) if call.function else None
    if caller is None or not caller.line <= recv.line <= caller.end_line or "made" in recv.meta \
            or recv.text.startswith(("self.", "cls.")):
        return None  # typed from elsewhere (`session = self.session`): an attribute's guess
    if any(project.call_target(c) in TYPE_TESTS and c.args and c.args[0].text == name for c in project.calls_of(caller)):
        return None
    return project.resolve(recv.qualname)


def _receiver_class(project, call: Call) -> Optional[str]:
    """The project class the call's receiver is known to be an instance of (``_receiver_type``)."""
    cls = _receiver_type(project, call)
    return cls if cls in project.classes else None


TYPE_TESTS = frozenset({"builtins.isinstance", "builtins.type"})


def _not_a_coroutine_here(project, call: Call) -> bool:
    """The call sits where a test says what it calls is not a coroutine function (``if
    inspect.iscoroutinefunction(self.initialize): await self.initialize() else:
    self.initialize()``: a subclass may override it with a plain method; ezmsg, rev155c's high
    fp)."""
    fn = project.functions.get(call.function) if call.function else None
    return fn is not None and any(not when and first <= call.line <= last and text in (call.text, f"{call.text}()")
                                  for text, when, first, last in fn.coroutine_tests)


def _dead_branch(project, module: ModuleFacts, call: Call) -> bool:
    """The call sits under ``if _IS_SYNC:`` where the module sets ``_IS_SYNC = False`` once and
    never again: code kept for a synchronous twin generated from this one (pymongo), never run
    here."""
    fn = project.functions.get(call.function) if call.function else None
    for name, op, const, first, last in getattr(fn, "guards", ()) if fn is not None else ():
        if not first <= call.line <= last or name in fn.params:
            continue
        g = module.globals.get(name)
        if g is None or g.assigned_in_function or g.value.kind != "literal":
            continue
        try:
            value, c = ast.literal_eval(g.value.text), ast.literal_eval(const)
        except (ValueError, SyntaxError):
            continue
        if not GUARD_TESTS[op](value, c):
            return True
    return False


def _for_the_twin(project, module: ModuleFacts, caller: Optional[Function]) -> bool:
    """Plain code (``caller`` not a coroutine) of the async source a synchronous twin is generated
    from (unasync: a package ``_async`` beside a ``_sync`` one, ``ahk._async.transport`` ->
    ``ahk._sync.transport``): written for the twin, where the coroutine functions become plain."""
    if caller is not None and caller.is_async:
        return False
    parts = module.module.split(".")
    return "_async" in parts and ".".join("_sync" if p == "_async" else p for p in parts) in project.by_module


def _module_attribute(project, call: Call, target: str) -> bool:
    """``helpers.flush_all()``: a module's function, named through the module."""
    head = call.text.rsplit(".", 1)[0]
    return project.resolve(head) == target.rsplit(".", 1)[0] or target.startswith(head + ".")


def _sync_twin(project, fn: Function, receiver: Optional[str] = None) -> bool:
    """A plain ``def`` of the same name in a class related to ``fn``'s (a subclass overriding the
    coroutine with a synchronous method, or a base it overrides): which one runs depends on the
    object. ``receiver``: the class the object is known to be an instance of; then only its
    subclasses can bring another method (its bases' are settled by the lookup)."""
    for q in project.functions_named(fn.name):
        other = project.functions[q]
        if other.is_async or other.cls is None or other.cls == fn.cls:
            continue
        if receiver is not None:
            if project.is_subclass(other.cls, receiver):
                return True
        elif project.is_subclass(other.cls, fn.cls) or project.is_subclass(fn.cls, other.cls):
            return True
    return False

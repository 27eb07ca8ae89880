"""Asyncio code written for older Pythons that a newer one rejects.

- CCL508: ``loop=`` handed to an asyncio API that no longer takes it (Python 3.10 removed it).
  ``asyncio.sleep(1, loop=self.loop)``, ``asyncio.Queue(loop=loop)``, ``asyncio.gather(*aws,
  loop=loop)``: deprecated since 3.8, and since 3.10 every one of these raises ``TypeError`` (an
  unexpected keyword argument), so the code fails at that line on every Python still maintained.
  One cause (code written before 3.10 that threads its loop through every wait): in each top-level
  package, the first module's finding is high and lists the module's other such calls as related
  locations; each other module has its own finding (its own fix), at medium, pointing back to the
  first.
- CCL509: ``loop = asyncio.get_event_loop()`` then ``loop.run_until_complete(main())`` (or
  ``run_forever()``) in plain code: the pre-3.7 way to start a program. Since Python 3.14
  ``get_event_loop()`` no longer makes a loop when none is set: it raises ``RuntimeError`` (and in
  any thread but the main one it always did). Not reported when the package (the top-level one the
  module belongs to) sets a loop anywhere (``asyncio.set_event_loop``, Tornado's
  ``IOLoop.current()``: which runs first is not known) or applies ``nest_asyncio`` (its
  ``get_event_loop()`` makes a loop), or the function asks whether the loop runs
  (``loop.is_running()``: written for both cases).

- CCL511: an asyncio API that a newer Python removed, used where the code runs: the
  ``@asyncio.coroutine`` decorator (removed in 3.11: ``AttributeError`` when the module is
  imported, so nothing in it runs), ``asyncio.Task.all_tasks()`` and ``asyncio.Task.current_task()``
  (removed in 3.9: ``asyncio.all_tasks()`` and ``asyncio.current_task()`` replace them), ``with
  await lock:`` / ``with (yield from lock):`` (removed in 3.9: ``async with lock:``), coroutines
  handed to ``asyncio.wait()`` (removed in 3.11: ``TypeError``; it takes tasks and futures). One
  finding per module and API, the package's first module high and the others medium, like CCL508.

None is reported for an API the package replaces for the whole program (``asyncio.sleep =
_sleep`` in a compatibility module: ``ModuleFacts.patches``), nor for a call in a ``try`` that
catches what the change raises (``TypeError``, ``RuntimeError``, or everything) or under a test of
the Python version (code written for both sides: ``Call.version_tolerant``), nor when the run's
target Python (``target-version``) is older than the change, or (no target) the project's
``requires-python`` excludes the Python that made it. Medium: calls only under a package module's
main guard (a demonstration run by hand).
"""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Call, ModuleFacts
from concurlint.analysis.hints import leftover_copy
from concurlint.checks.unawaited import coroutine_target
from concurlint.fixes import target_tuple
from concurlint.registry import Finding, Rule

# the asyncio APIs whose ``loop`` parameter 3.10 removed (the high-level API: streams, subprocesses,
# tasks' helpers, synchronisation primitives and queues); ``ensure_future``, ``Future``,
# ``wrap_future``, ``run_coroutine_threadsafe`` and the low-level APIs still take it
REMOVED_IN_310 = frozenset({
    "asyncio.sleep", "asyncio.gather", "asyncio.shield", "asyncio.wait_for", "asyncio.wait",
    "asyncio.as_completed",
    "asyncio.open_connection", "asyncio.start_server", "asyncio.open_unix_connection",
    "asyncio.start_unix_server", "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell",
    "asyncio.Queue", "asyncio.LifoQueue", "asyncio.PriorityQueue",
    "asyncio.Lock", "asyncio.Event", "asyncio.Condition", "asyncio.Semaphore", "asyncio.BoundedSemaphore",
})

Site = Tuple[Call, str]  # a call and the API it makes


def _before(project, version: Tuple[int, int]) -> bool:
    """The code runs only on Pythons older than ``version``: the run's target Python is older, or
    (no target) the project's ``requires-python`` excludes ``version`` (``<3.14``). With neither,
    the newest Python is assumed."""
    target = target_tuple(project.target_version)
    if target is None:
        return project.python_below is not None and project.python_below <= version
    return target < version


def _patched(ctx) -> Dict[str, set]:
    """Per top-level package, the library functions it replaces for the whole program
    (``asyncio.sleep = _sleep`` in a compatibility module, irc3's shim that drops ``loop=``):
    calls of them in that package run its replacement."""
    project = ctx.project
    out: Dict[str, set] = {}
    for m in project.modules:
        for p in m.patches:
            out.setdefault(_top(m), set()).add(project.kb.canonical(p))
    return out


def _lead_order(path: str) -> Tuple[bool, str]:
    """The first module of a package by path, a leftover copy (``client_aio-old.py``) last: the
    module that leads a cause is one the program loads."""
    return leftover_copy(path), path


def _top(module: ModuleFacts) -> str:
    return module.module.split(".", 1)[0]


def _sites(ctx) -> Tuple[Dict[str, List[Site]], Dict[str, str]]:
    """Per module path, its calls that hand ``loop=`` to a removed-``loop`` API, in order; and per
    top-level package, the path of its first module with such calls (the lead)."""
    project = ctx.project
    out: Dict[str, List[Site]] = {}
    leads: Dict[str, str] = {}
    patched = ctx.shared(_patched)
    for mod, call in project.index.calls("removed-loop-argument"):
        target = project.call_target(call)
        if target not in REMOVED_IN_310 or "loop" not in call.kwargs or target in patched.get(_top(mod), ()):
            continue
        if call.version_tolerant or call.kwargs["loop"].meta.get("splat"):
            continue  # through a dict splat, ``loop`` may be a key stored under a version test
        out.setdefault(mod.path, []).append((call, target))
        leads[_top(mod)] = min(leads.get(_top(mod), mod.path), mod.path, key=_lead_order)
    return out, leads


class LoopArgumentRemoved(Rule):
    code = "CCL508"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        if _before(ctx.project, (3, 10)):
            return
        sites, leads = ctx.shared(_sites)
        found = sites.get(module.path)
        if not found:
            return
        first, _api = found[0]
        related: List[Dict] = [{"path": module.path, "line": c.line, "col": c.col,
                                "message": f"{a.split('.', 1)[1]}() is given loop= here too"}
                               for c, a in found[1:]]
        count = f" (and {len(related)} more call{'s' if len(related) > 1 else ''} in this module)" if related else ""
        lead_path = leads[_top(module)]
        confidence = "high"
        if lead_path != module.path:
            lead = sites[lead_path][0][0]
            related.append({"path": lead_path, "line": lead.line, "col": lead.col,
                            "message": "the same removed argument, reported here (one cause)"})
            confidence = "medium"
        # a demonstration under a package module's main guard (mitmproxy's proxy/server.py):
        # it fails only when someone runs the module by hand
        if all(c.in_main_guard for c, _ in found) and "." in module.module:
            confidence = "medium"
        if _compat_module(module.module):
            # a backport for old Pythons (vaping's asyncio_backport, azure-functions-worker's
            # _thirdparty/aio_compat): the program imports it only where asyncio lacks the API,
            # and there `loop=` still works (three corpus fps once starred calls were read)
            confidence = "low"
        yield ctx.report(self.code, module, first, function=first.function, api=f"{first.text}()",
                         count=count, related=related, confidence=confidence)


def _compat_module(name: str) -> bool:
    """A module named as a compatibility layer or a backport (``pkg.asyncio_backport``,
    ``pkg._thirdparty.aio_compat``, ``pkg.compat.asyncio``)."""
    return any("compat" in part or "backport" in part for part in name.lower().split("."))


# ---------------------------------------------------------------- CCL509
GET_EVENT_LOOP = "asyncio.get_event_loop"
# what runs a loop that must not be running yet: code that calls it on get_event_loop()'s loop
# expects no loop to run, so get_event_loop() has none to return (it used to make one)
LOOP_STARTERS = frozenset({"asyncio.AbstractEventLoop.run_until_complete", "asyncio.AbstractEventLoop.run_forever"})
# a loop set for the thread, or a patched get_event_loop() that makes one (nest_asyncio's policy);
# Tornado's IOLoop.current() makes and sets one when the thread has none, and so do the
# listen() calls of its servers (bit-by-mail's make_app() before the command's get_event_loop())
SETS_A_LOOP = frozenset({"asyncio.set_event_loop", "asyncio.AbstractEventLoopPolicy.set_event_loop",
                         "nest_asyncio.apply", "tornado.ioloop.IOLoop.current", "tornado.ioloop.IOLoop.instance",
                         "tornado.web.Application.listen", "tornado.httpserver.HTTPServer.listen"})


def _loop_setters(ctx) -> set:
    """The top-level packages (or lone modules) that set a loop somewhere."""
    project = ctx.project
    return {_top(m) for m, c in project.index.calls("sets-event-loop") if project.call_target(c) in SETS_A_LOOP}


class EventLoopNeverSet(Rule):
    code = "CCL509"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        if _before(project, (3, 14)) or GET_EVENT_LOOP in ctx.shared(_patched).get(_top(module), ()):
            return
        found = []
        handlers = None
        for scope, calls in _scopes(project, module):
            gets = [c for c in calls if project.call_target(c) == GET_EVENT_LOOP
                    and not c.in_async and not c.version_tolerant and not _after_run_failed(project, calls, c)]
            if not gets:
                continue
            if scope is not None:
                handlers = _signal_handlers(project, module) if handlers is None else handlers
                if scope.qualname in handlers:
                    # `signal.signal(SIGINT, _signal_handler)`: the handler interrupts whatever the
                    # main thread runs -- the loop's run_forever() -- so a loop is there to return
                    # (pymata-aio's Ctrl+C handler, rev127d's high fp)
                    continue
            if any(c.method == "is_running" for c in calls):
                continue  # written for both: a running loop is used, else one is run
            # a module-level `LOOP = asyncio.get_event_loop()` is started by the module's functions
            # (`LOOP.run_until_complete(...)` in the command's main(): subarulink's CLI, rev113d)
            reach = calls if scope is not None else [c for c in module.calls if not c.in_async]
            starter = next((st for st in (_started(project, reach, g, scope is None) for g in gets)
                            if st is not None), None)
            if starter is None:
                continue
            if _top(module) in ctx.shared(_loop_setters):
                return  # the package sets a loop somewhere: which runs first is not known
            # one per function, at its first get_event_loop() (the one that raises)
            found.append((min(gets, key=lambda c: (c.line, c.col)), starter))
        found.sort(key=lambda fs: (fs[0].line, fs[0].col))
        # a module written with an API removed long before 3.14 (`@asyncio.coroutine`, `with await
        # lock`: CCL511) fails before then: it needs porting first (superdesk's websockets server,
        # rev67c's high debatable; doh-proxy's stub and client, rev137d's)
        older = module.path in ctx.shared(_removed_sites)[0]
        for i, (first, starter) in enumerate(found):
            # a main guard in a package's module (its __init__ too: `python -m pkg` runs __main__)
            # is a developer's demo, not the program's entry
            in_package = "." in module.module or module.path.endswith("__init__.py")
            demo = (first.in_main_guard and in_package) or older
            related = [{"path": module.path, "line": starter.line, "col": starter.col,
                        "message": "the loop is started here"}]
            if i:
                # the same idiom again in the module (a generator twin of a sync wrapper, a
                # close() fallback): one cause, one fix pattern -- on real code the repeats
                # reported at high were judged the same root cause (cryptofeed, bentoml, ricecooker)
                lead = found[0][0]
                related.append({"path": module.path, "line": lead.line, "col": lead.col,
                                "message": "the same idiom, reported here (one cause)"})
            yield ctx.report(self.code, module, first, function=first.function,
                             starts=f"{starter.method}()", confidence="medium" if demo or i else "high",
                             related=related)


def _signal_handlers(project, module: ModuleFacts) -> set:
    """The module's functions installed as signal handlers (``signal.signal(sig, handler)``)."""
    out = set()
    for c in module.calls:
        if len(c.args) > 1 and project.call_target(c) == "signal.signal":
            q = project.function_of_value(c.args[1])
            if q:
                out.add(q)
    return out


def _after_run_failed(project, calls: List[Call], get: Call) -> bool:
    """``try: return asyncio.run(main()) except RuntimeError: loop = asyncio.get_event_loop()``:
    the handler runs when ``asyncio.run()`` found a loop already running in the thread, which is
    the loop ``get_event_loop()`` then returns (pdf2zh-next; rev68d's high fp)."""
    return get.in_handler and any(project.call_target(c) == "asyncio.run" and c.line < get.line and not c.in_handler
                                  for c in calls)


def _scopes(project, module: ModuleFacts):
    """(function or None, its calls) for each plain function of the module and its top level."""
    yield None, [c for c in module.calls if c.function is None]
    for fn in module.functions.values():
        if not fn.is_async:
            yield fn, project.calls_of(fn)


def _started(project, calls: List[Call], get: Call, anywhere: bool = False) -> Optional[Call]:
    """The call that starts get_event_loop()'s loop: ``loop.run_until_complete(...)`` on the name
    it was assigned to (later in the same scope, or ``anywhere`` in the module's functions for a
    module-level name), or ``get_event_loop().run_forever()``."""
    for c in calls:
        if project.call_target(c) not in LOOP_STARTERS or c.receiver is None:
            continue
        # the receiver's value is the one the get_event_loop() call made (through the name it
        # was assigned to, or the call itself)
        if c.receiver.line == get.line and c.receiver.col == get.col and (anywhere or c.line >= get.line):
            return c
    return None


# ---------------------------------------------------------------- CCL511
# removed asyncio APIs: what they are, the Python that removed them, what then happens, what to use
REMOVED_DECORATOR = "asyncio.coroutine"
REMOVED_CALLS = {
    "asyncio.Task.all_tasks": ((3, 9), "asyncio.all_tasks()"),
    "asyncio.Task.current_task": ((3, 9), "asyncio.current_task()"),
}
DECORATOR_REMOVED_IN = (3, 11)
AWAITED_LOCK = "with-await-lock"  # `with await self._lock:` (``ModuleFacts.awaited_locks``)
AWAITED_LOCK_REMOVED_IN = (3, 9)
WAIT_COROUTINES = "asyncio.wait-coroutines"  # `asyncio.wait([fetch(u) for u in urls])`
WAIT_COROUTINES_REMOVED_IN = (3, 11)
WAITS = frozenset({"asyncio.wait", "asyncio.tasks.wait"})


class _Place:
    """Where a decorated function starts, or a ``with`` statement (the finding's position)."""

    def __init__(self, line: int, col: int, function: Optional[str], text: str = ""):
        self.line, self.col, self.end_line, self.end_col = line, col, line, col
        self.function, self.text = function, text


def _removed_sites(ctx) -> Tuple[Dict[str, Dict[str, List]], Dict[Tuple[str, str], str]]:
    """Per module path, per removed API, its uses in order (functions the decorator wraps, calls);
    per (top-level package, API), the path of its first module that uses it (the lead). Uses the
    package replaces for the whole program, calls written for both sides (a ``try`` that catches
    ``AttributeError``, a test of the Python version) and APIs the target Python still has are
    left out."""
    project = ctx.project
    patched = ctx.shared(_patched)
    out: Dict[str, Dict[str, List]] = {}
    leads: Dict[Tuple[str, str], str] = {}

    def add(mod, api, place):
        out.setdefault(mod.path, {}).setdefault(api, []).append(place)
        key = (_top(mod), api)
        leads[key] = min(leads.get(key, mod.path), mod.path, key=_lead_order)

    old_decorator = _before(project, DECORATOR_REMOVED_IN)
    for mod in project.modules:
        gone = patched.get(_top(mod), ())
        if not old_decorator and REMOVED_DECORATOR not in gone:
            for fn in sorted(mod.functions.values(), key=lambda f: (f.line, f.col)):
                # (a def nested in a function is decorated when that function runs, not at import:
                # newrelic's wrapper for functions that already are such coroutines, a corpus fp)
                if REMOVED_DECORATOR in fn.decorators and fn.parent is None:
                    add(mod, REMOVED_DECORATOR, _Place(fn.line, fn.col, fn.qualname))
        if not _before(project, AWAITED_LOCK_REMOVED_IN):
            for line, col, text, function in mod.awaited_locks:
                add(mod, AWAITED_LOCK, _Place(line, col, function, text))
        wait_ok = _before(project, WAIT_COROUTINES_REMOVED_IN) or WAIT_COROUTINES in gone
        for call in mod.calls:
            target = project.call_target(call)
            if target in WAITS and not wait_ok and not call.version_tolerant:
                coro = _coroutine_handed(project, mod, call)
                if coro is not None:
                    add(mod, WAIT_COROUTINES, _Place(call.line, call.col, call.function, coro))
                continue
            removed = REMOVED_CALLS.get(target or "")
            if removed is None or target in gone or call.version_tolerant or _before(project, removed[0]):
                continue
            if not call.text.endswith("Task." + target.rsplit(".", 1)[1]):
                # `all_tasks(loop)` through a name bound to the old API where the new one is
                # missing (`except AttributeError: all_tasks = asyncio.Task.all_tasks`): colcon,
                # ruia, aiodnsresolver -- corpus fps
                continue
            add(mod, target, call)
    return out, leads


def _coroutine_handed(project, mod: ModuleFacts, call: Call) -> Optional[str]:
    """The text of a coroutine call among what ``asyncio.wait(...)`` is handed: an element of a
    list, set or tuple display (``[consumer.proxy_stdout(), consumer.proxy_stderr()]``), or the
    element of a comprehension (``[self.fetch(u) for u in urls]``), that certainly calls a
    coroutine function (CCL507's test: the project's ``async def``, or asyncio's own such as
    ``Event.wait``). A task or future made of it (``create_task(fetch(u))``) is what ``wait`` takes."""
    given = call.args[0] if call.args else call.kwargs.get("fs")
    if given is None or given.kind != "container":
        return None
    places = {(v.line, v.col) for v in given.inner if v.kind == "call" and not v.text.isidentifier()}
    if given.meta.get("comprehension"):
        places.add((given.line, given.col + 1))  # `[fetch(u) for u in urls]`: the element follows the bracket
    names = {v.text for v in given.inner if v.text.isidentifier()}
    last: Dict[str, Call] = {}  # `out = pump(tap.stdout)` ... `asyncio.wait([out, err])`: the name's last call before
    for c in mod.calls:
        if c.function != call.function or c.version_tolerant:
            continue  # `else: aws = [ws_forward(w), ...]` under `if sys.version_info >= (3, 11)`: the old side
        if (c.line, c.col) in places and c.use == "arg" and not c.awaited and coroutine_target(project, c) is not None:
            return c.text
        if c.assigned_to in names and c.line < call.line:
            last[c.assigned_to] = c
    for c in last.values():
        if not c.awaited and coroutine_target(project, c) is not None:
            return c.text
    return None


class RemovedAsyncioApi(Rule):
    code = "CCL511"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        sites, leads = ctx.shared(_removed_sites)
        for api, found in sorted(sites.get(module.path, {}).items(), key=lambda kv: (kv[1][0].line, kv[1][0].col)):
            first = found[0]
            if api == REMOVED_DECORATOR:
                what = f"@asyncio.coroutine on '{first.function.rsplit('.', 1)[-1]}'"
                version, failure = "3.11", "importing the module raises AttributeError, so nothing in it runs"
                instead = "write it as `async def` with `await` (a generator that must stay one: @types.coroutine)"
                again = "@asyncio.coroutine here too"
            elif api == AWAITED_LOCK:
                lock = re.sub(r"^(await|yield\s+from)\s+", "", first.text)
                what = f"`with {first.text}:`" if first.text.startswith("await") else f"`with ({first.text}):`"
                version, failure = "3.9", "the await raises TypeError (an asyncio lock is no longer awaitable)"
                instead = f"hold it with `async with {lock}:`"
                again = "`with await` on a lock here too"
            elif api == WAIT_COROUTINES:
                what = f"asyncio.wait() given coroutines ({first.text}())"
                version, failure = "3.11", "the call raises TypeError (it takes tasks and futures only)"
                instead = "wrap each in asyncio.create_task() first, or gather them with asyncio.gather()"
                again = "coroutines handed to asyncio.wait() here too"
            else:
                (major, minor), new = REMOVED_CALLS[api]
                what = f"{first.text}()"
                version, failure = f"{major}.{minor}", "the call raises AttributeError"
                instead = f"call {new} (it takes the loop's tasks from the running loop)"
                again = f"{api.rsplit('.', 1)[-1]}() here too"
            related: List[Dict] = [{"path": module.path, "line": p.line, "col": p.col, "message": again}
                                   for p in found[1:]]
            count = f" (and {len(related)} more in this module)" if related else ""
            lead_path = leads[(_top(module), api)]
            confidence = "high"
            if lead_path != module.path:
                lead = sites[lead_path][api][0]
                related.append({"path": lead_path, "line": lead.line, "col": lead.col,
                                "message": "the same removed API, reported here (one cause)"})
                confidence = "medium"
            if _compat_module(module.module):
                confidence = "low"  # imported only on the old Pythons that still have the API
            elif "." in module.module and all(getattr(p, "in_main_guard", False) for p in found):
                confidence = "medium"  # a demonstration under a package module's main guard
            yield ctx.report(self.code, module, first, function=first.function, what=what, version=version,
                             failure=failure, count=count, instead=instead, related=related,
                             confidence=confidence)

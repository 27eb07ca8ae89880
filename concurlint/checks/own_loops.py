"""Which coroutines run alone on an event loop of their own, where a blocking call stalls nothing
else (CCL501 and CCL504 lower their confidence there): a coroutine handed to a loop runner in a
worker thread (or handed with the runner to one: ``executor.submit(asyncio.run, coro)``), to
``run_until_complete`` on a loop the same function made, to a synchronous facade
that runs the coroutine handed to it to its end, or to ``asyncio.run`` in a synchronous wrapper
method -- and the coroutines only such coroutines await -- unless one of them starts tasks or a
server of its own, which would share that loop. Also where a program's own coroutines run before
it has started anything else on its loop (``program_sequence``), and the asyncio names for making
tasks and running loops that the CCL5 rules share.
"""
from __future__ import annotations

import re
from typing import Dict, NamedTuple, Optional, Tuple

from concurlint.analysis.facts import Call, Function, ModuleFacts
from concurlint.analysis.hints import is_cli_code
from concurlint.checks.sync_reach import on_worker_loop

TASK_FACTORIES = {
    "asyncio.create_task": "asyncio.create_task",
    "asyncio.ensure_future": "asyncio.ensure_future",
    "asyncio.AbstractEventLoop.create_task": "loop.create_task",
}
# what a loop facade hands the coroutine it is given to (``_loop_facades``)
FACADE_RUNNERS = ("asyncio.run", "asyncio.AbstractEventLoop.run_until_complete", "asyncio.Runner.run")
LOOP_RUNNERS = {
    "asyncio.run": "asyncio.run()",
    "asyncio.AbstractEventLoop.run_until_complete": "loop.run_until_complete()",
    "asyncio.AbstractEventLoop.run_forever": "loop.run_forever()",
    "asyncio.Runner.run": "asyncio.Runner.run()",
}
# run the coroutine function handed to them (not a coroutine object) to its end on a loop of their
# own: `trio.run(main, args.path)`, `anyio.run(main)`
FUNCTION_RUNNERS = frozenset({"trio.run", "anyio.run"})
# asgiref's bridges: `async_to_sync(coroutine_function)(args)` from sync code runs the coroutine on
# a loop of its own, unless that code itself runs under `sync_to_async` (then on the outer loop)
ASYNC_TO_SYNC = frozenset({"asgiref.sync.async_to_sync", "asgiref.sync.AsyncToSync"})
SYNC_TO_ASYNC = frozenset({"asgiref.sync.sync_to_async", "asgiref.sync.SyncToAsync",
                           "channels.db.database_sync_to_async"})


def private_loops(ctx) -> frozenset:
    """Coroutines that run alone on an event loop of their own: every call of them is handed to
    ``asyncio.run()`` / ``loop.run_until_complete()`` inside a thread's body (``class
    Heartbeat(Thread): def run(self): loop = asyncio.new_event_loop();
    loop.run_until_complete(self._beat())``), to a runner on a loop its function made, to a loop
    facade or to ``asyncio.run`` in a wrapper method (see the module's docstring); and coroutines
    Textual runs in a worker thread of their own (``@work(thread=True) async def ...``). Blocking
    there stalls no other coroutine. Once per run."""
    from concurlint.analysis.threads import thread_map

    project = ctx.project
    tm = ctx.shared(thread_map)
    handed: Dict[str, set] = {}  # coroutine -> positions where a runner in a thread receives it
    called: Dict[str, set] = {}  # coroutine -> positions of every call of it
    facades = _loop_facades(project)
    by_method = _facade_methods(project, facades)
    for mod, call in project.index.calls("project-call"):
        t = project.call_target(call)
        if t in project.functions and project.functions[t].is_async:
            called.setdefault(t, set()).add((mod.path, call.line, call.col))
    for mod, call in project.index.calls("coroutine-handed"):
        t = project.call_target(call)
        if t is None and call.method in by_method:
            t = by_method[call.method]
        if (t in LOOP_RUNNERS or t in facades) and call.args and call.args[0].kind == "call" and call.function:
            fn = project.functions.get(call.function)
            in_thread = t in LOOP_RUNNERS and (tm.runs_in_thread(call.function) or (
                fn is not None and fn.name == "run" and fn.cls is not None
                and project.is_subclass(fn.cls, "threading.Thread")))
            fresh = not in_thread and fn is not None and (
                t in facades or _on_fresh_loop(project, mod, fn, call) or _sync_api_wrapper(project, fn, t))
            if not (in_thread or fresh):
                continue
            for q, where in _coroutines_made(project, mod, fn, call.args[0], call):
                if q and not (fresh and _makes_tasks(project, q)):
                    handed.setdefault(q, set()).add(where)
    for site in ctx.sites:
        # `executor.submit(asyncio.run, scan(iface))`, `Thread(target=asyncio.run, args=(main(),))`:
        # a worker thread runs the coroutine on a fresh loop of its own (lswifi's per-interface
        # scans: rev94a's high fp)
        if site.model != "threads" or site.function not in FACADE_RUNNERS or not site.args:
            continue
        fn = project.functions.get(site.call.function) if site.call.function else None
        for q, where in _coroutines_made(project, site.module, fn, site.args[0], site.call):
            if q in project.functions and project.functions[q].is_async and not _makes_tasks(project, q):
                handed.setdefault(q, set()).add(where)
    for q, where in _bridged(project):
        if not _makes_tasks(project, q):
            handed.setdefault(q, set()).add(where)
    for q in list(handed):  # `self._list_blobs()` names the base's method; a subclass's override runs
        for over in _overrides(project, q):
            if not _makes_tasks(project, over):
                handed.setdefault(over, set()).update(handed[q])
                called.setdefault(over, set()).update(called.get(q, ()))  # and wherever else it is called
    private = {q for q, where in handed.items() if called.get(q, set()) <= where} | _library_private(project) \
        | {q for q, fn in project.functions.items() if on_worker_loop(fn) and not _makes_tasks(project, q)}
    # a coroutine awaited only by coroutines alone on their loop is alone there too (its awaits
    # of itself do not count: a recursive crawl of subpages started from one alone)
    callers: Dict[str, set] = {}
    for mod, call in project.index.calls("project-call"):
        t = project.call_target(call)
        if t in called:
            callers.setdefault(t, set()).add(call.function if call.awaited else None)
    grew = bool(private)
    while grew:
        grew = False
        for q, who in callers.items():
            others = who - {q}
            if q not in private and others and others <= private and not _makes_tasks(project, q):
                private.add(q)
                grew = True
    return frozenset(private)


def _bridged(project):
    """[(coroutine, position)] of ``async_to_sync(self.waiting_action_receiver)(dt, name)`` in a
    synchronous function: asgiref runs the coroutine function on a loop of its own (pyscada's worker
    process between two polls: a high fp) -- not where that function may itself run under
    ``sync_to_async`` (handed to it, or a request handler, which Django runs so under ASGI): there
    asgiref runs the coroutine on the outer loop."""
    calls = list(project.index.calls("async-to-sync"))
    under_async = {project.resolve(c.args[0].qualname) for _, c in calls
                   if project.call_target(c) in SYNC_TO_ASYNC and c.args and c.args[0].qualname}
    out = []
    for mod, call in calls:
        fn = project.functions.get(call.function) if call.function else None
        if project.call_target(call) not in ASYNC_TO_SYNC or fn is None or fn.is_async or not call.args \
                or not call.args[0].qualname or fn.qualname in under_async or "request" in fn.params \
                or any(d.rsplit(".", 1)[-1] in ("sync_to_async", "database_sync_to_async") for d in fn.decorators):
            continue
        q = project.resolve(call.args[0].qualname)
        if q in project.functions and project.functions[q].is_async:
            out.append((q, (mod.path, call.line, call.col)))
    return out


def _coroutines_made(project, mod: ModuleFacts, fn: Optional[Function], coro, call: Call):
    """[(target, position)] of the call that made the coroutine handed to a runner: the argument's
    own call (``asyncio.run(scan(iface))``), else the call a local name it passes was bound to."""
    made = [c for c in mod.calls if coro.kind == "call" and c.line == coro.line and c.col == coro.col]
    out = []
    for c in made:
        t = project.call_target(c)
        subs = _subclass_methods(project, fn, c) if t not in project.functions else []
        out.extend((q, (mod.path, c.line, c.col)) for q in subs or [t])
    return out or _made_before(project, mod, fn, coro, call)


def _subclass_methods(project, fn: Optional[Function], call: Call):
    """``self.run_async(...)`` in a base class that leaves the method to its subclasses (pydude's
    ``ScraperBase.run()`` driving whichever scraper's ``run_async``): the subclasses' methods of
    that name."""
    owner = fn
    while owner is not None and owner.cls is None and owner.parent:
        owner = project.functions.get(owner.parent)
    if owner is None or owner.cls is None or not call.text.startswith("self.") or call.text.count(".") != 1:
        return []
    name = call.text.split(".", 1)[1]
    return [q for q in project.function_names().get(name, ())
            if project.functions[q].cls and project.is_subclass(project.functions[q].cls, owner.cls)]


def _made_before(project, mod: ModuleFacts, fn: Optional[Function], coro, call: Call):
    """``coro = self._datasets(*results); return self._sync(coro)``: the coroutine call a local
    name handed to the runner was made by, earlier in the same function -- [(target, position)]."""
    if fn is None or not coro.text.isidentifier():
        return []
    made = [mod.calls[i] for i in fn.calls if mod.calls[i].assigned_to == coro.text and mod.calls[i].line <= call.line]
    if not made:
        return []
    last = max(made, key=lambda c: (c.line, c.col))
    return [(project.call_target(last), (mod.path, last.line, last.col))]


def _library_private(project) -> set:
    """Coroutine methods of the project that override a library's method which the library runs
    alone on a loop of its own in a worker thread (``[alone-on-loop]`` in dispatch.toml: a
    snakemake executor plugin's ``check_active_jobs``), unless they start tasks of their own."""
    wanted: Dict[str, list] = {}
    for listed in project.kb.table("dispatch").get("alone-on-loop", {}).get("methods", []):
        base, _, name = listed.rpartition(".")
        wanted.setdefault(name, []).append(base)
    out = set()
    for info in project.classes.values():
        for name in wanted.keys() & info.methods.keys():
            q = info.methods[name]
            fn = project.functions.get(q)
            if fn is not None and fn.is_async and not _makes_tasks(project, q) \
                    and any(project.is_subclass(info.qualname, base) for base in wanted[name]):
                out.add(q)
    return out


def _loop_facades(project) -> frozenset:
    """Synchronous functions that run the coroutine handed to them to its end on a loop of their
    own (``def async_run(self, coro): return runner.run(coro)``, ``def run_sync(coro): return
    asyncio.run(coro)``): a facade for calling async code from sync code. Called inside a running
    loop they would fail, so what they run is alone on the loop they drive."""
    out = set()
    for q, calls in project.index.owned("facade-run").items():
        fn = project.functions[q]
        if fn.is_async:
            continue
        # `aws = asyncio.ensure_future(coro, loop=loop)` then `loop.run_until_complete(aws)`
        wrapped = {c.assigned_to for c in project.calls_of(fn) if c.assigned_to and c.args
                   and project.call_target(c) in WRAPS and c.args[0].text in fn.params}
        for c in calls:
            if not c.args or c.args[0].text in ("self", "cls"):
                continue
            if c.args[0].text not in fn.params and c.args[0].text not in wrapped:
                continue
            if runs_to_end(c, project.call_target(c)):
                out.add(q)
                break
    # `def _sync(self, coro): self.free_semaphores(); return sync(coro)` over a facade `sync`:
    # a facade too, at any depth
    grew = bool(out)
    while grew:
        grew = False
        for mod, c in project.index.calls("project-call"):
            fn = project.functions.get(c.function) if c.function else None
            if fn is None or fn.is_async or fn.qualname in out or not c.args or project.call_target(c) not in out:
                continue
            if c.args[0].text in fn.params and c.args[0].text not in ("self", "cls"):
                out.add(fn.qualname)
                grew = True
    return frozenset(out)


WRAPS = frozenset({"asyncio.ensure_future", "asyncio.AbstractEventLoop.create_task"})


def runs_to_end(call: Call, target: Optional[str]) -> bool:
    """A call that runs the coroutine handed to it to its end on a loop: ``asyncio.run``,
    ``runner.run``, ``loop.run_until_complete`` -- also on a loop whose exact type the analysis
    did not settle (``loop = get_event_loop()``, the project's own helper that gets or makes one,
    read as whichever loop class it last assigned)."""
    if target in FACADE_RUNNERS:
        return True
    if call.method == "run_until_complete":
        return target is None or target.startswith("asyncio.")
    return target is None and call.method == "run" and "runner" in call.text.lower()


def _facade_methods(project, facades: frozenset) -> Dict[str, str]:
    """Method names that only loop facades of the project bear (``def async_run(self, coro)`` of a
    ``Workflow``): a call ``self.workflow.async_run(job.postprocess())`` whose receiver's type is not
    known still hands its coroutine to a facade when every function of the project that bears the
    name is one."""
    return {name: min(qs) for name, qs in project.function_names().items() if facades.issuperset(qs)}


def _sync_api_wrapper(project, fn: Function, target: Optional[str]) -> bool:
    """``asyncio.run(self.run_and_close_session(...))`` in a method, or in a function nested in
    one: a synchronous API over an async one, each call on a loop of its own (a program's
    ``asyncio.run(main())`` is in a plain function or at module level). So is
    ``loop.run_until_complete(self._list_blobs(prefix))`` in a method, whatever loop it got
    (``get_or_create_event_loop()``): no other coroutine of the program runs on that loop while the
    method waits for it to complete (the method could not run at all on a running loop)."""
    if target not in FACADE_RUNNERS:
        return False
    while fn is not None:
        if fn.cls is not None:
            return True
        fn = project.functions.get(fn.parent) if fn.parent else None
    return False


def _on_fresh_loop(project, mod: ModuleFacts, fn: Function, call: Call) -> bool:
    """``loop.run_until_complete(coro())`` on a loop the same function made for itself
    (``loop = asyncio.new_event_loop()``: a connection handler's ``run()`` driving its own
    ``_run_once()`` turn after turn): the coroutine is alone on that loop."""
    if project.call_target(call) != "asyncio.AbstractEventLoop.run_until_complete" or "." not in call.text:
        return False
    name = call.text.rsplit(".", 1)[0]
    return name.isidentifier() and any(
        mod.calls[i].assigned_to == name and project.call_target(mod.calls[i]) == "asyncio.new_event_loop"
        for i in fn.calls)


def _overrides(project, qualname: str):
    """The coroutine methods of subclasses that override the method ``qualname``."""
    return [q for q in project.overrides(qualname) if project.functions[q].is_async]


def _makes_tasks(project, qualname: str) -> bool:
    """The coroutine starts tasks of its own on the loop it runs on (they would share it)."""
    fn = project.functions.get(qualname)
    return fn is None or any(project.call_target(c) in TASK_FACTORIES or project.call_target(c) in TASK_GROUPS
                             for c in project.calls_of(fn))


TASK_GROUPS = frozenset({"asyncio.gather", "asyncio.wait", "asyncio.as_completed", "asyncio.TaskGroup",
                         # a server runs its connection handlers as tasks on the same loop
                         "asyncio.start_server", "asyncio.start_unix_server",
                         "asyncio.AbstractEventLoop.create_server", "asyncio.AbstractEventLoop.create_unix_server"})


# ---------------------------------------------------------------- a program's own sequence
# an `async with` that may start tasks of its own for the length of its block (a task group, a
# server, a connection with a keepalive or a reader task)
_COMPANY_WITH = re.compile(r"task_?group|nursery|serve|server|connect|websocket|listen|subscri", re.I)
# async clients whose connections start no task of their own on the loop
_QUIET_CLIENTS = ("aiohttp.ClientSession", "httpx.AsyncClient")
# an awaited call of a library we do not know that may leave a task behind on the loop (a client
# that connects and then reads in the background)
_COMPANY_METHODS = frozenset({"connect", "start", "login", "subscribe", "serve", "serve_forever", "listen",
                              "run", "start_server", "run_forever", "open"})


class Alone(NamedTuple):
    """Where a coroutine has the loop to itself: before line ``until``, outside the ``company``
    ranges (the blocks of task groups, nurseries and connections, whose tasks end with the
    block)."""

    until: int
    company: Tuple[Tuple[int, int], ...] = ()

    def covers(self, line: int) -> bool:
        return line < self.until and not any(start <= line <= end for start, end in self.company)


def program_sequence(ctx) -> Dict[str, Alone]:
    """Where a coroutine runs alone on the loop because the program has not started anything else
    yet: ``{qualname: Alone}``, the calls of that coroutine on the lines it covers have the loop to
    themselves. A program's entry coroutine (``asyncio.run(main())`` at module level or in a plain
    function, and called nowhere else) runs alone until the first statement that may start a task
    that outlives it (``create_task``, a server, a project function that does either, an awaited
    library ``connect()``/``start()``), except inside the blocks of an ``async with`` of a task
    group, a nursery or a connection (whose tasks end with the block): reading its start-up files,
    asking a prompt or checking a host before that stalls nothing else (wapiti's start-up, a
    one-shot command), nor saving the results once the task group has ended. A call in a loop that
    also starts such a task is not alone (the next turn has company). Under
    ``trio.run``/``anyio.run`` (structured concurrency) no task outlives the nursery or task group
    that started it: the coroutine is alone everywhere but inside those blocks (gitfive's
    sequential hunt, between its nurseries), unless the project starts asyncio tasks itself. A
    coroutine awaited only from such places runs alone the same way, when it is the program's
    own: private, nested, or in the entry's module (a public coroutine of another module is API
    that a library's users may call from a busy loop of their own). Once per run."""
    project = ctx.project
    starts: Dict[str, bool] = {}

    def may_start(call: Call) -> bool:
        t = project.call_target(call)
        if t in TASK_FACTORIES or t in _SERVERS:
            return True
        fn = project.functions.get(t) if t else None
        if fn is not None:
            return starts_tasks(fn)
        return call.awaited and call.method in _COMPANY_METHODS  # a library's client, known or not

    def starts_tasks(fn: Function) -> bool:
        if fn.qualname not in starts:
            starts[fn.qualname] = False  # a cycle adds nothing
            # an `async with` of a task group or a connection is not counted: its tasks end with
            # its block, before the function returns
            starts[fn.qualname] = any(may_start(c) for c in project.calls_of(fn))
        return starts[fn.qualname]

    def company_with(text: str) -> bool:
        """An ``async with`` (of what its call resolves to) that may start tasks for the length
        of its block: named like a task group, a server or a connection -- not a client of a
        library known to start none (``session.ws_connect(url)`` of aiohttp: its reads happen in
        ``receive()``)."""
        return bool(_COMPANY_WITH.search(text)) and not text.startswith(_QUIET_CLIENTS)

    def company_line(fn: Function) -> int:
        """The first line of ``fn`` from which it may have company on the loop for good (a task
        started that may outlive the statement that started it)."""
        first = fn.end_line + 1
        for c in project.calls_of(fn):
            if may_start(c):
                line = c.line
                loop = c.loop
                while 0 <= loop < len(fn.loops):  # in a loop: from the loop's head on
                    line = min(line, fn.loops[loop].line)
                    loop = fn.loops[loop].parent
                first = min(first, line)
        return first

    def alone_in(fn: Function, structured: bool) -> Alone:
        """Alone up to the first task that may outlive its statement (none under structured
        concurrency), and outside the blocks of task groups, nurseries and connections."""
        blocks = tuple((start, end) for text, start, end in fn.async_withs if company_with(text))
        return Alone(fn.end_line + 1 if structured else company_line(fn), blocks)

    entries = set()
    runners: Dict[str, int] = {}  # coroutine -> how many of its calls are handed to asyncio.run()
    from_cli = set()  # ... each of them by a command-line program's own module
    not_cli = set()
    handed_over = set()  # ... handed to trio.run / anyio.run
    handoffs = set()  # the calls `main()` inside `asyncio.run(main())` (their id)
    for mod, call in project.index.calls("loop-runner"):
        t = project.call_target(call)
        fn = project.functions.get(call.function) if call.function else None
        if fn is not None and (fn.is_async or (fn.cls is not None and t != "asyncio.run")):
            # a coroutine's own loop runner; a method's run_until_complete() on a loop it may share
            # (private_loops). A method's asyncio.run() makes a fresh loop each call: its coroutine
            # is an entry like a program's main() (dvuploader's upload(): alone after its gather)
            continue
        if t in FUNCTION_RUNNERS and call.args and call.args[0].qualname:
            # `trio.run(maincore)`: the function itself is handed over, so no call of it is counted
            q = project.resolve(call.args[0].qualname)
            if q in project.functions and project.functions[q].is_async:
                runners[q] = runners.get(q, 0)
                handed_over.add(q)
                (from_cli if is_cli_code(mod.module) else not_cli).add(q)
            continue
        if t not in ("asyncio.run", "asyncio.AbstractEventLoop.run_until_complete") or not call.args \
                or call.args[0].kind != "call":
            continue
        for c in mod.calls:
            if c.line == call.args[0].line and c.col == call.args[0].col:
                q = project.call_target(c)
                if q in project.functions and project.functions[q].is_async:
                    runners[q] = runners.get(q, 0) + 1
                    handoffs.add(id(c))
                    (from_cli if is_cli_code(mod.module) else not_cli).add(q)
    for q, n in runners.items():
        if len(project.calls_to(q)) == n:
            entries.add(q)
    command = (entries & from_cli) - not_cli  # a command's entry: what it awaits is no library's API
    loose: Dict[str, bool] = {}

    def loose_tasks(fn: Function) -> bool:
        """``fn`` or a project function it calls starts an asyncio task (one that may outlive
        the nursery it was started in)."""
        if fn.qualname not in loose:
            loose[fn.qualname] = False  # a cycle adds nothing
            loose[fn.qualname] = any(
                t in TASK_FACTORIES or (t in project.functions and loose_tasks(project.functions[t]))
                for t in map(project.call_target, project.calls_of(fn)))
        return loose[fn.qualname]

    # structured concurrency: an entry handed to trio.run/anyio.run, from which no asyncio task is started
    structured = {q for q in entries & handed_over if not loose_tasks(project.functions[q])}
    out: Dict[str, Alone] = {q: alone_in(project.functions[q], q in structured) for q in entries}
    # a coroutine awaited only from alone places runs alone the same way
    changed = True
    while changed:
        changed = False
        for q, alone in list(out.items()):
            fn = project.functions[q]
            for c in project.calls_of(fn):
                t = project.call_target(c)
                callee = project.functions.get(t) if t else None
                if callee is None or not callee.is_async or t in out or not _waits_on(project, c, callee) \
                        or not alone.covers(c.line):
                    continue
                # `asyncio.run(main_run(...))` in one command, `await main_run(...)` at the start
                # of another's entry (pygbag): the hand-over starts a sequence of its own
                callers = [k for k in project.calls_to(t) if id(k) not in handoffs]
                if not (callee.name.startswith("_") or callee.parent
                        or project.function_module.get(t) is project.function_module.get(q)
                        or all(k.function in command for k in callers)):
                    # a public coroutine of another module: a library's users may call it too --
                    # unless only a command's own sequence awaits it (`trio.run(login_mod.check_and_login)`
                    # in the program's cli module, then `await creds.login()`)
                    continue
                if all(_waits_on(project, k, callee) and k.function in out and out[k.function].covers(k.line)
                       for k in callers):
                    if all(k.function in structured for k in callers):
                        structured.add(t)
                    out[t] = alone_in(callee, t in structured)
                    if all(k.function in command for k in callers):
                        command.add(t)
                    changed = True
    return out


def _waits_on(project, call: Call, callee: Function) -> bool:
    """The caller runs the callee to its end in its own place: ``await fetch()``; ``async for
    event in adapter.events()`` over an async generator (logatory's adapters, each drained by its
    command's one coroutine: rev96a's seven high debatables); or such a generator handed to a
    call awaited in the same statement (``await run_pipeline(events=adapter.poll(5))``)."""
    if call.awaited:
        return True
    if not callee.is_generator:
        return False
    if call.use == "iter":
        return True
    caller = project.functions.get(call.function) if call.function else None
    return caller is not None and call.use == "arg" and any(
        k.awaited and any(a.line == call.line and a.col == call.col for a in (*k.args, *k.kwargs.values()))
        for k in project.calls_of(caller))


_SERVERS = frozenset({"asyncio.start_server", "asyncio.start_unix_server",
                      "asyncio.AbstractEventLoop.create_server", "asyncio.AbstractEventLoop.create_unix_server",
                      "asyncio.AbstractEventLoop.create_datagram_endpoint", "asyncio.AbstractEventLoop.connect_read_pipe"})

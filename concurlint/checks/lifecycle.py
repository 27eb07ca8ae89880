"""CCL6xx: thread lifecycle hazards.

- CCL601 ``signal.signal`` reached from code that runs in another thread (ValueError there).
- CCL602 a future (or ``AsyncResult``) dropped, or an executor ``map`` never iterated: the task's
  exception is stored and never raised.
- CCL603 a non-daemon thread started in library code and never joined or kept.
- CCL604 ``threading.Thread(f)``: the first positional parameter is ``group``, not ``target``.
- CCL606 ``threading.Thread(target=f(x))``, ``executor.submit(f(x))``: the function runs at once,
  in the caller's thread, and the thread or pool is handed its result (None).
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional

from concurlint.analysis.facts import Call, ModuleFacts, Value
from concurlint.analysis.platforms import POSIX, WINDOWS
from concurlint.analysis.threads import chain_text, short_name, thread_map, thread_target_arg
from concurlint.checks.task_errors import (_context_run, _delivers_outcome, _guards_errors, _handed_in, _handles_errors,
                                          _known_task, _never_raises, wrapping_submit)
from concurlint.registry import Finding, Rule

SIGNAL_CALLS = ("signal.signal",)
EXECUTORS = ("concurrent.futures.ThreadPoolExecutor", "concurrent.futures.ProcessPoolExecutor",
             "concurrent.futures.InterpreterPoolExecutor", "concurrent.futures.Executor",
             "concurrent.futures._base.Executor")
# call -> (what it returns, how its failure is lost)
SUBMITS = {f"{e}.submit": "future" for e in EXECUTORS}
SUBMITS.update({
    "multiprocessing.pool.Pool.apply_async": "AsyncResult",
    "multiprocessing.pool.ThreadPool.apply_async": "AsyncResult",
    "multiprocessing.pool.Pool.map_async": "AsyncResult",
    "multiprocessing.pool.ThreadPool.map_async": "AsyncResult",
    "multiprocessing.pool.Pool.starmap_async": "AsyncResult",
    "multiprocessing.pool.ThreadPool.starmap_async": "AsyncResult",
})
MAPS = {f"{e}.map" for e in EXECUTORS} | {
    "multiprocessing.pool.Pool.imap", "multiprocessing.pool.Pool.imap_unordered",
    "multiprocessing.pool.ThreadPool.imap", "multiprocessing.pool.ThreadPool.imap_unordered",
}
THREAD_CLASSES = ("threading.Thread",)
GROUP_FIRST = ("threading.Thread", "multiprocessing.Process", "multiprocessing.context.Process")


def _is_callable(project, v) -> bool:
    """Is the value a function, class or method? Names are resolved across the project's modules
    (``from .jobs import drain``, ``jobs.drain`` through ``import pkg.jobs as jobs``); a library
    name counts when the knowledge base knows it as a call. A name bound to anything else (a
    constant, ``None``) or that cannot be resolved is not reported, nor is an attribute of an
    object whose method cannot be found (``job.timeout`` may be a number)."""
    if v.kind in ("function", "lambda", "partial"):
        return True
    if v.kind not in ("ref", "bound-method") or not v.qualname:
        return False
    r = project.resolve(v.qualname)
    if r is None:
        return False
    return r in project.functions or r in project.classes or project.kb.category(r) is not None


def _spelled(module: ModuleFacts, call: Call) -> str:
    """The callee as the source names it, through the module's imports only
    (``from threading import Timer as T``: ``T`` is ``threading.Timer``, which the knowledge base
    otherwise reads as the ``threading.Thread`` it subclasses)."""
    head, _, rest = call.text.partition(".")
    base = module.imports.get(head, head)
    return f"{base}.{rest}" if rest else base


class _Pos:
    def __init__(self, call: Call):
        self.line, self.col = call.line, call.col
        self.end_line, self.end_col = call.end_line, call.end_col
        self.text = call.text


def _executor_method(project, call: Call, names) -> Optional[str]:
    """The canonical API name when ``call`` is one of ``names`` (also on project subclasses of
    ``concurrent.futures.Executor``, e.g. when analysing the standard library itself)."""
    t = project.call_target(call)
    if t in names:
        return t
    if t in project.functions and call.method:
        cls = project.functions[t].cls
        for e in EXECUTORS:
            if cls and project.is_subclass(cls, e):
                name = f"{e}.{call.method}"
                if name in names:
                    return name
    return None


class SignalHandlerSetOutsideMainThread(Rule):
    code = "CCL601"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        tm = ctx.shared(thread_map)
        project = ctx.project
        for q, fn in module.functions.items():
            reaches = tm.thread_reaches(q)
            if not reaches:
                continue
            for call in project.calls_of(fn):
                if project.call_target(call) not in SIGNAL_CALLS or call.in_try:
                    continue
                reaches = [r for r in reaches if not _never_together(project, r, q, call)]
                if not reaches:
                    continue
                unchecked = [r for r in reaches if not _checks_thread(project, r.chain + (q,))]
                r = (unchecked or reaches)[0]
                via = f" via {chain_text(r.chain, project)}" if len(r.chain) > 1 else ""
                yield ctx.report(self.code, module, _Pos(call), function=q,
                                 related=[r.entry.related(f"'{r.entry.short}' is started in a thread here")],
                                 func=short_name(q, project), runner=f"{r.entry.describe()}{via}",
                                 # the way there asks which thread it runs in (`if not in_main_thread():
                                 # handle_sigint = False`): the author knows, and it is usually guarded
                                 confidence="high" if unchecked else "low")


def _never_together(project, reach, q: str, call) -> bool:
    """The thread starts only where the way to the call cannot run: on one platform while the way
    runs only on the other (``Thread(...)`` in the Windows branch of ``Process(...) if
    is_unix_system() else Thread(...)``, then ``if is_unix_system() and timeout:
    _set_wait_alarm(timeout)``), or under a test of a variable that a function nested in the
    starter tests the other way on the way (``if open and not qt: Thread(target=open_browser)``,
    and in ``open_browser``: ``if qt: run_qt(url)``)."""
    start_call = reach.entry.site.call
    start = project.platform_of(start_call)
    other = {WINDOWS: POSIX, POSIX: WINDOWS}.get(start)
    starter = project.functions.get(start_call.function or "")
    held = {(name, op, const) for name, op, const, first, last in (starter.guards if starter else ())
            if first <= start_call.line <= last}
    steps = []  # (function, the calls of it that lead on)
    chain = reach.chain + (q,)
    for a, b in zip(chain, chain[1:]):
        fn = project.functions.get(a)
        if fn is not None:
            steps.append((fn, [c for c in project.calls_of(fn) if project.call_target(c) == b]))
    fn = project.functions.get(q)
    if fn is not None:
        steps.append((fn, [call]))
    for fn, calls in steps:
        if not calls:
            continue
        if other is not None and all(project.platform_of(c) == other for c in calls):
            return True
        if held and starter is not None and fn.qualname.startswith(starter.qualname + ".<locals>.") and all(
                _contradicts(fn, c, held) for c in calls):
            return True
    return False


_OPPOSITE = {"truthy": "falsy", "falsy": "truthy", "is": "is not", "is not": "is", "==": "!=", "!=": "=="}


def _contradicts(fn, call, held) -> bool:
    """``call`` in ``fn`` runs only under a test of a variable of the enclosing function (not a
    parameter of ``fn``) that contradicts a test ``held`` at the thread's start."""
    for name, op, const, first, last in fn.guards:
        if first <= call.line <= last and name not in fn.params and any(
                name == n and _OPPOSITE.get(op) == o and (op in ("truthy", "falsy") or const == c)
                for n, o, c in held):
            return True
    return False


def _checks_thread(project, chain) -> bool:
    """A function on the way asks whether it runs in the main thread (``threading.main_thread()``,
    a project helper such as ``in_main_thread()``)."""
    for q in chain:
        fn = project.functions.get(q)
        if fn is not None and any((project.call_target(c) or "").endswith("main_thread")
                                  for c in project.calls_of(fn)):
            return True
    return False


def _name_used(module: ModuleFacts, fn, name: str) -> bool:
    """The function reads the name, or a function nested in it does (``def poll(): if
    future.done(): future.result()`` scheduled with a GUI timer); for a global the function
    declares (``global result_future``), any function of the module does."""
    if name in fn.loaded_names:
        return True
    if name in fn.globals_declared:
        return any(name in f.loaded_names for f in module.functions.values() if f is not fn)
    inner = fn.qualname + ".<locals>."
    return any(name in f.loaded_names for q, f in module.functions.items() if q.startswith(inner))


class FutureResultNeverChecked(Rule):
    code = "CCL602"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        for call in module.calls:
            api = _executor_method(project, call, SUBMITS)
            what = SUBMITS.get(api) if api else None
            fate = None
            if api is not None:
                if api.endswith("_async") and ("callback" in call.kwargs or "error_callback" in call.kwargs):
                    continue
                if call.use == "discard":
                    fate = "dropped"
                elif call.use == "assign" and call.assigned_to and call.function:
                    fn = module.functions.get(call.function)
                    if fn is not None and not _name_used(module, fn, call.assigned_to):
                        fate = f"stored in '{call.assigned_to}' and never used"
            else:
                api = _executor_method(project, call, MAPS)
                if api is not None and call.use == "discard":
                    what, fate = "iterator", "never iterated"
            if fate is None or api is None:
                continue
            fn_value = call.kwargs.get("fn") or call.kwargs.get("func") or (call.args[0] if call.args else None)
            if fn_value is not None and len(call.args) > 1 and _context_run(project, fn_value):
                fn_value = call.args[1]  # submit(ctx.run, task): the task runs in a copied context
            if fate == "dropped" and _never_raises(project, fn_value):
                continue  # the task catches and handles every exception itself: nothing is lost
            if _called_instead(project, fn_value) is not None:
                # `submit(self.req.save_cache())`: the future holds the TypeError of running None,
                # a consequence of the call CCL606 reports there (pmaw, rev124d)
                continue
            task = f"'{fn_value.text}'" if fn_value is not None and fn_value.text else "the task"
            short_api = ".".join(api.split(".")[-2:])
            # the task (or the decorator wrapping it) has its own catch-all handler: its author
            # chose what an error does (logged, handed to another future): low
            conf = "low" if fate == "dropped" and (_handles_errors(project, fn_value) or wrapping_submit(project, call)
                                                   or _handed_in(module, call, fn_value)) else "high"
            if conf == "high" and _guards_errors(project, fn_value):
                # its work is tries whose handlers log what the author expected to fail
                # (somafm-tui's artwork download: RequestException and IOError; mopidy-youtube's
                # video lookup, each step in its own try, mapped and never iterated): only a bug
                # is lost (rev94d's and rev104d's high fps)
                conf = "medium"
            if conf == "high" and fate == "dropped" and _delivers_outcome(project, fn_value):
                conf = "low"  # it tries its work and hands the outcome to its waiters itself
            if conf == "high" and not _known_task(project, fn_value):
                # what runs is not found (a closure over a callable handed in, a method of an
                # object of unknown type): whether it catches its own errors cannot be read
                conf = "medium"
            patterns = _executor_of(module, call, api, fn_value)
            yield ctx.report(self.code, module, _Pos(call), function=call.function,
                             what=what, api=short_api, fate=fate, task=task, confidence=conf,
                             pattern=patterns)


def _executor_of(module: ModuleFacts, call: Call, api: str, task: Optional[Value] = None) -> tuple:
    """Which executor the call submits to and how, as a finding's patterns: ``self._pool.submit``
    of one class, a module's pool, or a local one of one function (futures dropped at several
    submits to one executor are one cause); and, for a local pool in a method, the pool's name
    with the task's: a local pool of the same name handed a task of the same name in methods of
    several classes is one cause too (``pool.apply_async(Cls._execute_task, ...)`` in each
    scheduler class of a module written from one template: cw2, rev125c's four high
    debatables)."""
    if "." not in call.text:
        return ()
    receiver = call.text.rsplit(".", 1)[0]
    head = receiver.split(".", 1)[0]
    owner = module.functions.get(call.function) if call.function else None
    if owner is not None and head in ("self", "cls"):
        return ((owner.cls, receiver, api),)
    if head in module.globals or owner is None:
        return (("<module>", receiver, api),)
    if task is not None and task.text and owner.cls is not None:
        return (owner.qualname, receiver, api), ("<method-local>", receiver, task.text.rsplit(".", 1)[-1])
    return ((owner.qualname, receiver, api),)


def _thread_class(project, call: Call) -> Optional[str]:
    t = project.resolve(call.target)
    if t in THREAD_CLASSES:
        return t
    if t in project.classes and project.is_subclass(t, "threading.Thread"):
        return t
    return None


def _class_sets_daemon(project, cls: str) -> bool:
    seen = set()
    todo = [cls]
    while todo:
        c = todo.pop()
        if c in seen or c not in project.classes:
            continue
        seen.add(c)
        info = project.classes[c]
        for q in info.methods.values():
            fn = project.functions.get(q)
            if fn is None:
                continue
            if any(a.target.endswith(".daemon") and a.kind == "write" for a in fn.accesses):
                return True
            for sub in project.calls_of(fn):
                if "daemon" in sub.kwargs or sub.method in ("setDaemon",):
                    return True
        todo.extend(project.resolve(b) for b in info.bases)
    return False


class NonDaemonThreadNeverJoined(Rule):
    code = "CCL603"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        if module.has_main_guard or module.module.rsplit(".", 1)[-1] in ("__main__", "conftest") \
                or module.module.rsplit(".", 1)[-1].startswith("test"):
            return
        starts: Dict[tuple, List[Call]] = {}
        for call in module.calls:
            if call.method and call.receiver is not None and call.receiver.line:
                starts.setdefault((call.function, call.receiver.line, call.receiver.col), []).append(call)
        for call in module.calls:
            cls = _thread_class(project, call)
            if cls is None or call.in_main_guard or call.function is None:
                continue
            fn = module.functions.get(call.function)
            if fn is None or fn.name == "main":
                continue
            if "daemon" in call.kwargs or call.star_args or (cls != "threading.Thread" and _class_sets_daemon(project, cls)):
                continue
            methods = [c.method for c in starts.get((call.function, call.line, call.col), [])]
            if "start" not in methods or "join" in methods or "setDaemon" in methods:
                continue
            if "cancel" in methods and _spelled(module, call) == "threading.Timer":
                # `timer = Timer(5, proc.kill); timer.start(); try: proc.communicate() finally:
                # timer.cancel()`: a watchdog stopped by the code that started it; once cancelled
                # its thread ends at once (hdl-checker, monasca-agent, plumbum: fp each time)
                continue
            if call.use == "assign":
                name = call.assigned_to
                if not name or fn.loaded_names.count(name) > len(methods):
                    continue  # kept, passed on, returned or configured: not provably lost
                if name in fn.globals_declared:
                    # `global reload_timer; reload_timer = Timer(...); reload_timer.start()`: kept in
                    # a module global, where the next call cancels or joins it (django-browser-reload's
                    # debounce, solaar's deferred save, OctoPrint's timelapse: fp each time)
                    continue
            elif call.use != "arg":
                continue
            target = thread_target_arg(project, cls, call)
            what = f"'{target.text}'" if target is not None and target.text else f"'{short_name(cls, project)}'"
            body = project.resolve(target.qualname) if target is not None and target.qualname else None
            if body is None and cls != "threading.Thread":
                body = project.find_method(cls, "run") or f"{cls}.run"  # run() may be inherited
            if _waits_for_main_thread(project, body):
                continue
            # a thread that loops forever keeps the interpreter from exiting: certain. One that
            # does a bounded job ends by itself; the wait at exit is short and usually wanted
            conf = "high" if _runs_forever(project, body) else "low"
            yield ctx.report(self.code, module, _Pos(call), function=call.function, target=what, confidence=conf)


def _waits_for_main_thread(project, qualname: Optional[str]) -> bool:
    """``Thread(target=lambda: threading.main_thread().join() or q.put(None))``: a watcher that
    wakes when the main thread has finished (the interpreter's shut-down marks it so before it
    waits for the other threads) and ends then -- the idiom that tells a worker to stop at exit
    (prompttools' logger: a rev138a fp)."""
    fn = project.functions.get(qualname) if qualname else None
    return fn is not None and any(c.method == "join" and c.receiver is not None
                                  and c.receiver.text.replace(" ", "").endswith("main_thread()")
                                  for c in project.calls_of(fn))


def _runs_forever(project, qualname: Optional[str]) -> bool:
    """The thread body (or a function it calls directly) has a ``while True`` loop with no way out:
    no ``break`` or ``return`` (a sentinel from its queue, a stop flag), no turn counter that gives up."""
    fn = project.functions.get(qualname) if qualname else None
    if fn is None:
        return False
    todo = [fn] + [project.functions[t] for t in (project.call_target(c) for c in project.calls_of(fn))
                   if t in project.functions]
    return any(loop.desc.startswith("while") and not loop.bounded and not loop.ends for f in todo for loop in f.loops)


class ThreadCallablePassedAsGroup(Rule):
    code = "CCL604"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        for call in module.calls:
            t = project.call_target(call)
            if t not in GROUP_FIRST and not (t or "").endswith("BaseContext.Process"):
                continue
            if not call.args or not _is_callable(project, call.args[0]) or _spelled(module, call) == "threading.Timer":
                continue  # Timer(interval, function): its first parameter is the interval
            api = "threading.Thread" if t == "threading.Thread" else "multiprocessing.Process"
            yield ctx.report(self.code, module, _Pos(call), function=call.function,
                             func=call.args[0].text, api=api)


# decorators that leave what the function returns as it is
PLAIN_DECORATORS = frozenset({"staticmethod", "classmethod", "builtins.staticmethod", "builtins.classmethod",
                              "abc.abstractmethod", "typing.override", "typing_extensions.override"})


class TargetCalledInsteadOfPassed(Rule):
    code = "CCL606"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        for site in ctx.sites_by_path.get(module.path, []):
            v = site.callable
            if site.model == "asyncio":
                continue  # `create_task(fetch())` hands over the coroutine the call makes: right
            fn = _called_instead(project, v)
            if fn is None:
                continue
            name = fn.name
            if site.api in ("threading.Thread", "multiprocessing.Process") or site.api.endswith(".Process"):
                fix = f"target={name}, args=(...)"
            else:
                fix = f"{site.api.rsplit('.', 1)[-1]}({name}, ...)"
            # `t = Thread(target=submit_order(...)); t.start(); t.join()`: the thread was to be
            # waited for at once, so the program does what it did anyway, one step after another
            # (FinRL's orders): true, rarely worth a change. Not a process joined at once: that one
            # was there to run the work apart (apache-flink's proto generation in a child)
            conf = "medium" if site.model == "threads" and _joined_at_once(module, site.call) else "high"
            # every such call in a file is one habit to fix: the first is reported, the others
            # lowered to medium with it as their lead (anubis's five sources in one list)
            yield ctx.report(self.code, module, v, function=site.call.function, arg=v.text[:60], name=name,
                             api=site.api, fix=fix, pattern=(("target-called",),), confidence=conf)


def _called_instead(project, v: Optional[Value]):
    """The project function a task argument calls in place of handing it over (``f(x)`` where
    ``f`` returns nothing), or None."""
    if v is None or v.kind != "call" or not v.qualname:
        return None
    target = project.resolve(v.qualname)
    fn = project.functions.get(target) if target else None
    return fn if fn is not None and _returns_nothing(project, fn) else None


def _joined_at_once(module: ModuleFacts, made: Call) -> bool:
    """The thread or process made by ``made`` is started and then joined within the next two
    lines of the same function (``t.start(); t.join()``)."""
    if made.use != "assign" or not made.assigned_to:
        return False
    mine = [c for c in module.calls if c.function == made.function and c.receiver is not None
            and c.receiver.line == made.line and c.receiver.col == made.col and c.line > made.line]
    starts = [c.line for c in mine if c.method == "start"]
    joins = [c.line for c in mine if c.method == "join"]
    return bool(starts) and any(0 < j - s <= 2 for s in starts for j in joins)


def _returns_nothing(project, fn) -> bool:
    """The function hands back nothing a thread or pool could run: no ``return <value>`` (nor in
    an override of it elsewhere in the project), no ``yield``, not a coroutine (a coroutine
    object is another mistake), no decorator that may change what it returns, and a body that
    does some work (an abstract stub may be overridden by a factory)."""
    if fn.returns or fn.is_generator or fn.is_async or not fn.calls:
        return False
    if any(d.split("(", 1)[0] not in PLAIN_DECORATORS for d in fn.decorators):
        return False
    if fn.cls is not None:
        for q in project.function_names().get(fn.name, ()):
            other = project.functions[q]
            if other is not fn and other.cls is not None and (other.returns or other.is_generator) and (
                    project.is_subclass(other.cls, fn.cls) or project.is_subclass(fn.cls, other.cls)):
                return False
    return True

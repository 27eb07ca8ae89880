"""Whether the work at a dispatch site can move to the model the decision table recommends
(``why_not_movable``): a coroutine cannot go to a process pool, nor a service loop, a memoised
function, one that changes ``self`` or a global, a closure, a lambda or a bound method; a dedicated
process, a pool of one, a pool that runs other work that stays, work that changes process-wide
state or starts processes of its own keeps its processes; a cluster keeps its machines; and a model the
code picks in one arm of an ``if``/``else`` beside the other is kept. ``concurlint.advice`` asks
this before it advises a change (docs/models.md)."""
from __future__ import annotations

import re
from typing import Optional, Tuple

from concurlint.analysis.hints import binds_instance, is_memoised
from concurlint.decision_table import Work, _name


SERVICE_APIS = ("threading.Thread", "threading.Thread subclass", "multiprocessing.Process",
                "multiprocessing.Process subclass")
# a parameter through which a thread's target hands its results back (a queue, a pipe, a connection)
CHANNEL = re.compile(r"(^|_)(q|queue|pipe|conn|connection|channel|out|outbox|results?)($|_)", re.I)


def _service_loop(fn) -> bool:
    """A thread or process body built around ``while`` loops: a service, not a batch of tasks."""
    return fn is not None and any(loop.desc.startswith("while") for loop in fn.loops)


def _writes_state(fn) -> Optional[str]:
    """The first state outliving the call that ``fn`` changes (``self.x``, a module global)."""
    if fn is None:
        return None
    for acc in fn.accesses:
        if acc.kind in ("write", "mutate", "rmw"):
            name = acc.target.split(":", 1)[-1].rsplit(".", 1)[-1]
            return f"self.{name}" if acc.target.startswith("attr:") and fn.cls else name
    return None


def why_not_movable(ctx, site, work: Work, rec: str) -> Optional[str]:
    """Why the work cannot move from ``site.model`` to ``rec`` (None when it can)."""
    fn = ctx.project.functions.get(work.function) if work.function else None
    if work.is_async and rec == "threads" and site.model == "asyncio":
        return (f"{_name(work.function)} is a coroutine: it runs on the event loop as a whole, and only "
                f"its blocking or CPU-heavy calls can move to a thread (asyncio.to_thread; CCL501/CCL502 "
                f"name them)")
    if rec in ("processes", "interpreters"):
        if work.is_async:
            return f"{_name(work.function)} is a coroutine, and a coroutine cannot run in a process pool"
        if site.api in SERVICE_APIS and _service_loop(fn):
            return (f"{_name(work.function)} is a long-running service loop (a `while` loop), not a "
                    f"batch of tasks")
        memo = next((d for d in fn.decorators if is_memoised([d])), None) if fn is not None else None
        if memo is not None:
            return (f"{_name(work.function)} is memoised ({memo.split('(')[0]}): in a "
                    f"child process each call fills the child's cache, and the calling process's "
                    f"cache, which spares the work on a repeat, stays empty")
        if site.api == "threading.Thread" and work.kind == "cpu" and not work.io_calls and fn is not None \
                and not any(CHANNEL.search(p) for p in fn.params):
            # `Thread(target=warm, daemon=True).start()` where warm() loads word tables through a
            # cached helper: a thread's target hands nothing back, and work that does no IO leaves
            # its result only in this process's memory (python-voiceio's start-up warm-up)
            return (f"{_name(work.function)} does no IO and a thread's target returns nothing: what it "
                    f"computes stays in this process's memory (a cache, a table it loads), which a child "
                    f"process would fill only for itself")
        thread_body = site.api == "threading.Thread subclass"
        state = None if thread_body else _writes_state(fn)  # a Thread's run() keeps its result on self
        if state is not None:
            return (f"{_name(work.function)} changes {state}, and a child process would change only "
                    f"its own copy")
        if fn is not None and (fn.parent is not None or fn.is_lambda):
            # `def build_requests(): ... self.soup ...` then `await asyncio.to_thread(build_requests)`:
            # pickle finds a function by its qualified name, which a nested one has not (crawlee)
            return (f"{_name(work.function)} is a nested function (a closure over its enclosing "
                    f"function's names): a process pool pickles functions by qualified name and "
                    f"cannot take it; a module-level function given only the data it needs could move")
        captured = _captured(ctx.project, site)
        if captured:
            # `pool.map(lambda x: sort_context(x, tokenizer, ...), rows)`: the lambda carries the
            # caller's locals, and pickle cannot take it (graphrag's sort_context); one that only
            # forwards its own parameters (`lambda n: fib(n)`) is the function itself
            return (f"the work is handed over as a lambda around {_name(work.function)} that uses the "
                    f"caller's {', '.join(captured)}: a process pool pickles functions by qualified name "
                    f"and cannot take it; a module-level function (or functools.partial of one) given "
                    f"only the data it needs could move")
        if fn is not None and binds_instance(fn):
            # `asyncio.to_thread(self._chat_generator.run, messages=...)`: in a process the object
            # travels with every task, pickled with its clients, locks and caches (when it can be
            # at all); on real code such advice was wrong (haystack's generator holds an API client)
            return (f"{_name(work.function)} is a method: a process pool would pickle its object "
                    f"(and the clients, locks or caches it holds) with every task; a module-level "
                    f"function given only the data it needs could move")
    if site.model == "distributed" and rec != "distributed":
        # `client.submit(load_and_run, task_pkl)`: a cluster is chosen for the machines (and the
        # memory) it adds; whether the program could run on one machine is a deployment fact the
        # code does not show (pydra's Dask worker sends arbitrary user tasks)
        return ("a distributed engine spreads the work over a cluster's machines, which one machine's "
                "threads or processes do not give")
    if site.model == "processes" and rec != "processes":
        if site.api.startswith("multiprocessing.Process"):
            return "a dedicated process is usually there for isolation, which threads do not give"
        if _pool_of_one(ctx.project, site):
            # `ProcessPoolExecutor(max_workers=1)` made to run one whole job: a dedicated process
            # the program can kill (vectordb-bench stops a benchmark run with kill_proc_tree)
            return ("a pool of one process made for this task is a dedicated process, usually there for "
                    "isolation, which threads do not give")
        kept = _pool_kept(ctx, site) if rec == "threads" else None
        if kept is not None:
            return (f"the same pool also runs {kept}, which stays in processes: moving this one task "
                    f"to threads saves no process")
        changed = _process_wide(ctx.project, work.function)
        if changed is not None:
            return (f"{_name(work.function)} changes process-wide state ({changed}): each task needs "
                    f"a process of its own, and threads would share it")
        setup = _worker_setup(ctx.project, site)
        if setup is not None:
            # `ProcessPoolExecutor(initializer=_worker_init, initargs=(progress_queue, WARNING))`,
            # where _worker_init points the progress bars at a queue and sets the root logger's
            # level: in a thread it would do that to the caller's own (mtdata's downloads, rev165a)
            init, what = setup
            return (f"its pool runs {_name(init)} first in each worker process, which sets {what} for that "
                    f"process alone: in threads it would set it for the whole program")
        spawned = _starts_processes(ctx.project, work.function)
        if spawned is not None:
            # evalplus's check_correctness runs each untrusted sample in a multiprocessing.Process
            # it starts and joins: from a thread pool, every task would fork beside running threads
            return (f"{_name(work.function)} starts processes of its own ({spawned}): from a thread "
                    f"pool each task would fork while the other threads run (CCL301)")
        preexec = _preexec_fn(ctx.project, work.function) if rec == "threads" else None
        if preexec is not None:
            # `subprocess.Popen(cmd, preexec_fn=group_subprocesses)` for each screenshot
            # (webscreenshot, rev114c's wrong change): Python's documentation says preexec_fn is
            # not safe with threads -- the child may deadlock before exec
            return (f"{_name(work.function)} starts its programs with preexec_fn ({preexec}), which is not "
                    f"safe in the presence of threads: a child forked from a thread pool may deadlock "
                    f"before it runs the program")
    other = _other_arm(ctx, site, rec)
    if other is not None:
        return (f"the other branch of the same test hands the same work to {rec} (line {other}): "
                f"the code picks the model on purpose")
    return None


def _captured(project, site) -> list:
    """The enclosing function's names a lambda handed to the site uses (its closure), unless the
    site's engine pickles closures (cloudpickle)."""
    v = site.callable
    lam = project.functions.get(v.qualname) if v is not None and v.kind == "lambda" and v.qualname else None
    if lam is None or site.cloudpickle:
        return []
    outer = project.functions.get(lam.parent) if lam.parent else None
    if outer is None:
        return []
    theirs = set(outer.local_names) | set(outer.params)
    return sorted({n for n in lam.loaded_names if n in theirs and n not in lam.params})


# what starts a child process of the multiprocessing package (a Process, a pool's workers, a
# manager's server process)
PROCESS_STARTERS = frozenset({
    "multiprocessing.Process", "multiprocessing.context.BaseContext.Process", "multiprocessing.Manager",
    "multiprocessing.context.BaseContext.Manager", "multiprocessing.Pool", "multiprocessing.pool.Pool",
    "multiprocessing.context.BaseContext.Pool", "concurrent.futures.ProcessPoolExecutor",
})


def _starts_processes(project, qualname: Optional[str]) -> Optional[str]:
    """``multiprocessing.Process() in untrusted_check`` when the work (or a project function it
    calls, a few levels down) starts a child process of its own; None otherwise."""
    for q, call, t in _reached_calls(project, qualname, PROCESS_WIDE_DEPTH, handlers=False):
        if t in PROCESS_STARTERS or (t in project.classes and project.is_subclass(t, "multiprocessing.Process")):
            what = _short_call(t)
            return f"{what}() at line {call.line}" if q == qualname else f"{what}() in {_name(q)}"
    return None


def _preexec_fn(project, qualname: Optional[str]) -> Optional[str]:
    """Where the work (or a project function it calls, a few levels down) starts a program with a
    ``preexec_fn``: ``subprocess.Popen() in shell_exec``; None otherwise."""
    for q, call, t in _reached_calls(project, qualname, PROCESS_WIDE_DEPTH, handlers=False):
        v = call.kwargs.get("preexec_fn")
        if t and t.startswith("subprocess.") and v is not None and v.text != "None":
            what = _short_call(t)
            return f"{what}() at line {call.line}" if q == qualname else f"{what}() in {_name(q)}"
    return None


def _short_call(target: str) -> str:
    parts = target.rsplit(".", 2)
    return ".".join(parts[-2:]) if parts[-2][:1].isupper() else f"{target.split('.', 1)[0]}.{parts[-1]}"


def _other_arm(ctx, site, rec: str) -> Optional[int]:
    """The line of a site in the other arm of an ``if``/``else`` of the same function that hands
    the same callable to ``rec`` (``if system == "Darwin": ProcessPoolExecutor ... else:
    ThreadPoolExecutor``, with the same ``executor.map(_single_request, ...)`` in each arm)."""
    fn = ctx.project.functions.get(site.call.function) if site.call.function else None
    if fn is None or not fn.branches or site.callable is None or not site.callable.text:
        return None
    line = site.call.line
    for other in ctx.sites:
        if other is site or other.module is not site.module or other.call.function != site.call.function \
                or other.model != rec or other.callable is None or other.callable.text != site.callable.text:
            continue
        for b1, b2, e1, e2 in fn.branches:
            if (b1 <= line <= b2 and e1 <= other.call.line <= e2) or (e1 <= line <= e2 and b1 <= other.call.line <= b2):
                return other.call.line
    return None


def _receiver(site) -> str:
    return site.call.text.rsplit(".", 1)[0] if "." in site.call.text else ""


def _pool_of_one(project, site, kinds=("ProcessPoolExecutor", "Pool")) -> bool:
    """The site's pool is made in the same function with one worker (``ProcessPoolExecutor(
    max_workers=1)``, ``Pool(1)``; ``kinds``: the pool classes counted)."""
    name = _receiver(site)
    if not name.isidentifier():
        return False
    for call in site.module.calls:
        if call.function != site.call.function or call.assigned_to != name or call.line > site.call.line:
            continue
        size = call.kwargs.get("max_workers") or call.kwargs.get("processes") or (call.args[0] if call.args else None)
        if size is not None and size.text == "1" and (project.call_target(call) or "").rsplit(".", 1)[-1] \
                in kinds:
            return True
    return False


ONE_TASK = frozenset({"submit", "apply_async", "apply"})


def _pool_kept(ctx, site) -> Optional[str]:
    """One task (a submit outside loops) handed to a pool that, in the same function, also runs
    work that keeps it in processes (``executor.submit(self.run_with_rate, q)`` beside
    ``executor.submit(self.run_search, 100)``): the pool exists anyway, and moving that one task
    saves nothing."""
    from concurlint.advice import _table  # the table applied to the other task (advice imports this module)

    name = _receiver(site)
    if not name or site.call.loop >= 0 or site.call.method not in ONE_TASK:
        return None  # a batch of waits (a map over the URLs) gains from a thread pool's overlap
    for other in ctx.sites:
        if other is site or other.module is not site.module or other.call.function != site.call.function \
                or _receiver(other) != name or other.model != site.model:
            continue
        work, rec = _table(ctx, other)[:2]  # what the table says for that task
        if rec == site.model and not _metadata_only(work):
            text = other.callable.text if other.callable is not None else ""
            return _name(other.function) if other.function or not text else f"{text}()"
    return None


def _metadata_only(work) -> bool:
    """Work whose only waits are on file metadata (``os.path.exists``, ``os.mkdir``: the report
    folder made before solox's background recorder starts): the table keeps it in processes for
    want of evidence, not for work that needs one, so it holds no pool there."""
    from concurlint.checks.blocking_calls import wait_weight

    return work.kind == "io" and bool(work.io_calls) and all(wait_weight(c) <= 1 for c in work.io_calls)


# calls that change state every thread of a process shares: work that makes them is in a process
# pool for isolation (a worker that chdir()s into its project and sets its environment)
PROCESS_WIDE = frozenset({
    "os.chdir", "os.fchdir", "os.putenv", "os.unsetenv", "os.umask", "os.setuid", "os.setgid",
    "os.seteuid", "os.setegid", "os.setsid", "os.nice", "os.sched_setaffinity",
    "os.environ.update", "os.environ.setdefault", "os.environ.pop", "os.environ.clear",
    "signal.signal", "locale.setlocale", "resource.setrlimit", "sys.setrecursionlimit",
    "logging.basicConfig", "logging.config.dictConfig", "logging.config.fileConfig",
    "sys.path.insert", "sys.path.append", "sys.path.extend", "socket.setdefaulttimeout",
})
PROCESS_WIDE_DEPTH = 3  # the work function and the project functions it calls, this many levels


def _process_wide(project, qualname: Optional[str]) -> Optional[str]:
    """``os.chdir() at line 66`` when the work (or a project function it calls, a few levels
    down) changes process-wide state; None otherwise."""
    for q, call, t in _reached_calls(project, qualname, PROCESS_WIDE_DEPTH):
        if t in PROCESS_WIDE:
            return f"{t}() at line {call.line}" if q == qualname else f"{t}() in {_name(q)}"
    return None


# a logger's level, set by a pool's initializer: the level of every thread's logging
LOGGER_LEVEL = frozenset({"logging.Logger.setLevel"})


def _worker_setup(project, site) -> Optional[Tuple[str, str]]:
    """(initializer, what it sets) when the site's process pool is made with an ``initializer``
    that sets state of the whole process: process-wide settings (``PROCESS_WIDE``) or a logger's
    level (``log.getLogger().setLevel(level)``), itself or in the project functions it calls; None
    otherwise. A global it sets (``global _CLIENT; _CLIENT = SlackClient(...)``) is not counted:
    in threads one shared object usually serves as well (slack-watchman's client per worker,
    labelled a right change)."""
    pool = site.executor if site.executor is not None else site.call.receiver
    init = pool.meta.get("initializer") if pool is not None else None
    if not init or init not in project.functions:
        return None
    changed = _process_wide(project, init)
    if changed is not None:
        return init, changed
    for q, call, t in _reached_calls(project, init, PROCESS_WIDE_DEPTH, handlers=False):
        recv = call.receiver.qualname if call.receiver is not None and call.receiver.kind == "call" else None
        if t in LOGGER_LEVEL or (call.method == "setLevel" and recv and recv.endswith(".getLogger")):
            return init, f"a logger's level (setLevel() at line {call.line})"  # `log.getLogger().setLevel(...)`
    return None


def _reached_calls(project, qualname: Optional[str], depth: int, handlers: bool = True):
    """(function, call, target) for every call of the work function and of the project functions
    it calls, ``depth`` levels of functions, each function once, breadth first; ``handlers=False``
    leaves out the calls in ``except`` blocks (an error path is not the work)."""
    seen: set = set()
    level = [qualname] if qualname else []
    for _ in range(depth):
        nxt = []
        for q in level:
            fn = project.functions.get(q)
            if fn is None or q in seen:
                continue
            seen.add(q)
            for call in project.calls_of(fn):
                if not handlers and call.in_handler:
                    continue
                t = project.call_target(call)
                yield q, call, t
                if t in project.functions:
                    nxt.append(t)
        level = nxt

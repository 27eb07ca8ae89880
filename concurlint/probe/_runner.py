"""Child side of ``concurlint probe``.

This file is executed *by path* under the Python being measured
(``python _runner.py REQUEST.json EVENTS.jsonl``).  That interpreter may not
have concurlint installed, so this module uses the standard library only and
stays compatible with Python 3.9.

It imports the user's target, runs it ``tasks`` times in each requested mode
and appends one JSON object per line to the events file.  The parent watches
that file: every ``start`` event restarts its timeout, and whatever the child
managed to write before crashing or hanging is still reported.  Nothing is
written to stdout, which belongs to the user's code.
"""

import asyncio
import faulthandler
import importlib
import inspect
import json
import os
import pickle
import signal
import sys
import threading
import time
import traceback

try:
    import resource
except ImportError:  # not on Windows
    resource = None

# Run as a script, sys.path[0] is this directory: drop it so that modules of
# concurlint.probe (cli, config ...) never shadow the user's modules.
_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == _HERE:
    del sys.path[0]


# --------------------------------------------------------------------------
# measurements


def _read_schedstat(path):
    """Return (on-CPU ns, run-queue wait ns) of one thread, or None."""
    try:
        with open(path, "rb") as f:
            fields = f.read().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


def _thread_wait_s():
    """Run-queue wait of the calling thread in seconds (Linux), else None."""
    stat = _read_schedstat("/proc/thread-self/schedstat")
    if stat is None:
        return None
    return stat[1] / 1e9


def _process_wait_s():
    """Run-queue wait summed over the live threads of this process, or None."""
    try:
        tids = os.listdir("/proc/self/task")  # noqa: CCL501 - procfs, no IO wait
    except OSError:
        return None
    total = 0
    seen = False
    for tid in tids:
        stat = _read_schedstat("/proc/self/task/%s/schedstat" % tid)  # noqa: CCL501
        if stat is not None:
            total += stat[1]
            seen = True
    return total / 1e9 if seen else None


def _snapshot():
    wall = time.perf_counter()
    if resource is not None:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_self = me.ru_utime + me.ru_stime
        cpu_kids = kids.ru_utime + kids.ru_stime
    else:
        cpu_self = time.process_time()
        cpu_kids = 0.0
    return wall, cpu_self, cpu_kids, _process_wait_s()


def _delta(before, after, extra_cpu=0.0, extra_wait=None):
    wall = after[0] - before[0]
    cpu = (after[1] - before[1]) + (after[2] - before[2]) + extra_cpu
    wait = None
    if before[3] is not None and after[3] is not None:
        wait = max(0.0, after[3] - before[3])
        if extra_wait is not None:
            wait += extra_wait
    return {"wall_s": wall, "cpu_s": cpu, "cpu_wait_s": wait}


# --------------------------------------------------------------------------
# calling the target (module level so that process pools can pickle them)


def _call(fn, args, kwargs, is_coro):
    if is_coro:
        return asyncio.run(fn(*args, **kwargs))
    return fn(*args, **kwargs)


def _timed_call(fn, args, kwargs, is_coro):
    """Run one task in a pool worker; return (result, thread CPU s, wait s)."""
    cpu0 = time.thread_time()
    wait0 = _thread_wait_s()
    result = _call(fn, args, kwargs, is_coro)
    wait1 = _thread_wait_s()
    wait = None if wait0 is None or wait1 is None else wait1 - wait0
    return result, time.thread_time() - cpu0, wait


def _warm(fn, seconds):
    """Pool warm-up task: unpickling ``fn`` imports the target's module."""
    time.sleep(seconds)
    return os.getpid()


# --------------------------------------------------------------------------
# target resolution


def _resolve(spec, factory, factory_args, factory_kwargs):
    modname, sep, attrpath = spec.partition(":")
    if not sep or not modname or not attrpath:
        raise ValueError("target must look like pkg.mod:func, got %r" % spec)
    obj = importlib.import_module(modname)
    parts = attrpath.split(".")
    if factory:
        instance = _resolve(factory, None, None, None)(
            *(factory_args or []), **(factory_kwargs or {})
        )
        return getattr(instance, parts[-1])
    for i, name in enumerate(parts):
        owner = obj
        obj = getattr(owner, name)
        last = i == len(parts) - 1
        if last and inspect.isclass(owner) and inspect.isfunction(
            inspect.getattr_static(owner, name)
        ):
            # an instance method named through its class: make an instance
            obj = getattr(owner(), name)
    return obj


def _describe(fn):
    inner = inspect.unwrap(getattr(fn, "__func__", fn))
    try:
        sourcefile = inspect.getsourcefile(inner)
    except TypeError:
        sourcefile = None
    if sourcefile:
        sourcefile = os.path.abspath(sourcefile)
    return {
        "sourcefile": sourcefile,
        "qualname": getattr(inner, "__qualname__", None),
        "module": getattr(inner, "__module__", None),
        "is_coroutine": inspect.iscoroutinefunction(inner),
    }


def _pickle_problem(what, obj):
    try:
        pickle.dumps(obj)
    except BaseException as exc:  # noqa: BLE001, B036 - pickling can raise anything
        return "%s cannot be pickled (%s: %s)" % (what, type(exc).__name__, exc)
    return None


def _picklability(fn, args, kwargs, result):
    return (
        _pickle_problem("the callable", fn)
        or _pickle_problem("the arguments", (args, kwargs))
        or _pickle_problem("the result", result)
    )


# --------------------------------------------------------------------------
# modes


class Impossible(Exception):
    """This mode cannot run this target at all (the message says why)."""


def _run_serial(t):
    before = _snapshot()
    if t.is_coro:
        async def all_tasks():
            for _ in range(t.tasks):
                await t.fn(*t.args, **t.kwargs)

        asyncio.run(all_tasks())
    else:
        for _ in range(t.tasks):
            t.fn(*t.args, **t.kwargs)
    return _delta(before, _snapshot())


def _run_threads(t):
    from concurrent.futures import ThreadPoolExecutor

    start = time.perf_counter()
    ex = ThreadPoolExecutor(max_workers=t.workers)
    try:
        barrier = threading.Barrier(t.workers)

        def meet():
            try:
                barrier.wait(10)
            except threading.BrokenBarrierError:
                pass

        for f in [ex.submit(meet) for _ in range(t.workers)]:
            f.result()
        startup = time.perf_counter() - start
        before = _snapshot()
        futures = [
            ex.submit(_call, t.fn, t.args, t.kwargs, t.is_coro) for _ in range(t.tasks)
        ]
        for f in futures:
            f.result()
        out = _delta(before, _snapshot())
    finally:
        ex.shutdown(wait=True)
    out["startup_s"] = startup
    return out


def _run_pool(t, ex, start, submit_timed):
    """Shared by processes and interpreters: warm up, then time the tasks."""
    if submit_timed:
        warm = [ex.submit(_warm, t.fn, 0.05) for _ in range(t.workers)]
    else:
        # a subinterpreter cannot unpickle functions of this script (its
        # __main__ is another module): warm it up with the target itself
        warm = [ex.submit(t.fn, *t.args, **t.kwargs) for _ in range(t.workers)]
    for f in warm:
        f.result()
    startup = time.perf_counter() - start
    before = _snapshot()
    task_cpu = 0.0
    task_wait = 0.0
    if submit_timed:
        futures = [
            ex.submit(_timed_call, t.fn, t.args, t.kwargs, t.is_coro)
            for _ in range(t.tasks)
        ]
        for f in futures:
            _, cpu, wait = f.result()
            task_cpu += cpu
            if wait is not None and task_wait is not None:
                task_wait += wait
            else:
                task_wait = None
    else:
        futures = [ex.submit(t.fn, *t.args, **t.kwargs) for _ in range(t.tasks)]
        for f in futures:
            f.result()
    out = _delta(before, _snapshot(), extra_cpu=task_cpu, extra_wait=task_wait)
    out["startup_s"] = startup
    return out


def _run_processes(t):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if t.pickle_problem:
        raise Impossible(t.pickle_problem)
    ctx = multiprocessing.get_context(t.start_method)
    start = time.perf_counter()
    ex = ProcessPoolExecutor(max_workers=t.workers, mp_context=ctx)
    try:
        out = _run_pool(t, ex, start, submit_timed=True)
    finally:
        ex.shutdown(wait=True)
    out["start_method"] = ctx.get_start_method()
    return out


def _run_interpreters(t):
    try:
        from concurrent.futures import InterpreterPoolExecutor
    except ImportError:
        raise Impossible(
            "InterpreterPoolExecutor needs Python 3.14+ (this is %s)" % sys.version.split()[0]
        )
    if t.is_coro:
        raise Impossible("a coroutine function cannot be sent to an interpreter pool")
    if t.pickle_problem:
        raise Impossible(t.pickle_problem)
    start = time.perf_counter()
    ex = InterpreterPoolExecutor(max_workers=t.workers)
    try:
        # the workers are threads of this process: RUSAGE_SELF and
        # /proc/self/task already cover their CPU and run-queue wait
        out = _run_pool(t, ex, start, submit_timed=False)
    finally:
        ex.shutdown(wait=True)
    return out


def _run_asyncio(t):
    from concurrent.futures import ThreadPoolExecutor

    result = {}

    async def main():
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(t.workers)
        start = time.perf_counter()
        if not t.is_coro:
            # to_thread uses the loop's default executor: give it `workers`
            loop.set_default_executor(ThreadPoolExecutor(max_workers=t.workers))
            await asyncio.gather(
                *[asyncio.to_thread(time.sleep, 0.01) for _ in range(t.workers)]
            )
        result["startup_s"] = time.perf_counter() - start

        async def one():
            async with sem:
                if t.is_coro:
                    return await t.fn(*t.args, **t.kwargs)
                return await asyncio.to_thread(t.fn, *t.args, **t.kwargs)

        before = _snapshot()  # noqa: CCL501 - procfs counters, no IO wait
        await asyncio.gather(*[one() for _ in range(t.tasks)])
        result.update(_delta(before, _snapshot()))  # noqa: CCL501

    asyncio.run(main())
    return result


def _lanes(t, mode):
    """How many threads of execution a mode runs the tasks on at once."""
    if mode == "serial" or (mode == "asyncio" and t.is_coro):
        return 1
    return max(1, min(t.workers, t.tasks))


def _disturbance(t, mode, out):
    """Share of the time the running threads spent waiting for a CPU."""
    wait, wall = out.get("cpu_wait_s"), out.get("wall_s")
    if wait is None or not wall:
        return 0.0
    return wait / (wall * _lanes(t, mode))


def _measure(t, mode, rep, emit, retries):
    """Run one mode once; on a busy machine retry and keep the fastest attempt.

    The fastest, not the one with the least measured wait: disturbances only
    add time, and some (a virtual CPU the host deschedules) are invisible to
    the guest's counters.
    """
    best = None
    for attempt in range(retries + 1):
        emit("start", stage="measure", mode=mode, repeat=rep, attempt=attempt)
        out = MODES[mode](t)
        out["disturbance"] = _disturbance(t, mode, out)
        out["lanes"] = _lanes(t, mode)
        if best is None or out["wall_s"] < best["wall_s"]:
            best = dict(out)
        if out["disturbance"] <= DISTURBED:
            break
    best["attempts"] = attempt + 1
    return best


#: a run whose threads waited for a CPU more than this share of the time is redone
DISTURBED = 0.15


MODES = {
    "serial": _run_serial,
    "threads": _run_threads,
    "processes": _run_processes,
    "asyncio": _run_asyncio,
    "interpreters": _run_interpreters,
}


# --------------------------------------------------------------------------
# driver


class Target(object):
    pass


def _gil_enabled():
    check = getattr(sys, "_is_gil_enabled", None)
    if check is not None:
        return bool(check())
    if sys.implementation.name in ("cpython", "pypy"):
        return True  # no free-threaded build before 3.13
    return None


def _describe_error(exc):
    # drop this runner's own frames from the top of the traceback
    tb = exc.__traceback__
    here = os.path.abspath(__file__)
    while tb is not None and tb.tb_next is not None and (
        os.path.abspath(tb.tb_frame.f_code.co_filename) == here
    ):
        tb = tb.tb_next
    return {
        "error": "%s: %s" % (type(exc).__name__, exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, tb)),
    }


# --------------------------------------------------------------------------
# never outliving the probe


def _descendants(pid):
    """Every process below ``pid`` (Linux ``/proc``; elsewhere none)."""
    try:
        entries = os.listdir("/proc")  # noqa: CCL501 - procfs
    except OSError:
        return []
    children = {}
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:  # noqa: CCL501 - procfs
                fields = f.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        for kid in children.get(todo.pop(), ()):
            if kid not in out:
                out.append(kid)
                todo.append(kid)
    return out


def _kill_descendants():
    """Stop, then kill, everything this runner started, in its group or not."""
    me = os.getpid()
    frozen = []
    for _ in range(5):
        found = [p for p in _descendants(me) if p not in frozen]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        frozen.extend(found)
    for pid in frozen:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if hasattr(os, "killpg"):
        # the pool workers of this group on systems without /proc (not this process)
        try:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.killpg(0, signal.SIGTERM)
        except (OSError, ValueError):
            pass


def _become_subreaper():
    """Linux: orphans among our descendants (a target's double-forked daemon) are re-parented
    to this runner instead of init, so ``_kill_descendants`` still finds them."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError, ValueError):
        pass


def _follow_parent(workdir):
    """When the probe dies without stopping us (SIGKILL, a crash), stop everything we
    started, remove the probe's temporary directory and exit."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.2)
        _kill_descendants()
        if workdir and os.path.basename(os.path.normpath(workdir)).startswith("concurlint-probe-"):
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=watch, name="concurlint-probe-watch", daemon=True).start()


def _limit_memory(megabytes):
    if megabytes and resource is not None and hasattr(resource, "RLIMIT_AS"):
        limit = int(megabytes) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv):
    request_path, events_path = argv[1], argv[2]
    with open(request_path, encoding="utf-8") as f:
        req = json.load(f)
    _become_subreaper()
    _follow_parent(req.get("workdir"))
    try:
        return _main(req, events_path)
    finally:
        _kill_descendants()


def _main(req, events_path):
    channel = open(events_path, "a", encoding="utf-8")

    def emit(event, **fields):
        fields["event"] = event
        fields["t"] = time.time()
        channel.write(json.dumps(fields) + "\n")
        channel.flush()

    faulthandler.enable(all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        # the parent sends SIGUSR1 before killing a hung child: dump stacks
        faulthandler.register(signal.SIGUSR1, all_threads=True)

    for entry in reversed(req.get("path") or []):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    _limit_memory(req.get("memory_limit_mb"))

    import multiprocessing
    import sysconfig

    try:
        default_start = multiprocessing.get_start_method(allow_none=False)
    except Exception:  # noqa: BLE001
        default_start = None
    emit(
        "hello",
        python=sys.version.split()[0],
        implementation=sys.implementation.name,
        executable=sys.executable,
        gil_enabled=_gil_enabled(),
        free_threaded_build=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        default_start_method=default_start,
        cpu_count=os.cpu_count(),
        platform=sys.platform,
    )

    t = Target()
    t.tasks = int(req["tasks"])
    t.workers = int(req["workers"])
    t.start_method = req.get("start_method")
    emit("start", stage="import")
    try:
        if req.get("args_pickle"):
            import base64

            t.args, t.kwargs = pickle.loads(base64.b64decode(req["args_pickle"]))
        else:
            t.args = list(req.get("args") or [])
            t.kwargs = dict(req.get("kwargs") or {})
        t.fn = _resolve(
            req["target"], req.get("factory"), req.get("factory_args"), req.get("factory_kwargs")
        )
        if not callable(t.fn):
            raise TypeError("%s is not callable" % req["target"])
        info = _describe(t.fn)
    except BaseException as exc:  # noqa: BLE001, B036 - user code may raise anything
        emit("fatal", stage="import", **_describe_error(exc))
        return 3
    t.is_coro = info["is_coroutine"]
    emit("target", **info)

    emit("start", stage="warmup")
    try:
        first_result = _call(t.fn, t.args, t.kwargs, t.is_coro)
    except BaseException as exc:  # noqa: BLE001, B036 - user code may raise anything
        emit("fatal", stage="warmup", **_describe_error(exc))
        return 3
    t.pickle_problem = _picklability(t.fn, t.args, t.kwargs, first_result)
    try:
        result_repr = repr(first_result)
    except Exception:  # noqa: BLE001
        result_repr = "<unrepresentable>"
    emit("warmup", result_repr=result_repr[:200], pickle_problem=t.pickle_problem)

    modes = list(req["modes"])
    failed = set()
    for rep in range(int(req["repeat"])):
        for mode in modes:
            if mode in failed:
                continue
            try:
                out = _measure(t, mode, rep, emit, int(req.get("retries", 2)))
            except Impossible as exc:
                failed.add(mode)
                emit("impossible", mode=mode, why=str(exc))
                continue
            except BaseException as exc:  # noqa: BLE001, B036 - user code may raise anything
                failed.add(mode)
                if mode == "serial":
                    emit("fatal", stage="serial", mode=mode, **_describe_error(exc))
                    return 3
                emit("mode_error", mode=mode, repeat=rep, **_describe_error(exc))
                continue
            emit("measure", mode=mode, repeat=rep, **out)
    emit("done")
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

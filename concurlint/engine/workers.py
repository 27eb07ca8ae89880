"""Facts of many files: cached ones loaded in this process, the misses analysed in worker
processes (``--jobs``) when there are enough of them. Workers follow their parent (they exit when
it dies) and are stopped at once on Ctrl-C and SIGTERM; a pool that cannot start or breaks down
leaves its files to be analysed here."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from concurlint.config import Config
from concurlint.engine.discovery import SourceFile
from concurlint.engine.per_file import FileResult, _analyse_file, _cached, _make_cache, _read, cache_salt

# worker-process state, set once per worker
_WORKER: Dict[str, object] = {}


def _worker_init(knowledge_extra, cache_dir, cache_salt, parent: int = 0):
    import gc

    from concurlint import knowledge

    _follow_parent(parent)
    _WORKER["kb"] = knowledge.load(knowledge_extra)
    _WORKER["cache"] = _make_cache(cache_dir, cache_salt)
    # everything inherited from the parent or imported so far lives as long as the worker:
    # keep it out of every collection (copy-on-write pages stay shared, collections stay short);
    # the parent forked us while loading with the collector off: per file it is off anyway
    gc.freeze()
    gc.enable()


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _follow_parent(parent: int) -> None:
    """A worker never outlives the run that started it. The parent stops its workers itself
    on Ctrl-C and SIGTERM (``_stop_pool``); a worker ignores SIGINT (a Ctrl-C reaches the
    whole process group: the parent decides) and dies of SIGTERM without Python's handlers
    (a forked worker inherits the CLI's). When the parent is killed outright (SIGKILL, a
    crash), nobody stops the workers, so each one watches: on Linux the kernel sends it
    SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); everywhere, a daemon thread exits
    the worker once its parent process is no longer the one that started it."""
    import signal
    import threading

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):  # pragma: no cover - not the main thread
        pass
    if hasattr(signal, "pthread_sigmask"):  # blocked by the parent while it forked us (_in_pool)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if not parent:
        return
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError, ValueError):
            pass
    if os.getppid() != parent:  # it died before we were watching
        os._exit(1)

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="concurlint-parent-watch", daemon=True).start()


def _quiet_cancelled_futures() -> None:
    """When its workers are killed, the pool's manager thread fails every pending future; one
    that was already cancelled raises ``InvalidStateError`` in that thread (a CPython race, seen
    on 3.11 under load) and prints a traceback. That is our own stop, not an error: keep quiet."""
    import threading
    from concurrent.futures import InvalidStateError

    previous = threading.excepthook
    if getattr(previous, "concurlint_quiet", False):
        return

    def hook(args):
        if args.exc_type is not None and issubclass(args.exc_type, InvalidStateError):
            return
        previous(args)

    hook.concurlint_quiet = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _stop_pool(pool) -> None:
    """Stop a process pool's workers now, queued files and all (SIGKILL: a worker holds nothing
    that needs cleaning up; its cache writes are atomic)."""
    _quiet_cancelled_futures()
    procs = list((getattr(pool, "_processes", None) or {}).values())
    # the pool's management thread, which shutdown() forgets: it must be gone before the
    # interpreter exits, or concurrent.futures' exit hook may wake it through a pipe it is closing
    # at that moment (CPython 3.9-3.11: OSError "Bad file descriptor" printed at exit)
    manager = getattr(pool, "_executor_manager_thread", None)
    for p in procs:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)
        except (OSError, ValueError, AttributeError, AssertionError):
            pass
    if manager is not None:
        manager.join(5)


def _worker_run(sf: SourceFile) -> FileResult:
    # the parent already looked this file up in the cache: it is a miss
    return _analyse_file(sf, _WORKER["kb"], _WORKER["cache"], lookup=False)



# below this many files to analyse, starting worker processes costs more than it saves
_MIN_POOL_FILES = 8


def analyse_files(files: List[SourceFile], config: Config, jobs: int, cache_dir: Optional[str],
                  progress: Optional[Callable[[int, int], None]] = None, freeze: bool = True,
                  known=None) -> List[FileResult]:
    """Facts of every file, in the order of ``files``. Cached files are loaded here, in this
    process (reading + hashing the whole stdlib costs ~15 ms); only the misses are analysed,
    in worker processes when there are enough of them. A warm run therefore never starts a
    pool, never imports LibCST, and never pickles facts through a pipe. ``known``: the
    ``reuse.Snapshot`` of these files, whose bytes and cache keys are not read or hashed again."""
    import gc

    salt = cache_salt(config)
    cache = _make_cache(cache_dir, salt)
    total = len(files)
    results: List[Optional[FileResult]] = [None] * total
    pending: List[int] = []
    data_of: Dict[int, bytes] = {}
    done = 0
    gc_enabled = gc.isenabled()
    # unpickling facts creates millions of objects and no garbage: do not let the collector
    # traverse them again and again while they load
    gc.disable()
    try:
        for i, sf in enumerate(files):
            if cache is None:
                pending.append(i)
                continue
            entry = None
            if known is not None and known.data[i] is not None:
                data, err, entry = known.data[i], None, known.entries[i]
            else:
                data, err = _read(sf.path)
            if data is None:
                results[i] = FileResult(sf.display, "", error=(err or "cannot read", 1, 0), module=sf.module)
            else:
                results[i] = _cached(cache, data, sf, entry)
            if results[i] is None:
                pending.append(i)
                if data is not None and (jobs <= 1 or len(files) < _MIN_POOL_FILES):
                    data_of[i] = data
                continue
            done += 1
            if progress:
                progress(done, total)
        serial = list(pending) if jobs <= 1 or len(pending) < _MIN_POOL_FILES else []
        if pending and not serial:
            # largest files first so that one big file does not finish last on its own
            order = sorted(pending, key=lambda i: -_size(files[i].path))
            pooled = _in_pool(files, order, jobs, config, cache_dir, salt)
            try:
                for i, res in pooled:
                    results[i] = res
                    done += 1
                    if progress:
                        progress(done, total)
            finally:
                pooled.close()  # interrupted between two results: stop the workers now, not at exit
            # what a pool that could not start or broke down (no semaphores on a full /dev/shm,
            # a worker killed by the OOM killer) left undone is analysed here
            serial = [i for i in pending if results[i] is None]
        if serial:
            from concurlint import knowledge

            kb = knowledge.load(config.knowledge)
            for i in serial:
                results[i] = _analyse_file(files[i], kb, cache, data=data_of.pop(i, None), lookup=False)
                done += 1
                if progress:
                    progress(done, total)
    finally:
        if gc_enabled:
            gc.enable()
    # the facts live until the report is written: move them out of the collector's way, so the
    # project pass's own collections do not re-scan millions of objects (~25% of that pass);
    # not in a long-lived process that analyses file after file (the flake8 plugin)
    if freeze:
        gc.freeze()
    return [r for r in results if r is not None]


def _in_pool(files: List[SourceFile], order: List[int], jobs: int, config: Config, cache_dir: Optional[str],
             salt: str) -> Iterable[Tuple[int, FileResult]]:
    """(index, result) for the files ``order`` names, analysed in worker processes, as they
    finish; stops early (without raising) when the pool cannot start or breaks."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    try:
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(order)), mp_context=ctx, initializer=_worker_init,
                                   initargs=(config.knowledge, cache_dir, salt, os.getpid()))
    except OSError:
        return
    # the workers are forked during the first submit, with the parent's Python signal handlers:
    # until _worker_init has set their own, a Ctrl-C or SIGTERM would raise in them (a traceback
    # on stderr). Keep those signals blocked while forking; they are delivered right after.
    masked = hasattr(signal, "pthread_sigmask")
    if masked:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        try:
            results = pool.map(_worker_run, [files[i] for i in order], chunksize=1)
        finally:
            if masked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        for i, res in zip(order, results):
            yield i, res
    except (BrokenProcessPool, OSError):
        _stop_pool(pool)
        return
    except BaseException:
        # Ctrl-C, SIGTERM (cli: ``Terminated``), a broken pipe: the workers would go on with
        # the queued files (``shutdown`` waits for them): stop them now
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)



def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0

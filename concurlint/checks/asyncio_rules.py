"""CCL5xx: hazards of code that runs on an asyncio event loop.

A coroutine (``async def``) runs on the loop's one thread: anything it does without awaiting, it
does while every other task waits. So the rules look at what a coroutine *runs*, through the
project's call graph: a synchronous helper it calls runs on the loop too, at any depth, while a
function only *passed* to ``asyncio.to_thread`` / ``loop.run_in_executor`` (or a lambda given to
them, which is its own pseudo-function in the facts) runs elsewhere. A sync ``def`` nested in an
``async def`` is not a coroutine: the facts keep ``is_async`` per function.

- CCL501: a blocking (synchronous IO) call reached from a coroutine, directly or via helpers;
- CCL504: ``threading`` locks / ``queue.Queue`` waits inside a coroutine;
- CCL505: ``asyncio.run`` / ``run_until_complete`` reached from a running coroutine.

CCL502 (CPU-heavy work on the loop) is in ``asyncio_cpu``, CCL503 (a dropped task) in
``asyncio_tasks``, CCL506 (a lost update across an await) in ``await_races``; the vocabulary they
share (coroutines and their calls, the weights) is here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Call, Function, ModuleFacts
from concurlint.analysis.hints import caches_per_key, first_lifecycle, is_cli_code, is_memoised, is_request_handler, is_test_code
from concurlint.checks.sync_reach import TIMEOUT_ARGS, Reach, _literal_false, _timeout_of, _Walker
from concurlint.registry import Finding, Rule

# ---------------------------------------------------------------- knowledge local to these rules
# socket methods that never wait (the io list covers ``socket.socket.*``)
NONBLOCKING_METHODS = frozenset({
    "setblocking", "settimeout", "gettimeout", "getblocking", "fileno", "getsockname", "getpeername",
    "setsockopt", "getsockopt", "close", "detach", "shutdown", "family", "type", "proto", "dup",
    "set_inheritable", "get_inheritable", "listen", "bind", "makefile", "selected_alpn_protocol",
    "selected_npn_protocol", "version", "cipher", "compression", "getpeercert", "pending",
    "get_channel_binding", "server_side", "server_hostname", "context", "session", "session_reused",
    "unwrap",
})
NONBLOCKING_RECEIVERS = ("socket.socket.", "ssl.SSLSocket.")
NONBLOCKING_CALLS = frozenset({"socket.socketpair"})  # creates two sockets, never waits
# methods that never wait on any file-like or socket-like object
NEVER_WAIT = frozenset({"fileno", "close", "closed", "detach", "readable", "writable", "seekable",
                        "isatty", "name", "mode", "getblocking", "setblocking", "settimeout"})
# name resolution that never leaves the machine: numeric-only flags, the local host name
RESOLVERS = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                       "socket.getnameinfo", "socket.gethostbyaddr"})
LOCAL_HOSTS = frozenset({"'localhost'", '"localhost"', "''", '""'})
OPENERS = frozenset({"builtins.open", "io.open", "pathlib.Path.open", "gzip.open", "bz2.open", "lzma.open"})
# what returns at once after a loop waited for data (``Function.ready``)
READS_WHEN_READY = frozenset({"recv", "recv_bytes", "get", "read", "readline", "get_nowait"})
# how long a blocking call waits, for naming the call that waits longest and for confidence:
# 3 network / processes / sleep / thread waits, 2 file contents and directories, 1 metadata
META_IO = frozenset({
    "os.stat", "os.lstat", "os.fstat", "os.chmod", "os.chown", "os.lchown", "os.unlink", "os.remove",
    "os.rmdir", "os.mkdir", "os.makedirs", "os.rename", "os.renames", "os.replace", "os.access",
    "os.utime", "os.symlink", "os.link", "os.readlink", "os.getcwd", "os.chdir", "os.umask",
    "os.path.exists", "os.path.lexists", "os.path.isfile", "os.path.isdir", "os.path.islink",
    "os.path.getsize", "os.path.getmtime", "os.path.getctime", "os.path.getatime", "os.path.realpath",
    "os.path.samefile", "os.path.ismount", "shutil.which", "shutil.disk_usage", "os.truncate",
    "tempfile.mkdtemp", "tempfile.gettempdir",
})
META_METHODS = frozenset({"exists", "is_dir", "is_file", "is_symlink", "stat", "lstat", "chmod", "unlink",
                          "mkdir", "rmdir", "rename", "replace", "touch", "resolve", "samefile",
                          "is_mount", "owner", "group", "lchmod", "symlink_to", "hardlink_to"})
FILE_PREFIXES = ("builtins.open", "io.", "os.open", "os.read", "os.write", "os.listdir", "os.scandir",
                 "os.walk", "shutil.", "pathlib.", "tempfile.", "gzip.", "bz2.", "lzma.", "zipfile.",
                 "tarfile.", "json.load", "json.dump", "pickle.load", "pickle.dump", "csv.", "os.fsync",
                 "shelve.", "dbm.", "glob.", "fnmatch.", "os.sendfile", "os.copy_file_range", "tokenize.open",
                 "linecache.")


def wait_weight(target: str) -> float:
    """3: waits on the network, another process or a timer; 2.5: waits on another thread (a
    queue, a lock, a join); 2: reads or writes file contents or directories, or starts a process
    without waiting for it; 1: file metadata (microseconds on a local disk)."""
    if target in THREAD_WAITS or target.endswith(("Thread.join", "Queue.get", "Queue.put")):
        return 2.5
    if target in META_IO or (target.startswith("pathlib.") and target.rsplit(".", 1)[-1] in META_METHODS):
        return 1
    if target.startswith("io.") and target.endswith((".seek", ".tell")):
        return 1  # moves a file position: no disk access of its own
    if target in ("shutil.rmtree", "shutil.copytree", "shutil.make_archive", "shutil.unpack_archive") \
            or target.endswith(("ZipFile.extractall", "TarFile.extractall")):
        return 3  # whole trees: as long as the tree is big
    if target.startswith(FILE_PREFIXES) or target in SPAWNS:
        return 2  # a file's contents; or starting a process: fork/exec, without waiting for it
    return 3


# start a process and return without waiting for it (its wait(), communicate() or run() waits)
# (os.spawn* are left out: with os.P_WAIT they wait for the child)
SPAWNS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.posix_spawnp"})
# generator APIs: calling them touches nothing; the IO happens when they are iterated
LAZY_IO = frozenset({"pathlib.Path.iterdir", "pathlib.Path.glob", "pathlib.Path.rglob", "pathlib.Path.walk",
                     "os.walk"})
CONSUMERS = frozenset({"builtins.list", "builtins.tuple", "builtins.set", "builtins.sorted", "builtins.any",
                       "builtins.all", "builtins.next", "builtins.sum", "builtins.max", "builtins.min"})

# waits on threading / queue primitives: CCL504 reports them where a coroutine calls them itself
THREAD_WAITS = {
    "threading.Lock.acquire": "asyncio.Lock",
    "threading.RLock.acquire": "asyncio.Lock",
    "threading.Condition.acquire": "asyncio.Condition",
    "threading.Condition.wait": "asyncio.Condition",
    "threading.Condition.wait_for": "asyncio.Condition",
    "threading.Semaphore.acquire": "asyncio.Semaphore",
    "threading.BoundedSemaphore.acquire": "asyncio.BoundedSemaphore",
    "threading.Event.wait": "asyncio.Event",
    "threading.Barrier.wait": "asyncio.Barrier (3.11+)",
    "queue.Queue.get": "asyncio.Queue",
    "queue.Queue.join": "asyncio.Queue",
}
THREAD_LOCKS = {
    "threading.Lock": "asyncio.Lock",
    "threading.RLock": "asyncio.Lock",
    "threading.Condition": "asyncio.Condition",
    "threading.Semaphore": "asyncio.Semaphore",
    "threading.BoundedSemaphore": "asyncio.BoundedSemaphore",
}
TASK_FACTORIES = {
    "asyncio.create_task": "asyncio.create_task",
    "asyncio.ensure_future": "asyncio.ensure_future",
    "asyncio.AbstractEventLoop.create_task": "loop.create_task",
}
LOOP_RUNNERS = {
    "asyncio.run": "asyncio.run()",
    "asyncio.AbstractEventLoop.run_until_complete": "loop.run_until_complete()",
    "asyncio.AbstractEventLoop.run_forever": "loop.run_forever()",
    "asyncio.Runner.run": "asyncio.Runner.run()",
}
HEAVY = 100.0  # CPU weight (see analysis.classify) that freezes a loop: nested loops, loops of CPU calls
# a helper runs on inputs the coroutine cannot see; real protocol code (header parsers, cookie
# jars) nests two loops over small collections all the time, so a helper must nest three levels
# of work (or two around a CPU-heavy library call) on one strand to count as CPU-heavy
HEAVY_CALLEE = 1000.0
MAX_DEPTH = 25  # how deep the CPU-weight walk follows helpers


def _short(q: Optional[str]) -> str:
    if not q:
        return "?"
    return q.replace(".<locals>", "").rsplit(".", 1)[-1]


def _chain_text(chain: Tuple[str, ...]) -> str:
    """``a -> b -> c``; a long chain keeps its ends: ``a -> b -> c -> ... (12 more) -> y -> z``."""
    names = [_short(q) for q in chain]
    if len(names) > 8:
        names = names[:3] + [f"... ({len(names) - 5} more)"] + names[-2:]
    return " -> ".join(names)


def _nonblocking_wait(call: Call, target: str) -> bool:
    """``lock.acquire(False)``, ``acquire(timeout=0)``, ``q.get(block=False)``, ``q.get(False)``:
    calls of a waiting API that return at once."""
    if target.endswith(".acquire") or target == "queue.Queue.get":
        key = "blocking" if target.endswith(".acquire") else "block"
        if _literal_false(call.kwargs.get(key)) or (call.args and _literal_false(call.args[0])):
            return True
        if _literal_false(call.kwargs.get("timeout")):
            return True
    if target in TIMEOUT_ARGS and _literal_false(_timeout_of(call, target)):
        return True  # select(r, w, x, 0), poll(0): a readiness check that returns at once
    if target in ("threading.Event.wait", "threading.Condition.wait"):
        t = call.kwargs.get("timeout") or (call.args[0] if call.args else None)
        if _literal_false(t):
            return True
    return False


def blocking_desc(project, call: Call, target: Optional[str], nonblocking: frozenset = frozenset()) -> Optional[str]:
    """How to name ``call`` if it waits synchronously (network, disk, processes, sleep), else None.
    ``nonblocking``: the sockets put in non-blocking mode (:func:`_nonblocking_sockets`)."""
    if target is None:
        return None
    if target in CONSUMERS:  # list(path.glob("*.json")): the consumer runs the lazy IO
        for v in call.args[:1]:
            inner = project.resolve(v.qualname) if v.kind == "call" and v.qualname else None
            if inner in LAZY_IO:
                return f"{v.text.split('(', 1)[0]}() (consumed by {_short(target)}())"
        return None
    if target in NONBLOCKING_CALLS or (target in LAZY_IO and call.use != "iter"):
        return None
    if target in project.kb.stdlib.connects_when_given and not _host_given(call, project.kb.stdlib.connects_when_given[target]):
        return None  # smtplib.SMTP() with no host: an unconnected client; connect() is what waits
    if _in_memory(call):
        return None  # tarfile.open(fileobj=io.BytesIO(data)), zipfile.ZipFile(io.BytesIO(data)): no file is touched
    if any(name in call.kwargs and not _literal_false(call.kwargs[name]) for name in project.kb.nonblocking.get(target, ())):
        return None  # psycopg2.connect(dsn, async_=True): returns at once, the caller polls it
    cat = project.kb.category(target)
    if cat is None or cat[0] != "io":
        return None
    if target == "time.sleep" and call.args and call.args[0].kind == "literal" and call.args[0].text in ("0", "0.0"):
        return None  # sleep(0) yields the GIL, it does not wait
    if target.startswith(NONBLOCKING_RECEIVERS) and target.rsplit(".", 1)[-1] in NONBLOCKING_METHODS:
        return None
    if target.rsplit(".", 1)[-1] in NEVER_WAIT:
        return None
    if target in RESOLVERS and _local_resolution(call):
        return None
    if call.receiver is not None and nonblocking and _on_nonblocking_socket(project, call, nonblocking):
        return None
    if target in ("os.waitpid", "os.wait3", "os.wait4", "os.waitid"):
        if any(a.qualname and a.qualname.endswith("WNOHANG") or "WNOHANG" in a.text for a in call.args):
            return None  # polling, returns at once
    if _nonblocking_wait(call, target):
        return None
    if getattr(call, "nonblocking_try", False):
        return None  # try: sock.send(...) except BlockingIOError: a non-blocking attempt
    text = call.text or _short(target)
    return f"{text}()"


def _host_given(call: Call, spec: list) -> bool:
    position, keyword = spec
    given = call.kwargs.get(keyword) or (call.args[position] if len(call.args) > position else None)
    if given is None:
        return call.star_args  # passed through *args/**kwargs: it may be there
    return not (given.kind == "literal" and given.text in ("''", '""', "None"))


IN_MEMORY = frozenset({"io.BytesIO", "io.StringIO"})


def _in_memory(call: Call) -> bool:
    """The file the call opens is an in-memory buffer: its ``fileobj=``/``file=`` argument, or
    its first positional one, is an ``io.BytesIO``/``io.StringIO``."""
    given = [call.kwargs.get("fileobj"), call.kwargs.get("file")] + call.args[:1]
    return any(v is not None and v.kind == "instance" and v.qualname in IN_MEMORY for v in given)


def _nonblocking_sockets(ctx) -> frozenset:
    """(module, receiver text) of every socket the code puts in non-blocking mode
    (``self._sock.setblocking(False)``): its connect/recv/send return at once. Once per run."""
    return frozenset((mod.module, call.receiver.text) for mod, call in ctx.project.all_calls()
                     if call.method == "setblocking" and call.receiver is not None and call.args
                     and _literal_false(call.args[0]))


def _on_nonblocking_socket(project, call: Call, nonblocking: frozenset) -> bool:
    mod = project.function_module.get(call.function) if call.function else None
    return mod is not None and (mod.module, call.receiver.text) in nonblocking


def _local_resolution(call: Call) -> bool:
    """``getaddrinfo(host, port, flags=AI_NUMERICHOST)``, ``gethostbyname("localhost")``: answered
    without a network round trip."""
    values = list(call.args) + list(call.kwargs.values())
    if any("NUMERIC" in (v.text or "") or (v.qualname or "").endswith(("NUMERICHOST", "NUMERIC_ONLY"))
           for v in values):
        return True
    host = call.args[0] if call.args else call.kwargs.get("host")
    if host is not None and host.kind == "literal":
        text = host.text.strip("'\"")
        return host.text in LOCAL_HOSTS or text.replace(".", "").isdigit() or ":" in text
    return False


def _coroutines(module: ModuleFacts) -> Iterator[Function]:
    for fn in module.functions.values():
        if fn.is_async and not fn.is_lambda:
            yield fn


def _calls(module: ModuleFacts, fn: Function) -> Iterator[Call]:
    for i in fn.calls:
        yield module.calls[i]


def _related(r: Reach, what: str) -> List[dict]:
    return [{"path": r.path, "line": r.line, "col": r.col, "message": what}]


# ---------------------------------------------------------------- CCL501
def _blocking_walker(ctx) -> _Walker:
    project = ctx.project
    nonblocking = ctx.shared(_nonblocking_sockets)
    return _Walker(project, lambda call, target: blocking_desc(project, call, target, nonblocking), wait_weight)


DUAL_API = frozenset({"sync", "_sync", "run_sync", "maybe_sync", "sync_or_async"})


def _skipped_chain(project, chain: Tuple[str, ...]) -> bool:
    """A chain that does not block as called: through a memoised function (the work is done once
    per argument), or through a sync/async dual API (``sync()`` returns the coroutine when the
    caller is asynchronous, and only blocks when it is not)."""
    for q in chain:
        fn = project.functions.get(q)
        if fn is None:
            continue
        if is_memoised(fn.decorators) or fn.name in DUAL_API or "asynchronous" in fn.params:
            return True
    return False


def blocking_confidence(project, module: ModuleFacts, fn: Function, chain: Tuple[str, ...],
                        weight: float, where: str, in_loop: bool = False) -> str:
    """high: per-call waits (network, processes, sleep; file contents read for every request or
    for every item of a loop); medium: one file's contents (usually small and local: a config,
    a key, a temp file); low: test helpers, start-up or shut-down code, file metadata
    (docs/precision.md)."""
    if is_test_code(module.module, fn.qualname) or is_test_code(where):
        return "low"
    if weight <= 1 or is_cli_code(module.module):
        return "low"  # file metadata; or a command-line program's coroutine, alone on its loop
    if any(caches_per_key(f) for f in (project.functions.get(q) for q in (fn.qualname,) + chain[:-1]) if f is not None):
        return "low"  # behind a per-key cache (a client per proxy URL): once per key, not per call
    if first_lifecycle((fn.qualname,) + chain) is not None:
        # once per process or object: cheap work is not worth a change; a whole tree copied,
        # removed or unpacked may still stall the loop for seconds
        return "medium" if weight >= 3 else "low"
    if weight == 2.5:  # a thread or queue wait: usually coordinated with the code that feeds it
        return "medium"
    if weight == 2 and not in_loop and not is_request_handler(fn.params):
        return "medium"  # one file's contents, unless it is read for every request or item
    return "high"


def _private_loops(ctx) -> frozenset:
    """Coroutines that run alone on an event loop of their own in a worker thread: every call of
    them is handed to ``asyncio.run()`` / ``loop.run_until_complete()`` inside a thread's body
    (``class Heartbeat(Thread): def run(self): loop = asyncio.new_event_loop();
    loop.run_until_complete(self._beat())``). Blocking there stalls no other coroutine."""
    from concurlint.analysis.threads import thread_map

    project = ctx.project
    tm = ctx.shared(thread_map)
    handed: Dict[str, set] = {}  # coroutine -> positions where a runner in a thread receives it
    called: Dict[str, set] = {}  # coroutine -> positions of every call of it
    for mod, call in project.all_calls():
        t = project.call_target(call)
        if t in project.functions and project.functions[t].is_async:
            called.setdefault(t, set()).add((mod.path, call.line, call.col))
        if t in LOOP_RUNNERS and call.args and call.args[0].kind == "call" and call.function:
            fn = project.functions.get(call.function)
            in_thread = tm.runs_in_thread(call.function) or (
                fn is not None and fn.name == "run" and fn.cls is not None
                and project.is_subclass(fn.cls, "threading.Thread"))
            if not in_thread:
                continue
            coro = call.args[0]
            for c in mod.calls:
                if c.line == coro.line and c.col == coro.col:
                    q = project.call_target(c)
                    if q:
                        handed.setdefault(q, set()).add((mod.path, c.line, c.col))
    return frozenset(q for q, where in handed.items() if called.get(q, set()) <= where)


class BlockingCallInAsyncFunction(Rule):
    code = "CCL501"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        walker: _Walker = ctx.shared(_blocking_walker)
        nonblocking = ctx.shared(_nonblocking_sockets)
        private = ctx.shared(_private_loops)
        for fn in _coroutines(module):
            alone = fn.qualname in private  # on a loop of its own in a thread: it blocks only itself
            for call in _calls(module, fn):
                target = project.call_target(call)
                if target in THREAD_WAITS or _ready(fn, call):
                    continue  # CCL504 names the asyncio replacement; or the data is there
                desc = blocking_desc(project, call, target, nonblocking)
                if desc is not None:
                    conf = "low" if alone else blocking_confidence(
                        project, module, fn, (), wait_weight(target or ""), module.module,
                        in_loop=_per_item(fn, call, target))
                    yield ctx.report(self.code, module, call, function=fn.qualname, what=desc, via="",
                                     confidence=conf, root=_file_root(module, fn, call, target))
                    continue
                callee = walker.runs(call, target)
                if callee is None:
                    continue
                r = walker.reach(callee.qualname, call)
                if r is None or _skipped_chain(project, r.chain):
                    continue
                end = project.function_module.get(r.chain[-1])
                conf = "low" if alone else blocking_confidence(
                    project, module, fn, r.chain, r.weight, end.module if end is not None else "",
                    in_loop=_per_item(fn, call))
                via = f" (via {_short(fn.qualname)} -> {_chain_text(r.chain)})"
                yield ctx.report(self.code, module, call, function=fn.qualname, what=r.desc, via=via,
                                 related=_related(r, f"{r.desc} blocks here"), confidence=conf,
                                 root=_twin_root(project, module, fn, r.chain) or (r.path, r.line, r.col))


def _twin_root(project, module: ModuleFacts, fn: Function, chain: Tuple[str, ...]) -> Optional[tuple]:
    """A class whose async methods call their synchronous twins (``async_save`` -> ``save``,
    ``fetch_async`` -> ``fetch``, ``aclose`` -> ``close``): one cause, the class's async API wraps
    its blocking one, reported once with the other methods as related places."""
    first = project.functions.get(chain[0]) if chain else None
    if fn.cls is None or first is None or first.cls is None:
        return None
    if fn.name not in (f"async_{first.name}", f"{first.name}_async", f"a{first.name}", f"async{first.name}"):
        return None
    if first.cls != fn.cls and not project.is_subclass(fn.cls, first.cls):
        return None
    info = project.classes.get(fn.cls)
    return (module.path, info.line if info is not None else 0, -1, "sync twins of " + fn.cls)


def _per_item(fn: Function, call: Call, target: Optional[str] = None) -> bool:
    """The call runs once per item of a ``for`` loop (the files of a list), not in a retry or a
    service loop (``while True``, ``for _ in range(TRIES)``). On one open file, reading in a loop
    streams a file too big to read at once (per item: yes); writing in a loop fills a buffer (no)."""
    loop = fn.loops[call.loop] if 0 <= call.loop < len(fn.loops) else None
    if loop is None:
        return False
    if target and target.startswith("io.IOBase."):
        return target.rsplit(".", 1)[-1].startswith("read")
    if not loop.desc.startswith(("for loop over", "async for loop over", "list comprehension over",
                                 "set comprehension over", "dict comprehension over", "generator expression over")):
        return False
    over = loop.desc.split(" over ", 1)[1]
    return not over.startswith("range(") or "len(" in over


def _ready(fn: Function, call: Call) -> bool:
    """``while not pipe.poll(): await asyncio.sleep(...)`` then ``pipe.recv()``: the loop waited
    (yielding) until the data was there, so the read returns at once."""
    if call.method not in READS_WHEN_READY or "." not in call.text:
        return False
    receiver = call.text.rsplit(".", 1)[0]
    return any(text == receiver and end < call.line for text, end in getattr(fn, "ready", ()))


def _file_root(module: ModuleFacts, fn: Function, call: Call, target: Optional[str]) -> tuple:
    """Where a blocking call's cause is: the ``open()`` that made the file for the reads, writes
    and seeks on it in the same function (one file, one finding), the constructor call that made
    the client it calls (``with smtplib.SMTP(host) as c: c.noop()``: one client, one finding),
    else the call itself."""
    recv = call.receiver
    if (target and recv is not None and recv.kind == "instance" and recv.line
            and fn.line <= recv.line <= call.line and (recv.line, recv.col) != (call.line, call.col)):
        if recv.text.isidentifier():  # f = open(...) ... with f: -- the open() made it
            for i in fn.calls:
                c = module.calls[i]
                if c.assigned_to == recv.text and c.line <= recv.line and c.target in OPENERS:
                    return (module.path, c.line, c.col)
        return (module.path, recv.line, recv.col)
    return (module.path, call.line, call.col)


@dataclass
class _Pos:
    line: int
    col: int


# ---------------------------------------------------------------- CCL504
def _sync_users(module: ModuleFacts) -> set:
    """Lock/queue expressions (``self._lock``, ``jobs``) that plain functions of this module use
    too: shared with threads, so an asyncio primitive cannot replace them."""
    out = set()
    for fn in module.functions.values():
        if fn.is_async:
            continue
        for v in getattr(fn, "withs", ()):
            out.add((fn.cls, v.text))
        for call in _calls(module, fn):
            if call.receiver is not None and call.receiver.text:
                out.add((fn.cls, call.receiver.text))
    return out


class ThreadingLockInAsyncFunction(Rule):
    code = "CCL504"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        shared = None
        private = ctx.shared(_private_loops)
        for fn in _coroutines(module):
            if shared is None:
                shared = _sync_users(module)

            def confidence(text: str, lock: bool = True) -> str:
                if is_test_code(module.module, fn.qualname) or fn.qualname in private:
                    return "low"  # a test helper; or alone on its own loop in a thread: a wait paces it
                # a lock also taken by synchronous code: held for microseconds on both sides, and
                # an asyncio lock would not work for the threads (docs/precision.md), so the
                # advice would be wrong. A wait (Event.wait, Queue.get) can last as long as the
                # other thread wants: still high.
                return "low" if lock and (fn.cls, text) in shared else "high"

            for v in getattr(fn, "withs", ()):
                t = project.value_type(v) if v.kind == "instance" else None
                if t in THREAD_LOCKS:
                    yield ctx.report(self.code, module, _Pos(v.line, v.col), function=fn.qualname,
                                     what=f"`with {v.text}:` ({t})", instead=THREAD_LOCKS[t],
                                     confidence=confidence(v.text))
            for call in _calls(module, fn):
                target = project.call_target(call)
                if target not in THREAD_WAITS or _nonblocking_wait(call, target) or _ready(fn, call):
                    continue
                recv = call.receiver.text if call.receiver is not None else ""
                yield ctx.report(self.code, module, call, function=fn.qualname,
                                 what=f"{call.text}() ({target})", instead=THREAD_WAITS[target],
                                 confidence=confidence(recv, target.endswith(".acquire")))


# ---------------------------------------------------------------- CCL505
def _runner_walker(ctx) -> _Walker:
    project = ctx.project

    def pred(call: Call, target: Optional[str]) -> Optional[str]:
        return LOOP_RUNNERS.get(target or "")

    return _Walker(project, pred)


class AsyncioRunInRunningLoop(Rule):
    code = "CCL505"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        walker: _Walker = ctx.shared(_runner_walker)
        for fn in _coroutines(module):
            for call in _calls(module, fn):
                target = project.call_target(call)
                api = LOOP_RUNNERS.get(target or "")
                if api is not None:
                    yield ctx.report(self.code, module, call, function=fn.qualname, api=api, via="")
                    continue
                callee = walker.runs(call, target)
                if callee is None:
                    continue
                r = walker.reach(callee.qualname, call)
                if r is None:
                    continue
                yield ctx.report(self.code, module, call, function=fn.qualname, api=r.desc,
                                 via=f" (via {_short(fn.qualname)} -> {_chain_text(r.chain)})",
                                 related=_related(r, f"{r.desc} is called here"))

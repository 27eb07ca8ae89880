"""What counts as a blocking call on an event loop, and how long it holds the loop.

``blocking_desc`` answers for one call (with its resolved target): the knowledge base's ``io``
calls, less the forms that return at once -- zero timeouts, in-memory archives, unconnected
clients, connections opened in non-blocking mode here; non-blocking sockets, ``WNOHANG``, numeric
hosts and a child already ended in ``returns_at_once``. ``wait_weight`` says how long it waits (a
file's contents, file metadata, another thread, the network). CCL501 (``asyncio_rules``) and the
walk through synchronous helpers (``sync_reach``) ask them.
"""
from __future__ import annotations

from typing import Optional

from concurlint.analysis.facts import Call
from concurlint.analysis.platforms import WASM
from concurlint.analysis.shell import backgrounded
from concurlint.checks.returns_at_once import _host_given, _in_memory, returns_at_once
from concurlint.checks.sync_reach import TIMEOUT_ARGS, _literal_false, _timeout_of

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
OPENERS = frozenset({"builtins.open", "io.open", "pathlib.Path.open", "gzip.open", "bz2.open", "lzma.open"})
# what returns at once after a loop waited for data (``Function.ready``)
READS_WHEN_READY = frozenset({"recv", "recv_bytes", "get", "read", "readline", "get_nowait", "result", "exception"})
# how long a blocking call waits, for naming the call that waits longest and for confidence:
# 3 network / processes / sleep / thread waits, 2 file contents and directories, 1 metadata
META_IO = frozenset({
    "os.stat", "os.lstat", "os.fstat", "os.chmod", "os.chown", "os.lchown", "os.unlink", "os.remove",
    "os.rmdir", "os.removedirs", "os.mkdir", "os.makedirs", "os.rename", "os.renames", "os.replace", "os.access",
    "os.utime", "os.ftruncate", "os.symlink", "os.link", "os.readlink", "os.getcwd", "os.chdir", "os.umask",
    "os.path.exists", "os.path.lexists", "os.path.isfile", "os.path.isdir", "os.path.islink",
    "os.path.getsize", "os.path.getmtime", "os.path.getctime", "os.path.getatime", "os.path.realpath",
    "os.path.samefile", "os.path.ismount", "shutil.which", "shutil.disk_usage", "os.truncate",
    "tempfile.mkdtemp", "tempfile.gettempdir", "os.statvfs", "os.fstatvfs", "os.fchmod", "os.fchown",
    "os.lchmod",
})
META_METHODS = frozenset({"exists", "is_dir", "is_file", "is_symlink", "stat", "lstat", "chmod", "unlink",
                          "mkdir", "rmdir", "rename", "replace", "touch", "resolve", "samefile",
                          "is_mount", "owner", "group", "lchmod", "symlink_to", "hardlink_to"})
FILE_PREFIXES = ("builtins.open", "io.", "os.open", "os.read", "os.write", "os.pread", "os.pwrite", "os.listdir",
                 "os.scandir", "os.walk", "shutil.", "pathlib.", "tempfile.", "gzip.", "bz2.", "lzma.", "zipfile.",
                 "tarfile.", "json.load", "json.dump", "pickle.load", "pickle.dump", "csv.DictWriter.write", "os.fsync",
                 "shelve.", "dbm.", "glob.", "fnmatch.", "os.sendfile", "os.copy_file_range", "tokenize.open",
                 "linecache.", "codecs.open", "fileinput.", "http.cookiejar.FileCookieJar.")


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
# a socket's sends: into the kernel's buffer, returning once it has taken the bytes
SOCKET_SENDS = frozenset({"socket.socket.send", "socket.socket.sendall", "socket.socket.sendto",
                          "socket.socket.sendmsg", "ssl.SSLSocket.send", "ssl.SSLSocket.sendall",
                          "ssl.SSLSocket.sendto", "ssl.SSLSocket.write"})


def wait_weight(target: str) -> float:
    """3: waits on the network, another process or a timer; 2.5: waits on another thread (a
    queue, a lock, a join) or puts a message into a pipe's or a socket's buffer; 2: reads or
    writes file contents or directories, or starts a process without waiting for it; 1: file
    metadata (microseconds on a local disk)."""
    if target in THREAD_WAITS or target.endswith(("Thread.join", "Queue.get", "Queue.put")):
        return 2.5
    if target.endswith(("Connection.send", "Connection.send_bytes")) or target in SOCKET_SENDS:
        # a message into a pipe's or a socket's buffer: it waits only while the other side stops
        # reading (on real code: 11 sends named, all of a few bytes into a buffer with room, 0 tp)
        return 2.5
    if target in META_IO or (target.startswith("pathlib.") and target.rsplit(".", 1)[-1] in META_METHODS):
        return 1
    if target.startswith("io.") and target.endswith((".seek", ".tell")):
        return 1  # moves a file position: no disk access of its own
    if is_tree_op(target):
        return 3  # whole trees: as long as the tree is big
    if target.startswith(FILE_PREFIXES + EMBEDDED_DB) or target in SPAWNS or target in CLIENT_FACTORIES:
        # a file's contents (an embedded database's file too); starting a process (fork/exec)
        # without waiting for it; making a client, which loads its configuration and connects
        # later, when it is used
        return 2
    return 3


def is_tree_op(target: str) -> bool:
    """A whole directory tree copied, removed, packed or unpacked."""
    return target in ("shutil.rmtree", "shutil.copytree", "shutil.make_archive", "shutil.unpack_archive") \
        or target.endswith(("ZipFile.extractall", "TarFile.extractall"))


# file APIs that go through many files or a whole file's bytes (a copy, a move, a listing)
MANY_FILES = ("shutil.", "os.walk", "os.listdir", "os.scandir", "glob.", "os.sendfile", "os.copy_file_range",
              "zipfile.", "tarfile.", "pathlib.Path.glob", "pathlib.Path.rglob", "pathlib.Path.iterdir",
              "pathlib.Path.walk")


# an embedded database: a query reads and writes one local file, no server to wait on (a busy
# timeout waits only when another process holds the file's write lock). On real code the
# findings on sqlite3 calls at high were mostly true but not worth a change (a point lookup in a
# local file, a session file opened once; docs/precision.md, tenth round)
EMBEDDED_DB = ("sqlite3.",)


# read one directory's entries, not a tree (os.walk, rglob and copies of trees go deeper)
ONE_DIRECTORY = frozenset({"os.listdir", "os.scandir", "pathlib.Path.iterdir", "pathlib.Path.glob",
                           "glob.glob", "glob.iglob"})


def one_file(target: str) -> bool:
    """Opens, reads or writes one file (``open``, ``json.load``, ``Path.read_text``, a query on
    an sqlite3 database), or lists one directory: on a local disk, usually small and served from
    the page cache. On real code the listings of one folder reported at high were all true but
    not worth a change (a handful of skill folders, key files, a venv's bin; docs/precision.md)."""
    return target in ONE_DIRECTORY or (target.startswith(FILE_PREFIXES + EMBEDDED_DB)
                                       and not target.startswith(MANY_FILES))


# clients whose construction reads configuration (and credentials) but sends no request: the
# waits are in the calls made on them
CLIENT_FACTORIES = frozenset({"boto3.client", "boto3.resource", "boto3.session.Session.client",
                              "boto3.session.Session.resource", "pymongo.MongoClient"})

# start a process and return without waiting for it (its wait(), communicate() or run() waits);
# os.startfile hands a file to its viewer and returns once the viewer is launched
# (os.spawn* are left out: with os.P_WAIT they wait for the child)
SPAWNS = frozenset({"subprocess.Popen", "os.posix_spawn", "os.posix_spawnp", "os.startfile"})
# generator APIs: calling them touches nothing; the IO happens when they are iterated
LAZY_IO = frozenset({"pathlib.Path.iterdir", "pathlib.Path.glob", "pathlib.Path.rglob", "pathlib.Path.walk",
                     "os.walk", "glob.iglob"})
CONSUMERS = frozenset({"builtins.list", "builtins.tuple", "builtins.set", "builtins.sorted", "builtins.any",
                       "builtins.all", "builtins.next", "builtins.sum", "builtins.max", "builtins.min"})

def _short(q: Optional[str]) -> str:
    if not q:
        return "?"
    return q.replace(".<locals>", "").rsplit(".", 1)[-1]


# a thread queue's and a multiprocessing queue's get(block=True, timeout=None)
QUEUE_GETS = frozenset({"queue.Queue.get", "multiprocessing.Queue.get", "multiprocessing.queues.Queue.get"})


def _nonblocking_wait(call: Call, target: str) -> bool:
    """``lock.acquire(False)``, ``acquire(timeout=0)``, ``q.get(block=False)``, ``q.get(False)``:
    calls of a waiting API that return at once."""
    if target.endswith(".acquire") or target in QUEUE_GETS:
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


def _consumed(project, call: Call, target: Optional[str]) -> Optional[str]:
    """The lazy listing a consumer runs (``sorted(d.iterdir())``: ``pathlib.Path.iterdir``)."""
    if target in CONSUMERS:
        for v in call.args[:1]:
            inner = project.resolve(v.qualname) if v.kind == "call" and v.qualname else None
            if inner in LAZY_IO:
                return inner
    return None


def io_subject(project, call: Call, target: Optional[str]) -> Optional[str]:
    """The call to weigh: one directory's listing that a consumer runs (``sorted(d.glob('*'))``
    weighs like the loop ``for e in d.glob('*')``), else the call itself (a consumed walk of a
    whole tree, ``list(root.rglob('*'))``, keeps the consumer's full weight)."""
    inner = _consumed(project, call, target)
    return inner if inner in ONE_DIRECTORY else target


def blocking_desc(project, call: Call, target: Optional[str], nonblocking: frozenset = frozenset()) -> Optional[str]:
    """How to name ``call`` if it waits synchronously (network, disk, processes, sleep), else None.
    ``nonblocking``: the sockets put in non-blocking mode (:func:`_nonblocking_sockets`)."""
    if target is None:
        return None
    if target in CONSUMERS:  # list(path.glob("*.json")): the consumer runs the lazy IO
        if _consumed(project, call, target) is None:
            return None
        return f"{call.args[0].text.split('(', 1)[0]}() (consumed by {_short(target)}())"
    cat = project.kb.category(target)  # first: most calls do no IO, and nothing below names one that does not
    if cat is None or cat[0] != "io":
        # password hashing: no IO, but it holds the caller for up to a second on purpose
        return _named(call, target) if project.kb.slow(target) else None
    if target in NONBLOCKING_CALLS or (target in LAZY_IO and call.use != "iter"):
        return None
    if project.platform_of(call) == WASM:
        return None  # only run in a browser (Pyodide): an in-memory filesystem, no thread to move it to
    connects = project.kb.stdlib.connects_when_given
    if target in connects and not _host_given(call, connects[target]):
        return None  # smtplib.SMTP() with no host: an unconnected client; connect() is what waits
    if target in OPENERS and call.args and "os.devnull" in (call.args[0].qualname, call.args[0].text):
        return None  # the null device: nothing is read or written
    if _in_memory(call):
        return None  # tarfile.open(fileobj=io.BytesIO(data)), zipfile.ZipFile(io.BytesIO(data)): no file is touched
    if target == "sqlite3.connect" and call.args and call.args[0].text in ("':memory:'", '":memory:"'):
        return None  # an in-memory database: no file is opened
    if any(name in call.kwargs and not _literal_false(call.kwargs[name])
           for name in project.kb.nonblocking.get(target, ())):
        return None  # psycopg2.connect(dsn, async_=True): returns at once, the caller polls it
    if target == "time.sleep" and call.args and call.args[0].kind == "literal" and call.args[0].text in ("0", "0.0"):
        return None  # sleep(0) yields the GIL, it does not wait
    if target.startswith(NONBLOCKING_RECEIVERS) and target.rsplit(".", 1)[-1] in NONBLOCKING_METHODS:
        return None
    if target.rsplit(".", 1)[-1] in NEVER_WAIT or _nonblocking_wait(call, target):
        return None
    if returns_at_once(project, call, target, nonblocking):
        return None
    if getattr(call, "nonblocking_try", False):
        return None  # try: sock.send(...) except BlockingIOError: a non-blocking attempt
    if backgrounded(call, target):
        return None  # os.system("nohup recorder &"): the shell starts it in the background and returns
    return _named(call, target)


def _named(call: Call, target: str) -> str:
    """How a message names the blocking call: as the code writes it (``self.session.get()``)."""
    return f"{call.text or _short(target)}()"


# calls that run or wait for another program; HTTP client calls (for the advice, ``remedies``)
HTTP_PREFIXES = ("requests.", "urllib.request.", "http.client.", "urllib3.", "httpx.", "xmlrpc.client.")
PROCESS_PREFIXES = ("subprocess.", "os.system", "os.popen", "os.wait", "os.spawn")

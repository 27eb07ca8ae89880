"""The forms of a blocking call that return at once (``returns_at_once``), found by looking at
how the call is made and what the same function did just before: a child process already ended
(killed, polled until dead, awaited) before it is reaped or its pipe read; a datagram, Unix,
loopback or non-blocking socket; a serial port opened with ``timeout=0``; a host name resolved
locally; a ``data:`` URL; rows written to an in-memory buffer. ``blocking_calls.blocking_desc``
asks it after the knowledge base has named the call as IO."""
from __future__ import annotations

from typing import List, Tuple

from concurlint.analysis.facts import Call
from concurlint.analysis.hints import argument_for, stored_names
from concurlint.analysis.values import IN_MEMORY
from concurlint.checks.sync_reach import _literal_false

RESOLVERS = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                       "socket.getnameinfo", "socket.gethostbyaddr"})
LOCAL_HOSTS = frozenset({"'localhost'", '"localhost"', "''", '""'})


def returns_at_once(project, call: Call, target: str, nonblocking: frozenset) -> bool:
    """The call (named IO by the knowledge base) returns without waiting in the form it is made.
    ``nonblocking``: the sockets and serial ports put in non-blocking mode (:func:`_nonblocking_sockets`)."""
    if target in RESOLVERS and _local_resolution(call):
        return True
    if call.receiver is not None and nonblocking and _on_nonblocking_socket(project, call, nonblocking):
        return True
    if target.startswith("socket.socket.") and _loop_socket(project, call):
        return True  # a socket the coroutine hands to loop.sock_*(), which asyncio requires non-blocking
    if target.rsplit(".", 1)[-1] in UDP_NEVER_WAIT and target.startswith("socket.") \
            and _made_as(project, call, _datagram):
        return True  # connect() on a UDP socket only sets the default peer; nothing is sent
    if target in ("socket.socket.connect", "socket.socket.connect_ex") and _made_as(project, call, _unix_family):
        return True  # a Unix socket's path on this machine: the listener accepts or refuses at once
    if target.startswith("csv.DictWriter.") and _made_as(project, call, lambda c: _memory_sink(project, c)):
        return True  # rows written into an io.StringIO or the project's own in-memory buffer
    if target in ("socket.socket.connect", "socket.socket.connect_ex") and _loopback_peer(project, call):
        return True  # this machine's own port: accepted or refused at once, no route, no DNS
    if target in URL_OPENERS and _data_url(project, call):
        return True  # an inline `data:` URL: decoded in memory, no network or disk
    if target in ("os.waitpid", "os.wait3", "os.wait4", "os.waitid"):
        if any(a.qualname and a.qualname.endswith("WNOHANG") or "WNOHANG" in a.text
               or "WNOHANG" in a.meta.get("source", "") for a in call.args):
            return True  # polling, returns at once (`options = 0 if block else os.WNOHANG` too)
    if target in REAPS and (_killed_before(project, call) or _polled_dead_before(project, call)
                            or _awaited_end_before(project, call)):
        return True  # process.kill() then process.wait(): it reaps a child that is already dead
    if target.startswith("subprocess.PipeFile.") and (_read_after_exit(project, call) or _no_pipe(project, call)):
        return True  # `if proc.poll() is not None: proc.stdout.read()`: what the dead child left
    if target in ("socket.socket.connect", "socket.socket.connect_ex") and _source_address_probe(project, call):
        return True
    return False


# waits for a child process to end: at once when the same function killed it just before
REAPS = frozenset({"subprocess.Popen.wait", "subprocess.Popen.communicate", "multiprocessing.Process.join"})


def _beside(project, call: Call) -> List[Call]:
    """The calls of the function that makes ``call`` (none when it is a method call's receiver
    we cannot name: ``call.text`` has no ``.``)."""
    fn = project.functions.get(call.function) if call.function and "." in call.text else None
    return project.calls_of(fn) if fn is not None else []


def _killed_before(project, call: Call) -> bool:
    """``process.kill()`` earlier in the same function, on the same receiver, at most three lines
    up (``with suppress(ProcessLookupError): process.kill()`` then ``process.wait()``): SIGKILL
    cannot be caught, so the wait only reaps the child."""
    killed = call.text.rsplit(".", 1)[0] + ".kill"
    return any(c.text == killed and 0 < call.line - c.line <= 3 for c in _beside(project, call))


# the loop that polls a child until it has ended (`while proc.is_alive(): await asyncio.sleep(0.1)`)
POLLS_END = {"multiprocessing.Process.join": "is_alive", "subprocess.Popen.wait": "poll",
             "subprocess.Popen.communicate": "poll"}
SLEEPS = frozenset({"asyncio.sleep", "time.sleep", "anyio.sleep", "trio.sleep"})


def _polled_dead_before(project, call: Call) -> bool:
    """``while proc.is_alive(): await asyncio.sleep(0.01)`` right before ``proc.join()``: the loop
    ends only once the child has ended, so the join returns at once. The lines between hold only
    the poll and sleeps (no deadline that breaks out early)."""
    fn = project.functions.get(call.function) if call.function else None
    poll = POLLS_END.get(project.call_target(call) or "")
    if fn is None or poll is None or "." not in call.text:
        return False
    polled = call.text.rsplit(".", 1)[0] + "." + poll
    for loop in fn.loops:
        if not loop.desc.startswith("while") or not 0 < call.line - loop.line <= 5:
            continue
        between = [c for c in _beside(project, call) if loop.line <= c.line < call.line]
        if any(c.text == polled and c.line == loop.line for c in between) and all(
                c.text == polled or project.call_target(c) in SLEEPS for c in between):
            return True
    return False


def _pipe_of(call: Call) -> Tuple[str, str]:
    """``proc.stdout.readline`` -> ("proc", "stdout"), ``self._proc.stderr.read`` ->
    ("self._proc", "stderr"); ("", "") for a call on no child's pipe."""
    for stream in ("stdout", "stderr"):
        proc, dot, _ = call.text.partition(f".{stream}.")
        if dot:
            return proc, stream
    return "", ""


def _read_after_exit(project, call: Call) -> bool:
    """``if proc.poll() is not None:`` a few lines above ``proc.stdout.read()`` (not a ``while``
    over the poll, which reads while the child runs): the child has ended, its pipe holds what it
    left and ends there (swe-rex's container output in the error message)."""
    fn = project.functions.get(call.function) if call.function else None
    proc, _stream = _pipe_of(call)
    if fn is None or not proc:
        return False
    loops = {loop.line for loop in fn.loops}
    return any(c.text == f"{proc}.poll" and 0 < call.line - c.line <= 3 and c.line not in loops
               for c in _beside(project, call))


def _no_pipe(project, call: Call) -> bool:
    """``proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)`` (or a file) in the same function,
    and no Popen bound to that name there pipes the stream read: ``proc.stdout`` is None or a file,
    and the read is never made on a pipe (burnysc2's bot output, a corpus fp)."""
    head, stream = _pipe_of(call)
    if not head.isidentifier():
        return False
    made = [c for c in _beside(project, call) if c.assigned_to == head and project.call_target(c) == "subprocess.Popen"]
    return bool(made) and not any(stream in c.kwargs and c.kwargs[stream].text.endswith("PIPE") for c in made)


def _awaited_end_before(project, call: Call) -> bool:
    """The same function awaited the child's end just before (at most three lines up):
    ``await trio.lowlevel.wait_readable(proc.sentinel)``, ``await asyncio.to_thread(proc.join)``,
    ``await loop.run_in_executor(None, proc.wait)``. The join or wait that follows only reaps it."""
    if "." not in call.text:
        return False
    recv = call.text.rsplit(".", 1)[0]
    ends = {f"{recv}.sentinel", call.text}
    return any(c.awaited and 0 < call.line - c.line <= 3 and any(a.text in ends for a in c.args)
               for c in _beside(project, call))


# on a datagram socket: connect() records the default peer (no handshake), sends fill a buffer
UDP_NEVER_WAIT = frozenset({"connect", "connect_ex", "send", "sendall", "sendto"})


def _made_as(project, call: Call, kind) -> bool:
    """The receiver was made, in the same function, by a ``socket.socket(...)`` call that ``kind``
    accepts (``_datagram``: ``SOCK_DGRAM``; ``_unix_family``: ``AF_UNIX``), or by a project
    function that makes its socket so and returns it (``sock = _create_udp_socket()``)."""
    recv = call.receiver
    mod = project.function_module.get(call.function) if call.function else None
    if recv is None or mod is None or not recv.line:
        return False
    made = _factory(project, call)
    if made is not None:
        fn, _ = made
        return any(c.assigned_to in fn.returned_names and kind(c) for c in project.calls_of(fn))
    for c in mod.calls:
        if (c.line, c.col) == (recv.line, recv.col):
            return kind(c)
    return False


# what a socket made only to learn the local address is asked (`s.connect(peer)`, then
# `s.getsockname()[0]`): the idiom is a datagram socket, whose connect() sends nothing
ADDRESS_PROBE = frozenset({"connect", "connect_ex", "getsockname", "close", "settimeout", "setsockopt", "bind",
                           "__enter__", "__exit__"})


def _source_address_probe(project, call: Call) -> bool:
    """The socket is connected only to read its own address back (``getsockname()``) and
    nothing is sent or received on it in the function: the local-address idiom, made with
    ``SOCK_DGRAM`` (or a type copied from another socket, ``socket.socket(AF_INET6, sock.type)``)."""
    receiver = call.text.rsplit(".", 1)[0]
    used = {c.method for c in _beside(project, call) if c.text.rsplit(".", 1)[0] == receiver}
    return "getsockname" in used and used <= ADDRESS_PROBE


def _datagram(c: Call) -> bool:
    kind = c.kwargs.get("type") or (c.args[1] if len(c.args) > 1 else None)
    return kind is not None and "SOCK_DGRAM" in ((kind.qualname or "") + (kind.text or ""))


def _memory_sink(project, c: Call) -> bool:
    """``csv.DictWriter(buffer, ...)`` over an ``io.StringIO``/``io.BytesIO``, or over an instance
    of a project class whose ``write`` calls no library IO (aiosalesforce's ``CsvBuffer``
    appending encoded rows to a list)."""
    sink = c.args[0] if c.args else c.kwargs.get("f")
    if sink is None or sink.kind != "instance":
        return False
    if sink.qualname in IN_MEMORY:
        return True
    info = project.classes.get(sink.qualname or "")
    write = project.functions.get(info.methods.get("write", "")) if info is not None else None
    return write is not None and not any(
        (cat := project.kb.category(t)) is not None and cat[0] == "io"
        for t in (project.call_target(k) for k in project.calls_of(write)) if t)


def _unix_family(c: Call) -> bool:
    family = c.kwargs.get("family") or (c.args[0] if c.args else None)
    return family is not None and "AF_UNIX" in ((family.qualname or "") + (family.text or ""))


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _loopback_peer(project, call: Call) -> bool:
    """``s.connect_ex(("127.0.0.1", port))``, or ``(host, port)`` where ``host`` is a parameter
    whose default is a loopback address (``def _is_port_in_use(self, port, host="127.0.0.1")``):
    a probe of a local port."""
    addr = call.args[0] if call.args else None
    if addr is None or not addr.inner:
        return False
    host = addr.inner[0]
    if host.kind == "literal":
        return host.text.strip("'\"") in LOOPBACK
    fn = project.functions.get(call.function) if call.function else None
    if fn is None or not host.text.isidentifier() or host.text not in fn.params:
        return False
    default = dict(fn.defaults).get(host.text)
    if default is not None:
        return default.strip("'\"") in LOOPBACK
    # `async def is_comm_open(ip, port)`: every call of it in the project passes a loopback host
    given = [argument_for(fn, host.text, c) for c in project.calls_to(fn.qualname)]
    return bool(given) and all(v is not None and not isinstance(v, str) and v.kind == "literal"
                               and v.text.strip("'\"") in LOOPBACK for v in given)


# urllib's openers read a `data:` URL (RFC 2397) from the URL itself
URL_OPENERS = frozenset({"urllib.request.urlopen", "urllib.request.urlretrieve", "urllib.request.OpenerDirector.open"})


def _data_url(project, call: Call) -> bool:
    """The URL opened is an inline ``data:`` URL: the call sits where its argument was tested to
    start with ``data:`` (``if not uri.startswith("data:"): raise ValueError`` before it), or
    its function is called only from such places (``elif f.url.startswith("data:"): await
    self.save_data_url()``)."""
    fn = project.functions.get(call.function) if call.function else None
    if fn is None or not call.args:
        return False
    url = call.args[0].text
    if any(text == url and first <= call.line <= last for text, first, last in fn.data_urls):
        return True
    sites = project.calls_to(fn.qualname)
    return bool(sites) and all(
        k.function in project.functions and any(first <= k.line <= last for _t, first, last
                                                in project.functions[k.function].data_urls)
        for k in sites)


def _host_given(call: Call, spec: list) -> bool:
    position, keyword = spec
    given = call.kwargs.get(keyword) or (call.args[position] if len(call.args) > position else None)
    if given is None:
        return call.star_args  # passed through *args/**kwargs: it may be there
    return not (given.kind == "literal" and given.text in ("''", '""', "None"))


def _in_memory(call: Call) -> bool:
    """The file the call opens is an in-memory buffer: its ``fileobj=``/``file=`` argument, or
    its first positional one, is an ``io.BytesIO``/``io.StringIO``."""
    given = [call.kwargs.get("fileobj"), call.kwargs.get("file")] + call.args[:1]
    return any(v is not None and v.kind == "instance" and v.qualname in IN_MEMORY for v in given)


# a serial port made (or, for a subclass, initialised) with timeout=0 reads what is buffered
# and returns at once (pyserial's non-blocking mode)
SERIAL_PORTS = frozenset({"serial.Serial", "serial.Serial.__init__", "serial.serial_for_url"})


def _nonblocking_sockets(ctx) -> frozenset:
    """(module, receiver text) of every socket the code puts in non-blocking mode
    (``self._sock.setblocking(False)``): its connect/recv/send return at once; and of every
    serial port made with ``timeout=0`` (``self.port = serial.Serial(dev, timeout=0)``; a
    subclass whose ``__init__`` hands ``timeout=0`` to ``serial.Serial.__init__`` is
    ``self@<class>``: yaqd-core's ASerial, read between ``asyncio.sleep(0.01)``, rev153a's high
    fp). Once per run."""
    project = ctx.project
    out = set()
    for mod, call in project.index.calls("sets-nonblocking"):
        if call.method == "setblocking":
            if call.receiver is not None and call.args and _literal_false(call.args[0]):
                out.add((mod.module, call.receiver.text))
            continue
        if not _literal_false(call.kwargs.get("timeout")):
            continue
        if call.method == "__init__":
            fn = project.functions.get(call.function or "")
            info = project.classes.get(fn.cls) if fn is not None and fn.name == "__init__" and fn.cls else None
            if info is not None and (project.call_target(call) in SERIAL_PORTS or any(
                    project.kb.canonical(b) == "serial.Serial" for b in info.bases)):
                out.add((mod.module, f"self@{fn.cls}"))
        elif project.call_target(call) in SERIAL_PORTS:
            # by where it is made (an instance read through an attribute carries that place)
            out.add((mod.module, f"@{call.line}:{call.col}"))
            out.update((mod.module, name) for name in stored_names(project.functions.get(call.function or ""), call))
    return frozenset(out)


def _on_nonblocking_socket(project, call: Call, nonblocking: frozenset) -> bool:
    mod = project.function_module.get(call.function) if call.function else None
    if mod is not None and (mod.module, call.receiver.text) in nonblocking:
        return True
    recv = call.receiver
    if mod is not None and recv.kind == "instance" and recv.line \
            and (mod.module, f"@{recv.line}:{recv.col}") in nonblocking:
        return True  # the instance carries where it was made: `serial.Serial(dev, timeout=0)`
    fn = project.functions.get(call.function) if call.function and recv.text == "self" else None
    if fn is not None and fn.cls and mod is not None and (mod.module, f"self@{fn.cls}") in nonblocking:
        return True
    made = _factory(project, call)  # `sock = _create_udp_socket()`, which set it non-blocking
    return made is not None and any((made[1].module, name) in nonblocking for name in made[0].returned_names)


def _loop_socket(project, call: Call) -> bool:
    """The receiver is a socket the same function hands to the loop's socket methods
    (``sock.connect((ip, 1)); await loop.sock_sendall(sock, packet)``): asyncio requires those
    sockets in non-blocking mode, where connect/send/recv return at once or raise
    (pingtop's ICMP pings: rev99b's high fp)."""
    fn = project.functions.get(call.function) if call.function else None
    recv = call.receiver.text if call.receiver is not None else ""
    return fn is not None and bool(recv) and any(
        (project.call_target(c) or "").startswith("asyncio.AbstractEventLoop.sock_")
        and c.args and c.args[0].text == recv for c in project.calls_of(fn))


def _factory(project, call: Call):
    """(the project function, its module) whose return value is the call's receiver
    (``sock = make_socket(); sock.connect(addr)``, typed or not), or None."""
    recv = call.receiver
    if recv is None:
        return None
    q = project.resolve(recv.qualname) if recv.kind == "call" and recv.qualname else None
    mod = project.function_module.get(call.function) if call.function else None
    if q is None and recv.line and mod is not None and (recv.text or "").endswith(")"):
        # only a receiver made by a call has a maker to look up (asked for every IO call with a
        # receiver once the project sets any socket non-blocking: no scan of the module for others)
        made = next((c for c in mod.calls if (c.line, c.col) == (recv.line, recv.col)), None)
        q = project.call_target(made) if made is not None else None
    fn = project.functions.get(q or "")
    return (fn, project.function_module[q]) if fn is not None else None


def _local_resolution(call: Call) -> bool:
    """``getaddrinfo(host, port, flags=AI_NUMERICHOST)``, ``gethostbyname("localhost")``,
    ``getaddrinfo(socket.gethostname(), None)``: answered without a network round trip."""
    values = list(call.args) + list(call.kwargs.values())
    if any("NUMERIC" in (v.text or "") or (v.qualname or "").endswith(("NUMERICHOST", "NUMERIC_ONLY"))
           for v in values):
        return True
    host = call.args[0] if call.args else call.kwargs.get("host")
    if host is not None and host.kind == "call" and host.qualname == "socket.gethostname":
        return True  # the machine's own name: /etc/hosts or the local resolver answers it
    if host is not None and host.kind == "literal":
        text = host.text.strip("'\"")
        return host.text in LOCAL_HOSTS or text.replace(".", "").isdigit() or ":" in text
    return False

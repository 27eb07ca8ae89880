"""Channels over sockets. The socket objects are handed in: parameters, loop and comprehension
variables and names bound by ``with``/``:=`` are called ``socket`` although the module
``socket`` is imported too; inside those functions the name is the object, not the module."""
import socket


class Packetizer:
    def __init__(self, socket):
        self._socket = socket
        self._pending = []

    def read_all(self, n):
        out = b""
        while len(out) < n:
            chunk = self._socket.recv(n - len(out))
            if not chunk:
                raise EOFError()
            out += chunk
        return out

    def flush(self, ready):
        while (socket := ready.pop()) is not None:
            socket.sendall(self._pending.pop())


def open_channel(host, port):
    return socket.create_connection((host, port), timeout=10)


def read_banner(sock):
    banner = b""
    while not banner.endswith(b"\r\n"):
        banner += sock.recv(1)
    return banner


def broadcast(peers, payload):
    for socket in peers:
        socket.sendall(payload)


def drain(ready):
    return [socket.recv(65536) for socket in ready]


def reconnect(peers, host, port):
    alive = [socket for socket in peers if socket.fileno() >= 0]
    if not alive:
        return [socket.create_connection((host, port), timeout=10)]
    return alive


def greet(pool, hello):
    with pool.acquire() as socket:
        socket.sendall(hello)
        return socket.recv(1024)


def reopen_all(peers, open_channel=open_channel):
    """The default of ``open_channel`` is the module's function (the local-alias idiom)."""
    return [open_channel(host, port) for host, port in peers]

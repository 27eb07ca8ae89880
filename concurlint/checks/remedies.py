"""What CCL501 tells the user to do instead of a blocking call (``remedy``): the asyncio form of
that call when there is one, else the call moved to a thread -- or trio's or anyio's forms for
code that runs on them (``flavour_of``)."""
from __future__ import annotations

from concurlint.checks.blocking_calls import FILE_PREFIXES, HTTP_PREFIXES, META_IO, PROCESS_PREFIXES
from concurlint.checks.returns_at_once import RESOLVERS


def remedy(target: str, text: str = "", helper: bool = False, flavour: str = "asyncio", slow: bool = False) -> str:
    """The message's advice for a blocking call that resolves to ``target``: the asyncio form of
    that call when there is one, else running it in a thread. ``text`` is how the coroutine's own
    call is written (``shutil.rmtree``, ``self.save``); ``helper``: that call is a synchronous
    project function that reaches the blocking call, and it is what should move to a thread.
    ``flavour``: the library the code's coroutines run on (``trio``, ``anyio``: ``flavour_of``),
    whose own forms the advice names instead. ``slow``: the call is slow by design (password
    hashing), work that releases the GIL and has no async form: it belongs in a thread."""
    if slow:
        runner = f"{flavour}.to_thread.run_sync" if flavour in ("trio", "anyio") else "asyncio.to_thread"
        move = "move the call to a thread: " if helper else ""
        return f"password hashing is slow by design and releases the GIL: {move}{_in_thread(runner, text)}"
    if flavour in ("trio", "anyio"):
        return _structured_remedy(target, text, helper, flavour)
    thread = _in_thread("asyncio.to_thread", text)
    if helper:
        return _move_helper(target, text, thread, "asyncio.sleep")
    if target == "time.sleep":
        return "use `await asyncio.sleep(...)`"
    if target in RESOLVERS:
        name = "getnameinfo" if target in ("socket.getnameinfo", "socket.gethostbyaddr") else "getaddrinfo"
        return f"use `await asyncio.get_running_loop().{name}(...)`"
    if target.startswith(PROCESS_PREFIXES):
        return "use `await asyncio.create_subprocess_exec(...)` and await the process, or " + thread
    if target.startswith(HTTP_PREFIXES):
        return "use an async HTTP client (httpx.AsyncClient, aiohttp), or " + thread
    if target.startswith(("socket.", "ssl.")):
        return "use asyncio streams (`await asyncio.open_connection(...)`) or the loop's `sock_*` methods, or " + thread
    if target.endswith("Future.result"):
        return "await the future instead: `await asyncio.wrap_future(...)`"
    if target == "builtins.input":
        return "read it with `await asyncio.to_thread(input, ...)`"
    if target.startswith(FILE_PREFIXES + ("os.", "pathlib.")) or target in META_IO:
        return f"file IO has no asyncio API: {thread}"
    return f"use the library's async API, or {thread}"


def _in_thread(runner: str, text: str) -> str:
    """``await asyncio.to_thread(shutil.rmtree, ...)``: the call moved to a thread by ``runner``."""
    return f"`await {runner}({text}, ...)`" if text.replace(".", "").replace("_", "").isalnum() \
        else f"`await {runner}(...)`"


def _move_helper(target: str, text: str, thread: str, sleep: str) -> str:
    """The advice for a synchronous project helper that reaches the blocking call."""
    name = f"`{text.rsplit('.', 1)[-1]}`" if text else "the helper"
    if target == "time.sleep":
        return f"move the call to a thread: {thread}, or make {name} a coroutine that awaits `{sleep}(...)`"
    return f"move the call to a thread: {thread}, or give {name} an async version"


def _structured_remedy(target: str, text: str, helper: bool, lib: str) -> str:
    """``remedy`` for coroutines that run on trio or anyio, where asyncio's calls do not work."""
    thread = _in_thread(f"{lib}.to_thread.run_sync", text)
    if helper:
        return _move_helper(target, text, thread, f"{lib}.sleep")
    if target == "time.sleep":
        return f"use `await {lib}.sleep(...)`"
    if target in RESOLVERS:
        name = "getnameinfo" if target in ("socket.getnameinfo", "socket.gethostbyaddr") else "getaddrinfo"
        return f"use `await {'trio.socket' if lib == 'trio' else 'anyio'}.{name}(...)`"
    if target.startswith(PROCESS_PREFIXES):
        return f"use `await {lib}.run_process(...)`, or {thread}"
    if target.startswith(HTTP_PREFIXES):
        return "use an async HTTP client (httpx.AsyncClient), or " + thread
    if target.startswith(("socket.", "ssl.")):
        stream = "trio.open_tcp_stream" if lib == "trio" else "anyio.connect_tcp"
        return f"use {lib}'s streams (`await {stream}(...)`), or {thread}"
    if target.startswith(FILE_PREFIXES + ("os.", "pathlib.")) or target in META_IO:
        return f"use `{lib}.Path`'s or `{lib}.open_file`'s async methods, or {thread}"
    return f"use the library's async API, or {thread}"


def flavour_of(module, project_flavour: str) -> str:
    """The library a module's coroutines run on: ``trio`` or ``anyio`` when the module imports it
    and not asyncio; when it imports none of the three, the project's (``project_flavour``:
    ``gitfive``'s helpers, run from ``trio.run`` in its command); else ``asyncio``."""
    return _one_of(_frameworks(module)) if _frameworks(module) else project_flavour


def project_flavour(ctx) -> str:
    """``trio`` or ``anyio`` when the project's modules import only that one of the three."""
    return _one_of(set().union(*(_frameworks(m) for m in ctx.project.modules)))


def _one_of(frameworks: set) -> str:
    return next(iter(frameworks)) if len(frameworks) == 1 and "asyncio" not in frameworks else "asyncio"


def _frameworks(module) -> set:
    return {q.split(".", 1)[0] for q in module.imports.values()} & {"asyncio", "trio", "anyio"}

"""CCL5xx: hazards of code that runs on an asyncio event loop.

A coroutine (``async def``) runs on the loop's one thread: anything it does without awaiting, it
does while every other task waits. So the rules look at what a coroutine *runs*, through the
project's call graph: a synchronous helper it calls runs on the loop too, at any depth, while a
function only *passed* to ``asyncio.to_thread`` / ``loop.run_in_executor`` (or a lambda given to
them, which is its own pseudo-function in the facts) runs elsewhere. A sync ``def`` nested in an
``async def`` is not a coroutine: the facts keep ``is_async`` per function.

- CCL501: a blocking (synchronous IO) call reached from a coroutine, directly or via helpers.

CCL504 (threading locks and waits in a coroutine) and CCL505 (a loop run from a running one) are
in ``asyncio_waits``, CCL502 (CPU-heavy work on the loop) is in ``asyncio_cpu``, CCL503 (a dropped task) in
``asyncio_tasks``, CCL506 (a lost update across an await) in ``await_races``; the vocabulary they
share (coroutines and their calls) is here, what counts as a blocking call and how long it waits
in ``blocking_calls``, how sure a CCL501 finding is in ``blocking_confidence``, which coroutines
run alone on a loop of their own in ``own_loops``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Call, Function, ModuleFacts
from concurlint.analysis.hints import guard_holds, is_memoised
from concurlint.checks.blocking_calls import (
    OPENERS, READS_WHEN_READY, THREAD_WAITS, _short, blocking_desc, io_subject, is_tree_op, wait_weight,
)
from concurlint.checks.blocking_confidence import DEEP_CHAIN, _cleanup, blocking_confidence
from concurlint.checks.executor_exit import executor_exits
from concurlint.checks.own_loops import TASK_FACTORIES, private_loops, program_sequence
from concurlint.checks.remedies import flavour_of, project_flavour, remedy
from concurlint.checks.returns_at_once import _nonblocking_sockets
from concurlint.checks.sync_reach import Reach, _Walker
from concurlint.registry import Finding, Rule



def _chain_text(chain: Tuple[str, ...]) -> str:
    """``a -> b -> c``; a long chain keeps its ends: ``a -> b -> c -> ... (12 more) -> y -> z``."""
    names = [_short(q) for q in chain]
    if len(names) > 8:
        names = names[:3] + [f"... ({len(names) - 5} more)"] + names[-2:]
    return " -> ".join(names)


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
    return _Walker(project, lambda call, target: blocking_desc(project, call, target, nonblocking), "waits",
                   wait_weight, lambda call, target: io_subject(project, call, target))


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
        if _returns_a_task(project, fn):
            return True
    return False


def _returns_a_task(project, fn: Function) -> bool:
    """A sync function that makes a task or future and returns it on some path (``future =
    asyncio.ensure_future(self._send(...)); if self.run_async: return future; return
    loop.run_until_complete(future)``): a dual API whose async mode a coroutine's caller uses."""
    for call in project.calls_of(fn):
        target = project.call_target(call)
        made = target in TASK_FACTORIES or target in AWAITABLE_MAKERS or (
            target in project.functions and project.functions[target].is_async)
        if not made or call.awaited:
            continue
        if call.use == "return" or (call.assigned_to and call.assigned_to in fn.returned_names):
            return True  # `return asyncio.wait(futures)` when a loop runs, a blocking wait otherwise
    return False


# asyncio functions that return an awaitable without running it (a sync function returning one
# hands the waiting to its async caller)
AWAITABLE_MAKERS = frozenset({"asyncio.wait", "asyncio.sleep", "asyncio.gather", "asyncio.wait_for",
                              "asyncio.shield", "asyncio.wrap_future"})


EXITS = frozenset({"sys.exit", "os._exit", "builtins.exit", "builtins.quit", "os.abort"})


def _exits_after(project, qualname: str, line: int) -> bool:
    """The function ends the process after the blocking call (``send_goodbye(); time.sleep(1);
    sys.exit(255)``): nothing else will run on that loop."""
    fn = project.functions.get(qualname)
    if fn is None:
        return False
    calls = list(project.calls_of(fn))
    if not calls:
        return False
    indent = min(c.col for c in calls)  # the body's own statements (a call nested in an `if` is further right)
    if any(c.line > line and c.line >= fn.end_line - 1 and c.col == indent and c.loop < 0 and not c.in_handler
           and not c.in_try and project.call_target(c) in EXITS for c in calls):
        return True
    # `finally: time.sleep(2); os._exit(result)`: the next statement of the same block ends it
    here = [c for c in calls if c.line == line]
    after = sorted((c for c in calls if c.line > line), key=lambda c: (c.line, c.col))
    return bool(here and after) and after[0].col == here[0].col and after[0].loop == here[0].loop \
        and after[0].in_finally == here[0].in_finally and project.call_target(after[0]) in EXITS


def _tiny_sleep(call: Call, target: Optional[str]) -> bool:
    """``time.sleep(1e-6)`` once, not in a loop: a microsecond, not a stall."""
    if target != "time.sleep" or call.loop >= 0 or not call.args or call.args[0].kind != "literal":
        return False
    try:
        return float(call.args[0].text) < 0.01
    except ValueError:
        return False


class BlockingCallInAsyncFunction(Rule):
    code = "CCL501"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        walker: _Walker = ctx.shared(_blocking_walker)
        nonblocking = ctx.shared(_nonblocking_sockets)
        private = ctx.shared(private_loops)
        sequence = ctx.shared(program_sequence)
        flavour = flavour_of(module, ctx.shared(project_flavour))  # trio's and anyio's forms in the advice
        for fn in _coroutines(module):
            alone = fn.qualname in private  # on a loop of its own in a thread: it blocks only itself
            alone_at = sequence.get(fn.qualname)  # where nothing else is on the loop (yet)
            early = alone_at.covers if alone_at is not None else (lambda line: False)
            wrapped = _wrapped_awaitables(project, module, fn)
            for made, kind in executor_exits(project, module, fn):
                # `with ThreadPoolExecutor() as ex: ex.submit(...)`: the exit waits for the tasks
                conf = "low" if alone else blocking_confidence(project, module, fn, (), 2.5, module.module,
                                                               line=made.line, early=early(made.line))
                yield ctx.report(self.code, module, made, function=fn.qualname, confidence=conf, via="",
                                 what=f"leaving `with {kind}(...)` (its shutdown(wait=True) waits for the tasks "
                                      "submitted in the block)",
                                 instead="await each task in the block (`await loop.run_in_executor(executor, "
                                         "...)`, `await asyncio.wrap_future(future)`), or keep one executor "
                                         "for the whole program")
            for call in _calls(module, fn):
                target = project.call_target(call)
                if target in THREAD_WAITS or _ready(module, fn, call):
                    continue  # CCL504 names the asyncio replacement; or the data is there
                if call.awaited or (call.line, call.col) in wrapped:
                    continue  # `await session.execute(q)`: it returns an awaitable, whatever its annotation says
                if _done_by_await(fn, call):
                    continue  # `await self` then `self.result()`: the object is done, its result is there
                desc = blocking_desc(project, call, target, nonblocking)
                if desc is not None and _ruled_out_by_callers(ctx, fn, call.line):
                    continue
                if desc is not None:
                    moot = alone or _tiny_sleep(call, target) or _exits_after(project, fn.qualname, call.line)
                    subject = io_subject(project, call, target) or ""
                    weight = 1 if _only_opened(module, fn, call, target) else wait_weight(subject)
                    conf = "low" if moot else _cleanup(call, target, blocking_confidence(
                        project, module, fn, (), weight, module.module, in_loop=_per_item(fn, call, target),
                        line=call.line, target=subject, early=early(call.line)))
                    yield ctx.report(self.code, module, call, function=fn.qualname, what=desc, via="",
                                     instead=remedy(target or "", call.text, flavour=flavour,
                                                    slow=project.kb.slow(target or "")), confidence=conf,
                                     root=_file_root(module, fn, call, target),
                                     pattern=(("call", target or desc), ("in", fn.qualname))
                                     + _client_pattern(fn, call.text) + _library_pattern(project, module, subject))
                    continue
                callee = walker.runs(call, target)
                if callee is None:
                    continue
                r = walker.reach(callee.qualname, call)
                if r is None or _skipped_chain(project, r.chain):
                    continue
                end = project.function_module.get(r.chain[-1])
                moot = alone or _exits_after(project, r.chain[-1], r.line) or _exits_after(project, fn.qualname, call.line)
                conf = "low" if moot else _cleanup(call, r.target, blocking_confidence(
                    project, module, fn, r.chain, r.weight, end.module if end is not None else "",
                    in_loop=_per_item(fn, call), line=r.line, target=r.target or "", early=early(call.line)))
                if conf == "high" and is_tree_op(r.target or ""):
                    # a whole tree removed or copied by a helper: on real code, most often a
                    # temporary or freshly made directory of a few files (docs/precision.md)
                    conf = "medium"
                if conf == "high" and len(r.chain) >= DEEP_CHAIN:
                    # three calls down or more, whether the path is taken depends on the values
                    # handed down at each step (a flag left at its default, an argument's type, an
                    # early return), which are not followed: on real code such chains were wrong
                    # more often than right (posthog, telethon, azure-servicebus)
                    conf = "medium"
                via = f" (via {_short(fn.qualname)} -> {_chain_text(r.chain)})"
                yield ctx.report(self.code, module, call, function=fn.qualname, what=r.desc, via=via,
                                 instead=remedy(r.target, call.text, helper=True, flavour=flavour,
                                                slow=project.kb.slow(r.target or "")),
                                 related=_related(r, f"{r.desc} blocks here"), confidence=conf,
                                 root=_twin_root(project, module, fn, r.chain) or (r.path, r.line, r.col),
                                 pattern=(("call", r.target or r.desc), ("in", fn.qualname))
                                 + _client_pattern(fn, r.desc, project.functions.get(r.chain[-1]))
                                 + _handed_client_pattern(project, r) + _library_pattern(project, module, r.target)
                                 + _twin_pattern(project, module, fn, r.chain))


def _twin_pattern(project, module: ModuleFacts, fn: Function, chain) -> tuple:
    """``async def async_download(self, ...): return self.download(...)`` in each source class of a
    package (respf's fifteen PDF sources, each blocking on its own calls): an async twin that runs
    the sync method of its name on the loop is one design cause -- one pattern across the
    package's modules, whatever each sync method calls."""
    first = project.functions.get(chain[0]) if chain else None
    if fn.cls is None or first is None or first.is_async or first.cls is None \
            or fn.name not in (f"async_{first.name}", f"a{first.name}", f"{first.name}_async"):
        return ()
    return (("twin", module.module.split(".", 1)[0], fn.name),)


def _client_pattern(fn: Function, text: str, where: Optional[Function] = None) -> tuple:
    """``self.client.put_item(...)`` in one method and ``self.client.query(...)`` in another: one
    synchronous client kept on the object and called from its coroutines (or from the helper
    methods they call, ``where``) is one cause (give the class an async client), whatever
    method each place calls."""
    head, _, _ = text.rpartition(".")
    if fn.cls is None or (where is not None and where.cls != fn.cls):
        return ()
    if not head.startswith("self.") or "(" in head or head.count(".") != 1:
        return ()
    return (("client", fn.cls, head),)


def _library_pattern(project, module: ModuleFacts, target: Optional[str]) -> tuple:
    """``session.scalar(...)`` in one storage class and ``session.query(...).first()`` in another,
    both SQLAlchemy used from coroutines, in modules of one package (evidently's SQL storage): one
    design cause -- a synchronous client library in async code -- whatever method, class or
    object each place uses. Methods of a third-party library's classes only (a ``socket`` or a
    ``Popen`` is no client library), keyed by the library's top-level package, within the
    module's own package. The pattern spans files (``engine.findings._echoes``)."""
    if not target or target.count(".") < 2 or "." not in module.module:
        return ()  # (top-level modules are programs of their own, not one package)
    owner, _, _method = target.rpartition(".")
    if not owner.rpartition(".")[2][:1].isupper() or owner.startswith("builtins.") \
            or project.kb.stdlib_kind(target) is not None:
        return ()
    return (("library", module.module.rpartition(".")[0], owner.split(".", 1)[0]),)


def _handed_client_pattern(project, r) -> tuple:
    """``crud.get_library(id, db)`` from one route and ``crud.get_plugins(id, db)`` from another,
    each helper calling ``db.query(...)`` on the parameter it is handed: one synchronous client
    (a database session, an HTTP session) handed from coroutines to the helpers of one module is
    one cause (give them an async client, or run the helpers in a thread), whatever helper each
    place calls."""
    last = project.functions.get(r.chain[-1])
    head = r.desc.split(".", 1)[0]
    if last is None or "." not in r.desc or not head.isidentifier() or head in ("self", "cls") \
            or head not in last.params:
        return ()
    mod = project.function_module.get(last.qualname)
    return (("handed", mod.module if mod is not None else "", head),)


def _ruled_out_by_callers(ctx, fn: Function, line: int) -> bool:
    """``if force_move: shutil.move(...)`` in the coroutine, and every call of it in the project
    passes ``force_move=False``: the line never runs."""
    if not any(first <= line <= last and name in fn.params for name, _op, _c, first, last in fn.guards):
        return False
    calls = ctx.project.calls_to(fn.qualname)
    return bool(calls) and not any(guard_holds(fn, line, c) for c in calls)


def _wrapped_awaitables(project, module: ModuleFacts, fn: Function) -> set:
    """Positions of calls handed to an asyncio wrapper that takes awaitables
    (``await asyncio.wait_for(self.process.wait(), timeout)``, ``gather(a(), b())``): what they
    return is awaited, so they do not block, whatever type the receiver seemed to have."""
    out = set()
    for c in _calls(module, fn):
        if project.call_target(c) in AWAITABLE_MAKERS or project.call_target(c) in TASK_FACTORIES:
            out.update((a.line, a.col) for a in list(c.args) + list(c.kwargs.values()) if a.kind == "call")
    return out


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
    if loop is None or loop.mult <= 1:
        return False  # no loop, or one over a handful of items written in the code ([cert, key, ca])
    if target and target.startswith("io.IOBase."):
        return target.rsplit(".", 1)[-1].startswith("read")
    if not loop.desc.startswith(("for loop over", "async for loop over", "list comprehension over",
                                 "set comprehension over", "dict comprehension over", "generator expression over")):
        return False
    over = loop.desc.split(" over ", 1)[1]
    # over what the coroutine is handed (the files of a list it was given), not over a few names
    # it built itself (two connection files, the certificate paths of its configuration)
    return loop.over_input and (not over.startswith("range(") or "len(" in over)


def _only_opened(module: ModuleFacts, fn: Function, call: Call, target: Optional[str]) -> bool:
    """``with open(path):`` and nothing reads or writes the file (an existence check before
    handing the path to a streaming response): an open and a close, file metadata."""
    if target not in OPENERS or call.use != "with":
        return False
    name = call.assigned_to
    if name is None or name not in fn.loaded_names:
        return True
    # `with open(tmp, "wb") as f: ... await asyncio.to_thread(f.write, chunk)`: every use of the
    # file is handed to a thread; on the loop it is only created and closed
    uses = [c for c in (module.calls[i] for i in fn.calls) if c.line > call.line and (
        c.text.split(".", 1)[0] == name or any(a.text.split(".", 1)[0] == name for a in c.args)
        or any(v.text.split(".", 1)[0] == name for v in c.kwargs.values()))]
    return bool(uses) and all(c.text in OFFLOADERS or c.text.endswith(".run_in_executor") for c in uses)


OFFLOADERS = frozenset({"asyncio.to_thread", "to_thread", "anyio.to_thread.run_sync", "run_sync"})


# awaited readiness waits on a socket (anyio, trio): the read or send after them returns at once
_READABLE = READS_WHEN_READY | {"recvfrom", "recv_into", "recvfrom_into", "accept"}
_WRITABLE = frozenset({"send", "sendto", "write"})
READINESS = {"wait_readable": _READABLE, "wait_socket_readable": _READABLE,
             "wait_writable": _WRITABLE, "wait_socket_writable": _WRITABLE}


def _done_by_await(fn: Function, call: Call) -> bool:
    """``await self`` (or ``await fut``) earlier in the coroutine, then ``self.result()``: what was
    awaited has finished, so its result() or exception() returns at once, whatever the class does
    to wait when it has not (unsync's ``then``: ``await self; continuation(self.result())``)."""
    if call.method not in ("result", "exception") or "." not in call.text:
        return False
    receiver = call.text.rsplit(".", 1)[0]
    return any(text == receiver and line <= call.line for text, line in fn.awaited_names)


def _ready(module: ModuleFacts, fn: Function, call: Call) -> bool:
    """``while not pipe.poll(): await asyncio.sleep(...)`` then ``pipe.recv()``: the loop waited
    (yielding) until the data was there, so the read returns at once; so does ``q.get()`` in the
    body of ``while not q.empty():`` or ``if pipe.poll():``, and ``sock.sendto(...)`` right after
    ``await anyio.wait_writable(sock)``."""
    if "." not in call.text or (call.method not in _READABLE and call.method not in _WRITABLE):
        return False  # asked for every call of every coroutine: most are no socket read or send
    receiver = call.text.rsplit(".", 1)[0]
    if any(c.awaited and c.args and c.args[0].text == receiver and 0 <= call.line - c.line <= 3
           and call.method in READINESS.get(c.text.rsplit(".", 1)[-1], ())
           for c in (module.calls[i] for i in fn.calls)):
        return True
    if call.method not in READS_WHEN_READY:
        return False
    if any(text == receiver and first <= call.line <= last for text, first, last in fn.has_data):
        return True  # while not q.empty(): q.get() -- the test just saw an item there
    return any(text == receiver and end < call.line for text, end in getattr(fn, "ready", ()))


# a path handed to each handler names a different file each time: not one client's cause
LOCAL_FILE_PREFIXES = ("pathlib.", "os.", "io.", "builtins.", "shutil.", "tempfile.")


def _file_root(module: ModuleFacts, fn: Function, call: Call, target: Optional[str]) -> tuple:
    """Where a blocking call's cause is: the ``open()`` that made the file for the reads, writes
    and seeks on it in the same function (one file, one finding), the constructor call that made
    the client it calls (``with smtplib.SMTP(host) as c: c.noop()``: one client, one finding),
    else the call itself."""
    head = call.text.split(".", 1)[0]
    if head not in fn.params:  # `query = session.query(...)` ... `query.first()`: the session's
        made = [module.calls[i] for i in fn.calls if module.calls[i].assigned_to == head]
        if len(made) == 1 and "." in made[0].text:
            head = made[0].text.split(".", 1)[0]
    if target and "." in call.text and head in fn.params and head not in ("self", "cls") and fn.is_async \
            and not target.startswith(LOCAL_FILE_PREFIXES):
        # `session.commit()`, `session.query(...).first()` on a client every handler is handed (a
        # dependency-injected sync DB session): one cause, the app's handlers share it, in every
        # module of its package -- one finding, the other places related
        return (module.module.split(".", 1)[0], "parameter", head, target.split(".", 1)[0])  # one library's client
    recv = call.receiver
    if (target and recv is not None and recv.kind == "instance" and recv.line
            and fn.line <= recv.line <= call.line and (recv.line, recv.col) != (call.line, call.col)):
        if recv.text.isidentifier():  # f = open(...) ... with f: -- the open() made it
            opened = _opened_as(module, fn, recv.text, recv.line)
            if opened is not None:
                return opened
        for i in fn.calls:  # csv.DictWriter(f) ... writer.writerows(rows): the file f is the cause
            c = module.calls[i]
            if (c.line, c.col) == (recv.line, recv.col) and c.args and c.args[0].text.isidentifier():
                opened = _opened_as(module, fn, c.args[0].text, c.line)
                if opened is not None:
                    return opened
        return (module.path, recv.line, recv.col)
    if target and call.text.startswith("self.") and "." in call.text[5:]:
        # `self._process.join(5)` ... `self._process.join(1)`: one object waited on, one finding
        for i in fn.calls:
            c = module.calls[i]
            if c.text == call.text and c.target == target:
                return (module.path, c.line, c.col)
    return (module.path, call.line, call.col)


def _opened_as(module: ModuleFacts, fn: Function, name: str, line: int) -> Optional[tuple]:
    """Where ``name`` was opened as a file in ``fn`` before ``line`` (``f = open(...)``, ``with
    open(...) as f``), as a root position."""
    for i in fn.calls:
        c = module.calls[i]
        if c.assigned_to == name and c.line <= line and c.target in OPENERS:
            return (module.path, c.line, c.col)
    return None


@dataclass
class _Pos:
    line: int
    col: int


# ---------------------------------------------------------------- CCL504

"""Shapes of ``while`` loops and their tests, for the loop collector (``analysis.loops``).

What a ``while`` test says about a receiver (``while not q.empty():`` -- it has data inside;
``while not pipe.poll():`` -- it has data after), whether the loop has a way out (a flag in its
test, a ``break``/``return``, a turn counter that gives up), and whether its arithmetic only steps
a cursor or halves a range (a search, not work on data).
"""
from __future__ import annotations

import ast
from typing import List, Optional, Tuple

from concurlint.analysis.hints import named_for_logging


POLLS = frozenset({"poll", "readable", "done"})  # `while not x.poll():` waits until x has data (a future: is done)
EMPTIES = frozenset({"empty"})  # `while x.empty():` likewise


def has_data(test: ast.AST) -> Optional[ast.AST]:
    """The receiver a ``while``/``if`` test proves has data inside the body (``while not
    q.empty():``, ``if pipe.poll():``, ``while q.qsize():``), else None."""
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    call = test.operand if negated else test
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    if (negated and call.func.attr in EMPTIES) or (not negated and call.func.attr in POLLS | {"qsize"}):
        return call.func.value
    return None


def _polled(test: ast.AST) -> Optional[ast.AST]:
    """The receiver a ``while`` test waits on until it has data, else None."""
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    call = test.operand if negated else test
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    if (negated and call.func.attr in POLLS) or (not negated and call.func.attr in EMPTIES):
        return call.func.value
    return None


def _cursor_step(node: ast.AST) -> bool:
    """``i = i + 1``, ``k = k + 3``, ``n -= 1``: a statement moving a cursor or a counter by a
    constant, bookkeeping rather than arithmetic on the data."""
    if isinstance(node, ast.AugAssign):
        return (isinstance(node.target, ast.Name) and isinstance(node.op, (ast.Add, ast.Sub))
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int))
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        v = node.value
        return (isinstance(v, ast.BinOp) and isinstance(v.op, (ast.Add, ast.Sub))
                and isinstance(v.left, ast.Name) and v.left.id == node.targets[0].id
                and isinstance(v.right, ast.Constant) and isinstance(v.right.value, int))
    return False


def _size_step(node: ast.AST) -> bool:
    """``offset += len(buf)``, ``pos -= len(chunk)``, ``size += encode(pieces, key)``: a cursor or
    a total moved by what one call returns (a size, a count): the call's own work is counted
    through the call graph, the sum is bookkeeping."""
    v = getattr(node, "value", None)
    return (isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub))
            and isinstance(v, ast.Call))


def _counts_and_exits(node: ast.While) -> bool:
    """``while not ready: sleep(0.1); misses += 1; if misses > LIMIT: raise ...``: a wait with a
    turn counter and a way out (raise, break or return) ends by itself."""
    counts = exits = False
    stack = list(node.body)
    while stack:
        sub = stack.pop()
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.While, ast.For)):
            continue
        if isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name) and isinstance(sub.op, (ast.Add, ast.Sub)):
            counts = True
        if isinstance(sub, (ast.Raise, ast.Break, ast.Return)):
            exits = True
        stack.extend(ast.iter_child_nodes(sub))
    return counts and exits


def _can_end(node: ast.While) -> bool:
    """The loop has a way out other than an exception: a test that is not a constant
    (``while self.running``, ``while not stop.is_set()``), or a ``break``/``return`` of its own
    (``item = q.get(); if item is STOP: return``)."""
    if not (isinstance(node.test, ast.Constant) and node.test.value):
        return True
    stack = list(node.body)
    while stack:
        sub = stack.pop()
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(sub, ast.Return):
            return True
        if isinstance(sub, ast.Break):
            return True
        if isinstance(sub, (ast.While, ast.For, ast.AsyncFor)):
            stack.extend(sub.orelse)  # a break in a nested loop ends that loop, not this one
            stack.extend(n for b in sub.body for n in ast.walk(b) if isinstance(n, ast.Return))
            continue
        stack.extend(ast.iter_child_nodes(sub))
    return False


def _constant_operand(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id.isupper())


_PLAIN = (ast.Name, ast.Attribute, ast.Constant, ast.Subscript)


def _plain(node: ast.AST) -> bool:
    """A name, an attribute, a constant, an item or ``len(x)``: a size or a position."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "len"
    if isinstance(node, ast.BinOp):  # i + 3 + len_: a sum of positions and sizes
        return isinstance(node.op, (ast.Add, ast.Sub)) and _plain(node.left) and _plain(node.right)
    return isinstance(node, _PLAIN)


def _halves(node: ast.While) -> bool:
    """``x //= 128``, ``x >>= 7``, ``mid = (lo + hi) // 2``: a while loop dividing a value down by
    a constant each turn (a varint encoder, a bisection, digits of a number) runs a logarithmic
    number of turns: a few, whatever the input."""
    for sub in ast.walk(node):
        if isinstance(sub, (ast.BinOp, ast.AugAssign)) and isinstance(sub.op, (ast.FloorDiv, ast.RShift)):
            right = sub.right if isinstance(sub, ast.BinOp) else sub.value
            if isinstance(right, ast.Constant) and isinstance(right.value, int) and right.value >= 2:
                return True
    return False


def _steps_through(node: ast.While) -> bool:
    """``while pos < len(data): ...; pos += size`` with no other arithmetic than adding and
    subtracting positions and sizes (``data[pos:pos + n]``, ``remaining = n - fetched``): a
    cursor stepping through a buffer by records or chunks, bookkeeping per chunk."""
    found = False
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return False
        if _formatting(sub):
            continue  # the text of an error or a label
        if isinstance(sub, ast.BinOp):
            if not (isinstance(sub.op, (ast.Add, ast.Sub)) and _plain(sub.left) and _plain(sub.right)):
                return False
            found = True
        elif isinstance(sub, ast.AugAssign):
            if not (isinstance(sub.op, (ast.Add, ast.Sub)) and _plain(sub.value)):
                return False
            found = True
    return found


# text building, which is not arithmetic (shared with the loop collector)
def _text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)))


def _formatting(node: ast.AST) -> bool:
    """``"%s@%s" % (key, ts)``, ``"   " + line``, ``out += "\n"``: building text (a message, a
    label, a line of a report), not arithmetic."""
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod):
            return _text(node.left)
        return isinstance(node.op, ast.Add) and any(_text(part) for part in _add_chain(node))
    return (isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add)
            and any(_text(p) for p in _add_chain(node.value)))


def _add_chain(node: ast.AST) -> List[ast.AST]:
    """The operands of ``a + b" " + c + b": " + d``, left to right."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _add_chain(node.left) + _add_chain(node.right)
    return [node]


# calls a spinning test may make: each reads state and returns at once
_STATE_READS = frozenset({"done", "is_set", "isSet", "is_alive", "isAlive", "empty", "full", "qsize", "running",
                          "locked", "len", "cancelled"})
# calls that wait (or may): a loop that makes one does not spin
_WAITING = frozenset({"sleep", "wait", "wait_for", "select", "poll", "recv", "recvfrom", "recv_into", "read",
                      "readline", "readlines", "join", "acquire", "accept", "get", "communicate", "input",
                      "result", "exception", "getch", "process_events", "processEvents", "update", "mainloop",
                      "pump", "iterate", "tick"})


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else (f.id if isinstance(f, ast.Name) else "")


def _nonblocking_get(node: ast.AST) -> bool:
    """``q.get_nowait()``, ``q.get(block=False)``, ``q.get(False)``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr == "get_nowait":
        return True
    if node.func.attr != "get":
        return False
    flags = [k.value for k in node.keywords if k.arg == "block"] + node.args[:1]
    return any(isinstance(v, ast.Constant) and v.value is False for v in flags)


def _reads_state(test: ast.AST) -> bool:
    """A ``while`` test that only reads state: names, attributes, comparisons, ``not``, and calls
    that answer at once (``done()``, ``is_alive()``, ``empty()``, ``len()``) -- not a time
    (``while time.monotonic() < deadline: pass`` is a deliberate short spin) nor anything else."""
    if isinstance(test, ast.Constant):
        return False
    for n in ast.walk(test):
        if isinstance(n, ast.Call) and _call_name(n) not in _STATE_READS and not _instant_poll(n):
            return False
        if isinstance(n, (ast.Await, ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Subscript)):
            return False
        if isinstance(n, (ast.Name, ast.Attribute)) and any(
                w in (n.id if isinstance(n, ast.Name) else n.attr).lower() for w in ("time", "deadline", "elapsed")):
            return False
    return True


def _instant_poll(call: ast.Call) -> bool:
    """``parent_conn.poll()``, ``proc.poll()``: a pipe's or a child process's poll with no timeout
    answers at once (optimum-benchmark's launcher: ``while proc.is_alive() and not conn.poll():
    pass``, a rev134d recall miss); a selector's ``poll()`` blocks, so only a receiver named for a
    connection, a pipe or a process counts."""
    f = call.func
    if not (isinstance(f, ast.Attribute) and f.attr == "poll") or call.args or call.keywords:
        return False
    name = ast.unparse(f.value).lower()
    return any(w in name for w in ("conn", "pipe", "proc"))


def _empty_body(body) -> bool:
    return all(isinstance(s, (ast.Pass, ast.Continue))
               or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body)


def _waits(nodes, skip: Optional[ast.AST] = None) -> bool:
    for top in nodes:
        for n in ast.walk(top):
            if n is skip:
                continue
            if isinstance(n, ast.Call) and (_call_name(n) in _WAITING or _given_timeout(n)) \
                    and not _nonblocking_get(n) and not _zero_sleep(n):
                return True
            if isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom)):
                return True
    return False


def _given_timeout(call: ast.Call) -> bool:
    """A call handed a timeout (``timeout=...``, or a name like ``timeout_ms``) waits up to it,
    whatever it is: ``tutk.av_recv_io_ctrl(lib, chan, timeout_ms)`` into a camera's C library
    (wyzecam's reader thread, which checks its stop queue with get_nowait() on the way: a rev141d
    fp)."""
    return any("timeout" in (k.arg or "").lower() for k in call.keywords) or any(
        isinstance(a, (ast.Name, ast.Attribute)) and "timeout" in (a.id if isinstance(a, ast.Name) else a.attr).lower()
        for a in call.args)


def _zero_sleep(call: ast.Call) -> bool:
    """``time.sleep(0)``: gives up the GIL for a moment and returns at once; it waits for nothing
    (filehasher's progress monitor: "yield control to avoid busy waiting", a rev140d recall miss)."""
    return _call_name(call) == "sleep" and len(call.args) == 1 and not call.keywords \
        and isinstance(call.args[0], ast.Constant) and call.args[0].value == 0


def spin(node: ast.While) -> Optional[Tuple[str, ast.AST]]:
    """How a ``while`` loop spins, and on what: ("test", its test) for an empty body over a test
    that only reads state; ("get", the get call) for a non-blocking get whose ``Empty`` handler
    only goes round again, in a loop that makes no waiting call and whose test is no emptiness
    check (``while not q.empty(): q.get_nowait()`` drains a queue and ends); ("poll", the check)
    for a loop that waits only under a check that data has come (``_polling``); else None."""
    if _empty_body(node.body):
        return ("test", node.test) if _reads_state(node.test) else None
    test = ast.unparse(node.test)
    if "empty(" in test or "qsize(" in test:
        return None
    # the try sits in the loop's body, or in a `for` over several queues there (`for q in queues:
    # try: q.get_nowait() except Empty: pass`, filehasher's progress monitor)
    places = [(node.body, i, t, None) for i, t in enumerate(node.body)]
    places += [(f.body, i, t, f) for f in node.body if isinstance(f, ast.For) for i, t in enumerate(f.body)]
    for body, i, t, inner in places:
        if not isinstance(t, ast.Try):
            continue
        at = next((j for j, s in enumerate(t.body) if any(_nonblocking_get(n) for n in ast.walk(s))), None)
        if at is None:
            continue
        get = next(n for n in ast.walk(t.body[at]) if _nonblocking_get(n))
        quiet = [h for h in t.handlers if h.type is not None and "Empty" in ast.unparse(h.type) and _empty_body(h.body)]
        if not quiet:
            continue
        # what runs on the way round when the queue is empty: the test, the statements before the
        # try and before the get, and -- when the handler falls through (`pass`) -- those after
        # the try; what follows the get runs only when there was an item. In a `for`, the rest of
        # the loop's body runs after it whatever the handler does
        again = any(isinstance(s, ast.Continue) for h in quiet for s in h.body)
        path = [node.test] + body[:i] + t.body[:at] + ([] if again else body[i + 1:])
        if inner is not None:
            path += [inner.iter] + [s for s in node.body if s is not inner]
        if not _waits(path + [t.body[at]], skip=get):
            return ("get", get)
    return _polling(node)


def _polling(node: ast.While) -> Optional[Tuple[str, ast.AST]]:
    """("poll", the check) for a loop whose only waits sit in a body run when a receiver has data
    -- ``while True: ... while not results.empty(): r = results.get()`` (cobrafuzz's campaign
    loop, rev129b's recall miss), ``if conn.poll(): msg = conn.recv()`` -- and whose other
    statements only test, count, log and break: when nothing has come, it goes round again at
    once. Any other call on the way round (a project function's, a method's) may wait: no spin.
    Several such checks in one loop (``if not data_q.empty(): ...`` then ``if not feedback_q.empty():
    ...``: prompttools' logger worker, a rev138a recall miss) each go unrun when nothing has come."""
    checked = [s for s in node.body if isinstance(s, (ast.While, ast.If)) and has_data(s.test) is not None
               and not _timed_poll(s.test)]
    if not checked or any(isinstance(n, (ast.Break, ast.Return, ast.Raise))
                          for c in checked for o in c.orelse for n in ast.walk(o)):
        # `if future.done(): values.popleft() else: break`: when nothing has come the loop ends
        # (sentry-arroyo's DLQ buffer, a corpus fp)
        return None
    path = [node.test] + [s for s in node.body if s not in checked] + [o for s in checked for o in s.orelse]
    if not _waits(path) and not _resets_test(node, path) \
            and all(_light(n) for top in path for n in ast.walk(top) if isinstance(n, ast.Call)):
        return ("poll", checked[0].test)
    return None


def _resets_test(node: ast.While, path) -> bool:
    """The way round assigns a name the loop's test reads (``while again: again = False; if not
    q.empty(): ... again = True``): the loop goes round again only when the checked body says so."""
    names = {ast.unparse(n) for n in ast.walk(node.test) if isinstance(n, (ast.Name, ast.Attribute))}
    return any(isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))
               and any(ast.unparse(t) in names for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))
               for top in path[1:] for n in ast.walk(top))


def _timed_poll(test: ast.AST) -> bool:
    """``pipe.poll(0.5)``: waits up to its timeout (``poll()`` and ``poll(0)`` answer at once)."""
    call = test.operand if isinstance(test, ast.UnaryOp) else test
    args = list(getattr(call, "args", [])) + [k.value for k in getattr(call, "keywords", []) if k.arg == "timeout"]
    return bool(args) and not (isinstance(args[0], ast.Constant) and not args[0].value)


# calls that neither wait nor do work on the way round a polling loop: clocks, sizes, logging
_LIGHT = frozenset({"time", "monotonic", "perf_counter", "len", "isinstance", "empty", "qsize", "poll", "is_set",
                    "is_alive", "done", "print"})


def _light(call: ast.Call) -> bool:
    name = _call_name(call)
    return name in _LIGHT or named_for_logging(name)

"""Locks a ``with`` statement never really holds.

CCL205: ``with lock_a and lock_b:`` -- a lock joined to another context manager by ``and``.

``and`` hands back its last operand when the ones before it are true, and a lock object is always
true: ``with self._stats_lock and self._io_lock:`` enters ``self._io_lock`` only, and
``with self.lock and socket.socket(...) as conn:`` enters only the socket. The lock before the
``and`` is tested for truth and never acquired, so the code it was written to guard runs
unguarded, with nothing to show for it. Written ``with a, b:`` both are entered, in order. ``or``
is left alone: ``with lock or nullcontext():`` is the idiom for an optional lock. Facts:
``ModuleFacts.anded_locks`` (``analysis.state``).

CCL206: ``with threading.Lock():`` -- a lock made by the ``with`` itself, on every pass: no other
thread can hold it, so it excludes nothing (searx's ``with threading.RLock():`` around its result
merging, grow's extension imports). Made and shared (``with Lock() as lock:`` whose name the block
uses, handing it to a pool's initializer) it is not reported. Facts: ``ModuleFacts.fresh_locks``.
"""
from __future__ import annotations

from typing import Iterator

from concurlint.analysis.facts import ModuleFacts
from concurlint.registry import Finding, Rule


class _Pos:
    def __init__(self, line: int, col: int, text: str):
        self.line, self.col, self.text = line, col, text


class LockDroppedByAnd(Rule):
    code = "CCL205"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        for line, col, keyword, lock, entered, function in module.anded_locks:
            yield ctx.report(self.code, module, _Pos(line, col, f"{lock} and {entered}"), function=function,
                             keyword=keyword, lock=lock, entered=entered)


class LockMadeInWith(Rule):
    code = "CCL206"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        for line, col, keyword, made, function in module.fresh_locks:
            yield ctx.report(self.code, module, _Pos(line, col, made), function=function, keyword=keyword, made=made)

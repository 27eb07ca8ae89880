"""CCL608 timeout-in-block-slot: hand the number to ``timeout=``.

``q.get(0.5)`` -> ``q.get(timeout=0.5)``, ``q.put(batch, 5)`` -> ``q.put(batch, timeout=5)``,
``lock.acquire(2.0)`` -> ``lock.acquire(timeout=2.0)``: the flag keeps its default (block), and the
call now gives up after the time its author wrote. The layout and comments are kept.

Unsafe: the call that waited for ever now times out -- a queue raises ``queue.Empty`` (``Full``),
``acquire`` returns ``False`` -- and the code after it must handle that (a ``try``/``except
queue.Empty`` or an ``if not lock.acquire(...)``, as the author meant); a bare ``lock.acquire(2.0)``
whose result is not looked at would go on without the lock.
"""
from __future__ import annotations

import libcst as cst

from concurlint.fixes.base import UNSAFE, FixSource, Outcome, Proposal, Unfixable


def propose(source: FixSource, finding) -> Outcome:
    calls = [c for c in source.nodes_at(finding.line, finding.col, (cst.Call,)) if _positional(c)]
    if not calls:
        return Unfixable("the call is not found at the reported place")
    target = calls[-1]
    module = source.module.visit(_ToTimeout(target))
    return Proposal(module, UNSAFE, "hand the number to timeout= (the call then gives up after it)")


def _positional(call: cst.Call) -> list:
    return [a for a in call.args if a.keyword is None and not a.star]


class _ToTimeout(cst.CSTTransformer):
    def __init__(self, target: cst.Call):
        super().__init__()
        self.target = target

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if original_node is not self.target:
            return updated_node
        last = _positional(updated_node)[-1]
        args = [a.with_changes(keyword=cst.Name("timeout"),
                               equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                     whitespace_after=cst.SimpleWhitespace("")))
                if a is last else a for a in updated_node.args]
        return updated_node.with_changes(args=args)

"""CCL205 lock-dropped-by-and: enter every operand, ``with a and b:`` -> ``with a, b:``.

``with self.lock and socket.socket(...) as conn:`` becomes ``with self.lock, socket.socket(...) as
conn:``: each operand of the ``and`` becomes an item of its own, in the same order (so the lock is
taken first, as the author wrote it), and the ``as`` target stays on the last one. The layout
and comments are kept.

Unsafe: the block now holds a lock it never held before, so code that already holds that lock
when it gets here (a plain ``threading.Lock`` is not re-entrant), or that takes the two locks in
the other order elsewhere, can now deadlock; read the callers before applying it.
"""
from __future__ import annotations

from typing import List

import libcst as cst

from concurlint.fixes.base import UNSAFE, FixSource, Outcome, Proposal, Unfixable


def propose(source: FixSource, finding) -> Outcome:
    items = [n for n in source.nodes_at(finding.line, finding.col, (cst.WithItem,)) if _anded(n.item)]
    if not items:
        return Unfixable("the `with ... and ...` item is not found at the reported place")
    target = items[-1]
    operands = _operands(target.item)
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    split = [cst.WithItem(item=o, comma=comma) for o in operands[:-1]]
    split.append(target.with_changes(item=operands[-1]))
    with_node = next((a for a in source.ancestors(target) if isinstance(a, cst.With)), None)
    if with_node is None:
        return Unfixable("the `with` statement around the item is not found")
    items_new: List[cst.WithItem] = []
    for item in with_node.items:
        items_new.extend(split if item is target else [item])
    module = source.replace(with_node, with_node.with_changes(items=items_new))
    return Proposal(module, UNSAFE, "enter each operand of the `and` (the lock is then really taken)")


def _anded(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.And)


def _operands(node: cst.BaseExpression) -> List[cst.BaseExpression]:
    """``a and b and c`` (left-nested) -> [a, b, c]; parentheses around an operand are kept."""
    if _anded(node) and not node.lpar:
        return _operands(node.left) + _operands(node.right)
    return [node]

"""Recursive graph walks without Python recursion.

A walk over the call graph or the class hierarchy follows the analysed code, so its depth is the
input's business: a generated chain of thousands of functions must give findings, not a
``RecursionError`` that loses the whole run. Walks that are clearest written recursively are
written as generators instead: where the recursive version would call itself, the generator
*yields* the generator of the sub-walk and receives its result back; ``drive`` runs the frames
on an explicit stack (a list on the heap), so the order of the search, its memoisation and its
answer are exactly those of the recursive form.
"""
from __future__ import annotations

from typing import Any, Generator, List

Walk = Generator[Any, Any, Any]


def drive(walk: Walk) -> Any:
    """The return value of ``walk``, running every sub-walk it yields on an explicit stack."""
    stack: List[Walk] = [walk]
    value: Any = None
    while stack:
        try:
            sub = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            value = done.value
            continue
        stack.append(sub)
        value = None
    return value

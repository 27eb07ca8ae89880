"""Recursive graph walks without Python recursion.

A walk over the call graph or the class hierarchy follows the analysed code, so its depth is the
input's business: a generated chain of thousands of functions must give findings, not a
``RecursionError`` that loses the whole run. Walks that are clearest written recursively are
written as generators instead: where the recursive version would call itself, the generator
*yields* the generator of the sub-walk and receives its result back; ``drive`` runs the frames
on an explicit stack (a list on the heap), so the order of the search, its memoisation and its
answer are exactly those of the recursive form. ``strongly_connected`` (the call graph's cycles,
for classification) keeps its own explicit stack.
"""
from __future__ import annotations

from typing import Any, Dict, Generator, List

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


def strongly_connected(graph: Dict[str, List[str]]) -> List[List[str]]:
    """The strongly connected components of ``graph`` (node -> successors): Tarjan's algorithm on
    an explicit stack, like every walk here; components come out successors-first (callees first
    for a call graph)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    on_stack: set = set()
    stack: List[str] = []
    out: List[List[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = graph.get(node, [])
            recurse = False
            while i < len(succ):
                nxt = succ[i]
                i += 1
                if nxt not in index:
                    work.append((node, i))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out

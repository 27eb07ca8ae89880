"""CCL508 asyncio-loop-argument-removed: drop ``loop=`` from the calls of the finding.

``await asyncio.sleep(0.5, loop=self.loop)`` -> ``await asyncio.sleep(0.5)``, at the reported call
and at every related one (the module's other calls the finding names). The layout is kept: a
trailing comma stays where it was.

Safe when the target Python is 3.10 or later (the argument cannot be accepted there; the running
loop is what these APIs use). Unsafe otherwise: on 3.8/3.9 a queue or lock made outside a
coroutine with ``loop=`` bound to that loop, and without it binds to ``get_event_loop()``'s, which
a program that runs its own loop may not use.
"""
from __future__ import annotations

from typing import List, Set

import libcst as cst

from concurlint.fixes.base import SAFE, UNSAFE, FixSource, Outcome, Proposal, Unfixable


def propose(source: FixSource, finding) -> Outcome:
    places = [(finding.line, finding.col)] + [(r["line"], r["col"]) for r in finding.related
                                              if r.get("path", finding.path) == finding.path]
    targets: Set[int] = set()
    for line, col in places:
        calls = [c for c in source.nodes_at(line, col, (cst.Call,)) if _loop_arg(c) is not None]
        if calls:
            targets.add(id(calls[-1]))
    if not targets:
        return Unfixable("the loop= argument is not found at the reported call")
    module = source.module.visit(_DropLoop(targets))
    n = len(targets)
    message = "drop loop= from the call" if n == 1 else f"drop loop= from the {n} calls"
    safe = source.target is not None and source.target >= (3, 10)
    return Proposal(module, SAFE if safe else UNSAFE, message)


def _loop_arg(call: cst.Call):
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "loop":
            return a
    return None


def without_loop(args: List[cst.Arg]) -> List[cst.Arg]:
    """``args`` without the ``loop=`` one; when it was the last, the one before takes its comma
    (a trailing comma stays, none is left dangling)."""
    out = list(args)
    for i, a in enumerate(out):
        if a.keyword is not None and a.keyword.value == "loop":
            del out[i]
            if i == len(out) and out:
                out[-1] = out[-1].with_changes(comma=a.comma)
            break
    return out


class _DropLoop(cst.CSTTransformer):
    def __init__(self, targets: Set[int]):
        super().__init__()
        self.targets = targets

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if id(original_node) not in self.targets:
            return updated_node
        return updated_node.with_changes(args=without_loop(list(updated_node.args)))

"""CCL509 get-event-loop-with-no-loop-set: make the loop and set it (unsafe).

``loop = asyncio.get_event_loop()`` -> ``loop = asyncio.new_event_loop()`` followed by
``asyncio.set_event_loop(loop)``: the code then runs the loop it made, on every Python, and later
``get_event_loop()`` calls in the thread return it as before.

Unsafe because it always makes a new loop: where the old call returned a loop someone had set
(a framework, a caller in another package), that loop is now replaced, and a function called many
times makes (and leaves) a loop each time. Not made for a loop that is not assigned to a name
(``asyncio.get_event_loop().run_forever()``), nor where the statement is not on a line of its own.
"""
from __future__ import annotations

import libcst as cst

from concurlint.fixes.base import UNSAFE, FixSource, Outcome, Proposal, Unfixable


def propose(source: FixSource, finding) -> Outcome:
    calls = [c for c in source.nodes_at(finding.line, finding.col, (cst.Call,))
             if isinstance(c.func, cst.Attribute) and c.func.attr.value == "get_event_loop"
             and "asyncio.get_event_loop" in source.qualified_names(c.func)]
    if not calls:
        return Unfixable("only `asyncio.get_event_loop()` written through the asyncio module is fixed")
    call = calls[-1]
    assign = source.parents.get(call)
    line = source.parents.get(assign) if assign is not None else None
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1
            and isinstance(assign.targets[0].target, cst.Name)
            and isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1):
        return Unfixable("the loop is not assigned to a name by a statement of its own")
    name = assign.targets[0].target.value
    module_ref = call.func.value
    new_call = call.with_changes(func=call.func.with_changes(attr=cst.Name("new_event_loop")))
    first = line.with_changes(body=[assign.with_changes(value=new_call)])
    set_it = cst.SimpleStatementLine(body=[cst.Expr(cst.Call(
        func=cst.Attribute(module_ref, cst.Name("set_event_loop")), args=[cst.Arg(cst.Name(name))]))])
    module = source.replace(line, cst.FlattenSentinel([first, set_it]))
    return Proposal(module, UNSAFE, "make the loop with new_event_loop() and set it for the thread")

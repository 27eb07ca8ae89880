"""CCL602 future-result-never-checked: collect the futures and check their results (unsafe).

- Submitted in a ``for`` loop (``pool.submit(f, x)`` as a statement of the loop's body, at any
  depth of ``for`` loops)::

      futures = []
      for x in xs:
          futures.append(pool.submit(f, x))
      for future in futures:
          future.result()

  Every dropped ``submit`` of the same loop goes into the one list; ``apply_async`` /
  ``map_async`` / ``starmap_async`` collect their ``AsyncResult`` objects the same way and call
  ``.get()``.
- Submitted once (a statement of its own, or stored in a name never used again): the next line
  waits for it, ``future = pool.submit(f, x)`` then ``future.result()``.
- ``pool.map(f, xs)`` (or ``imap``/``imap_unordered``) never iterated: ``for _ in pool.map(f, xs):
  pass``, which waits for every task and raises the first exception.

Unsafe: the results are checked where the loop (or the statement) ends, so what follows waits for
those tasks instead of running alongside them, and a task's exception is now raised there and
stops the function. Not fixed: in a coroutine (waiting there would block the event loop: use
``await asyncio.wrap_future(...)`` or ``loop.run_in_executor``), in a ``while`` loop (it may never
end, and the list would grow without bound), in a loop that ``return``s from the function (the
check after the loop would be skipped), or where the call is part of a larger expression.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import libcst as cst

from concurlint.fixes.base import UNSAFE, FixSource, Outcome, Proposal, Unfixable, fresh_name, nested_scope, walk

# the pool method -> (how a result is checked, the collection's name, one item's name)
FUTURES = {"submit": ("result", "futures", "future")}
ASYNC_RESULTS = {m: ("get", "results", "result") for m in ("apply_async", "map_async", "starmap_async")}
ITERATORS = {"map", "imap", "imap_unordered"}
_LOOPS = (cst.For, cst.While)


def propose(source: FixSource, finding) -> Outcome:
    call = _the_call(source, finding)
    if call is None:
        return None
    if not isinstance(call.func, cst.Attribute):
        return Unfixable("the pool method is called through another name; check the result by hand")
    method = call.func.attr.value
    kind = FUTURES.get(method) or ASYNC_RESULTS.get(method)
    if kind is None and method not in ITERATORS:
        return None
    stmt, small = _statement(source, call)
    if stmt is None:
        if isinstance(source.parents.get(call), (cst.Expr, cst.Assign)):
            return Unfixable("the call shares its line with other statements; check its result by hand")
        return Unfixable("the call is part of a larger expression; check its result by hand")
    fn = source.enclosing_function(call)
    if isinstance(fn, cst.Lambda):
        return Unfixable("the call is inside a lambda")
    if isinstance(fn, cst.FunctionDef) and fn.asynchronous is not None:
        return Unfixable("waiting for the result in a coroutine would block the event loop; "
                         "await asyncio.wrap_future(...) (or loop.run_in_executor) instead")
    # names the new ones must not shadow: the function's own and the module's
    taken = {n.value for n in walk(fn) if isinstance(n, cst.Name)} | source.module_names() if fn is not None \
        else source.all_names()
    if method in ITERATORS:
        if not isinstance(small, cst.Expr):
            return None
        outcome = _iterate(source, stmt, call, taken)
    else:
        check, plural, single = kind
        loop = _outer_loop(source, stmt, fn)
        if isinstance(loop, Unfixable):
            return loop
        if loop is None:
            outcome = _check_at_once(source, stmt, small, call, check, single, taken)
        else:
            outcome = _collect(source, loop, call, check, plural, single, taken)
    if isinstance(outcome, Proposal):
        # two fixes of one pass in the same function must not pick the same new name: the second
        # waits for the next pass, which sees the first one's names
        where = f"{source.positions[fn].start.line}:" if fn is not None else ":"
        outcome.introduces = frozenset(where + n for n in outcome.introduces)
    return outcome


def _the_call(source: FixSource, finding) -> Optional[cst.Call]:
    calls = source.nodes_at(finding.line, finding.col, (cst.Call,))
    for c in calls:  # `pool.submit(f)(x)` would start several calls here: the finding's end says which
        rng = source.positions[c]
        if rng.end.line == finding.end_line and rng.end.column == source.char_col(finding.end_line, finding.end_col):
            return c
    return calls[-1] if calls else None


def _statement(source: FixSource, call: cst.Call) -> Tuple[Optional[cst.CSTNode], Optional[cst.CSTNode]]:
    """(the statement line, its small statement) when the call is the whole of ``call`` or
    ``name = call`` on a line of its own; (None, None) otherwise."""
    small = source.parents.get(call)
    if isinstance(small, cst.Assign):
        if len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
            return None, None
    elif not isinstance(small, cst.Expr):
        return None, None
    line = source.parents.get(small)
    if not isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) or len(line.body) != 1:
        return None, None
    return line, small


def _outer_loop(source: FixSource, stmt: cst.CSTNode, fn) -> Optional[cst.CSTNode]:
    """The outermost ``for`` loop of the function around ``stmt`` (None when there is none), or
    why the futures cannot be collected across it."""
    outer = None
    for anc in source.ancestors(stmt):
        if anc is fn or isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Module)):
            break
        if isinstance(anc, cst.While):
            return Unfixable("the task is submitted in a `while` loop, which may never end; check the results by hand")
        if isinstance(anc, cst.For):
            if anc.asynchronous is not None:
                return Unfixable("the task is submitted in an `async for` loop; check the results by hand")
            outer = anc
    if outer is None:
        return None
    if _returns_inside(outer):
        return Unfixable("the loop can return from the function, which would skip checking the results")
    if not isinstance(source.parents.get(outer), (cst.IndentedBlock, cst.Module)):
        return Unfixable("the loop is not a statement of its own block")
    return outer


def _returns_inside(node: cst.CSTNode) -> bool:
    stack = list(node.children)
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Return):
            return True
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(n.children)
    return False


def _dropped_in(source: FixSource, loop: cst.CSTNode, check: str) -> List[cst.Call]:
    """The calls of this file's CCL602 findings inside ``loop`` that are checked like ``check``
    and are whole statements of the loop (all go into one list)."""
    inside = {id(n) for n in walk(loop)}
    out = []
    for f in source.findings:
        if f.code != "CCL602":
            continue
        c = _the_call(source, f)
        if c is None or id(c) not in inside or not isinstance(c.func, cst.Attribute):
            continue
        kind = FUTURES.get(c.func.attr.value) or ASYNC_RESULTS.get(c.func.attr.value)
        stmt, _small = _statement(source, c)
        if kind is not None and kind[0] == check and stmt is not None and not nested_scope(source, c, loop):
            out.append(c)
    return out


def _collect(source: FixSource, loop: cst.CSTNode, call: cst.Call, check: str, plural: str, single: str,
             taken: set) -> Outcome:
    calls = _dropped_in(source, loop, check)
    if not any(c is call for c in calls):
        calls.append(call)
    names = fresh_name(taken, plural)
    item = fresh_name(taken | {names}, single)
    targets = {id(c) for c in calls}

    class Append(cst.CSTTransformer):
        def leave_Call(self, original, updated):
            if id(original) in targets:
                return cst.Call(func=cst.Attribute(cst.Name(names), cst.Name("append")),
                                args=[cst.Arg(updated.with_changes(lpar=[], rpar=[]))])
            return updated

        def leave_Assign(self, original, updated):
            # `fut = pool.submit(f)` never used again: the future goes into the list instead
            if id(original.value) in targets:
                return cst.Expr(updated.value)
            return updated

    new_loop = loop.visit(Append())
    start = cst.SimpleStatementLine(
        body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(names))], value=cst.List([]))],
        leading_lines=loop.leading_lines)
    check_loop = cst.For(
        target=cst.Name(item), iter=cst.Name(names),
        body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Expr(cst.Call(
            func=cst.Attribute(cst.Name(item), cst.Name(check))))])]))
    new_loop = new_loop.with_changes(leading_lines=[])
    module = source.replace(loop, cst.FlattenSentinel([start, new_loop, check_loop]))
    what = "future" if check == "result" else "AsyncResult"
    return Proposal(module, UNSAFE, f"collect the {what}s in `{names}` and call .{check}() on each after the loop",
                    frozenset([names, item]))


def _check_at_once(source: FixSource, stmt, small, call: cst.Call, check: str, single: str, taken: set) -> Outcome:
    if not isinstance(stmt, cst.SimpleStatementLine) or not isinstance(source.parents.get(stmt),
                                                                       (cst.IndentedBlock, cst.Module)):
        return Unfixable("the call shares its line with a compound statement; check its result by hand")
    if isinstance(small, cst.Assign):
        name = small.targets[0].target.value
        first, invented = stmt, frozenset()
    else:
        name = fresh_name(taken, single)
        first = stmt.with_changes(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=call)])
        invented = frozenset([name])
    wait = cst.SimpleStatementLine(body=[cst.Expr(cst.Call(func=cst.Attribute(cst.Name(name), cst.Name(check))))])
    module = source.replace(stmt, cst.FlattenSentinel([first, wait]))
    return Proposal(module, UNSAFE, f"wait for the task and check its result: {name}.{check}()", invented)


def _iterate(source: FixSource, stmt, call: cst.Call, taken: set) -> Outcome:
    if not isinstance(stmt, cst.SimpleStatementLine) or not isinstance(source.parents.get(stmt),
                                                                       (cst.IndentedBlock, cst.Module)):
        return Unfixable("the call shares its line with a compound statement; iterate its results by hand")
    name = "_" if "_" not in taken else fresh_name(taken, "_result")
    trailing = stmt.trailing_whitespace
    loop = cst.For(target=cst.Name(name), iter=call,
                   body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])],
                                          header=trailing),
                   leading_lines=stmt.leading_lines)
    module = source.replace(stmt, loop)
    return Proposal(module, UNSAFE, "iterate the results, so the tasks' exceptions are raised", frozenset([name]))

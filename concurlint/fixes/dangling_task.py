"""CCL503 dangling-task: keep a strong reference to the task until it is done (safe).

``asyncio.create_task(coro)`` as a statement of a function becomes::

    task = asyncio.create_task(coro)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)

with ``_background_tasks = set()`` defined once at module level after the imports (reused when the
file already has it). The task runs exactly as before; it can no longer be garbage-collected
half-way. Fixed only where the call is a whole statement on its own line in a function (a task
started at module or class level, or in the middle of an expression, is left alone).

When the target Python is 3.11 or newer and the coroutine owns the tasks (started in a loop, the
function ends after it), the preferred fix is an ``asyncio.TaskGroup`` (``task_group.py``,
unsafe); this strong reference stays its safe alternative for runs without ``--unsafe-fixes``.
"""
from __future__ import annotations

import libcst as cst

from concurlint.fixes.base import SAFE, FixSource, Outcome, Proposal, Unfixable, fresh_name
from concurlint.fixes.imports import name_free_in
from concurlint.fixes.task_group import propose_group

REGISTRY = "_background_tasks"


def propose(source: FixSource, finding) -> Outcome:
    calls = source.nodes_at(finding.line, finding.col, (cst.Call,))
    if not calls:
        return None
    call = calls[0]
    expr = source.parents.get(call)
    line = source.parents.get(expr)
    if not isinstance(expr, cst.Expr):
        return Unfixable("the task is not started by a statement of its own")
    fn = source.enclosing_function(call)
    if not isinstance(fn, cst.FunctionDef):
        return Unfixable("the task is started outside a function")
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
        strong = _strong_reference(source, call, line, fn)
    else:  # `for x in xs: asyncio.create_task(...)`, or `a; b`: no room for three statements
        strong = Unfixable("the task is not started by a statement on a line of its own")
    group = propose_group(source, call, line, fn)
    if group is None:
        return strong
    if isinstance(strong, Proposal):
        group.fallback = strong  # the safe form, for runs without --unsafe-fixes
    return group


def _strong_reference(source: FixSource, call: cst.Call, line: cst.CSTNode, fn: cst.FunctionDef) -> Outcome:
    existing = _registry_defined(source)
    if existing is False:
        return Unfixable(f"`{REGISTRY}` already means something else in this module")
    if not name_free_in(source, call, REGISTRY):
        return Unfixable(f"`{REGISTRY}` is a local name in this function")
    taken = _names_in(fn) | source.module_names()
    task = fresh_name(taken, "task")
    first = line.with_changes(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(task))], value=call)])
    keep = cst.SimpleStatementLine(body=[cst.Expr(cst.Call(
        func=cst.Attribute(cst.Name(REGISTRY), cst.Name("add")), args=[cst.Arg(cst.Name(task))]))])
    drop = cst.SimpleStatementLine(body=[cst.Expr(cst.Call(
        func=cst.Attribute(cst.Name(task), cst.Name("add_done_callback")),
        args=[cst.Arg(cst.Attribute(cst.Name(REGISTRY), cst.Name("discard")))]))])
    module = source.replace(line, cst.FlattenSentinel([first, keep, drop]))
    if existing is None:
        module = _define_registry(module)
    return Proposal(module, SAFE, f"keep the task in {REGISTRY} until it is done",
                    frozenset([REGISTRY]) if existing is None else frozenset())


def _registry_defined(source: FixSource):
    """True: ``_background_tasks = set()`` exists; None: the name is free; False: taken otherwise."""
    for stmt in source.module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (isinstance(small, cst.Assign) and len(small.targets) == 1
                        and isinstance(small.targets[0].target, cst.Name)
                        and small.targets[0].target.value == REGISTRY):
                    v = small.value
                    ok = isinstance(v, cst.Call) and isinstance(v.func, cst.Name) and v.func.value == "set" and not v.args
                    return True if ok else False
    return False if REGISTRY in source.module_names() else None


def _names_in(node: cst.CSTNode) -> set:
    out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            out.add(n.value)
        stack.extend(n.children)
    return out


def _define_registry(module: cst.Module) -> cst.Module:
    """``_background_tasks = set()`` after the module's docstring, ``__future__`` and imports."""
    body = list(module.body)
    at = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(
                isinstance(s, (cst.Import, cst.ImportFrom)) or (i == 0 and isinstance(s, cst.Expr)
                                                              and isinstance(s.value, (cst.SimpleString, cst.ConcatenatedString)))
                for s in stmt.body):
            at = i + 1
            continue
        if isinstance(stmt, cst.If) or isinstance(stmt, cst.Try):
            # `try: import x except ImportError: ...` belongs to the imports
            if _only_imports(stmt):
                at = i + 1
                continue
        break
    line = cst.SimpleStatementLine(
        body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(REGISTRY))], value=cst.Call(func=cst.Name("set")))],
        leading_lines=[cst.EmptyLine(), cst.EmptyLine(comment=cst.Comment(
            "# tasks started in the background, kept until done (the event loop holds only weak references)"))],
    )
    if at < len(body):
        nxt = body[at]
        if not nxt.leading_lines or nxt.leading_lines[0].comment is not None:
            body[at] = nxt.with_changes(leading_lines=[cst.EmptyLine(), *nxt.leading_lines])
    body.insert(at, line)
    return module.with_changes(body=body)


def _only_imports(stmt: cst.CSTNode) -> bool:
    found = False
    stack = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.Import, cst.ImportFrom)):
            found = True
        elif isinstance(n, cst.SimpleStatementLine):
            if not all(isinstance(s, (cst.Import, cst.ImportFrom, cst.Pass)) for s in n.body):
                return False
        stack.extend(n.children)
    return found

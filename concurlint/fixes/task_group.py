"""CCL503 dangling-task, the TaskGroup form (target Python 3.11+, unsafe).

When the coroutine that starts the tasks is their natural owner -- ``asyncio.create_task(...)``
dropped inside a ``for`` loop, and the function ends after the loop -- the loop goes into a task
group that owns the tasks::

    async def crawl(urls):
        async with asyncio.TaskGroup() as tg:
            for url in urls:
                tg.create_task(fetch(url))

Every dropped ``asyncio.create_task`` of the loop becomes ``tg.create_task``; inside an existing
``async with asyncio.TaskGroup() as group:`` the tasks join that group instead of a new one.

Unsafe, because a task group is not a set of references: the function now waits for its tasks
before it returns (a task that never ends keeps it from returning), and the first task that fails
cancels the others and is raised from the function as an ``ExceptionGroup``. Where the structure is
not this (no loop, statements after the loop, an async generator, ``ensure_future`` or
``loop.create_task``), or the target Python is older than 3.11 or not configured, the strong
reference of ``dangling_task`` is the only fix.
"""
from __future__ import annotations

from typing import List, Optional

import libcst as cst

from concurlint.fixes.base import UNSAFE, FixSource, Proposal, attr, fresh_name, nested_scope, walk
from concurlint.fixes.imports import add_import, import_binding, name_free_in

CREATE_TASK = {"asyncio.create_task", "asyncio.tasks.create_task"}
TASK_GROUP = {"asyncio.TaskGroup", "asyncio.taskgroups.TaskGroup"}


def propose_group(source: FixSource, call: cst.Call, line: cst.CSTNode, fn: cst.FunctionDef) -> Optional[Proposal]:
    """The TaskGroup form of the fix for the dropped task ``call`` (the whole statement ``line`` of
    the coroutine ``fn``), or None where the structure does not allow it."""
    if source.target is None or source.target < (3, 11) or fn.asynchronous is None:
        return None
    if not CREATE_TASK & source.qualified_names(call.func) or _is_generator(fn):
        return None
    loop = _owning_loop(source, line, fn)
    if loop is None:
        return None
    existing = _enclosing_group(source, loop, fn)
    calls = _dropped_in(source, loop) or [call]
    if not any(c is call for c in calls):
        calls.append(call)
    if existing is not None:
        group = existing
        module = source.replace(loop, loop.visit(_ToGroup({id(c) for c in calls}, group)))
        return Proposal(module, UNSAFE, f"start the tasks in the enclosing task group `{group}`")
    asyncio_name, needs_import = import_binding(source, "asyncio")
    if asyncio_name is None or not name_free_in(source, loop, asyncio_name):
        return None
    taken = {n.value for n in walk(fn) if isinstance(n, cst.Name)} | source.module_names()
    group = fresh_name(taken, "tg")
    body = loop.visit(_ToGroup({id(c) for c in calls}, group)).with_changes(leading_lines=[])
    wrapped = cst.With(
        items=[cst.WithItem(cst.Call(func=attr(asyncio_name, "TaskGroup")),
                            asname=cst.AsName(cst.Name(group)))],
        body=cst.IndentedBlock(body=[body]),
        asynchronous=cst.Asynchronous(),
        leading_lines=loop.leading_lines,
    )
    module = source.replace(loop, wrapped)
    if needs_import:
        module = add_import(module, "asyncio")
    return Proposal(module, UNSAFE, "own the tasks with an asyncio.TaskGroup: the function waits for them")


class _ToGroup(cst.CSTTransformer):
    def __init__(self, targets: set, group: str):
        super().__init__()
        self.targets, self.group = targets, group

    def leave_Call(self, original, updated):
        if id(original) in self.targets:
            return updated.with_changes(func=attr(self.group, "create_task"))
        return updated


def _is_generator(fn: cst.FunctionDef) -> bool:
    stack = list(fn.body.children)
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Yield):
            return True
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(n.children)
    return False


def _ends_here(source: FixSource, stmt: cst.CSTNode) -> bool:
    """Nothing runs after ``stmt`` in its block but, at most, a ``return`` of a name or constant."""
    block = source.parents.get(stmt)
    if not isinstance(block, cst.IndentedBlock):
        return False
    body = list(block.body)
    after = body[[id(s) for s in body].index(id(stmt)) + 1:]
    if not after:
        return True
    if len(after) != 1 or not isinstance(after[0], cst.SimpleStatementLine) or len(after[0].body) != 1:
        return False
    ret = after[0].body[0]
    return isinstance(ret, cst.Return) and (ret.value is None or isinstance(
        ret.value, (cst.Name, cst.Integer, cst.Float, cst.SimpleString, cst.Dict, cst.Tuple, cst.List))
        and not any(isinstance(n, (cst.Call, cst.Await, cst.Subscript, cst.Attribute)) for n in walk(ret.value)))


def _owning_loop(source: FixSource, line: cst.CSTNode, fn: cst.FunctionDef) -> Optional[cst.CSTNode]:
    """The outermost ``for`` loop around ``line`` when, from it up to the function, there are only
    ``with`` blocks and each of them (and the loop) is the last thing its block runs."""
    loop = None
    for anc in source.ancestors(line):
        if anc is fn:
            break
        if isinstance(anc, cst.For):
            loop = anc
        elif isinstance(anc, (cst.While, cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return None
    if loop is None:
        return None
    node = loop
    while node is not fn:
        if not _ends_here(source, node):
            return None
        outer = source.parents.get(source.parents.get(node))  # IndentedBlock -> its statement
        if outer is fn:
            return loop
        if not isinstance(outer, cst.With):
            return None
        node = outer
    return loop


def _enclosing_group(source: FixSource, loop: cst.CSTNode, fn: cst.FunctionDef) -> Optional[str]:
    """``g`` when the loop runs inside ``async with asyncio.TaskGroup() as g:`` of this function."""
    for anc in source.ancestors(loop):
        if anc is fn:
            return None
        if isinstance(anc, cst.With) and anc.asynchronous is not None:
            for item in anc.items:
                if (isinstance(item.item, cst.Call) and TASK_GROUP & source.qualified_names(item.item.func)
                        and item.asname is not None and isinstance(item.asname.name, cst.Name)):
                    return item.asname.name.value
    return None


def _dropped_in(source: FixSource, loop: cst.CSTNode) -> List[cst.Call]:
    """The calls of this file's CCL503 findings inside ``loop`` that are dropped
    ``asyncio.create_task`` statements of this function (one group takes them all)."""
    inside = {id(n) for n in walk(loop)}
    out = []
    for f in source.findings:
        if f.code != "CCL503":
            continue
        for c in source.nodes_at(f.line, f.col, (cst.Call,))[:1]:
            expr = source.parents.get(c)
            if (id(c) in inside and isinstance(expr, cst.Expr) and CREATE_TASK & source.qualified_names(c.func)
                    and not nested_scope(source, c, loop)):
                out.append(c)
    return out


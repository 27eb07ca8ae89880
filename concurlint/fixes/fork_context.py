"""CCL301 fork-after-thread-start: start the workers with an explicit spawn context (unsafe).

The pool or process the finding points at (through the variable it was assigned to, or a ``with``)
is created from ``multiprocessing.get_context("spawn")`` instead of the default start method:

- ``multiprocessing.Process(...)`` / ``multiprocessing.Pool(...)`` ->
  ``multiprocessing.get_context("spawn").Process(...)`` / ``.Pool(...)``;
- ``ProcessPoolExecutor(...)`` -> ``ProcessPoolExecutor(..., mp_context=multiprocessing.get_context("spawn"))``;
- an explicit ``get_context("fork")`` written in the call -> ``get_context("spawn")``.

A spawned child starts a fresh interpreter and imports the main module: nothing the parent's
threads held is copied, so it cannot deadlock on a lock that no thread will release. Unsafe
because the child no longer inherits what the parent built at run time (globals, open
connections), the target and its arguments must be picklable, and the launching module needs
a main guard; a fix after which concurlint reports any of that is taken back. ``os.fork()`` is
not fixed (there is no start method to choose).
"""
from __future__ import annotations

from typing import Optional

import libcst as cst

from concurlint.fixes.base import UNSAFE, FixSource, Outcome, Proposal, Unfixable, attr
from concurlint.fixes.imports import add_import, import_binding, name_free_in

METHOD = "spawn"
MP_FACTORIES = {"multiprocessing.Process", "multiprocessing.context.Process", "multiprocessing.Pool",
                "multiprocessing.pool.Pool", "multiprocessing.context.BaseContext.Pool"}
EXECUTORS = {"concurrent.futures.ProcessPoolExecutor", "concurrent.futures.process.ProcessPoolExecutor"}


def propose(source: FixSource, finding) -> Outcome:
    calls = source.nodes_at(finding.line, finding.col, (cst.Call,))
    if not calls:
        return None
    call = calls[-1]
    names = source.qualified_names(call.func)
    if names & {"os.fork", "os.forkpty"}:
        return Unfixable("os.fork() has no start method to choose; use multiprocessing with a spawn context")
    ctor = _constructor(source, call)
    if ctor is None:
        return Unfixable("the pool or process is not created in this function")
    kinds = source.qualified_names(ctor.func)
    context = _inline_context(source, ctor)
    if context is not None:
        method = context.args[0].value if context.args else None
        if not isinstance(method, cst.SimpleString) or method.evaluated_value != "fork":
            return Unfixable("the start method is chosen elsewhere")
        new = cst.SimpleString(f'"{METHOD}"')
        return Proposal(source.replace(method, new), UNSAFE, f'start the workers with get_context("{METHOD}")')
    mp_name, needs_import = import_binding(source, "multiprocessing")
    if mp_name is None or not name_free_in(source, ctor, mp_name):
        return Unfixable("the name `multiprocessing` means something else in this file")
    spawn_ctx = cst.Call(func=attr(mp_name, "get_context"), args=[cst.Arg(cst.SimpleString(f'"{METHOD}"'))])
    if kinds & EXECUTORS:
        if any(a.keyword is not None and a.keyword.value == "mp_context" for a in ctor.args) or len(ctor.args) >= 2:
            return Unfixable("the executor is given its context already")
        if any(a.star for a in ctor.args):
            return Unfixable("the executor's arguments are unpacked")
        args = list(ctor.args)
        if args:
            args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args.append(cst.Arg(keyword=cst.Name("mp_context"), value=spawn_ctx,
                            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
        new_ctor = ctor.with_changes(args=args)
    elif kinds & MP_FACTORIES:
        what = "Process" if any(k.endswith("Process") for k in kinds) else "Pool"
        new_ctor = ctor.with_changes(func=cst.Attribute(value=spawn_ctx, attr=cst.Name(what)))
    else:
        return Unfixable("the workers are not made by multiprocessing.Process/Pool or ProcessPoolExecutor")
    module = source.replace(ctor, new_ctor)
    if needs_import:
        module = add_import(module, "multiprocessing")
    return Proposal(module, UNSAFE, f'start the workers with multiprocessing.get_context("{METHOD}")')


def _inline_context(source: FixSource, ctor: cst.Call) -> Optional[cst.Call]:
    """``get_context(...)`` when the constructor is ``get_context(...).Pool(...)`` (or a
    ``mp_context=get_context(...)`` argument of an executor)."""
    f = ctor.func
    if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Call):
        if "multiprocessing.get_context" in source.qualified_names(f.value.func):
            return f.value
    for a in ctor.args:
        if a.keyword is not None and a.keyword.value == "mp_context" and isinstance(a.value, cst.Call):
            if "multiprocessing.get_context" in source.qualified_names(a.value.func):
                return a.value
    return None


def _constructor(source: FixSource, call: cst.Call) -> Optional[cst.Call]:
    """The call that made the object ``call`` is a method of (``p.start()``, ``pool.map(...)``)."""
    if not isinstance(call.func, cst.Attribute):
        return call
    recv = call.func.value
    if isinstance(recv, cst.Call):
        return recv
    if not isinstance(recv, cst.Name):
        return None
    scope = source.scopes.get(recv)
    if scope is None:
        return None
    assignments = list(scope[recv.value])
    if len(assignments) != 1 or assignments[0].scope is not scope:
        return None
    node = getattr(assignments[0], "node", None)
    parent = source.parents.get(node) if node is not None else None
    if isinstance(parent, cst.AssignTarget):
        assign = source.parents.get(parent)
        if isinstance(assign, cst.Assign) and isinstance(assign.value, cst.Call):
            return assign.value
    if isinstance(parent, cst.AsName):
        item = source.parents.get(parent)
        if isinstance(item, cst.WithItem) and isinstance(item.item, cst.Call):
            return item.item
    return None

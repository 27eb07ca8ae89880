"""CCL504 threading-lock-in-async-function: a lock only coroutines take becomes an asyncio one (unsafe).

``LOCK = threading.Lock()`` (a module global, or ``self.LOCK`` set in ``__init__``) becomes
``asyncio.Lock()``, and every ``with LOCK:`` becomes ``async with LOCK:``. Made only when every use
of the lock in the file is a ``with`` in a coroutine: if synchronous code (a worker thread) takes
the same lock, an asyncio lock would not protect anything for it, and the fix is not made.
``threading.Semaphore``/``BoundedSemaphore`` map to their asyncio namesakes; an ``RLock`` is not
fixed (asyncio's lock is not re-entrant).

Unsafe because code outside this file may take the lock from a thread, and because before Python
3.10 an asyncio lock created at import time binds the event loop current then.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import libcst as cst

from concurlint.fixes.base import UNSAFE, FixSource, Outcome, Proposal, Unfixable, attr
from concurlint.fixes.imports import add_import, import_binding, name_free_in, remove_unused_import

REPLACEMENT = {
    "threading.Lock": "Lock",
    "threading.Semaphore": "Semaphore",
    "threading.BoundedSemaphore": "BoundedSemaphore",
}


def propose(source: FixSource, finding) -> Outcome:
    exprs = source.nodes_at(finding.line, finding.col, (cst.Name, cst.Attribute))
    item = None
    for e in exprs:
        parent = source.parents.get(e)
        if isinstance(parent, cst.WithItem) and parent.item is e:
            item = e
    if item is None:
        return Unfixable("only `with lock:` statements are fixed (not waits or acquire() calls)")
    found = _definition(source, item)
    if isinstance(found, Unfixable):
        return found
    ctor, uses = found
    kinds = source.qualified_names(ctor.func)
    if "threading.RLock" in kinds:
        return Unfixable("an RLock may be taken again by its holder; asyncio.Lock is not re-entrant")
    target = next((REPLACEMENT[k] for k in kinds if k in REPLACEMENT), None)
    if target is None:
        return Unfixable("the lock is not made by threading.Lock()/Semaphore() in this file")
    withs = []
    for use in uses:
        reason = _async_with_use(source, use)
        if reason:
            return Unfixable(reason)
        withs.append(source.parents[source.parents[use]])
    asyncio_name, needs_import = import_binding(source, "asyncio")
    if asyncio_name is None or not name_free_in(source, ctor, asyncio_name):
        return Unfixable("the name `asyncio` means something else in this file")
    new_ctor = ctor.with_changes(func=attr(asyncio_name, target))
    module = _replace_all(source, [(ctor, new_ctor)] + [
        (w, w.with_changes(asynchronous=cst.Asynchronous())) for w in withs])
    if needs_import:
        module = add_import(module, "asyncio")
    module = remove_unused_import(source, module, [ctor], "threading")
    return Proposal(module, UNSAFE, f"use asyncio.{target} and `async with` in the coroutines that take it")


def _replace_all(source: FixSource, pairs: List[Tuple[cst.CSTNode, cst.CSTNode]]) -> cst.Module:
    replacements = {id(old): new for old, new in pairs}
    path = {id(a) for old, _ in pairs for a in source.ancestors(old)}

    class Replace(cst.CSTTransformer):
        def on_visit(self, node):
            return id(node) in path

        def on_leave(self, original_node, updated_node):
            new = replacements.get(id(original_node))
            if new is None:
                return updated_node
            if isinstance(original_node, cst.With):  # keep the body's own changes (a nested with)
                return updated_node.with_changes(asynchronous=cst.Asynchronous())
            return new

    return source.module.visit(Replace())


def _async_with_use(source: FixSource, use: cst.CSTNode) -> Optional[str]:
    item = source.parents.get(use)
    stmt = source.parents.get(item)
    if not (isinstance(item, cst.WithItem) and item.item is use and isinstance(stmt, cst.With)):
        return "the lock is also used other than in a `with` statement (acquire(), passed on...)"
    if stmt.asynchronous is not None or len(stmt.items) != 1:
        return "a `with` takes the lock together with other context managers"
    fn = source.enclosing_function(stmt)
    if not isinstance(fn, cst.FunctionDef) or fn.asynchronous is None:
        return "synchronous code takes the same lock (a thread would not be protected by an asyncio lock)"
    return None


def _definition(source: FixSource, expr: cst.BaseExpression):
    """(the constructor call, every use of the lock in the file) or Unfixable."""
    if isinstance(expr, cst.Name):
        return _global_lock(source, expr)
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
        return _instance_lock(source, expr)
    return Unfixable("the lock is neither a module global nor an attribute of self")


def _global_lock(source: FixSource, name: cst.Name):
    scope = source.scopes.get(name)
    if scope is None:
        return Unfixable("the lock's name cannot be resolved")
    assignments = [a for a in scope[name.value]]
    if len(assignments) != 1 or assignments[0].scope is not scope.globals:
        return Unfixable("the lock is not one module-level assignment")
    (a,) = assignments
    ctor = _assigned_call(source, getattr(a, "node", None))
    if ctor is None:
        return Unfixable("the lock is not assigned a constructor call")
    uses = [ref.node for ref in a.references]
    return ctor, uses


def _assigned_call(source: FixSource, target) -> Optional[cst.Call]:
    parent = source.parents.get(target) if target is not None else None
    assign = source.parents.get(parent) if isinstance(parent, cst.AssignTarget) else None
    if isinstance(assign, cst.Assign) and len(assign.targets) == 1 and isinstance(assign.value, cst.Call):
        return assign.value
    return None


def _instance_lock(source: FixSource, expr: cst.Attribute):
    cls = next((a for a in source.ancestors(expr) if isinstance(a, cst.ClassDef)), None)
    if cls is None:
        return Unfixable("`self` is not inside a class here")
    attr_name = expr.attr.value
    ctor = None
    uses = []
    stack: List[cst.CSTNode] = [cls]
    while stack:
        n = stack.pop()
        stack.extend(n.children)
        if not (isinstance(n, cst.Attribute) and isinstance(n.value, cst.Name) and n.value.value == "self"
                and n.attr.value == attr_name):
            continue
        call = _assigned_call(source, n)
        fn = source.enclosing_function(n)
        if call is not None and isinstance(fn, cst.FunctionDef) and fn.name.value == "__init__":
            if ctor is not None:
                return Unfixable(f"self.{attr_name} is assigned more than once")
            ctor = call
            continue
        parent = source.parents.get(n)
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign)):
            return Unfixable(f"self.{attr_name} is reassigned outside __init__")
        uses.append(n)
    if ctor is None:
        return Unfixable(f"self.{attr_name} is not created in __init__ of this class")
    return ctor, uses

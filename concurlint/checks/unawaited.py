"""CCL507: a coroutine function of the project called as a statement, its coroutine never awaited.

``self.flush()`` where ``flush`` is an ``async def``: the call only makes a coroutine object, which
is dropped; the body never runs (Python warns "coroutine ... was never awaited" when the object is
collected, if warnings are shown at all). Only calls whose target is certain are reported: a plain
function of the project, a method of the caller's own class called through ``self``/``cls``, or
a method called on a local name or parameter whose type the analysis knows to be a project class
(an annotated parameter, an object made from the class) and that the function does not test,
defined ``async def`` with no decorator that could turn it into something else, and with no
synchronous method of the same name elsewhere in the class's family (a subclass that overrides
it with a plain ``def`` makes the call right for that subclass).
"""
from __future__ import annotations

import ast
from typing import Iterator, Optional

from concurlint.analysis.facts import Call, Function, ModuleFacts
from concurlint.analysis.hints import GUARD_TESTS, is_test_code
from concurlint.registry import Finding, Rule

# decorators that leave an ``async def`` a coroutine function
_KEEPS_COROUTINE = frozenset({"staticmethod", "classmethod", "abstractmethod", "override", "overload",
                              "final", "wraps"})


class CoroutineNeverAwaited(Rule):
    code = "CCL507"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        for call in module.calls:
            if call.use != "discard" or call.awaited:
                continue
            target = _coroutine_target(project, call)
            if target is None or _dead_branch(project, module, call):
                continue
            fn = project.functions[target]
            caller = project.functions.get(call.function) if call.function else None
            if is_test_code(module.module, call.function):
                conf = "low"
            elif caller is None or not caller.is_async:
                # from plain code (`def __exit__(self): self.close()`): in libraries with a sync
                # and an async face this is often decided at run time -- a wrapper made at import,
                # an `inspect.iscoroutinefunction` test around it (neo4j, pyrogram)
                conf = "medium"
            else:
                conf = "high"  # a coroutine that forgot `await`
            where = project.function_module.get(target)
            related = [] if where is None else [{"path": where.path, "line": fn.line, "col": fn.col,
                                                 "message": f"{fn.name}() is defined `async def` here"}]
            yield ctx.report(self.code, module, call, function=call.function, callee=call.text,
                             confidence=conf, related=related)


def _coroutine_target(project, call: Call) -> Optional[str]:
    """The project coroutine function ``call`` certainly runs, or None."""
    target = project.call_target(call)
    fn = project.functions.get(target) if target else None
    if fn is None or not fn.is_async or fn.is_generator or fn.is_lambda:
        return None  # (an async generator function returns an async generator: nothing to await)
    if any(d.rsplit(".", 1)[-1] not in _KEEPS_COROUTINE for d in fn.decorators):
        return None  # @sync_compatible, @run_in_thread, @unasync...: what it returns is not known
    text = call.text
    if fn.cls is None:
        if "." in text and not _module_attribute(project, call, target):
            return None
        return target
    head, _, rest = text.partition(".")
    if head not in ("self", "cls") or "." in rest:
        if not _typed_receiver(project, call, fn):
            return None  # obj.method(): the object's class is a guess
    else:
        caller = project.functions.get(call.function) if call.function else None
        if caller is None or caller.cls is None or (caller.cls != fn.cls and not project.is_subclass(caller.cls, fn.cls)):
            return None  # `self` is not an instance of the method's class
    if _sync_twin(project, fn, _receiver_class(project, call)):
        return None
    return target


def _typed_receiver(project, call: Call, fn: Function) -> bool:
    """``device.save()`` where ``device`` is known to be an instance of a project class that has
    the method (``_receiver_class``)."""
    cls = _receiver_class(project, call)
    return cls is not None and (cls == fn.cls or project.is_subclass(cls, fn.cls))


def _receiver_class(project, call: Call) -> Optional[str]:
    """The project class the call's receiver is known to be an instance of: a parameter annotated
    with it or a local the function made from it (an attribute ``self.session``, or a local taken
    from one, may be set to objects of several classes in several places, of which the analysis
    keeps one), whose class the function does not test itself (``if isinstance(resp,
    AsyncResponse): await resp.close() else: resp.close()``)."""
    recv = call.receiver
    name = call.text.rsplit(".", 1)[0] if "." in call.text else ""
    if recv is None or recv.kind != "instance" or not recv.qualname or not name.isidentifier() \
            or name in ("self", "cls"):
        return None
    caller = project.functions.get(call.function) if call.function else None
    if caller is None or not caller.line <= recv.line <= caller.end_line or "made" in recv.meta \
            or recv.text.startswith(("self.", "cls.")):
        return None  # typed from elsewhere (`session = self.session`): an attribute's guess
    if any(project.call_target(c) in TYPE_TESTS and c.args and c.args[0].text == name for c in project.calls_of(caller)):
        return None
    cls = project.resolve(recv.qualname)
    return cls if cls in project.classes else None


TYPE_TESTS = frozenset({"builtins.isinstance", "builtins.type"})


def _dead_branch(project, module: ModuleFacts, call: Call) -> bool:
    """The call sits under ``if _IS_SYNC:`` where the module sets ``_IS_SYNC = False`` once and
    never again: code kept for a synchronous twin generated from this one (pymongo), never run
    here."""
    fn = project.functions.get(call.function) if call.function else None
    for name, op, const, first, last in getattr(fn, "guards", ()) if fn is not None else ():
        if not first <= call.line <= last or name in fn.params:
            continue
        g = module.globals.get(name)
        if g is None or g.assigned_in_function or g.value.kind != "literal":
            continue
        try:
            value, c = ast.literal_eval(g.value.text), ast.literal_eval(const)
        except (ValueError, SyntaxError):
            continue
        if not GUARD_TESTS[op](value, c):
            return True
    return False


def _module_attribute(project, call: Call, target: str) -> bool:
    """``helpers.flush_all()``: a module's function, named through the module."""
    head = call.text.rsplit(".", 1)[0]
    return project.resolve(head) == target.rsplit(".", 1)[0] or target.startswith(head + ".")


def _sync_twin(project, fn: Function, receiver: Optional[str] = None) -> bool:
    """A plain ``def`` of the same name in a class related to ``fn``'s (a subclass overriding the
    coroutine with a synchronous method, or a base it overrides): which one runs depends on the
    object. ``receiver``: the class the object is known to be an instance of; then only its
    subclasses can bring another method (its bases' are settled by the lookup)."""
    for q in project.functions_named(fn.name):
        other = project.functions[q]
        if other.is_async or other.cls is None or other.cls == fn.cls:
            continue
        if receiver is not None:
            if project.is_subclass(other.cls, receiver):
                return True
        elif project.is_subclass(other.cls, fn.cls) or project.is_subclass(fn.cls, other.cls):
            return True
    return False

"""CCL501 blocking-call-in-async-function: let the event loop run while the call waits.

- ``time.sleep(x)`` -> ``await asyncio.sleep(x)`` (safe: the coroutine still waits ``x`` seconds,
  other tasks run meanwhile); ``import time`` goes when nothing else uses it.
- any other blocking call ``f(a, k=v)`` (directly, or a helper that blocks further down) ->
  ``await asyncio.to_thread(f, a, k=v)`` (unsafe: ``f`` now runs in a worker thread, at the same
  time as the other tasks: what it shares with them must be thread-safe, and objects tied to one
  thread, such as an sqlite3 connection, refuse to be used there).

Not fixed: a call whose result a ``for`` loop iterates (an iterator such as ``Path.iterdir()``
would still do its work on the event loop); a call inside a lambda, a nested plain ``def`` or a generator expression of the
coroutine (an ``await`` there would not run in the coroutine, or would make an async generator).
"""
from __future__ import annotations

import libcst as cst

from concurlint.fixes.base import SAFE, UNSAFE, FixSource, Outcome, Proposal, Unfixable, attr
from concurlint.fixes.imports import add_import, import_binding, name_free_in, remove_unused_import

SLEEPS = {"time.sleep"}
# where an `await x` must be parenthesised: x is the object of a trailer or the left of `**`
_TRAILER_PARENTS = (cst.Attribute, cst.Subscript)


def propose(source: FixSource, finding) -> Outcome:
    calls = source.nodes_at(finding.line, finding.col, (cst.Call,))
    if not calls:
        return None
    call = calls[-1] if len(calls) > 1 else calls[0]
    # `a.b(x)(y)`: several calls start here; the finding's end column picks the right one
    for c in calls:
        rng = source.positions[c]
        if rng.end.line == finding.end_line and rng.end.column == source.char_col(finding.end_line, finding.end_col):
            call = c
    parent = source.parents.get(call)
    if isinstance(parent, cst.Await):
        return Unfixable("the call is already awaited")
    if isinstance(parent, cst.WithItem) and finding.message.startswith("leaving "):
        # `with ThreadPoolExecutor() as ex:` waits in its exit, not in the call that makes it:
        # running the constructor in a thread would hide the finding and keep the wait
        return Unfixable("the wait is the `with` block's exit (shutdown(wait=True)); await each task instead")
    for anc in source.ancestors(call):
        if isinstance(anc, cst.Lambda):
            return Unfixable("the call is inside a lambda, where `await` is not allowed")
        if isinstance(anc, cst.GeneratorExp):
            return Unfixable("the call is inside a generator expression; an `await` there would make it an async generator")
        if isinstance(anc, cst.FunctionDef):
            if anc.asynchronous is None:
                return Unfixable("the call is in a plain function nested in the coroutine")
            break
    else:
        return Unfixable("the call is not inside a coroutine")
    if isinstance(parent, cst.For) and parent.iter is call:
        return Unfixable("a loop iterates over the result, which may be lazy; run the whole loop in asyncio.to_thread")
    asyncio_name, needs_import = import_binding(source, "asyncio")
    if asyncio_name is None or not name_free_in(source, call, asyncio_name):
        return Unfixable("the name `asyncio` means something else in this file")
    if SLEEPS & source.qualified_names(call.func):
        new_call = call.with_changes(func=attr(asyncio_name, "sleep"))
        applicability, message = SAFE, "await asyncio.sleep() instead of time.sleep()"
    else:
        # to_thread's own parameter is positional-only: every keyword goes to the callee
        new_call = cst.Call(func=attr(asyncio_name, "to_thread"), args=[cst.Arg(value=call.func), *call.args],
                            whitespace_before_args=call.whitespace_before_args)
        applicability = UNSAFE
        message = "run the blocking call in a worker thread: await asyncio.to_thread(...)"
    awaited = cst.Await(expression=new_call.with_changes(lpar=[], rpar=[]), lpar=call.lpar, rpar=call.rpar)
    if not call.lpar and _needs_parens(parent, call):
        awaited = awaited.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    module = source.replace(call, awaited)
    if needs_import:
        module = add_import(module, "asyncio")
    if applicability == SAFE:
        module = remove_unused_import(source, module, [call], "time")
        module = remove_unused_import(source, module, [call], "time", "sleep")
    return Proposal(module, applicability, message)


def _needs_parens(parent, call: cst.Call) -> bool:
    if isinstance(parent, _TRAILER_PARENTS) and parent.value is call:
        return True
    if isinstance(parent, cst.Call) and parent.func is call:
        return True
    if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Power) and parent.left is call:
        return True
    return False

"""CCL510: asyncio used from a worker thread, where it either fails or corrupts the loop.

A plain function that a worker thread runs (``threading.Thread`` targets, thread pools,
``run_in_executor``, ``asyncio.to_thread``: ``analysis.threads``), reached from the entry through
plain functions only, and with no event loop of its own on the way (no ``asyncio.run``,
``run_until_complete``, ``run_forever``, ``new_event_loop`` in the chain), calls

- an asyncio API that needs the calling thread's loop (``asyncio.create_task``,
  ``asyncio.get_running_loop``, ``asyncio.current_task``, ``asyncio.all_tasks``, and
  ``asyncio.get_event_loop``, which in any thread but the main one has no loop to return unless
  one was set there): in a worker thread there is none, and the call raises ``RuntimeError`` --
  unless it sits in a ``try`` (code that tests for a loop that way);
- a method of an asyncio object that is not thread-safe -- a future's or a task's
  ``set_result``/``set_exception``/``cancel``, the loop's ``call_soon``/``call_later``/
  ``call_at``/``create_task``, an ``asyncio.Queue``'s ``put_nowait``/``get_nowait``, an
  ``asyncio.Event``'s ``set``, a task group's ``create_task`` -- on an object whose
  type is known: the loop is not woken (the awaiting coroutine may hang until something else
  wakes it), and its internal state is changed from two threads at once. The fix is to hand the
  call to the loop: ``loop.call_soon_threadsafe(fut.set_result, value)``, or
  ``asyncio.run_coroutine_threadsafe(coro, loop)``.
"""
from __future__ import annotations

from typing import Iterator, Optional

from concurlint.analysis.facts import Function, ModuleFacts
from concurlint.analysis.threads import chain_text, thread_map
from concurlint.registry import Finding, Rule

# need the calling thread's running loop: RuntimeError in a worker thread
NEEDS_RUNNING_LOOP = frozenset({"asyncio.create_task", "asyncio.get_running_loop", "asyncio.current_task",
                                "asyncio.all_tasks",
                                # no loop set in a thread but the main one: RuntimeError on every Python
                                "asyncio.get_event_loop"})
# change an asyncio object's state without waking its loop (not thread-safe)
NOT_THREAD_SAFE = frozenset({
    "asyncio.Future.set_result", "asyncio.Future.set_exception", "asyncio.Future.cancel",
    "asyncio.Task.cancel", "asyncio.Task.set_result", "asyncio.Task.set_exception",
    "asyncio.AbstractEventLoop.call_soon", "asyncio.AbstractEventLoop.call_later",
    "asyncio.AbstractEventLoop.call_at", "asyncio.AbstractEventLoop.create_task",
    "asyncio.Queue.put_nowait", "asyncio.Queue.get_nowait", "asyncio.Event.set",
    "asyncio.TaskGroup.create_task",
})
# a function that runs an event loop in its own thread: the asyncio objects it uses are its own
OWNS_A_LOOP = frozenset({"asyncio.run", "asyncio.new_event_loop", "asyncio.set_event_loop",
                         "asyncio.AbstractEventLoop.run_until_complete", "asyncio.AbstractEventLoop.run_forever",
                         "asyncio.Runner.run", "tornado.ioloop.IOLoop.start", "tornado.ioloop.IOLoop.run_sync",
                         "trio.run", "anyio.run"})
# the loop-taking forms of the task queries work from any thread: `asyncio.current_task(loop)`
TAKES_A_LOOP = frozenset({"asyncio.current_task", "asyncio.all_tasks"})


class AsyncioFromWorkerThread(Rule):
    code = "CCL510"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        tm = ctx.shared(thread_map)
        for fn in module.functions.values():
            if fn.is_async or not tm.runs_in_thread(fn.qualname):
                continue
            reaches = tm.thread_reaches(fn.qualname)
            # the shortest way in: the function a thread runs itself, if it is one
            reach = min((r for r in reaches if r.entry.model == "threads" and _plain_chain(project, r.chain)),
                        key=lambda r: len(r.chain), default=None)
            if reach is None:
                continue
            handed = _handed_types(project, fn, reaches)
            for call in project.calls_of(fn):
                target = project.call_target(call)
                if target is None and call.method and call.text.count(".") == 1:
                    # `fut.set_result(x)` on a parameter the thread was handed `loop.create_future()` for
                    owner = handed.get(call.text.split(".", 1)[0])
                    target = f"{owner}.{call.method}" if owner else None
                if target in NEEDS_RUNNING_LOOP:
                    if call.in_try:
                        continue  # `try: loop = asyncio.get_running_loop() except RuntimeError:`
                    if target in TAKES_A_LOOP and (call.args or "loop" in call.kwargs):
                        continue  # `asyncio.current_task(loop=self._loop)`: asks about that loop
                    why = "a worker thread has no event loop (none runs or is set there), so it raises RuntimeError"
                elif target in NOT_THREAD_SAFE:
                    why = ("asyncio objects are not thread-safe: the loop is not woken, and its state "
                           "changes under it")
                else:
                    continue
                via = "" if len(reach.chain) == 1 else f" (via {chain_text(reach.chain, project)})"
                site = reach.entry.site
                # in the thread's own function, the call runs whenever the thread does; further
                # down, whether the path is taken often depends on values handed down (python-can's
                # listener callback runs on the loop when one is given, in the thread only without
                # one; weaviate's async branch under an isinstance test): medium
                conf = "high" if len(reach.chain) == 1 else "medium"
                yield ctx.report(self.code, module, call, function=fn.qualname, call=call.text or target,
                                 confidence=conf,
                                 start=f"{site.api} at {site.path}:{site.call.line}", via=via, why=why,
                                 fix=_fix(target, call.text),
                                 related=[reach.entry.related()],
                                 # set_result and set_exception of one future: one fix
                                 pattern=(("object", fn.qualname, (call.text or "").rpartition(".")[0] or target),))


def _handed_types(project, fn: Function, reaches) -> dict:
    """The asyncio types of the values a thread's dispatch hands to the entry function's
    parameters (``run_in_executor(None, compute, fut, n)`` with ``fut = loop.create_future()``):
    {parameter: type}."""
    out = _closure_types(project, fn)
    params = [p for p in fn.params if p not in ("self", "cls")] if fn.cls else list(fn.params)
    for r in reaches:
        if r.chain != (fn.qualname,) or r.entry.model != "threads":
            continue
        for name, value in zip(params, getattr(r.entry.site, "args", ()) or ()):
            t = project.value_type(value)
            if t and t.startswith("asyncio."):
                out[name] = t
    return out


def _closure_types(project, fn: Function) -> dict:
    """The asyncio types of the names a nested function takes from the function around it
    (``def _run(func): future.set_result(func())`` beside ``future = asyncio.Future()``):
    {name: type}."""
    parent = project.functions.get(fn.parent) if fn.parent else None
    if parent is None:
        return {}
    out = {}
    for c in project.calls_of(parent):
        t = project.call_target(c)
        made = project.kb.returns.get(t or "")
        if c.assigned_to and made and made.startswith("asyncio.") and c.assigned_to not in fn.params \
                and c.assigned_to not in fn.local_names:
            out[c.assigned_to] = made
    return out


def _plain_chain(project, chain) -> bool:
    """Every function from the thread's entry down is a plain one that runs no loop of its own."""
    for q in chain:
        fn: Optional[Function] = project.functions.get(q)
        if fn is None or fn.is_async:
            return False
        if any(project.call_target(c) in OWNS_A_LOOP for c in project.calls_of(fn)):
            return False
    return True


def _fix(target: str, text: str) -> str:
    if target in ("asyncio.create_task", "asyncio.AbstractEventLoop.create_task", "asyncio.TaskGroup.create_task"):
        return "hand the coroutine to the loop's thread: `asyncio.run_coroutine_threadsafe(coro, loop)`"
    if target in NEEDS_RUNNING_LOOP:
        return "take the loop from the thread that started the work and use `loop.call_soon_threadsafe(...)`"
    return f"hand the call to the loop's thread: `loop.call_soon_threadsafe({text or target}, ...)`"

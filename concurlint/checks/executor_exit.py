"""Leaving ``with ThreadPoolExecutor() as ex:`` in a coroutine: ``__exit__`` calls
``shutdown(wait=True)``, which blocks the event loop until every task submitted in the block has
finished (for CCL501).

Reported when the block hands the executor work it does not wait for itself: ``ex.submit(...)``
whose future is dropped or never awaited through ``asyncio.wrap_future``, or ``ex.map(...)``. Not
when every task is awaited in the block (``await loop.run_in_executor(ex, ...)``, ``await
asyncio.wrap_future(fut)``): by the end of the block they are done and the exit returns at once;
nor when the block waits for the futures itself (``fut.result()``, ``as_completed``, ``wait``):
that wait is the blocking call, reported as such.
"""
from __future__ import annotations

from typing import Iterator, List, Tuple

from concurlint.analysis.facts import Call, Function, ModuleFacts

EXECUTORS = {"concurrent.futures.ThreadPoolExecutor": "ThreadPoolExecutor",
             "concurrent.futures.ProcessPoolExecutor": "ProcessPoolExecutor"}
_HANDS_WORK = frozenset({"submit", "map"})
# waits on the futures inside the block: reported themselves (Future.result, as_completed...)
_WAITS = frozenset({"concurrent.futures.Future.result", "concurrent.futures.as_completed",
                    "concurrent.futures.wait", "concurrent.futures.Future.exception"})


# what waits for a set of futures on the loop (`for fut in asyncio.as_completed(futs): await fut`)
_ASYNC_COLLECTORS = frozenset({"asyncio.gather", "asyncio.wait", "asyncio.as_completed", "asyncio.wait_for"})


def executor_exits(project, module: ModuleFacts, fn: Function) -> Iterator[Tuple[Call, str]]:
    """(the ``with`` call, the executor's name) for each executor block of ``fn`` whose exit waits
    for work handed to it in the block."""
    calls: List[Call] = [module.calls[i] for i in fn.calls]
    for made in calls:
        if made.use != "with" or not made.block_end:
            continue
        kind = EXECUTORS.get(project.call_target(made) or "")
        if kind is None:
            continue
        inside = [c for c in calls if made.line < c.line <= made.block_end]
        handed = [c for c in inside if c.method in _HANDS_WORK and c.receiver is not None
                  and ((c.receiver.line, c.receiver.col) == (made.line, made.col)
                       or (made.assigned_to and c.receiver.text == made.assigned_to))]
        # `future = loop.run_in_executor(executor, fn)` in the block, awaited after it: the exit
        # waits for fn on the loop (qworker's executor per message, a rev149d recall miss)
        loose = [c for c in inside if c.method == "run_in_executor" and c.args and made.assigned_to
                 and c.args[0].text == made.assigned_to and not c.awaited]
        if loose and not any((c.awaited or project.call_target(c) in _ASYNC_COLLECTORS) and c.line >= loose[0].line
                             for c in inside):
            handed += loose  # (an `await asyncio.gather(*futures)` in the block waits for them there)
        if not handed:
            continue
        if any(project.call_target(c) in _WAITS or c.method == "result" for c in inside):
            continue  # the block waits for them itself: that call is the finding
        wrapped = {c.args[0].text for c in inside if project.call_target(c) == "asyncio.wrap_future" and c.args}
        if all(c.method == "submit" and c.assigned_to and c.assigned_to in wrapped for c in handed):
            continue  # every future is awaited in the block
        yield made, kind

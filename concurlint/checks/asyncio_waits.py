"""CCL504 and CCL505: a coroutine that waits on a thread's terms, or starts a loop of its own.

- CCL504: ``threading`` locks / ``queue.Queue`` waits inside a coroutine (the thread is the loop's
  one thread: every other task waits with it);
- CCL505: ``asyncio.run`` / ``run_until_complete`` reached from a running coroutine (it raises).

The coroutines and their calls, and what a blocking call is, come from ``asyncio_rules`` and
``blocking_calls``.
"""
from __future__ import annotations

from typing import Iterator, Optional

from concurlint.analysis.facts import Call, ModuleFacts
from concurlint.analysis.hints import is_test_code
from concurlint.checks.asyncio_rules import _calls, _chain_text, _coroutines, _Pos, _ready, _related, _returns_a_task
from concurlint.checks.blocking_calls import THREAD_WAITS, _nonblocking_wait, _short
from concurlint.checks.own_loops import LOOP_RUNNERS, private_loops
from concurlint.checks.sync_reach import _Walker
from concurlint.registry import Finding, Rule

THREAD_LOCKS = {
    "threading.Lock": "asyncio.Lock",
    "threading.RLock": "asyncio.Lock",
    "threading.Condition": "asyncio.Condition",
    "threading.Semaphore": "asyncio.Semaphore",
    "threading.BoundedSemaphore": "asyncio.BoundedSemaphore",
}


def _sync_users(module: ModuleFacts) -> set:
    """Lock/queue expressions (``self._lock``, ``jobs``) that plain functions of this module use
    too: shared with threads, so an asyncio primitive cannot replace them."""
    out = set()
    for fn in module.functions.values():
        if fn.is_async:
            continue
        for v in getattr(fn, "withs", ()):
            out.add((fn.cls, v.text))
        for call in _calls(module, fn):
            if call.receiver is not None and call.receiver.text:
                out.add((fn.cls, call.receiver.text))
    return out


def _held_across_await(module: ModuleFacts) -> set:
    """(class, lock text) of the ``with lock:`` blocks of this module's coroutines that contain an
    ``await``: only such a holder can keep the lock while another task of the loop waits for it."""
    out = set()
    for fn in module.functions.values():
        if fn.is_async:
            for text, first, last in fn.with_blocks:
                if any(first <= line <= last for line, _ in fn.awaits):
                    out.add((fn.cls, text))
    return out


class ThreadingLockInAsyncFunction(Rule):
    code = "CCL504"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        shared = None
        private = ctx.shared(private_loops)
        for fn in _coroutines(module):
            if shared is None:
                shared = _sync_users(module)
                awaited_under = _held_across_await(module)

            def confidence(text: str, lock: bool = True) -> str:
                if is_test_code(module.module, fn.qualname) or fn.qualname in private:
                    return "low"  # a test helper; or alone on its own loop in a thread: a wait paces it
                # a lock also taken by synchronous code: held for microseconds on both sides, and
                # an asyncio lock would not work for the threads (docs/precision.md), so the
                # advice would be wrong. A wait (Event.wait, Queue.get) can last as long as the
                # other thread wants: still high.
                return "low" if lock and (fn.cls, text) in shared else "high"

            for v in getattr(fn, "withs", ()):
                t = project.value_type(v) if v.kind == "instance" else None
                if t in THREAD_LOCKS:
                    # no coroutine of the module awaits while holding it: the lock is only ever
                    # held for the microseconds between two statements, no task can hold it
                    # while another waits for it (a deadlock needs an await under the lock)
                    # (a Condition's lock likewise: its waits release it, and a wait in a coroutine
                    # is reported as such)
                    brief = t in ("threading.Lock", "threading.RLock", "threading.Condition") \
                        and (fn.cls, v.text) not in awaited_under
                    yield ctx.report(self.code, module, _Pos(v.line, v.col), function=fn.qualname,
                                     what=f"`with {v.text}:` ({t})", instead=THREAD_LOCKS[t],
                                     confidence="low" if brief else confidence(v.text))
            for call in _calls(module, fn):
                target = project.call_target(call)
                if target not in THREAD_WAITS or _nonblocking_wait(call, target) or _ready(module, fn, call):
                    continue
                recv = call.receiver.text if call.receiver is not None else ""
                yield ctx.report(self.code, module, call, function=fn.qualname,
                                 what=f"{call.text}() ({target})", instead=THREAD_WAITS[target],
                                 confidence=confidence(recv, target.endswith(".acquire")))


# ---------------------------------------------------------------- CCL505
def _runner_walker(ctx) -> _Walker:
    project = ctx.project

    def pred(call: Call, target: Optional[str]) -> Optional[str]:
        return LOOP_RUNNERS.get(target or "")

    return _Walker(project, pred, "loop-runner")


# calls that tell whether an event loop is running in this thread
LOOP_PROBES = frozenset({"asyncio.get_running_loop", "asyncio._get_running_loop", "asyncio.events._get_running_loop",
                         "asyncio.AbstractEventLoop.is_running"})


def _asks_for_running_loop(project, qualname: str) -> bool:
    """A synchronous helper that first asks whether a loop is running (``try: loop =
    asyncio.get_running_loop() except RuntimeError: ...``) and runs a loop of its own only when
    none is (param's ``async_executor``)."""
    fn = project.functions.get(qualname)
    return fn is not None and not fn.is_async and any(project.call_target(c) in LOOP_PROBES for c in project.calls_of(fn))


class AsyncioRunInRunningLoop(Rule):
    code = "CCL505"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        walker: _Walker = ctx.shared(_runner_walker)
        for fn in _coroutines(module):
            for call in _calls(module, fn):
                target = project.call_target(call)
                api = LOOP_RUNNERS.get(target or "")
                if api is not None:
                    yield ctx.report(self.code, module, call, function=fn.qualname, api=api, via="")
                    continue
                callee = walker.runs(call, target)
                if callee is None:
                    continue
                r = walker.reach(callee.qualname, call)
                if r is None or any(_returns_a_task(project, project.functions[q]) for q in r.chain
                                    if q in project.functions):
                    continue  # a dual API: called from a coroutine it hands back the task
                if any(_asks_for_running_loop(project, q) for q in r.chain):
                    continue  # it schedules on the running loop when there is one, runs its own when not
                yield ctx.report(self.code, module, call, function=fn.qualname, api=r.desc,
                                 via=f" (via {_short(fn.qualname)} -> {_chain_text(r.chain)})",
                                 related=_related(r, f"{r.desc} is called here"))

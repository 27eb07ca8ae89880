"""CCL608: a timeout handed to a waiting API in its ``block``/``blocking`` slot.

``q.get(0.5)``, ``q.put(batch, 5)``, ``lock.acquire(2.0)``, ``sem.acquire(self.timeout)``: the
first parameter of ``queue.Queue.get`` (the second of ``put``) is ``block`` and the first of a
lock's or a semaphore's ``acquire`` is ``blocking``, both flags; the timeout comes after them. Any
number there is only true, so the call blocks with no timeout: the ``except queue.Empty`` written
for it never runs, and a worker that was meant to look at its stop flag every half second waits
for ever when nothing comes. The call is resolved (a ``queue.Queue``, a ``multiprocessing``
queue, a ``threading`` or ``multiprocessing`` lock, semaphore or condition), so a project's own
queue whose ``get(timeout)`` takes a timeout first, a dict's ``get(5)`` or a file lock's
``acquire(timeout)`` are not reported. Reported: a number other than 0 and 1 (``acquire(1)`` and
``get(0)`` are the old spellings of ``True`` and ``False``), or a name spelled like a duration
(``timeout``, ``POLL_SECONDS``, ``self.interval``), when no timeout is given beside it.
"""
from __future__ import annotations

import re
from typing import Iterator, Optional

from concurlint.analysis.facts import Call, ModuleFacts, Value
from concurlint.registry import Finding, Rule

_QUEUES = ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "multiprocessing.Queue",
           "multiprocessing.queues.Queue", "multiprocessing.JoinableQueue", "multiprocessing.queues.JoinableQueue")
_LOCKS = ("threading.Lock", "threading.RLock", "threading.Semaphore", "threading.BoundedSemaphore",
          "threading.Condition", "multiprocessing.Lock", "multiprocessing.RLock", "multiprocessing.Semaphore",
          "multiprocessing.BoundedSemaphore", "multiprocessing.Condition", "multiprocessing.synchronize.Lock",
          "multiprocessing.synchronize.RLock", "multiprocessing.synchronize.Semaphore",
          "multiprocessing.synchronize.BoundedSemaphore", "multiprocessing.synchronize.Condition")
# the waiting API -> (the position of its flag, the flag's name); the timeout is the next one
SLOTS = {f"{q}.get": (0, "block") for q in _QUEUES}
SLOTS.update({f"{q}.put": (1, "block") for q in _QUEUES})
SLOTS["queue.SimpleQueue.get"] = (0, "block")  # (its put never blocks)
SLOTS.update({f"{lock}.acquire": (0, "blocking") for lock in _LOCKS})

# a name that holds a duration: `timeout`, `POLL_SECONDS`, `self.wait_secs`, `interval`
_DURATION = re.compile(r"(^|_)(timeout|time_out|tmo|secs?|seconds|interval|delay|period|duration|deadline)s?($|_)",
                       re.IGNORECASE)


def flag_slot(call: Call, target: Optional[str]):
    """(the argument, the flag's name) when ``call`` hands a duration to its flag slot and no
    timeout beside it; None otherwise."""
    slot = SLOTS.get(target or "")
    if slot is None:
        return None
    index, flag = slot
    if len(call.args) != index + 1 or "timeout" in call.kwargs:
        return None
    arg = call.args[index]
    return (arg, flag) if _duration(arg) else None


def _duration(v: Value) -> bool:
    """A number other than 0 and 1 (the old spellings of False and True), or a name spelled like
    a duration."""
    if v.kind == "literal":
        if v.meta.get("type") not in ("builtins.int", "builtins.float"):
            return False
        text = v.meta.get("value") or v.meta.get("source") or v.text
        try:
            number = float(text)
        except ValueError:
            return _DURATION.search(v.text.rsplit(".", 1)[-1]) is not None
        return number > 0 and number != 1
    if v.kind in ("name", "attribute"):
        return _DURATION.search(v.text.rsplit(".", 1)[-1]) is not None
    return False


def _by_path(ctx):
    """Per module path, its calls that hand a duration to a flag slot, with what they hand."""
    project = ctx.project
    out: dict = {}
    for mod, call in project.index.calls("block-slot"):
        found = flag_slot(call, project.call_target(call))
        if found is not None:
            out.setdefault(mod.path, []).append((call, found[0], found[1]))
    return out


class TimeoutAsBlock(Rule):
    code = "CCL608"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        for call, arg, flag in ctx.shared(_by_path).get(module.path, ()):
            before = [a.text for a in call.args[:-1]]
            shown = ", ".join(before + [arg.text])
            fixed = ", ".join(before + [f"timeout={arg.text}"])
            what = (f"any number there only means {flag}=True, so the call waits with no timeout "
                    "(for ever if nothing comes)")
            if arg.kind != "literal":
                # `def write(self, data, timeout=None): self._queue.put(data, timeout)`: None is
                # false, and the call does not wait at all (ffmpegio's writer thread)
                what = (f"a number there only means {flag}=True, so the call waits with no timeout (for ever if "
                        f"nothing comes), and None means {flag}=False, so it does not wait at all")
            yield ctx.report(self.code, module, call, function=call.function, call=f"{call.text}({shown})",
                             arg=arg.text, flag=flag, what=what, fixed=f"{call.text}({fixed})")

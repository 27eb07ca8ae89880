"""CCL607: a ``while`` loop that waits by spinning.

``while not future.done(): pass``, ``while len(self.buffer) == 0: pass``, ``while self._running:
try: item = q.get_nowait() except queue.Empty: continue``: the loop asks again at once, as fast
as the interpreter goes, until another thread changes what it tests. It burns a CPU for as long
as it waits, and under the GIL it takes the interpreter from the very thread it waits for at every
switch interval, so that thread runs at half speed or worse. The loops are read from the source
(``Function.spins``, collected with the loops): an empty body over a test that only reads state, or
a non-blocking get whose ``Empty`` handler only goes round again in a loop that makes no call that
waits. A short spin on a clock (``while time.monotonic() < deadline: pass``) is deliberate and not
reported, nor is a loop that drains a queue until it is empty.
"""
from __future__ import annotations

import re
from typing import Iterator

from concurlint.analysis.facts import ModuleFacts
from concurlint.analysis.threads import is_class_level
from concurlint.registry import Finding, Rule

# what to wait on instead, by what the spin tests (the first that its text shows)
_INSTEAD = (
    (".poll()", "multiprocessing.connection.wait([conn, process.sentinel]) (or conn.poll(timeout)) blocks until a "
                "message comes or the child ends"),
    (".done()", "future.result() (or concurrent.futures.wait) blocks until the future is done"),
    ("is_alive()", "thread.join() blocks until the thread ends"),
    ("isAlive()", "thread.join() blocks until the thread ends"),
    ("is_set()", "event.wait() blocks until the event is set"),
    ("isSet()", "event.wait() blocks until the event is set"),
    ("empty()", "a blocking queue.get(timeout=...) waits for the next item"),
    ("qsize()", "a blocking queue.get(timeout=...) waits for the next item"),
    ("len(", "a queue.Queue (or a threading.Condition) lets the reader block until there is data"),
)


# a test that waits for a queue to be drained by someone else
_DRAINED = re.compile(r"^not\b.*\.empty\(\)|\.qsize\(\)\s*(!=|>)\s*0|len\(.*\)\s*(!=|>)\s*0")
# what starts a thread: `t.start()`, `_thread.start_new_thread(f, ())`
STARTS = frozenset({"start", "start_new_thread"})


class BusyWait(Rule):
    code = "CCL607"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        for fn in module.functions.values():
            for line, col, what, how in fn.spins:
                if how == "test" and _computed(project, fn, what):
                    continue
                if how == "get":
                    loop = f"the loop around `{what}`"
                    instead = "a blocking get with a timeout (`q.get(timeout=0.5)`) waits for the next item " \
                              "and still lets the loop check its flag"
                elif how == "poll":
                    # it waits only under a check that something has come (cobrafuzz's campaign
                    # loop: `while not results.empty(): results.get()` and nothing else that waits)
                    loop = f"the loop that checks `{what}`"
                    instead = ("`conn.poll(timeout)` waits for the next message" if "poll(" in what else
                               "a blocking get with a timeout (`q.get(timeout=0.5)`) waits for the next item") \
                        + " and still lets the loop check its limits"
                elif _DRAINED.search(what):
                    # `while not reports.empty(): pass`: waiting for another side to drain the
                    # queue; a get would take its items (chesstab's reports to the GUI)
                    loop = f"`while {what}: pass`"
                    instead = ("queue.join() (with task_done() where the items are taken) blocks until the queue "
                               "is drained; at least a short sleep in the loop stops the spin")
                else:
                    loop = f"`while {what}: pass`"
                    instead = next((fix for key, fix in _INSTEAD if key in what),
                                   "a threading.Event that the other side sets, and event.wait(), block until it "
                                   "happens")
                # an empty loop over a state test waits once, for a hand-shake or for the end of
                # one piece of work: on real code 2 of 20 such findings at high were worth a
                # change (start-up and quit paths, a flag set a few milliseconds later); a worker
                # loop polling its queue spins for as long as it lives (beets, melodie,
                # mopidy-local: every one worth a change) -- unless the loop follows a thread's
                # start (`worker.start()`, then the wait for it to say it runs: ev3dev2's odometry
                # thread, rev127d's high debatable; dualsense-controller, pyfftw)
                just_started = how == "get" and any(c.method in STARTS and line - 4 <= c.line < line
                                                    for c in project.calls_of(fn))
                conf = "high" if how in ("get", "poll") and not just_started else "medium"
                yield ctx.report(self.code, module, _Spin(line, col, what), function=fn.qualname,
                                 loop=loop, instead=instead, pattern=(("busy-wait",),), confidence=conf)


def _computed(project, fn, test: str) -> bool:
    """The test reads ``self.<name>`` where the name is a property or a descriptor of the class
    (a method through its bases, or a class-level attribute made by a call): the read runs code
    -- ``while self.error != 0: continue`` where ``error = Instrument.measurement("TB?")`` asks
    the instrument each time (pymeasure's error queue, drained, not a spin); ``while self.pdirty:
    pass`` where the property asks a DLL and clears the flag it reads (voicemeeter-api, rev128a's
    two fps)."""
    if fn.cls is None:
        return False
    for name in re.findall(r"\bself\.(\w+)", test):
        if project.find_method(fn.cls, name) is not None:
            return True
        for cls in project.ancestors(fn.cls):
            if f"{cls}.{name}" in project.functions:
                return True  # a `@property` (not among the class's methods): voicemeeter's pdirty
            info = project.classes.get(cls)
            value = info.attrs.get(name) if info is not None else None
            if value is not None and value.kind == "call" and is_class_level(project, cls, name):
                return True
    return False


class _Spin:
    def __init__(self, line: int, col: int, text: str):
        self.line, self.col, self.end_line, self.end_col, self.text = line, col, line, col, text

"""A CPU-time budget per file: one runaway file becomes a finding, the rest of the run completes.

No input should take long (``g()()()…`` chains, deep nesting and huge literals are handled where
they arise), but a file that still does — a pathological shape nobody has found yet — must not
hold the whole run hostage. Each file's analysis (decode, parse, fact extraction) and each rule's
pass over one module run under ``budget()``: when the process has spent that much CPU time on it,
``BudgetExceeded`` is raised inside the analysis and the file gets a CCL000 (a rule: CCL999).

CPU time, not wall-clock time: a busy machine slows every file alike and must not turn ordinary
files into findings. The budget is ``$CONCURLINT_FILE_TIMEOUT`` seconds (default 20; ``0``
switches it off). It is enforced with ``setitimer(ITIMER_PROF)`` in the main thread of a process
(the CLI, its worker processes, flake8); where that is not available (Windows, a front-end
calling the engine from another thread) files run without a budget.
"""
from __future__ import annotations

import math
import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

ENV = "CONCURLINT_FILE_TIMEOUT"
DEFAULT_SECONDS = 20.0


class BudgetExceeded(BaseException):
    """The file's budget is spent. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` inside the analysis swallows it."""

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds

    def words(self) -> str:
        return (f"analysis took more than {self.seconds:g} s of CPU time (${ENV}); not analysed")


def seconds() -> float:
    """The budget in CPU seconds; 0 means none. A value that is not a number is the default."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_SECONDS
    if math.isnan(value) or value < 0:
        return DEFAULT_SECONDS
    return 0.0 if math.isinf(value) else value


def enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def budget(limit: float = -1.0) -> Iterator[None]:
    """Raise ``BudgetExceeded`` in the body once it has used ``limit`` CPU seconds
    (default: ``seconds()``)."""
    if limit < 0:
        limit = seconds()
    if limit <= 0 or not enforceable():
        yield
        return
    state = {"armed": True}

    def expired(signum, frame):
        if state["armed"]:
            state["armed"] = False
            raise BudgetExceeded(limit)

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, limit)
    try:
        yield
    finally:
        state["armed"] = False
        # the timer may fire between two of these statements: once disarmed, it raises nothing
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


class Meter:
    """``budget()`` for many items in a row (each rule on each module: tens of thousands in a
    large project): the SIGPROF handler is installed once for the loop (``installed()``) and
    each ``with meter:`` only sets and clears the timer. The same limit and the same
    ``BudgetExceeded`` as ``budget()``, at a fraction of its cost."""

    def __init__(self, limit: float = -1.0):
        self.limit = seconds() if limit < 0 else limit
        self.on = False
        self._armed = False

    @contextmanager
    def installed(self) -> Iterator["Meter"]:
        if self.limit <= 0 or not enforceable():
            yield self
            return
        previous = signal.signal(signal.SIGPROF, self._expired)
        self.on = True
        try:
            yield self
        finally:
            self.on = self._armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)

    def _expired(self, signum, frame):
        if self._armed:
            self._armed = False
            raise BudgetExceeded(self.limit)

    def __enter__(self) -> "Meter":
        if self.on:
            self._armed = True
            signal.setitimer(signal.ITIMER_PROF, self.limit)
        return self

    def __exit__(self, *exc) -> None:
        if self.on:
            # the timer may fire between these two statements: once disarmed, it raises nothing
            self._armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)


@contextmanager
def paused() -> Iterator[None]:
    """Stop the clock of the enclosing ``budget()`` for the body: project-wide analyses that
    the first rule on the first module happens to trigger (``Context.shared``) are not that
    module's cost."""
    if not enforceable():
        yield
        return
    remaining, _ = signal.getitimer(signal.ITIMER_PROF)
    if remaining <= 0:
        yield
        return
    signal.setitimer(signal.ITIMER_PROF, 0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, remaining)

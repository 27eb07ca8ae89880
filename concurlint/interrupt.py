"""SIGTERM ends a run the way Ctrl-C does.

``kill``, ``timeout``, a CI runner cancelling a job or an editor stopping a lint send SIGTERM to
the ``concurlint`` process only (a Ctrl-C reaches the whole process group). Python's default
would end the process on the spot, leaving worker processes to finish the queue on their own.
Instead SIGTERM raises ``Terminated`` — a ``KeyboardInterrupt``, so every clean-up written for
Ctrl-C runs (the engine stops its pool, the probe its runner) — and the command exits with one
line on stderr and the status a shell gives a process killed by that signal (130 for SIGINT,
143 for SIGTERM), without a traceback.
"""
from __future__ import annotations

import signal
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived."""


def _raise_terminated(signum, frame):
    raise Terminated()


def install() -> None:
    """Turn SIGTERM into ``Terminated`` in this (main) thread."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        try:
            signal.signal(signal.SIGTERM, _raise_terminated)
        except (ValueError, OSError):  # pragma: no cover
            pass


def exit_status(exc: BaseException) -> int:
    """What to print and return for an interrupt: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + int(signal.SIGTERM) if isinstance(exc, Terminated) else 128 + int(signal.SIGINT)


def words(exc: BaseException) -> str:
    return "terminated" if isinstance(exc, Terminated) else "interrupted"

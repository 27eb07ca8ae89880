"""Misbehaving probe targets: the probe must report each, never crash or hang."""

import os
import time


def raises(x):
    raise ValueError("bad input %r" % (x,))


def exits():
    os._exit(3)


def segfault():
    import ctypes

    ctypes.string_at(0)


def hangs():
    while True:
        time.sleep(0.05)


def hangs_in_threads():
    import threading

    if threading.current_thread() is not threading.main_thread():
        while True:
            time.sleep(0.05)
    return 1


def exits_in_worker():
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        os._exit(7)
    return 1


as_lambda = lambda x: x * 2  # noqa: E731 - unpicklable on purpose


def returns_lambda():
    return lambda: 1

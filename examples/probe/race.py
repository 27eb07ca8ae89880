"""A data race on a shared counter, and the lock that fixes it.

    python race.py            # lost updates without the lock, none with it

`increment` reads the counter, does something that lets another thread run
(here `time.sleep(0)`; in real code a log call, an I/O call, a C function
that releases the GIL), then writes back what it read plus one: every
increment another thread made in between is overwritten.  The GIL does not
prevent this: it makes each bytecode atomic, not the read-modify-write.
This script shows the effect at run time, and the lock that removes it.
"""

import threading
import time


class Counter:
    def __init__(self):
        self.value = 0

    def increment(self):
        current = self.value
        time.sleep(0)  # another thread may run here
        self.value = current + 1


class LockedCounter(Counter):
    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def increment(self):
        with self._lock:
            super().increment()


def hammer(counter, threads=4, increments=500):
    """Increment `counter` from several threads; return (expected, actual)."""
    def work():
        for _ in range(increments):
            counter.increment()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return threads * increments, counter.value


def lost_updates(threads=4, increments=500):
    """Probe target: how many increments the race lost (0 when serial)."""
    expected, actual = hammer(Counter(), threads, increments)
    return expected - actual


def lost_updates_locked(threads=4, increments=500):
    """Probe target: the same with the lock (always 0)."""
    expected, actual = hammer(LockedCounter(), threads, increments)
    return expected - actual


if __name__ == "__main__":
    for cls in (Counter, LockedCounter):
        expected, actual = hammer(cls())
        print("%-13s expected %d, got %d: %d updates lost" % (cls.__name__, expected, actual, expected - actual))

"""A data race on a shared counter, and the lock that fixes it.

    python race.py            # lost updates without the lock, none with it
    concurlint check race.py --min-confidence low  # finds the unlocked read-modify-write (CCL202), not the locked one

`increment` reads the counter, does something that lets another thread run
(here `time.sleep(0)`; in real code a log call, an I/O call, a C function
that releases the GIL), then writes back what it read plus one: every
increment another thread made in between is overwritten.  The GIL does not
prevent this: it makes each bytecode atomic, not the read-modify-write.
This script shows the effect at run time, and the lock that removes it.
How many updates are lost depends on the thread scheduler (it varies from
run to run and between Python versions); with the lock it is always none.
"""

import threading
import time

hits = 0
hits_lock = threading.Lock()


def increment():
    global hits
    current = hits  # CCL202: another thread can write 'hits' between this read and the write below
    time.sleep(0)  # another thread may run here
    hits = current + 1


def increment_locked():
    global hits
    with hits_lock:
        current = hits
        time.sleep(0)
        hits = current + 1


def hammer(locked, threads=4, increments=500):
    """Increment the counter from several threads; return (expected, actual)."""
    global hits
    hits = 0

    def work():
        for _ in range(increments):
            if locked:
                increment_locked()
            else:
                increment()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return threads * increments, hits


def lost_updates(threads=4, increments=500):
    """Probe target: how many increments the race lost (0 when serial)."""
    expected, actual = hammer(False, threads, increments)
    return expected - actual


def lost_updates_locked(threads=4, increments=500):
    """Probe target: the same with the lock (always 0)."""
    expected, actual = hammer(True, threads, increments)
    return expected - actual


if __name__ == "__main__":
    for name, locked in (("without lock", False), ("with lock", True)):
        expected, actual = hammer(locked)
        print("%-13s expected %d, got %d: %d updates lost" % (name, expected, actual, expected - actual))

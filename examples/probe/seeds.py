"""The classic findings about Python concurrency, as probe targets.

Each function is one task; `concurlint probe seeds:<name>` runs it `tasks`
times serially, in threads, in processes, under asyncio and (Python 3.14+)
in subinterpreters.  See README.md for the commands and measured results.
"""

import asyncio
import functools
import hashlib
import time
import zlib


def count_primes(limit):
    """Pure-Python CPU work: the interpreter loop holds the GIL throughout."""
    found = 0
    for n in range(2, limit):
        d = 2
        while d * d <= n:
            if n % d == 0:
                break
            d += 1
        else:
            found += 1
    return found


def wait_for_io(seconds):
    """An IO wait (a network call, a disk read): the thread sleeps, the GIL is free."""
    time.sleep(seconds)
    return seconds


async def wait_for_io_async(seconds):
    """The same wait, as a coroutine."""
    await asyncio.sleep(seconds)
    return seconds


@functools.lru_cache(maxsize=None)
def _buffer(megabytes):
    # made once per process: the probe then times hashing, not memory allocation
    return bytes(range(256)) * (megabytes * 4096)


def hash_buffer(megabytes, rounds):
    """CPU work in C that releases the GIL: hashlib on buffers larger than 2 KiB."""
    data = _buffer(megabytes)
    digest = ""
    for _ in range(rounds):
        digest = hashlib.sha256(data).hexdigest()
    return digest


_LOG = b"".join(b"%d GET /item/%d HTTP/1.1 200 %d\n" % (i, i * 7919 % 10007, i % 977) for i in range(40000))


def compress_buffer(rounds, level=6):
    """zlib releases the GIL while it deflates (here about 1 MB of log lines per round)."""
    size = 0
    for _ in range(rounds):
        size = len(zlib.compress(_LOG, level))
    return size

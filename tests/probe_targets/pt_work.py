"""Well-behaved probe targets for tests/test_probe*.py (kept small: the tests time them)."""

import asyncio
import hashlib
import time


def crunch(n):
    """Pure-Python CPU work: holds the GIL."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def sleepy(seconds):
    """IO stand-in: waits without using the CPU."""
    time.sleep(seconds)
    return seconds


async def async_sleepy(seconds):
    await asyncio.sleep(seconds)
    return seconds


def hash_buffer(mb, rounds=1):
    """CPU work in C that releases the GIL (hashlib on buffers > 2 KiB)."""
    data = bytes(mb * 1024 * 1024)
    digest = b""
    for _ in range(rounds):
        digest = hashlib.sha256(data).digest()
    return digest.hex()


def chatty(n):
    """Prints to stdout: must not corrupt the probe's channel."""
    for i in range(n):
        print('{"event": "done"} not json from the target', i)
    return n


class Scorer:
    def __init__(self, scale=1):
        self.scale = scale

    def score(self, n):
        return crunch(n) * self.scale


def make_scorer(scale=3):
    return Scorer(scale)

"""Pure computation, some of it in C code that releases the GIL."""
import bz2
import hashlib
import json
import lzma
import re
import zlib

import numpy as np

WORD = re.compile(r"\w+")


def checksum(data):  # kind: cpu
    total = 0
    for b in data:
        total = (total * 31 + b) % 1_000_000_007
    return total


def primes(limit):  # kind: cpu
    sieve = [True] * limit
    for i in range(2, limit):
        if sieve[i]:
            for j in range(i * i, limit, i):
                sieve[j] = False
    return [i for i in range(limit) if sieve[i]]


def fib(n):  # kind: cpu
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def count_primes(limit):  # kind: cpu
    found = 0
    for n in range(2, limit):
        d = 2
        while d * d <= n:  # the test is arithmetic too, every turn
            if n % d == 0:
                break
            d += 1
        else:
            found += 1
    return found


def split_header(value):  # kind: unknown
    # a cursor stepping through one header: indexing, compares and a step are bookkeeping
    items, pos, n = [], 0, len(value)
    while pos < n:
        while pos < n and value[pos] in " ,":
            pos = pos + 1
        start = pos
        while pos < n and value[pos] != ",":
            pos += 1
        if start < pos:
            items.append(value[start:pos].strip())
    return items


def squares(n):  # kind: cpu
    return sum([i * i for i in range(n)])


def word_counts(texts):  # kind: cpu
    counts = {}
    for text in texts:
        for word in WORD.findall(text):
            counts[word] = counts.get(word, 0) + 1
    return counts


def parse_all(blobs):  # kind: cpu
    return [json.loads(b) for b in blobs]


def rank(scores):  # kind: cpu
    ordered = sorted(scores)
    return [ordered.index(s) for s in scores]


def matrix_power(a, k):  # kind: cpu, releases-gil
    return np.linalg.matrix_power(np.asarray(a), k)


def normalise(values):  # kind: cpu, releases-gil
    arr = np.array(values)
    return (arr - arr.mean()) / arr.std()


def digest(blob):  # kind: cpu, releases-gil
    return hashlib.sha256(blob).hexdigest()


def compress(blob):  # kind: cpu, releases-gil
    return zlib.compress(blob, 9)


def pack_all(blobs):  # kind: cpu, releases-gil
    return [bz2.compress(b) + lzma.compress(b) for b in blobs]


def busy_spin(n):  # kind: cpu
    import time

    total = 0
    for i in range(n):
        total += i * i
        time.sleep(0)  # yields the GIL, it does not wait
    return total


def one_json(blob):  # kind: unknown
    # one json.loads is not CPU-bound
    return json.loads(blob)


def add(a, b):  # kind: unknown
    return a + b


class Stats:
    def __init__(self, values):
        self.values = values

    def mean(self):  # kind: unknown
        return sum(self.values) / len(self.values)

    def variance(self):  # kind: cpu
        m = self.mean()
        total = 0.0
        for v in self.values:
            total += (v - m) ** 2
        return total / len(self.values)

    # one call of a helper whose work is one pass over data of unknown size (variance: a single
    # loop) is not evidence that the caller is CPU-bound: it is held, and passes to callers that
    # call it in a loop (pipeline.summarise_each)
    def report(self):  # kind: unknown
        return {"variance": self.variance()}

    @classmethod
    def of_range(cls, n):  # kind: unknown
        return cls(list(range(n))).report()


def stretch_key(secret, rounds):  # kind: cpu, releases-gil
    """Key stretching: the same digest applied as many times as the caller asks."""
    digest = secret
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest


"""Jobs that combine the other modules: the work is often two calls away."""
import hashlib as hl
import time

from shop import compute
from shop.compute import checksum as cs
from shop.compute import primes
from shop.net import Catalog, fetch_json
from shop.storage import read_orders as load


def sync_prices(urls):  # kind: io
    # a for loop that calls requests.get (through fetch_json) is IO, not CPU
    results = []
    for url in urls:
        data = fetch_json(url)
        results.append(data["price"] * 1.2)
    return results


def verify_exports(paths):  # kind: mixed
    out = []
    for path in paths:
        lines = load(path)
        out.append(cs("".join(lines).encode()))
    for i in range(200000):
        out.append(i * i % 7)
    return out


def nightly_totals(db):  # kind: cpu
    return compute.word_counts(["a b c"] * 1000)


def two_deep(n):  # kind: cpu
    return crunch_twice(n)


def crunch_twice(n):  # kind: cpu
    return primes(n) + primes(n * 2)


def retry_fetch(url, attempts=3):  # kind: io
    for attempt in range(attempts):
        try:
            return fetch_json(url)
        except OSError:
            time.sleep(2 ** attempt)
    return None


def sign(blob):  # kind: cpu, releases-gil
    return hl.blake2b(blob).hexdigest()


def price_report(base, skus):  # kind: io
    catalog = Catalog(base)
    return catalog.all_prices(skus)


def summarise(values):  # kind: unknown
    stats = compute.Stats(values)
    return stats.report()


def summarise_each(batches):  # kind: cpu
    # one pass over every batch: the held work of Stats.report, in a loop over the input
    return [compute.Stats(values).report() for values in batches]


def fingerprint_batch(blobs):  # kind: cpu, releases-gil
    return [compute.digest(b) for b in blobs]


# Mutual recursion is how parsers, visitors and retry loops are built: on its own it is no evidence
# of CPU work, so these are honestly unknown (self-recursion doing arithmetic, like fib, is cpu).
def even_odd(a, b):  # kind: unknown
    return ping_pong(a, b)


def ping_pong(a, b):  # kind: unknown
    if a <= 0:
        return b
    return pong_ping(a - 1, b + 1)


def pong_ping(a, b):  # kind: unknown
    if b <= 0:
        return a
    return ping_pong(a, b - 1)


class Importer:
    def __init__(self, path):
        self.path = path

    def rows(self):  # kind: io
        return load(self.path)

    def parsed(self):  # kind: mixed
        rows = self.rows()
        return [compute.fib(25) for _ in rows] + [compute.primes(10_000) for _ in range(100)]

    def run(self):  # kind: mixed
        return self.parsed()


def scrape_and_score(urls):  # kind: mixed
    pages = [fetch_json(u) for u in urls]
    score = 0
    for page in pages:
        for a in range(1000):
            for b in range(1000):
                score += a * b
    return pages, score


def archive_blobs(paths):  # kind: mixed, releases-gil
    packed = []
    for path in paths:
        packed.append(compute.compress(open(path, "rb").read()))
    for _ in range(100):
        packed.append(hl.sha256(b"x" * 10_000_000).digest())
    return packed


def describe(order):  # kind: unknown
    return f"order {order['id']} for {order['customer']}"

"""Nightly batch job: CSV statistics and thumbnails in worker processes."""
import csv
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor

from newsroom.text import score

KEYWORDS = {"election", "market", "storm"}


def column_stats(rows):
    total = 0.0
    for row in rows:
        for value in row:
            total += float(value) ** 2
    return total


def load_rows(path):
    with open(path, newline="") as f:
        return [row[1:] for row in csv.reader(f)]


def on_term(signum, frame):
    print("stopping")


def heartbeat():
    signal.signal(signal.SIGTERM, on_term)
    print("alive")


def nightly(paths, articles):
    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    chunks = [load_rows(p) for p in paths]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        totals = list(pool.map(column_stats, chunks))
        scored = list(pool.map(lambda a: score(a, KEYWORDS), articles))
        # reading files is IO: processes add start-up and pickling for nothing
        raw = list(pool.map(load_rows, paths))
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return totals, scored, raw


pool = multiprocessing.Pool(2)

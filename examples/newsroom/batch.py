"""Nightly batch job: CSV statistics and thumbnails in worker processes."""
import csv
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor

import requests

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


def download_report(url):
    return requests.get(url, timeout=30).text


def on_term(signum, frame):
    print("stopping")


def heartbeat():
    signal.signal(signal.SIGTERM, on_term)  # CCL601: signal handlers can only be set in the main thread
    print("alive")


def nightly(paths, articles, report_urls):
    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    chunks = [load_rows(p) for p in paths]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        totals = list(pool.map(column_stats, chunks))  # CCL301: the pool forks while 'beat' runs
        scored = list(pool.map(lambda a: score(a, KEYWORDS), articles))  # CCL401: a lambda cannot be pickled
        # downloading is network IO: processes add start-up and pickling for nothing
        reports = list(pool.map(download_report, report_urls))  # CCL102: use threads for IO
    pid = os.fork()  # CCL301: fork while a thread runs
    if pid == 0:
        os._exit(0)
    return totals, scored, reports


pool = multiprocessing.Pool(2)  # CCL303: starts processes at import time, without a main guard

"""Job runner: a race the fixer reports but leaves alone, and futures it collects (unsafe)."""
import threading
from concurrent.futures import ProcessPoolExecutor

counter = 0


def bump():
    global counter
    counter += 1


def run_threads():
    workers = [threading.Thread(target=bump) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def fan_out(items):
    pool = ProcessPoolExecutor()
    for item in items:
        pool.submit(len, item)  # results never looked at
    pool.shutdown()

"""Small project modules shared by the incremental-analysis tests (a counter reached serially,
then from threads: an edit that moves a CCL201 finding into a file that was not edited)."""

COUNTERS = '''"""Request counters for the status page."""
_served = 0


def record(request):
    global _served
    _served += 1
    return request
'''

SERIAL_SERVER = '''"""The request loop."""
from app.counters import record


def serve(requests):
    for request in requests:
        record(request)
'''

THREADED_SERVER = '''"""The request loop: one thread per request."""
import threading

from app.counters import record


def serve(requests):
    workers = [threading.Thread(target=record, args=(request,)) for request in requests]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
'''

"""Nightly batch: re-render every stored image. Run as `python batch.py`."""
import multiprocessing
import sys

from mediahub.render import shrink

STORE = ["a.raw", "b.raw", "c.raw"]


def load(name):
    # stand-in for reading the raw file
    return list(range(len(name) * 64))


def render_one(name):
    return len(shrink(load(name), 4))


ctx = multiprocessing.get_context("spawn")
with ctx.Pool(2) as pool:  # one worker per core on the batch box
    sizes = pool.map(render_one, STORE)
print("rendered", sum(sizes), file=sys.stderr)

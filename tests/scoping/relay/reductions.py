"""Reductions over numeric blocks: real work, loops over the data."""


def max(blocks, axis=None):
    best = None
    for block in blocks:
        for row in block:
            for x in row:
                v = x * x + 3 * x - 7
                if best is None or v > best:
                    best = v
    return best

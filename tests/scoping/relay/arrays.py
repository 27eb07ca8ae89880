"""A chunked array. ``Chunked.max`` imports its implementation inside the method; the builtin
``max`` of every other function stays the builtin."""


class Chunked:
    def __init__(self, blocks, chunk):
        self.blocks = blocks
        self.chunk = chunk

    def max(self, axis=None):
        from relay.reductions import max

        def per_block(block):
            return max([block], axis=axis)

        if axis == 0:
            return [per_block(b) for b in self.blocks]
        return max(self.blocks, axis=axis)

    def rechunk(self, limit):
        return Chunked(self.blocks, round_to(limit, self.chunk))


def round_to(c, s):
    """Round a chunk size down to a multiple of ``s`` (never below 1)."""
    return max(1, int(c // s) * s)


def chunk_limits(shape, limit):
    def per_axis(n):
        return min(n, max(1, limit // n))

    return tuple(per_axis(n) for n in shape)

"""Sizes of buffers, for the cost model of the knowledge base.

hashlib releases the GIL from 2 KiB, json costs per input size: what the classification needs is
how many bytes a buffer holds, where the code says so (a literal, ``f.read(65536)``, a fixed-width
slice, ``iter(lambda: f.read(N), b"")``). Never guessed: a name, a parameter or a whole file read
has no size. ``SizeCollector`` is a mixin of ``Extractor``; it needs ``lookup``, ``segment`` and
``_call_target`` from the other collectors.
"""
from __future__ import annotations

import ast
from typing import Optional

from concurlint.analysis.facts import Value


class SizeCollector:
    """How many bytes a call returns, a slice holds or a loop's step reads (a mixin of ``Extractor``)."""

    def few_items(self, node: ast.AST) -> Optional[int]:
        """At most how many items a comprehension makes, when its only generator runs over a
        display or a name bound to one (``paths = [p for p in [cert, key, ca] if p]``: 3)."""
        gens = getattr(node, "generators", None)
        if not gens or len(gens) != 1:
            return None
        return self.items_in(gens[0].iter)

    def items_in(self, node: ast.AST) -> Optional[int]:
        """How many items iterating ``node`` yields, where the code fixes it: a list, tuple or set
        display, or a local name bound to one (or to a comprehension over one), numbered by
        ``enumerate`` or zipped with others."""
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and not any(isinstance(e, ast.Starred) for e in node.elts):
            return len(node.elts)
        if isinstance(node, ast.Name):
            v = self.lookup(node.id)
            if v is not None and v.kind == "container" and v.size is not None and v.meta.get("type") != "builtins.dict":
                return v.size
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args and not node.keywords:
            fn = self.lookup(node.func.id)
            what = fn.qualname if fn is not None and fn.kind == "ref" else None
            if what == "builtins.enumerate" and len(node.args) == 1:
                return self.items_in(node.args[0])  # as many as what it numbers
            if what == "builtins.zip":
                # zip stops at its shortest input: `zip(paths, ids)` with `paths` a short display
                sizes = [n for n in (self.items_in(a) for a in node.args) if n is not None]
                return min(sizes) if sizes else None
        return None

    def const_int(self, node: Optional[ast.AST]) -> Optional[int]:
        """An integer the code fixes: a literal or constant expression, or a name bound to one
        (``CHUNK = 1 << 20`` at module level)."""
        if node is None:
            return None
        n = _const_int(node)
        if n is None and isinstance(node, ast.Name):
            v = self.lookup(node.id)
            if v is not None and v.kind == "literal" and v.meta.get("type") == "builtins.int" and "value" in v.meta:
                n = int(v.meta["value"])
        return n

    def _call_bytes(self, node: ast.Call) -> Optional[int]:
        """``f.read(65536)``, ``sock.recv(4096)``, ``os.read(fd, n)``, ``uid.to_bytes(8, "big")``,
        ``struct.pack(">QI", a, b)``, ``os.urandom(16)``, ``"key".encode()``: bytes the call returns
        (at most: the last chunk of a file may be shorter)."""
        func = node.func

        def arg(i: int, *names: str) -> Optional[ast.AST]:
            for kw in node.keywords:
                if kw.arg in names:
                    return kw.value
            if any(isinstance(a, ast.Starred) for a in node.args[:i + 1]):
                return None
            return node.args[i] if len(node.args) > i else None

        if isinstance(func, ast.Attribute):
            if func.attr in CHUNK_READS:
                n = self.const_int(arg(0, "size", "n", "bufsize", "amt"))
                return n if n is not None and n > 0 else None
            if func.attr == "to_bytes":
                n = self.const_int(arg(0, "length"))
                return n if n is not None and n >= 0 else (1 if not node.args and not node.keywords else None)
            if func.attr == "encode" and isinstance(func.value, ast.Constant) and isinstance(func.value.value, str):
                return len(func.value.value.encode("utf-8", "replace"))
        target = self._call_target(node)[0]
        if target in ("os.read", "os.pread"):
            n = self.const_int(arg(1))
            return n if n is not None and n > 0 else None
        if target in ("os.urandom", "secrets.token_bytes", "random.randbytes"):
            n = self.const_int(arg(0))
            return n if n is not None and n >= 0 else None
        if target in ("builtins.bytes", "builtins.bytearray") and len(node.args) == 1 and not node.keywords:
            n = self.const_int(node.args[0])
            return n if n is not None and n >= 0 else None
        if target == "struct.pack" and node.args and isinstance(node.args[0], ast.Constant):
            fmt = node.args[0].value
            if isinstance(fmt, (str, bytes)):
                import struct

                try:
                    return struct.calcsize(fmt)
                except (struct.error, TypeError, ValueError):
                    return None
        return None

    def _slice_bytes(self, node: ast.Subscript) -> Optional[int]:
        """``data[i:i + CHUNK]``, ``view[:4096]``: the width of a slice the code fixes."""
        sl = node.slice
        if not isinstance(sl, ast.Slice) or sl.step is not None or sl.upper is None:
            return None
        if sl.lower is None:
            n = self.const_int(sl.upper)
        elif isinstance(sl.upper, ast.BinOp) and isinstance(sl.upper.op, ast.Add) \
                and ast.dump(sl.upper.left) == ast.dump(sl.lower):
            n = self.const_int(sl.upper.right)
        else:
            lo, hi = self.const_int(sl.lower), self.const_int(sl.upper)
            n = hi - lo if lo is not None and hi is not None and lo >= 0 else None
        return n if n is not None and n > 0 else None

    def chunk_of(self, iterable: ast.AST) -> Optional[Value]:
        """What each step of a loop over ``iterable`` is, when it is a chunk of a fixed size:
        ``iter(lambda: f.read(N), b"")``, ``iter(functools.partial(f.read, N), b"")``,
        ``resp.iter_content(chunk_size=N)``."""
        if not isinstance(iterable, ast.Call):
            return None
        n = None
        func = iterable.func
        if isinstance(func, ast.Name) and func.id == "iter" and len(iterable.args) == 2:
            source = iterable.args[0]
            if isinstance(source, ast.Lambda) and isinstance(source.body, ast.Call):
                n = self._call_bytes(source.body)
            elif isinstance(source, ast.Call) and self._call_target(source)[0] == "functools.partial" \
                    and len(source.args) == 2 and isinstance(source.args[0], ast.Attribute) \
                    and source.args[0].attr in CHUNK_READS:
                n = self.const_int(source.args[1])
        elif isinstance(func, ast.Attribute) and func.attr in CHUNK_ITERATORS:
            size = next((kw.value for kw in iterable.keywords if kw.arg == "chunk_size"), None)
            if size is None and iterable.args:
                size = iterable.args[0]
            n = self.const_int(size)
        if n is None or n <= 0:
            return None
        return Value("other", None, self.segment(iterable), iterable.lineno, iterable.col_offset,
                     meta={"bytes": str(n)})


# methods that return at most N bytes when given N: a chunk of a file, a socket, a response
CHUNK_READS = frozenset({"read", "read1", "recv", "pread"})
# methods that yield chunks of chunk_size bytes (requests, httpx, aiohttp)
CHUNK_ITERATORS = frozenset({"iter_content", "iter_bytes", "iter_raw", "iter_chunked"})


def byte_size(v: Value) -> Optional[int]:
    """The size in bytes (or characters) of a buffer value, when the code fixes it: a str/bytes
    literal, or what ``ValueCollector`` recorded in ``meta["bytes"]`` (a chunk read, a slice...)."""
    if "bytes" in v.meta:
        return int(v.meta["bytes"])
    if v.kind == "literal" and v.size is not None and v.meta.get("type") in ("builtins.bytes", "builtins.str"):
        return v.size
    return None


def _with_bytes(v: Value, n: Optional[int]) -> Value:
    if n is not None:
        v.meta = dict(v.meta, bytes=str(n))
    return v


def _const_int(node: ast.AST) -> Optional[int]:
    """The value of an integer constant expression (``10**6``, ``1920 * 1080``, ``-1``), else None."""
    if isinstance(node, ast.Constant):
        v = node.value
        if not isinstance(v, int) or isinstance(v, bool) or v.bit_length() >= 4000:
            return None  # not an integer, or too big to be a count (and slow to multiply)
        return v
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _const_int(node.operand)
        return -v if v is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Pow, ast.LShift)):
        a, b = _const_int(node.left), _const_int(node.right)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Pow) and (b < 0 or b > 64 or abs(a) > 10 ** 6):
            return None
        if isinstance(node.op, ast.FloorDiv) and b == 0:
            return None
        if isinstance(node.op, ast.LShift) and not 0 <= b <= 48:
            return None
        op = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__,
              ast.FloorDiv: int.__floordiv__, ast.Pow: int.__pow__, ast.LShift: int.__lshift__}[type(node.op)]
        r = op(a, b)
        return r if abs(r) < 10 ** 15 else None
    return None

"""Make text from the analysed tree safe to print.

File names and source snippets are not ours: a newline in a file name would add a forged
``path:line:col: CCL999`` line to ``check`` output, an escape sequence could repaint the
terminal, and a name that is not UTF-8 (kept by Python as lone surrogates) cannot be encoded for
output at all. ``printable`` shows every such character as a visible escape instead.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(m: "re.Match[str]") -> str:
    c = m.group()
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{o - 0xDC00:02x}"
    if o < 0x100:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}"


def printable(text: str) -> str:
    """``text`` with control characters, line separators and lone surrogates escaped."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text

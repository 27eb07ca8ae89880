"""Reading and parsing one source file the way Python itself would.

Decoding follows PEP 263 / PEP 3120: a BOM or a ``coding:`` declaration on the first two lines
chooses the codec, UTF-8 otherwise. Anything Python could not decode or parse is reported as an
``InputError`` (which becomes ``CCL000``), never raised further.
"""
from __future__ import annotations

import ast
import io
import os
import re
import stat
import sys
import tokenize
from dataclasses import dataclass
from typing import Optional, Tuple

# Deeply nested literals (pydoc_data/topics.py, generated code) exceed the default limit.
ANALYSIS_RECURSION_LIMIT = 20000
# a `.py` file that is a template for code (Jinja or Django tags opening a line: `{% if mod %}`,
# `{{ cookiecutter.name }}`): not Python until rendered; reported at low confidence
TEMPLATE = "a template, not Python source: its tags are rendered before it runs"
CANNOT_PARSE = "cannot parse"  # how a syntax error's CCL000 message starts (engine.project_pass)
# a line opening with a Jinja tag, with the default delimiters or the bracket ones a code
# generator picks so its output stays closer to Python (`[% if x -%]`): no Python line opens so
TEMPLATE_TAG = re.compile(r"^[ \t]*(\{%-?|\{\{|\[%-?)[^\n]*?(-?%\}|\}\}|-?%\])", re.M)
# a Jinja placeholder inside a line (`class {{ camel_case_app_name }}App(AppConfig):`, with
# filters: `{{ name | lower }}`, or method calls: `{{cookiecutter.name.lower().replace(" ", "_")}}`):
# a template when it is on the line Python's parser stopped at
PLACEHOLDER = re.compile(r"\{\{-?\s*[A-Za-z_][\w.]*(\s*\|\s*\w+(\([^)\n]*\))?|\([^(){}\n]*\)[\w.]*)*\s*-?\}\}")


@dataclass
class InputError(Exception):
    message: str
    line: int = 1
    col: int = 0

    def __str__(self) -> str:  # pragma: no cover - repr helper
        return self.message


def read_file(path, limit: int) -> Tuple[Optional[bytes], Optional[str]]:
    """The bytes of a regular file of at most ``limit`` bytes, else ``(None, why)``.

    Never blocks and never reads more than ``limit + 1`` bytes: a FIFO named ``x.py`` is opened
    non-blocking and refused, and ``/dev/zero`` linked as a ``.py`` is refused before any read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        return None, "is a directory"
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return None, "is a directory"
        if not stat.S_ISREG(st.st_mode):
            return None, "not a regular file (a FIFO, device or socket); not analysed"
        too_big = f"file is larger than {limit // (1024 * 1024)} MB; not analysed"
        if st.st_size > limit:
            return None, too_big
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        return (None, too_big) if len(data) > limit else (data, None)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    finally:
        os.close(fd)


def decode(data: bytes) -> str:
    """Decode ``data`` with the encoding Python would use; raise InputError if it cannot."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise InputError(f"cannot decode: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        line = data[: getattr(exc, "start", 0)].count(b"\n") + 1
        raise InputError(f"cannot decode as {encoding}: {exc.reason if hasattr(exc, 'reason') else exc}", line) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def parse(text: str, filename: str) -> ast.Module:
    """Parse ``text``; fall back to LibCST for syntax newer than the running interpreter."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError("source contains a NUL byte", line)
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, ANALYSIS_RECURSION_LIMIT))
    try:
        try:
            return ast.parse(text, filename=filename)
        except SyntaxError as exc:
            first_error = exc
        except (RecursionError, MemoryError, ValueError) as exc:
            raise InputError(f"{CANNOT_PARSE}: {type(exc).__name__}: {exc}") from None
        msg = first_error.msg or ""
        # limits of CPython's own parser (e.g. "too many nested parentheses") hold on every
        # version: only a syntax error can be newer syntax worth LibCST's second opinion
        tree = None if "too many" in msg or "too deeply" in msg else _parse_newer_syntax(text, filename)
        if tree is not None:
            return tree
        msg = first_error.msg or "invalid syntax"
        tag = TEMPLATE_TAG.search(text)
        if tag is not None:
            line = text.count("\n", 0, tag.start()) + 1
            raise InputError(f"{TEMPLATE} (`{tag.group(0).strip()}` at line {line})", line) from None
        line = first_error.lineno or 1
        lines = text.splitlines()
        placeholder = PLACEHOLDER.search(lines[line - 1]) if 0 < line <= len(lines) else None
        if placeholder is not None:
            raise InputError(f"{TEMPLATE} (`{placeholder.group(0)}` at line {line})", line) from None
        raise InputError(f"{CANNOT_PARSE}: {msg}", first_error.lineno or 1,
                         max((first_error.offset or 1) - 1, 0)) from None
    finally:
        sys.setrecursionlimit(old_limit)


def _parse_newer_syntax(text: str, filename: str) -> Optional[ast.Module]:
    """LibCST understands every grammar from 3.0 to 3.14: convert its tree when it accepts the file."""
    try:
        from concurlint.analysis.cst_to_ast import parse_with_libcst
    except ImportError:
        return None
    try:
        return parse_with_libcst(text, filename)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    except Exception:  # a converter bug must not lose the file's CCL000
        return None

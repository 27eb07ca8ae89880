#!/usr/bin/env python3
"""List the public callables of the standard-library modules concurlint's knowledge base covers.

The names come from the interpreter running this script (its own standard library, never analysed
code): module-level functions and classes, and the public methods of those classes, qualified as
the analysis names them (``os.path.join``, ``socket.socket.recv``, ``threading.Event.wait``).
A name the platform lacks (``os.fork`` on Windows, ``dbm.gnu``) is simply absent.

Left out, because calling them is never the work a function exists to do: exceptions and warnings,
enumerations (``socket.AddressFamily``), and the methods a class inherits from a built-in type
(``dict.get`` on ``collections.OrderedDict``: the built-in's entry covers it).

    python scripts/stdlib_callables.py                 # the names, one a line
    python scripts/stdlib_callables.py --unclassified  # names rules/knowledge/stdlib.toml misses (exit 1 if any)
    python scripts/stdlib_callables.py --check FILE    # same, for a list written by another Python
    python3.X scripts/stdlib_callables.py --write      # write tests/data/stdlib_callables/3.X.txt

The checked-in lists (one per supported Python, 3.9-3.14) are what the coverage test checks on
every Python; adding a Python is the last command, run by that Python (it needs only the standard
library), then classifying in rules/knowledge/stdlib.toml whatever ``--check`` reports.
"""
from __future__ import annotations

import argparse
import enum
import importlib
import inspect
import sys
import warnings
from pathlib import Path
from typing import Iterable, List

# The modules of issue #17 (and the submodules whose classes the analysis names methods on).
MODULES = (
    "os", "os.path", "shutil", "pathlib", "io", "socket", "ssl", "select", "selectors", "subprocess",
    "urllib.parse", "urllib.request", "urllib.response", "urllib.error", "urllib.robotparser",
    "http", "http.client", "http.server", "http.cookies", "http.cookiejar",
    "ftplib", "smtplib", "sqlite3", "dbm", "dbm.dumb", "dbm.gnu", "dbm.ndbm", "dbm.sqlite3", "shelve",
    "json", "csv", "pickle", "marshal", "re", "ast", "tokenize", "difflib", "statistics", "math",
    "hashlib", "hmac", "zlib", "gzip", "bz2", "lzma", "zipfile", "tarfile", "base64", "binascii",
    "struct", "heapq", "bisect", "itertools", "functools", "collections", "time", "threading", "queue",
    "multiprocessing", "multiprocessing.pool", "multiprocessing.connection", "multiprocessing.queues",
    "concurrent.futures", "asyncio", "asyncio.subprocess",
)

LISTS = Path(__file__).resolve().parent.parent / "tests" / "data" / "stdlib_callables"

_BUILTIN_BASES = (object, dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float, type)


def _skipped_class(obj) -> bool:
    return issubclass(obj, (BaseException, enum.Enum))


def _foreign(obj, modname: str) -> bool:
    """Defined in another public module (``namedtuple`` in ``selectors``, ``datetime.date`` as
    ``sqlite3.Date``): that module's entry covers it. C accelerators (``_socket``) are not foreign."""
    owner = getattr(obj, "__module__", None) or ""
    if not owner or owner.startswith("_") or owner in ("builtins",):
        return owner == "builtins" and inspect.isclass(obj)
    top = modname.split(".")[0]
    return not (owner == top or owner.startswith(top + "."))


def _methods(cls) -> Iterable[str]:
    inherited = set()
    for base in cls.__mro__[1:]:
        if base in _BUILTIN_BASES:
            inherited.update(dir(base))
    for name in dir(cls):
        if name.startswith("_") or name in inherited:
            continue
        try:
            attr = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if inspect.isclass(attr) or isinstance(attr, property) or not callable(attr):
            continue
        yield name


def module_callables(modname: str) -> List[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module(modname)
    except ImportError:
        return []  # not built on this platform (dbm.gnu, dbm.sqlite3 before 3.13)
    names = getattr(mod, "__all__", None)
    explicit = names is not None
    if names is None:
        names = [n for n in dir(mod) if not n.startswith("_")]
    out = []
    for name in names:
        if name.startswith("_"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = getattr(mod, name)
        except AttributeError:
            continue
        if inspect.ismodule(obj) or not callable(obj):
            continue
        foreign = _foreign(obj, modname)
        if foreign and not explicit:
            continue
        if inspect.isclass(obj):
            if _skipped_class(obj):
                continue
            out.append(f"{modname}.{name}")
            if not foreign:
                out.extend(f"{modname}.{name}.{m}" for m in _methods(obj))
        else:
            out.append(f"{modname}.{name}")
    return out


def stdlib_callables() -> List[str]:
    seen = set()
    for m in MODULES:
        seen.update(module_callables(m))
    return sorted(seen)


def unclassified(names: Iterable[str]) -> List[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from concurlint import knowledge

    kb = knowledge.load()
    return [n for n in names if kb.stdlib_kind(n) is None]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--unclassified", action="store_true", help="list the names the knowledge base misses")
    ap.add_argument("--check", metavar="FILE", help="check a list written by this script (on any Python)")
    ap.add_argument("--write", action="store_true",
                    help="write the list to tests/data/stdlib_callables/<this Python's X.Y>.txt")
    args = ap.parse_args(argv)
    if args.write:
        out = LISTS / ("%d.%d.txt" % sys.version_info[:2])
        out.write_text("".join(n + "\n" for n in stdlib_callables()))
        print(f"{out}: {len(out.read_text().splitlines())} names")
        return 0
    if args.check:
        names = [ln.strip() for ln in Path(args.check).read_text().splitlines() if ln.strip()]
    else:
        names = stdlib_callables()
    if args.unclassified or args.check:
        missing = unclassified(names)
        for n in missing:
            print(n)
        return 1 if missing else 0
    for n in names:
        print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())

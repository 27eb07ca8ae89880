"""The per-file pass: read a file (or its in-memory ``OVERLAY``), decode and parse it once, extract
its facts (``analysis.facts.extract``) within its CPU budget, and its ``# noqa`` comments; cached
by content hash below the project root (``concurlint.cache``) with a salt that covers the code and
knowledge computing the facts (``cache_salt``). A file Python cannot read is CCL000; an extractor
crash is CCL999."""
from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
import os
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from concurlint import __version__
from concurlint.config import Config
from concurlint.engine.discovery import SourceFile

# flake8's meaning: a bare "# noqa" silences the line; "# noqa: CCL201,CCL4" silences those prefixes
NOQA_RE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class FileResult:
    """What the per-file phase produces: facts, or the CCL000 error that replaced them."""

    display: str
    digest: str
    facts: Optional[object] = None
    error: Optional[Tuple[str, int, int]] = None  # (message, line, col) -> CCL000
    internal: Optional[str] = None  # extractor crash -> CCL999
    transient: bool = False  # ran out of its CPU budget: a result of this run, never cached
    noqa: Dict[int, Optional[Tuple[str, ...]]] = field(default_factory=dict)
    module: str = ""  # the file's module name (set for a CCL000 too: whether anything imports it)



def _noqa_map(text: str) -> Dict[int, Optional[Tuple[str, ...]]]:
    """line -> the codes a ``# noqa`` there silences (None: all), plus ``DELIBERATE`` on the lines
    a comment says block on purpose (``_deliberate_lines``)."""
    out: Dict[int, Optional[Tuple[str, ...]]] = {}
    if "noqa" in text or "NOQA" in text:
        for i, line in enumerate(text.splitlines(), 1):
            m = NOQA_RE.search(line)
            if m:
                codes = m.group("codes")
                out[i] = tuple(c.upper() for c in re.split(r"[,\s]+", codes) if c) if codes else None
    for i in _deliberate_lines(text):
        if i not in out:
            out[i] = (DELIBERATE,)
        elif out[i] is not None:
            out[i] = out[i] + (DELIBERATE,)
    return out


# a comment that says the code blocks on purpose: "intentionally block the whole bridge until the
# proxy change applied", "Here we block the App's event loop thread until the debugger resumes"
DELIBERATE = "DELIBERATE-BLOCKING"
_ON_PURPOSE = re.compile(r"#.*(?:\b(?:intentional(?:ly)?|deliberate(?:ly)?|on purpose|purposely|by design)\b.*"
                         r"\bblock(?:s|ing|ed)?\b|\bblock(?:s|ing|ed)?\b.*"
                         r"\b(?:intentional(?:ly)?|deliberate(?:ly)?|on purpose|purposely|by design)\b"
                         r"|\bwe (?:deliberately |intentionally )?block\b)", re.IGNORECASE)
_REACH = 6  # lines below the comment it speaks for (a comment block, then the statement)


# plain substring tests first (a case-insensitive regex over every file's whole text costs more
# than the rest of this function on the standard library)
_ON_PURPOSE_WORDS = ("ntention", "eliberate", "purpose", "y design", "e block", "E BLOCK")


def _deliberate_lines(text: str) -> List[int]:
    if not any(w in text for w in _ON_PURPOSE_WORDS):
        return []
    out: List[int] = []
    for i, line in enumerate(text.splitlines(), 1):
        if "#" in line and _ON_PURPOSE.search(line):
            out.extend(range(i, i + _REACH + 1))
    return out


def analyse_source(data: bytes, display: str, module: str, is_package: bool, knowledge) -> FileResult:
    """The file's facts, or the CCL000 error that replaced them; within the per-file CPU
    budget (``concurlint.budget``), past which the file is a CCL000 and the run goes on."""
    from concurlint import analysis  # noqa: F401  (imported before the budget starts counting)
    from concurlint.analysis import facts  # noqa: F401
    from concurlint.budget import BudgetExceeded, budget

    try:
        with budget():
            return _analyse_source(data, display, module, is_package, knowledge)
    except BudgetExceeded as exc:
        return FileResult(display, hashlib.sha256(data).hexdigest(), error=(exc.words(), 1, 0), transient=True,
                          module=module)


def _analyse_source(data: bytes, display: str, module: str, is_package: bool, knowledge) -> FileResult:
    from concurlint.analysis.facts import extract
    from concurlint.source import InputError, decode, parse

    digest = hashlib.sha256(data).hexdigest()
    result = FileResult(display, digest, module=module)
    try:
        if len(data) > MAX_FILE_BYTES:
            raise InputError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not analysed")
        text = decode(data)
        result.noqa = _noqa_map(text)
        tree = parse(text, display)
    except InputError as exc:
        result.error = (exc.message, exc.line, exc.col)
        return result
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        result.facts = extract(tree, text, display, module, is_package, knowledge)
    except RecursionError:
        result.error = ("nested too deeply to analyse", 1, 0)
    except Exception as exc:  # a bug of ours on this file: report it, go on with the rest
        result.internal = f"analysis failed: {type(exc).__name__}: {exc}"
    finally:
        sys.setrecursionlimit(old)
    return result


# Contents to analyse instead of the file's, by absolute path: `concurlint fix` re-analyses the
# text it fixed in memory (--diff never writes it). Forked workers inherit it.
OVERLAY: Dict[str, bytes] = {}


def _read(path: Path) -> Tuple[Optional[bytes], Optional[str]]:
    from concurlint.source import read_file

    if OVERLAY:
        data = OVERLAY.get(os.path.abspath(path))
        if data is not None:
            return data, None
    return read_file(path, MAX_FILE_BYTES)



def _make_cache(cache_dir, salt):
    if cache_dir is None:
        return None
    from concurlint.cache import Cache

    return Cache(Path(cache_dir), salt)


def _analyse_file(sf: SourceFile, kb, cache, data: Optional[bytes] = None, lookup: bool = True) -> FileResult:
    import gc

    if data is None:
        data, err = _read(sf.path)
        if data is None:
            return FileResult(sf.display, "", error=(err or "cannot read", 1, 0), module=sf.module)
    if cache is not None and lookup:
        hit = _cached(cache, data, sf)
        if hit is not None:
            return hit
    # a syntax tree and its facts are hundreds of thousands of acyclic objects: reference
    # counting frees them; the cyclic collector would only re-scan them many times over
    enabled = gc.isenabled()
    gc.disable()
    try:
        result = analyse_source(data, sf.display, sf.module, sf.is_package, kb)
    finally:
        if enabled:
            gc.enable()
    if cache is not None and result.internal is None and not result.transient:
        cache.put(data, sf.key, sf.module, sf.is_package, result)
    return result


def _cached(cache, data: bytes, sf: SourceFile, entry: Optional[str] = None) -> Optional[FileResult]:
    """The cached facts of ``sf`` (keyed by its root-relative path, so a run from any directory
    and the flake8 plugin share them), shown under this run's display path. ``entry``: its key
    (``Cache.key_of``) when the caller has it already."""
    hit = cache.get_entry(entry) if entry is not None else cache.get(data, sf.key, sf.module, sf.is_package)
    if hit is not None:
        hit.module = sf.module
    if hit is not None and hit.display != sf.display:
        hit.display = sf.display
        if hit.facts is not None:
            hit.facts.path = sf.display
    return hit


# concurlint's modules (below concurlint/) that compute the cached facts: part of the cache key
_FACT_SOURCES = ("engine/per_file.py", "source.py", "knowledge.py", "analysis/facts.py", "analysis/cst_to_ast.py",
                 "analysis/extractor.py", "analysis/scopes.py", "analysis/values.py", "analysis/calls.py",
                 "analysis/loops.py", "analysis/while_shapes.py", "analysis/sizes.py", "analysis/state.py",
                 "analysis/structure.py", "analysis/bodies.py", "analysis/hints.py", "analysis/platforms.py")


def cache_salt(config: Config) -> str:
    """What cached per-file facts depend on besides the file: the version, the user's knowledge
    config, and the code and knowledge base that compute facts (so an upgraded or edited
    install never reads stale facts)."""
    return f"{__version__}:{config.fingerprint()}:{_code_fingerprint()}"


def _hash_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        try:
            h.update(p.name.encode() + b"\0" + p.read_bytes())
        except OSError:
            h.update(p.name.encode())
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def _code_fingerprint() -> str:
    """The code and knowledge base that compute per-file facts."""
    from concurlint.knowledge import rules_dir

    here = Path(__file__).resolve().parent.parent
    return _hash_files([here / name for name in _FACT_SOURCES]
                       + sorted((rules_dir() / "knowledge").glob("*.toml")))


@lru_cache(maxsize=None)
def _all_code_fingerprint() -> str:
    """Every concurlint module and rule file: a changed rule changes the report."""
    from concurlint.knowledge import rules_dir

    here = Path(__file__).resolve().parent.parent
    return _hash_files(sorted(here.rglob("*.py")) + sorted(rules_dir().rglob("*.toml")))


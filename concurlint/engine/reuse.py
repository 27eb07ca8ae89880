"""Whole reports read back from the cache: for exactly the same inputs, and after edits that left
every changed file's facts as they were (issue #16 item 10).

The report is a function of the configuration, the enabled rules, concurlint's own code and, for
each file in order, its display path, module name and per-file result: facts, ``# noqa`` map, or
the error that replaced them (``project_pass.run_project`` reads nothing else). So:

1. ``snapshot``: one read of every file gives its per-file cache key (``Cache.key_of``: its bytes,
   path below the root, module and the fact-computing code) and, from those keys, the key of the
   whole report (``Snapshot.key``); the same inputs find the same stored report.
2. After a full run, a *manifest* (``Manifest``) records which per-file entries the stored report
   was computed from, one per configuration (``Snapshot.config_key``).
3. ``reuse``: when the report is not stored for these inputs, but the last manifest of this
   configuration lists the same files and only a few of them have new content, each of those is
   analysed (as any run would) and its result compared with the one the report was computed from,
   pickled byte for byte (order, types and sharing included). When every one is identical (an
   edited comment or docstring, a reworded string that no fact records), the stored report is the
   report of these inputs as it stands; otherwise the run computes it. Comparing pickles can only
   err towards computing: equal objects pickled differently are treated as different.

``CONCURLINT_CACHE_TRACE=1`` prints one line on stderr saying which way the report was made
(for tests and for anyone wondering why a run was quick or slow).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from concurlint import __version__
from concurlint.config import Config
from concurlint.engine.discovery import SourceFile
from concurlint.engine.per_file import FileResult, _all_code_fingerprint, _analyse_file, _read, cache_salt

# at most this many changed files are re-analysed to look for a stored report: past it, a full
# run is the likelier outcome and the files are analysed there anyway (by the worker processes)
MAX_CHANGED = 8


@dataclass
class Manifest:
    """The inputs the last stored report of one configuration was computed from."""

    report_key: str
    # per file, in order: display path, module, is a package, per-file cache key (None: unreadable)
    files: List[Tuple[str, str, bool, Optional[str]]] = field(default_factory=list)


@dataclass
class Snapshot:
    key: str  # the whole report's inputs
    config_key: str  # the configuration's part of them: which manifest to compare with
    entries: List[Optional[str]]  # each file's per-file cache key (None: it cannot be read)
    data: List[Optional[bytes]]  # each file's bytes, as read for the keys

    def manifest(self, files: List[SourceFile]) -> Manifest:
        return Manifest(self.key, [(sf.display, sf.module, sf.is_package, e) for sf, e in zip(files, self.entries)])


def trace(message: str) -> None:
    if os.environ.get("CONCURLINT_CACHE_TRACE"):
        print(f"concurlint: cache: {message}", file=sys.stderr)


def snapshot(files: List[SourceFile], config: Config, codes: List[str], cache) -> Snapshot:
    """Everything a whole report depends on: every file's path and content, the configuration,
    the enabled rules, and the code of concurlint itself (rules included). Hashing the standard
    library's 11 MB costs ~20 ms, so an unchanged project is answered without any analysis."""
    head = hashlib.sha256()
    head.update(f"{__version__}\0{_all_code_fingerprint()}\0{cache_salt(config)}\0".encode())
    head.update(repr((config.target_version, sorted(config.per_file_ignores.items()), codes,
                      config.min_confidence) + ((config.python_below,) if config.python_below else ())
                     ).encode("utf-8", "surrogateescape"))
    config_key = head.hexdigest()
    h = head.copy()
    entries: List[Optional[str]] = []
    datas: List[Optional[bytes]] = []
    for sf in files:
        data, err = _read(sf.path)
        datas.append(data)
        if data is None:  # its CCL000 depends only on why it cannot be read
            entry = None
            h.update(f"\0{sf.display}\0<{err}>".encode("utf-8", "surrogateescape"))
        else:
            entry = cache.key_of(data, sf.key, sf.module, sf.is_package)
        entries.append(entry)
        h.update(f"\0{sf.display}\0{sf.module}\0{sf.is_package}\0{entry}".encode("utf-8", "surrogateescape"))
    return Snapshot(h.hexdigest(), config_key, entries, datas)


def reuse(files: List[SourceFile], snap: Snapshot, config: Config, cache_dir: str, cache):
    """The stored report of the last full run of this configuration and its key, when every
    file that changed since has exactly the per-file result it had then; else None."""
    from concurlint.cache import load_manifest, load_report

    last = load_manifest(cache_dir, snap.config_key)
    if last is None or len(last.files) != len(files):
        return None
    changed = []
    for (display, module, is_package, entry), sf, new, data in zip(last.files, files, snap.entries, snap.data):
        if (display, module, is_package) != (sf.display, sf.module, sf.is_package):
            return None  # a file added, removed or renamed: the project is not the same
        if entry != new:
            if entry is None or new is None:
                return None
            changed.append((sf, entry, new, data))
    if not changed or len(changed) > MAX_CHANGED:
        return None
    kb = None
    for sf, entry, new, data in changed:
        old = cache.get_entry(entry)
        if old is None:
            return None
        if kb is None:
            from concurlint import knowledge

            kb = knowledge.load(config.knowledge)
        now = _analyse_file(sf, kb, cache, data=data)  # from the cache, or analysed and stored
        if now.transient or now.internal is not None:
            return None
        # both sides as read back from their entries: a fresh result shares strings (interned
        # names) that a decoded one does not, so only decoded results pickle comparably
        now = cache.get_entry(new)
        if now is None or _inputs(old, sf) != _inputs(now, sf):
            trace(f"{sf.display}: its facts changed; the project pass runs")
            return None
    report = load_report(cache_dir, last.report_key)
    if report is None:
        return None
    trace(f"reused the last report: {len(changed)} changed file(s) with the facts they had")
    return report, last.report_key


def _inputs(result: FileResult, sf: SourceFile) -> bytes:
    """What the project pass reads of one file's result, pickled (shown under this run's path)."""
    if result.facts is not None:
        result.facts.path = sf.display
    return pickle.dumps((sf.display, result.facts, result.error, result.internal, result.noqa),
                        protocol=pickle.HIGHEST_PROTOCOL)

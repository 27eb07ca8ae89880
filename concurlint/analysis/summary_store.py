"""Classification summaries reused from the last run (issue #16 item 10).

A function's summary (``classify.Summary``) is a function of what ``Classifier._summarise``
reads. ``Classifier`` lists that next to the analysis, in three parts: ``module_reads`` (the
module's per-file cache key, its path, every call's target), ``function_reads`` (its strongly
connected component and recursion) and ``callee_reads`` (what a caller reads of a callee's facts);
a callee's summary is the fourth part. The last run of the same configuration stored all of them
with each summary; this run reuses a stored summary when every member of the function's component:

- is in a module whose reads are the stored ones (and whose functions' classes have all their
  methods in it; no other module has its name), and calls none of the functions that exist no
  more (a removed function's callers resolve the same name to something external now);
- has the stored path and component reads;
- calls no function, outside the component, whose summary or callee reads are not the stored
  ones (``changed``, filled as components are computed, callees first).

Otherwise the component is computed and each summary compared with the stored one: an equal one
stops the change there. The result is the cold run's, value for value. What the reads do not
name, the key of the stored file does: the knowledge base, the target version, concurlint's own
code and the configuration (``Snapshot.config_key``), so any change there starts from nothing.

The call-index answers of each module (``analysis/call_index.py``) are stored beside the
summaries and reused for the modules whose reads are the stored ones (``Stored._keep_index``).
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Optional

FORMAT = 2


_fields = None


def _fields_of(s) -> tuple:
    """A summary as the tuple of its fields, in order (stored so: quicker to pickle than the
    object, and ``Summary(*fields)`` builds it back)."""
    global _fields
    if _fields is None:
        import dataclasses
        import operator

        _fields = operator.attrgetter(*(f.name for f in dataclasses.fields(type(s))))
    return _fields(s)


class Stored:
    """This run's side: the last run's modules (path -> module reads) and functions (qualname ->
    (path, function reads, callee reads, summary fields)), the per-file cache key of each module
    of this run (by ``id`` of its facts), and what this run has, to be stored in turn."""

    def __init__(self, previous: Optional[tuple], module_keys: Dict[int, str]):
        self.modules, self.functions, self.index = previous if previous is not None else ({}, {}, {})
        self.module_keys = module_keys
        self.now_modules: Dict[str, tuple] = {}
        self.now_functions: Dict[str, tuple] = {}
        self.changed: set = set()  # qualnames whose summary or callee reads are not the stored ones
        self.removed: set = set()
        self.same: set = set()  # ids of the modules whose reads are the stored ones
        self.reused = 0
        self.computed_count = 0
        self._classifier = None

    def begin(self, classifier) -> None:
        """Which modules read what they read in the last run (``same``), once the call graph is
        built (every function's calls resolved)."""
        self._classifier = classifier
        p = classifier.p
        self.removed = set(self.functions).difference(p.functions)
        names = Counter(m.module for m in p.modules)
        home: Dict[str, int] = {}
        spread = set()
        for q, fn in p.functions.items():
            if fn.cls is not None:
                m = id(p.function_module[q])
                if home.setdefault(fn.cls, m) != m:
                    spread.update((m, home[fn.cls]))  # a class's methods in two modules
        removed = self.removed
        for m in p.modules:
            key = self.module_keys.get(id(m))
            if key is None:
                continue
            if names[m.module] > 1 or id(m) in spread:
                continue  # not stored either: the next run computes its functions again too
            reads = classifier.module_reads(m, key)
            self.now_modules[m.path] = reads
            if self.modules.get(m.path) == reads and (not removed or removed.isdisjoint(reads[2])):
                self.same.add(id(m))
        self._keep_index(p)

    def _keep_index(self, p) -> None:
        """The stored call-index answers (``analysis/call_index.py``) that hold: those of a module
        whose reads are the stored ones (so its facts and its calls' targets), none of whose
        targets is a function added since the last run (``target in project.functions`` is the
        one thing about a target a test reads besides its name; a removed one is excluded above)."""
        index = p.index
        index.storable = set(self.now_modules)
        for m in p.modules:
            reads = self.now_modules.get(m.path)
            if reads is not None:
                index.seed(m, reads[2])  # the targets of its calls, in order: made already
        if not self.index:
            return
        added = set(p.functions).difference(self.functions) if self.functions else set()
        for m in p.modules:
            entry = self.index.get(m.path)
            if entry is None or id(m) not in self.same:
                continue
            if added and not added.isdisjoint(self.now_modules[m.path][2]):
                continue
            index.keep(m, entry)

    def now_index(self) -> Dict[str, dict]:
        """This run's call-index answers, for the modules stored (path -> test -> positions)."""
        c = self._classifier
        if c is None or c.p._index is None:
            return {}
        entries = c.p._index.entries
        return {path: entries[path] for path in self.now_modules if path in entries}

    def reuse(self, comp: List[str], recursive: bool, graph: Dict[str, List[str]], summaries: dict) -> bool:
        """Set the stored summaries of ``comp`` when they hold (see the module docstring)."""
        from concurlint.analysis.classify import Summary

        fmod = self._classifier.p.function_module
        same, changed, functions = self.same, self.changed, self.functions
        for q in comp:
            if id(fmod[q]) not in same or (changed and not changed.isdisjoint(graph[q])):
                return False
        reads = self._classifier.function_reads(comp, recursive)
        got = []
        for q in comp:
            e = functions.get(q)
            if e is None or e[0] != fmod[q].path or e[1] != reads:
                return False
            got.append(e)
        for q, e in zip(comp, got):
            summaries[q] = Summary(*e[3])
            self.now_functions[q] = e
        self.reused += len(comp)
        return True

    def computed(self, comp: List[str], recursive: bool, summaries: dict) -> None:
        c = self._classifier
        reads = c.function_reads(comp, recursive)
        for q in comp:
            fields = _fields_of(summaries[q])
            callee = c.callee_reads(c.p.functions[q])
            e = self.functions.get(q)
            if e is None or e[2] != callee or e[3] != fields:
                self.changed.add(q)
            self.now_functions[q] = (c.p.function_module[q].path, reads, callee, fields)
        self.computed_count += len(comp)


def load(cache_dir: str, config_key: str) -> Optional[tuple]:
    """The (modules, functions, call index) stored by the last run of this configuration, or None."""
    from pathlib import Path

    from concurlint.cache import _read

    got = _read(Path(cache_dir) / "reports" / f"{config_key}.summaries", tuple)
    if not got or len(got) != 5 or got[0] != FORMAT or got[1] != config_key:
        return None
    if not isinstance(got[2], dict) or not isinstance(got[3], dict) or not isinstance(got[4], dict):
        return None
    return got[2], got[3], got[4]


def store(cache_dir: str, config_key: str, stored: Stored, keep: int = 8) -> None:
    from pathlib import Path

    from concurlint.cache import write_keeping
    from concurlint.sealed import seal

    sealed = seal((FORMAT, config_key, stored.now_modules, stored.now_functions, stored.now_index()))
    if sealed is not None:
        write_keeping(Path(cache_dir) / "reports" / f"{config_key}.summaries", sealed, keep)

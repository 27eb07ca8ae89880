"""The rule registry: rule metadata from ``rules/CCLnnn.toml``, rule classes from ``concurlint/checks``.

A rule's message, severity, name and documentation live only in its TOML file; the class holds
the logic. ``check_registry()`` lists every disagreement between the two (the tests fail on any).
"""
from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Type

from concurlint.knowledge import rules_dir
from concurlint.tomlcompat import load_toml

SEVERITIES = ("error", "warning", "info")
CONFIDENCES = ("high", "medium", "low")
CONFIDENCE_RANK = {"low": 0, "medium": 1, "high": 2}
CODE_RE = re.compile(r"^CCL\d{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
DOC_SECTIONS = ("what", "why", "example", "use_instead", "references")


@dataclass(frozen=True)
class RuleMeta:
    code: str
    name: str
    message: str
    severity: str
    default: bool
    summary: str
    doc: Dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    internal: bool = False
    overlaps: tuple = ()
    # the most confidence any finding of this rule is reported with: a rule whose high-confidence
    # findings were mostly wrong on real packages it had never seen reports at most "medium", one
    # whose medium-confidence findings were too reports at most "low" (``[precision]`` in its TOML
    # file; docs/precision.md)
    ceiling: str = "high"
    held_out: Dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    held_out_medium: Dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    held_out_batches: int = 0  # how many review batches of ten that record covers
    ceiling_why: str = ""  # what went wrong on those packages

    @property
    def family(self) -> str:
        return self.code[:4] + "xx"


@dataclass
class Finding:
    code: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    severity: str
    message: str
    function: Optional[str] = None
    related: List[dict] = field(default_factory=list)
    snippet: str = ""  # the offending text, for baselines
    confidence: str = "high"  # high | medium | low: how sure the rule is (see docs/precision.md)
    count: int = 1  # places that share this root cause (the others are in ``related``)
    root: Optional[tuple] = None  # the one place all findings of one cause share (not reported)
    # the hazard's shapes (the blocking call in its class or module, the coroutine that blocks,
    # the executor whose futures are dropped): findings of one rule in one file that share one
    # repeat one cause (engine/findings.py, _echoes)
    pattern: Tuple[tuple, ...] = ()
    # later places of the same pattern, in the file or the package (in ``related``, at medium confidence)
    echoes: int = 0
    was: str = ""  # the confidence a repeat of a pattern had before it was lowered

    def sort_key(self):
        return (self.path, self.line, self.col, self.code, self.message)


class Rule:
    """Base class of every rule. Subclasses set ``code`` and implement ``check``.

    ``check(ctx, module)`` yields findings for one module, using ``ctx.report(...)``; it may use
    the whole project through ``ctx`` (classification, dispatch sites, call graph).
    """

    code: str = ""

    def check(self, ctx, module) -> Iterable[Finding]:  # pragma: no cover - interface
        raise NotImplementedError


def _parse_meta(data: dict, source: str) -> RuleMeta:
    return RuleMeta(
        code=data["code"],
        name=data["name"],
        message=data["message"],
        severity=data["severity"],
        default=bool(data.get("default", True)),
        summary=data.get("summary", ""),
        doc=dict(data.get("doc", {})),
        internal=bool(data.get("internal", False)),
        overlaps=tuple(data.get("overlaps", ())),
        ceiling=str(data.get("precision", {}).get("ceiling", "high")),
        held_out=dict(data.get("precision", {}).get("held_out_high", {})),
        held_out_medium=dict(data.get("precision", {}).get("held_out_medium", {})),
        held_out_batches=int(data.get("precision", {}).get("held_out_batches", 0)),
        ceiling_why=str(data.get("precision", {}).get("why", "")),
    )


@lru_cache(maxsize=None)
def all_meta() -> Dict[str, RuleMeta]:
    """Every rule's metadata. Parsing 30-odd TOML files costs ~20 ms, which the flake8 plugin pays
    on every editor save, so the parsed result is kept in the user cache directory, keyed by the
    files' names, sizes and modification times (any edit re-parses)."""
    paths = sorted(rules_dir().glob("CCL*.toml"))
    cache = _meta_cache_path(paths)
    if cache is not None:
        from concurlint.sealed import RejectedFile, read_limited, unseal

        data = read_limited(cache, 16 * 1024 * 1024)
        try:
            cached = unseal(data, dict) if data is not None else None
        except RejectedFile:  # corrupt, foreign or from another version: parse again
            cached = None
        if cached is not None and all(isinstance(m, RuleMeta) for m in cached.values()):
            return cached
    out: Dict[str, RuleMeta] = {}
    for path in paths:
        out[path.stem] = _parse_meta(load_toml(path), str(path))
    if cache is not None:
        _store(cache, out)
    return out


def _meta_cache_path(paths) -> Optional[Path]:
    try:
        h = hashlib.sha256(__file__.encode("utf-8", "surrogateescape"))
        for p in [Path(__file__)] + list(paths):  # this module too: RuleMeta may change
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    except OSError:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "concurlint" / "rules" / f"{h.hexdigest()[:24]}.entry"


def _store(path: Path, data) -> None:
    from concurlint.sealed import seal, write_atomic

    sealed = seal(data)
    if sealed is not None:  # else read-only home: parse every time
        write_atomic(path, sealed)


def _iter_check_modules() -> Iterator[str]:
    import concurlint.checks as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        yield f"concurlint.checks.{info.name}"


@lru_cache(maxsize=None)
def rule_classes() -> Dict[str, Type[Rule]]:
    out: Dict[str, Type[Rule]] = {}
    for modname in sorted(_iter_check_modules()):
        mod = importlib.import_module(modname)
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.code:
                if obj.__module__ == modname:
                    out[obj.code] = obj
    return out


def check_registry(metas: Optional[Dict[str, RuleMeta]] = None,
                   classes: Optional[Dict[str, Type[Rule]]] = None) -> List[str]:
    """Every inconsistency between rule TOML files and rule classes, as sentences."""
    problems = []
    metas = all_meta() if metas is None else metas
    classes = rule_classes() if classes is None else classes
    for code, meta in metas.items():
        if meta.code != code:
            problems.append(f"rules/{code}.toml says code = {meta.code!r}")
        if not CODE_RE.match(meta.code):
            problems.append(f"{code}: code is not CCL + 3 digits")
        if not NAME_RE.match(meta.name):
            problems.append(f"{code}: name {meta.name!r} is not kebab-case")
        if meta.severity not in SEVERITIES:
            problems.append(f"{code}: severity {meta.severity!r} is not one of {SEVERITIES}")
        for section in DOC_SECTIONS:
            if not meta.doc.get(section):
                problems.append(f"{code}: doc section {section!r} is missing or empty")
        if meta.ceiling not in CONFIDENCES:
            problems.append(f"{code}: [precision] ceiling {meta.ceiling!r} is not one of {CONFIDENCES}")
        for name, rec in (("held_out_high", meta.held_out), ("held_out_medium", meta.held_out_medium)):
            if rec and set(rec) != {"tp", "fp", "debatable"}:
                problems.append(f"{code}: [precision] {name} needs tp, fp and debatable")
        if meta.held_out and meta.held_out_batches <= 0:
            problems.append(f"{code}: [precision] held_out_high needs held_out_batches, the batches it covers")
        if not meta.internal and code not in classes:
            problems.append(f"{code}: no rule class in concurlint/checks has code = {code!r}")
    for code in classes:
        if code not in metas:
            problems.append(f"{code}: rule class has no rules/{code}.toml")
    names = [m.name for m in metas.values()]
    for n in set(names):
        if names.count(n) > 1:
            problems.append(f"rule name {n!r} is used twice")
    return problems


def code_matches(code: str, prefixes: Iterable[str]) -> int:
    """Length of the longest prefix in ``prefixes`` that ``code`` starts with (0 if none)."""
    best = 0
    for p in prefixes:
        if code.startswith(p) and len(p) > best:
            best = len(p)
    return best


def is_known_prefix(prefix: str) -> bool:
    return any(code.startswith(prefix) for code in all_meta()) and prefix.startswith("CCL")


def enabled_codes(select: Optional[List[str]], ignore: List[str]) -> List[str]:
    """flake8's rule: the longest matching prefix decides between select and ignore."""
    out = []
    for code, meta in all_meta().items():
        sel = code_matches(code, select) if select is not None else (3 if meta.default else 0)
        if select is not None and not meta.default and sel <= 4 and code != "CCL000" and code != "CCL999":
            sel = sel if sel == len(code) else 0
        ign = code_matches(code, ignore)
        if meta.internal:
            sel = max(sel, 3)
        if sel and sel >= ign:
            out.append(code)
    return sorted(out)

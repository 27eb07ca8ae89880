"""Fixes: one LibCST transform per fixable rule, and the planning that turns findings into edits.

``plan(findings)`` parses (with LibCST, once) only the files that have a fixable finding and asks
each finding's fixer for the new module; the result is a :class:`base.Fix` (applicability and the
edits) or an :class:`base.Unfixable` (why nothing is changed). ``concurlint fix`` applies them
(``command.py``); the JSON and SARIF reports show them.

A fixer is a module ``concurlint/fixes/<name>.py`` with ``propose(source, finding)``.
"""
from __future__ import annotations

import importlib
import os
import tokenize
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple, Union

if TYPE_CHECKING:
    from concurlint.fixes.base import Fix, FixSource, Unfixable

FIXERS = {
    "CCL105": "chunksize",
    "CCL205": "anded_locks",
    "CCL301": "fork_context",
    "CCL303": "main_guard",
    "CCL401": "pool_callable",
    "CCL402": "pool_callable",
    "CCL501": "blocking_call",
    "CCL503": "dangling_task",
    "CCL504": "async_lock",
    "CCL508": "loop_argument",
    "CCL509": "event_loop",
    "CCL602": "unchecked_future",
    "CCL608": "block_slot",
}

Planned = Union["Fix", "Unfixable"]

# concurlint.fixes.base imports LibCST (~0.1 s of CPU a process): it is imported when a fix is
# planned, not by the reports of runs with nothing fixable (PERFORMANCE.md: lazy imports)
_FROM_BASE = ("Fix", "FixSource", "Proposal", "Unfixable", "check_new_text", "edits_between")


def __getattr__(name: str):
    if name in _FROM_BASE:
        from concurlint.fixes import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def fixable_codes() -> List[str]:
    return sorted(FIXERS)


def read_source(path: str) -> Tuple[str, str]:
    """(text, encoding) of a file, newlines kept as they are on disk."""
    with open(path, "rb") as fh:
        raw = fh.read()
    import io

    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    return raw.decode(encoding), encoding


def _propose(code: str, source: FixSource, finding):
    module = importlib.import_module(f"concurlint.fixes.{FIXERS[code]}")
    return module.propose(source, finding)


def target_tuple(target_version: Optional[str]) -> Optional[Tuple[int, int]]:
    """``"3.13t"`` -> (3, 13); None when no target is configured."""
    if not target_version:
        return None
    major, minor = target_version.rstrip("t").split(".")[:2]
    return int(major), int(minor)


def _checked(source: FixSource, f, proposal) -> Planned:
    """The proposal as a Fix (its edits against the file's text), or why it cannot be offered."""
    from concurlint.fixes import splice
    from concurlint.fixes.base import Fix, Unfixable

    try:
        try:
            splices = splice.splices_of(source, proposal.module)
            new = splice.apply(source.text, splices) if splices is not None else None
        except Exception:  # rendering the changed nodes failed: render the module, as it always could
            splices = new = None
        if new is None:
            new = proposal.module.code
    except Exception as exc:
        return Unfixable(f"the fix failed ({type(exc).__name__}); nothing changed")
    if _SELF_CHECK:
        _self_check(source, proposal.module, new)
    reason = splice.check(source, proposal.module, new)
    if reason:
        return Unfixable(reason)
    return Fix(f.code, proposal.applicability, proposal.message, splice.edits(source, new, splices),
               frozenset(proposal.introduces))


# CONCURLINT_SELF_CHECK_FIXES=1 (the tests set it): every fix's text, made by splicing the
# changed nodes, and its check are compared with the whole module's rendering and check
_SELF_CHECK = bool(os.environ.get("CONCURLINT_SELF_CHECK_FIXES"))


def _self_check(source, module, new: str) -> None:
    from concurlint.fixes import splice
    from concurlint.fixes.base import check_new_text, edits_between

    whole = module.code
    if new != whole:
        raise AssertionError(f"spliced fix text differs from the module's rendering:\n{new!r}\n{whole!r}")
    if splice.check(source, module, new) != check_new_text(source.text, whole):
        raise AssertionError("the check of the changed statements differs from the whole file's")
    if splice.edits(source, new, splice.splices_of(source, module)) != edits_between(source.text, new):
        raise AssertionError("the edits of the changed lines differ from the whole file's")


def plan_file(text: str, findings: list, target: Optional[Tuple[int, int]] = None) -> Dict[int, Planned]:
    """id(finding) -> its fix or why it has none, for the findings of one file with this text."""
    from concurlint.fixes.base import Fix, FixSource, Proposal, Unfixable

    out: Dict[int, Planned] = {}
    try:
        source = FixSource(text, findings, target)
    except Exception:  # LibCST cannot parse what ast could: leave the file alone
        for f in findings:
            out[id(f)] = Unfixable("LibCST cannot parse this file")
        return out
    for f in findings:
        try:
            outcome = _propose(f.code, source, f)
        except Exception as exc:  # a fixer bug must never lose the report or crash the run
            outcome = Unfixable(f"the fix failed ({type(exc).__name__}); nothing changed")
        if outcome is None:
            outcome = Unfixable("the code does not have the shape this fix handles")
        if isinstance(outcome, Proposal):
            fallback = _checked(source, f, outcome.fallback) if outcome.fallback is not None else None
            outcome = _checked(source, f, outcome)
            if isinstance(fallback, Fix):
                if isinstance(outcome, Fix):
                    outcome.fallback = fallback
                else:
                    outcome = fallback  # the preferred fix cannot be made: its safe alternative can
        out[id(f)] = outcome
    return out


def plan(findings: list, texts: Optional[Dict[str, str]] = None,
         target_version: Optional[str] = None) -> Dict[int, Planned]:
    """Fixes for every fixable finding, reading each file once (``texts`` overrides the disk);
    ``target_version`` is the configured target Python (some fixes use what it offers)."""
    target = target_tuple(target_version)
    by_path: Dict[str, list] = {}
    for f in findings:
        if f.code in FIXERS:
            by_path.setdefault(f.path, []).append(f)
    out: Dict[int, Planned] = {}
    if not by_path:
        return out  # nothing fixable: LibCST is not even imported
    from concurlint.fixes.base import Unfixable

    for path, group in by_path.items():
        try:
            text = texts[path] if texts and path in texts else read_source(path)[0]
        except (OSError, UnicodeDecodeError, SyntaxError, LookupError):
            for f in group:
                out[id(f)] = Unfixable("the file cannot be read")
            continue
        out.update(plan_file(text, group, target))
    return out


def report_fixes(report) -> List[Optional[dict]]:
    """For the JSON/SARIF writers: per finding of ``report``, what to add: ``fix`` (the one
    ``concurlint fix`` applies by default; ``fix_alternative``, an unsafe one ``--unsafe-fixes``
    prefers, when there is one) or ``fix_unavailable`` (the reason)."""
    planned = plan(report.findings, target_version=getattr(report, "target_version", None))
    if not planned:
        return [None] * len(report.findings)
    from concurlint.fixes.base import Fix, Unfixable

    out: List[Optional[dict]] = []
    for f in report.findings:
        p = planned.get(id(f))
        if isinstance(p, Fix) and p.fallback is not None:
            out.append({"fix": p.fallback.to_json(f.path), "fix_alternative": p.to_json(f.path)})
        elif isinstance(p, Fix):
            out.append({"fix": p.to_json(f.path)})
        elif isinstance(p, Unfixable):
            out.append({"fix_unavailable": p.reason})
        else:
            out.append(None)
    return out

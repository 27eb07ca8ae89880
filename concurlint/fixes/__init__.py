"""Fixes: one LibCST transform per fixable rule, and the planning that turns findings into edits.

``plan(findings)`` parses (with LibCST, once) only the files that have a fixable finding and asks
each finding's fixer for the new module; the result is a :class:`base.Fix` (applicability and the
edits) or an :class:`base.Unfixable` (why nothing is changed). ``concurlint fix`` applies them
(``command.py``); the JSON and SARIF reports show them.

A fixer is a module ``concurlint/fixes/<name>.py`` with ``propose(source, finding)``.
"""
from __future__ import annotations

import importlib
import tokenize
from typing import Dict, List, Optional, Tuple, Union

from concurlint.fixes.base import Fix, FixSource, Proposal, Unfixable, check_new_text, edits_between

FIXERS = {
    "CCL105": "chunksize",
    "CCL301": "fork_context",
    "CCL303": "main_guard",
    "CCL401": "pool_callable",
    "CCL402": "pool_callable",
    "CCL501": "blocking_call",
    "CCL503": "dangling_task",
    "CCL504": "async_lock",
}

Planned = Union[Fix, Unfixable]


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


def plan_file(text: str, findings: list) -> Dict[int, Planned]:
    """id(finding) -> its fix or why it has none, for the findings of one file with this text."""
    out: Dict[int, Planned] = {}
    try:
        source = FixSource(text, findings)
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
            try:
                new = outcome.module.code
            except Exception as exc:
                outcome = Unfixable(f"the fix failed ({type(exc).__name__}); nothing changed")
            else:
                reason = check_new_text(text, new)
                outcome = (Unfixable(reason) if reason else
                           Fix(f.code, outcome.applicability, outcome.message, edits_between(text, new),
                               frozenset(outcome.introduces)))
        out[id(f)] = outcome
    return out


def plan(findings: list, texts: Optional[Dict[str, str]] = None) -> Dict[int, Planned]:
    """Fixes for every fixable finding, reading each file once (``texts`` overrides the disk)."""
    by_path: Dict[str, list] = {}
    for f in findings:
        if f.code in FIXERS:
            by_path.setdefault(f.path, []).append(f)
    out: Dict[int, Planned] = {}
    for path, group in by_path.items():
        try:
            text = texts[path] if texts and path in texts else read_source(path)[0]
        except (OSError, UnicodeDecodeError, SyntaxError, LookupError):
            for f in group:
                out[id(f)] = Unfixable("the file cannot be read")
            continue
        out.update(plan_file(text, group))
    return out


def report_fixes(report) -> List[Optional[dict]]:
    """For the JSON/SARIF writers: per finding of ``report``, what to add (``fix`` or the reason)."""
    planned = plan(report.findings)
    out: List[Optional[dict]] = []
    for f in report.findings:
        p = planned.get(id(f))
        if isinstance(p, Fix):
            out.append({"fix": p.to_json(f.path)})
        elif isinstance(p, Unfixable):
            out.append({"fix_unavailable": p.reason})
        else:
            out.append(None)
    return out

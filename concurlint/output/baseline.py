"""``--write-baseline`` / ``--baseline``: adopt concurlint on an existing codebase.

A baseline records today's findings so that CI fails only on new ones. A finding is identified
by its fingerprint: rule code, path, enclosing function and the offending text (whitespace
collapsed), never the line number, so code inserted above a finding does not make it "new".
Matching counts: two identical findings in one function need two baseline entries.
With a configuration file, paths are taken relative to its directory, so a baseline written by
`concurlint report` at the project root matches `concurlint check` run from anywhere (the
pre-commit hook, an editor, a subdirectory).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import List

from concurlint import __version__
from concurlint.config import ConfigError

BASELINE_SCHEMA = "concurlint-baseline/1"
_SPACE = re.compile(r"\s+")


def normalised_snippet(finding) -> str:
    """The offending text with whitespace collapsed (re-indenting a block keeps the match);
    the message stands in when a finding has no text (CCL000 / CCL999)."""
    text = finding.snippet or finding.message
    return _SPACE.sub(" ", text).strip()


def _path(finding, root) -> str:
    path = finding.path.replace("\\", "/")
    if root is not None:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except (ValueError, OSError):
            pass
    while path.startswith("./"):
        path = path[2:]
    return path


def fingerprint(finding, root=None) -> str:
    """Stable identity of a finding across unrelated edits: code, path (relative to ``root``, the
    directory of the configuration, when given), function, offending text."""
    parts = [finding.code, _path(finding, root), finding.function or "", normalised_snippet(finding)]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def write_baseline(path, report, root=None) -> None:
    entries = []
    for f in report.findings:
        entries.append({
            "fingerprint": fingerprint(f, root),
            "code": f.code,
            "path": f.path,
            "function": f.function,
            "snippet": normalised_snippet(f),
            "line": f.line,  # for people reading the file; not used for matching
            "message": f.message,
        })
    doc = {"schema": BASELINE_SCHEMA, "tool": {"name": "concurlint", "version": __version__},
           "findings": entries}
    try:
        Path(path).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write baseline {path}: {exc.strerror}") from None


def _load(path) -> Counter:
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"baseline file {path} does not exist (create it with --write-baseline)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read baseline {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA or not isinstance(doc.get("findings"), list):
        raise ConfigError(f"{path} is not a concurlint baseline (expected schema '{BASELINE_SCHEMA}')")
    counts: Counter = Counter()
    for entry in doc["findings"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise ConfigError(f"baseline {path} has an entry without a fingerprint")
        counts[entry["fingerprint"]] += 1
    return counts


def apply_baseline(path, report, root=None) -> List:
    """The findings of ``report`` that the baseline does not account for, in report order.
    Each baseline entry absorbs at most one finding."""
    remaining = _load(path)
    new = []
    for f in report.findings:
        fp = fingerprint(f, root)
        if remaining[fp] > 0:
            remaining[fp] -= 1
        else:
            new.append(f)
    return new

"""``--format sarif``: a SARIF 2.1.0 log that GitHub code scanning accepts.

- ``tool.driver.rules`` lists every rule (id, name, short/full description, help text and
  Markdown = the ``concurlint explain`` page, ``helpUri`` to the rule's docs page,
  ``defaultConfiguration.level`` from the severity); results point at them by ``ruleIndex``.
- Locations are relative URIs against ``%SRCROOT%`` (``originalUriBaseIds`` gives the directory
  concurlint ran in), regions 1-based with an exclusive ``endColumn`` as SARIF specifies.
- A finding ``concurlint fix`` can fix carries ``fixes[0]``: its ``artifactChanges[].replacements[]``
  are the edits (``deletedRegion`` + ``insertedContent``), ``properties.applicability`` says
  safe or unsafe; ``fixes[1]``, when present, is an unsafe alternative (the JSON ``fix_alternative``).
- ``partialFingerprints`` do not depend on line numbers: code, path, function and offending text
  (the baseline's fingerprint) plus the occurrence number among identical findings, so an alert
  keeps its identity when unrelated lines are inserted above it.

The docs URL defaults to the rule pages in the project's repository; set
``CONCURLINT_DOCS_URL`` (a URL prefix, ``{code}.md`` is appended) to point at your own mirror.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Dict, List
from urllib.parse import quote

from concurlint import __version__
from concurlint.output.baseline import fingerprint

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/concurlint/concurlint"
DEFAULT_DOCS_URL = "https://github.com/concurlint/concurlint/blob/main/docs/rules/"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "concurlintFingerprint/v1"
FAMILY_TAGS = {
    "CCL0": "input", "CCL1": "model-fit", "CCL2": "shared-state", "CCL3": "fork",
    "CCL4": "pickling", "CCL5": "asyncio", "CCL6": "thread-lifecycle", "CCL9": "internal",
}


def docs_url(code: str) -> str:
    base = os.environ.get("CONCURLINT_DOCS_URL") or DEFAULT_DOCS_URL
    if not base.endswith("/"):
        base += "/"
    return f"{base}{code}.md"


def _relative_uri(path: str, root: Path) -> str:
    """A '/'-separated URI relative to ``root`` (percent-encoded), for any path the engine reports."""
    p = path.replace("\\", "/")
    if os.path.isabs(p):
        try:
            p = Path(p).resolve().relative_to(root).as_posix()
        except ValueError:
            return Path(p).resolve().as_uri()  # outside the source root: absolute file URI
    while p.startswith("./"):
        p = p[2:]
    return quote(p, safe="/", errors="surrogateescape")


def _rule(meta) -> dict:
    from concurlint.docs import rule_markdown

    what = str(meta.doc.get("what", "")).strip() or meta.summary
    md = rule_markdown(meta)
    return {
        "id": meta.code,
        "name": meta.name,
        "shortDescription": {"text": meta.summary or meta.name},
        "fullDescription": {"text": " ".join(what.split())},
        "help": {"text": md, "markdown": md},
        "helpUri": docs_url(meta.code),
        "defaultConfiguration": {"level": LEVELS[meta.severity], "enabled": bool(meta.default)},
        "properties": {
            "tags": ["concurrency", FAMILY_TAGS.get(meta.code[:4], meta.code[:4])],
            # GitHub's code scanning ranks by it: a rule whose findings were mostly wrong on real
            # packages it had never seen (capped at medium, docs/precision.md) is "low"
            "precision": "low" if meta.ceiling != "high" else ("high" if meta.severity == "error" else "medium"),
            "problem.severity": {"error": "error", "warning": "warning", "info": "recommendation"}[meta.severity],
        },
    }


def _region(line: int, col: int, end_line: int, end_col: int) -> dict:
    start_line = max(1, int(line or 1))
    region = {"startLine": start_line, "startColumn": max(1, int(col or 0) + 1)}
    e_line = int(end_line or start_line)
    e_col = int(end_col or 0)
    if e_line > start_line or (e_line == start_line and e_col > int(col or 0)):
        region["endLine"] = e_line
        region["endColumn"] = e_col + 1
    return region


def _location(path: str, region: dict, root: Path) -> dict:
    return {"physicalLocation": {"artifactLocation": {"uri": _relative_uri(path, root), "uriBaseId": SRCROOT},
                                 "region": region}}


def _fix(fix: dict, path: str, root: Path) -> dict:
    """A SARIF ``fix``: the edits as replacements (1-based, end column exclusive) in one artifact."""
    replacements = []
    for e in fix["edits"]:
        region = {"startLine": e["line"], "startColumn": e["col"] + 1,
                  "endLine": e["end_line"], "endColumn": e["end_col"] + 1}
        replacements.append({"deletedRegion": region, "insertedContent": {"text": e["content"]}})
    return {
        "description": {"text": fix["message"]},
        "artifactChanges": [{"artifactLocation": {"uri": _relative_uri(path, root), "uriBaseId": SRCROOT},
                             "replacements": replacements}],
        "properties": {"applicability": fix["applicability"]},
    }


def render_sarif(report, root: Path = None) -> str:
    from concurlint.registry import all_meta

    root = (root or Path.cwd()).resolve()
    metas = all_meta()
    codes: List[str] = list(metas)
    index: Dict[str, int] = {c: i for i, c in enumerate(codes)}
    rules = [_rule(metas[c]) for c in codes]
    seen: Counter = Counter()
    results = []
    from concurlint.fixes import report_fixes

    fixes = report_fixes(report)
    for f, extra in zip(report.findings, fixes):
        fp = fingerprint(f)
        seen[fp] += 1
        result = {
            "ruleId": f.code,
            "level": LEVELS.get(f.severity, "warning"),
            "message": {"text": f.message},
            "locations": [_location(f.path, _region(f.line, f.col, f.end_line, f.end_col), root)],
            "partialFingerprints": {FINGERPRINT_KEY: f"{fp}:{seen[fp]}"},
            "properties": {"confidence": f.confidence},
        }
        if f.count > 1:
            result["properties"]["count"] = f.count
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        if f.function:
            result["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": f.function, "kind": "function"}]
        related = []
        for i, r in enumerate(f.related or []):
            if not r.get("path"):
                continue
            loc = _location(r["path"], _region(r.get("line", 1), r.get("col", 0), 0, 0), root)
            loc["id"] = i + 1
            if r.get("message"):
                loc["message"] = {"text": r["message"]}
            related.append(loc)
        if related:
            result["relatedLocations"] = related
        if extra and "fix" in extra:
            result["fixes"] = [_fix(extra["fix"], f.path, root)]
            if "fix_alternative" in extra:  # the unsafe alternative --unsafe-fixes prefers
                result["fixes"].append(_fix(extra["fix_alternative"], f.path, root))
        results.append(result)
    run = {
        "tool": {"driver": {
            "name": "concurlint",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "originalUriBaseIds": {SRCROOT: {"uri": root.as_uri().rstrip("/") + "/"}},
        "invocations": [{"executionSuccessful": True}],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    from concurlint.output.readiness import sarif_properties

    if sarif_properties(report):
        run["properties"] = sarif_properties(report)
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2) + "\n"

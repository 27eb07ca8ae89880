"""``--format json``: the ``concurlint-report/1`` document (schema: concurlint/schemas/report.schema.json).

A finding that ``concurlint fix`` can fix carries ``fix`` (applicability, message, edits); one of a
fixable rule that cannot be fixed here carries ``fix_unavailable`` (why).
"""
from __future__ import annotations

import json


def render_json(report) -> str:
    doc = report.to_json()
    baseline = getattr(report, "baseline", None)
    if baseline:  # additive: which baseline was applied and how many findings it suppressed
        doc["baseline"] = baseline
    from concurlint.fixes import report_fixes

    for item, extra in zip(doc["findings"], report_fixes(report)):
        if extra:
            item.update(extra)
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"

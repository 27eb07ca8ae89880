"""``--format json``: the ``concurlint-report/1`` document (schema: concurlint/schemas/report.schema.json)."""
from __future__ import annotations

import json


def render_json(report) -> str:
    doc = report.to_json()
    baseline = getattr(report, "baseline", None)
    if baseline:  # additive: which baseline was applied and how many findings it suppressed
        doc["baseline"] = baseline
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"

"""``--format json``: the ``concurlint-report/1`` document (schema: concurlint/schemas/report.schema.json)."""
from __future__ import annotations

import json


def render_json(report) -> str:
    return json.dumps(report.to_json(), indent=2, sort_keys=False) + "\n"

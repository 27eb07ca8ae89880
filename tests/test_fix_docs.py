"""Each fixable rule's page has a "Fix" section, and the diff it shows is what the real
`concurlint fix --diff` makes of the page's own bad example, or of the program the section shows
when that example has no fix (so the page cannot drift)."""
from __future__ import annotations

import re

import pytest

from conftest import run_cli
from concurlint.fixes import fixable_codes
from concurlint.registry import all_meta

DIFF_RE = re.compile(r"```diff\n(.*?)```", re.S)
PYTHON_RE = re.compile(r"```python\n(.*?)```", re.S)


def test_exactly_the_fixable_rules_document_a_fix():
    documented = {code for code, meta in all_meta().items() if meta.doc.get("fix")}
    assert documented == set(fixable_codes())


@pytest.mark.parametrize("code", fixable_codes())
def test_fix_section_diff_is_what_fix_does_to_the_example(tmp_path, code):
    meta = all_meta()[code]
    # the page's bad example, or the program the Fix section shows when that example has no fix
    own = PYTHON_RE.findall(str(meta.doc["fix"]))
    source = own[0] if own else str(meta.doc["example"]).lstrip("\n")
    (tmp_path / "example.py").write_text(source, encoding="utf-8")
    proc = run_cli("fix", "example.py", "--diff", "--unsafe-fixes", "--no-cache", "--select", code,
                   "--min-confidence", meta.ceiling, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (shown,) = DIFF_RE.findall(str(meta.doc["fix"]))
    assert shown == proc.stdout
    text = str(meta.doc["fix"])
    assert "**Safe" in text or "**safe**" in text or "**unsafe**" in text.lower()
    page = run_cli("explain", code).stdout
    assert "## Fix" in page and shown in page

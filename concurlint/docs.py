"""A rule's documentation page, from its TOML: ``concurlint explain`` and docs/rules/*.md share it."""
from __future__ import annotations


def rule_markdown(meta) -> str:
    d = meta.doc
    out = [f"# {meta.code}: {meta.name}", ""]
    out.append(f"Severity: **{meta.severity}**. Enabled by default: **{'yes' if meta.default else 'no'}**.")
    if meta.overlaps:
        out.append(f"Overlaps with: {', '.join(meta.overlaps)}.")
    out += ["", meta.summary, "", "## What it does", "", str(d.get("what", "")).strip(), "",
            "## Why is this bad?", "", str(d.get("why", "")).strip(), ""]
    out += ["## Example", "", "```python", str(d.get("example", "")).strip("\n"), "```", ""]
    out += ["## Use instead", "", "```python", str(d.get("use_instead", "")).strip("\n"), "```", ""]
    if d.get("fix"):  # rules `concurlint fix` can fix: what it changes (on the example) and when it is unsafe
        out += ["## Fix", "", str(d["fix"]).strip(), ""]
    refs = d.get("references") or []
    if refs:
        out += ["## References", ""]
        out += [f"- {r}" for r in refs]
        out.append("")
    return "\n".join(out)

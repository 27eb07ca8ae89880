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
    out += _precision(meta)
    if d.get("fix"):  # rules `concurlint fix` can fix: what it changes (on the example) and when it is unsafe
        out += ["## Fix", "", str(d["fix"]).strip(), ""]
    refs = d.get("references") or []
    if refs:
        out += ["## References", ""]
        out += [f"- {r}" for r in refs]
        out.append("")
    return "\n".join(out)


def _precision(meta) -> list:
    """How sure the rule's findings are: its record on real packages it had never seen, and the
    ceiling that record set (docs/precision.md)."""
    h = meta.held_out
    if not h and meta.ceiling == "high":
        return []
    out = ["## Confidence on real code", ""]
    if h:
        n = sum(h.values())
        out.append(f"As first reviewed on real packages it had never seen "
                   f"({meta.held_out_batches} review batches of ten), "
                   f"{n} findings of this rule at high confidence were {h['tp']} worth fixing, "
                   f"{h['fp']} wrong and {h['debatable']} debatable.")
    m = meta.held_out_medium
    if m and meta.ceiling == "low":
        out.append(f"At medium confidence, {sum(m.values())} were {m['tp']} worth fixing, {m['fp']} wrong "
                   f"and {m['debatable']} debatable.")
    if meta.ceiling != "high":
        why = meta.ceiling_why
        hidden = "default output" + (" nor at `--min-confidence medium`" if meta.ceiling == "low" else "")
        out.append(f"So it reports at **{meta.ceiling}** confidence at most: its findings are not in the "
                   f"{hidden}; `--min-confidence {meta.ceiling}` (or `min-confidence = \"{meta.ceiling}\"` "
                   f"in the configuration) shows them.{(' What went wrong: ' + why + '.') if why else ''}")
        if meta.doc.get("fix"):
            out.append(f"`concurlint fix` fixes the findings it shows, so its fix needs "
                       f"`--min-confidence {meta.ceiling}` too.")
    out.append("")
    return out

#!/usr/bin/env python3
"""Generate docs/rules/CCLnnn.md for every rule in rules/*.toml, plus docs/rules/index.md.

Each page is ``concurlint.docs.rule_markdown(meta)``: exactly what ``concurlint explain CCLnnn``
prints, so the reference cannot drift from the code.

    python scripts/gen_rule_docs.py           # (re)write the pages
    python scripts/gen_rule_docs.py --check   # exit 1 and list drifted, missing or stale pages
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "rules"
PAGE_RE = re.compile(r"^CCL\d{3}\.md$")
FAMILIES = [
    ("CCL0", "Input"),
    ("CCL1", "Model fit (at dispatch sites)"),
    ("CCL2", "Shared mutable state"),
    ("CCL3", "Fork hazards"),
    ("CCL4", "Pickling"),
    ("CCL5", "asyncio"),
    ("CCL6", "Thread lifecycle"),
    ("CCL9", "Internal"),
]
sys.path.insert(0, str(ROOT))  # the checkout's code and rules/, even without an install


def _load_metas():
    from concurlint.registry import all_meta

    return all_meta()


def index_markdown(metas) -> str:
    out = ["# Rule reference", "",
           "Generated from `rules/*.toml` by `scripts/gen_rule_docs.py`; do not edit by hand.",
           "`concurlint explain CCLnnn` prints the same page, `concurlint rules` the table.", "",
           "Severity: **error** = will crash, deadlock or corrupt data; **warning** = likely wrong or "
           "slow; **info** = advice. **Up to**: the most confidence the rule reports with; a rule "
           "whose findings were mostly wrong on real packages it had never seen reports at medium at "
           "most, so it is not in the default output (`--min-confidence medium` shows it; "
           "docs/precision.md).", ""]
    for prefix, title in FAMILIES:
        group = [m for c, m in metas.items() if c.startswith(prefix)]
        if not group:
            continue
        out += [f"## {prefix}xx: {title}", "", "| code | name | severity | default | up to | summary |",
                "|---|---|---|---|---|---|"]
        for m in group:
            summary = m.summary.replace("|", "\\|")
            out.append(f"| [{m.code}]({m.code}.md) | `{m.name}` | {m.severity} | "
                       f"{'on' if m.default else 'off'} | {m.ceiling} | {summary} |")
        out.append("")
    return "\n".join(out)


def expected_pages() -> Dict[str, str]:
    from concurlint.docs import rule_markdown

    metas = _load_metas()
    pages = {f"{code}.md": rule_markdown(meta) for code, meta in metas.items()}
    pages["index.md"] = index_markdown(metas)
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift instead of writing; exit 1 on any")
    parser.add_argument("--docs-dir", default=str(DOCS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    docs = Path(args.docs_dir)
    pages = expected_pages()
    present = {p.name for p in docs.glob("*.md")} if docs.is_dir() else set()
    stale = sorted(n for n in present if n not in pages and (PAGE_RE.match(n) or n == "index.md"))
    if args.check:
        problems = []
        for name, text in pages.items():
            path = docs / name
            if not path.is_file():
                problems.append(f"missing: docs/rules/{name}")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"drifted: docs/rules/{name}")
        problems += [f"stale: docs/rules/{n} (no rule {n[:-3]} in rules/)" for n in stale]
        if problems:
            print("rule docs are out of date; run: python scripts/gen_rule_docs.py")
            for p in problems:
                print(f"  {p}")
            return 1
        print(f"rule docs up to date ({len(pages) - 1} rules)")
        return 0
    docs.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, text in pages.items():
        path = docs / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written += 1
    for n in stale:
        (docs / n).unlink()
    print(f"{written} page(s) written, {len(stale)} stale page(s) removed, {len(pages) - 1} rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What one edit changes in the report: the bound on what an incremental project pass must redo.

    python3 bench/edit_reach.py                  # bench/corpus/stdlib, the five edits of project_pass.py

The corpus is copied to a temporary directory. One report at ``--min-confidence low`` from the
untouched copy, then, for each kind of edit of ``bench/project_pass.py --kind`` (append, comment,
import, thread, body), the report after that edit alone (the file is restored after each). Printed
per edit: the functions whose entry in the report changed (classification, evidence, line), how many
of them are outside the edited file, how many changed kind; the files whose findings changed, and
how many of them are not the edited file. No timing: see ``bench/project_pass.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

EDITS = (("append", "concurrent/futures/thread.py"), ("comment", "concurrent/futures/thread.py"),
         ("import", "concurrent/futures/thread.py"), ("thread", "concurrent/futures/thread.py"),
         ("body", "posixpath.py"))


def report(corpus: Path) -> dict:
    from concurlint import engine
    from concurlint.config import load_config
    from concurlint.output import render

    config = load_config(corpus)
    config.min_confidence = "low"
    return json.loads(render("json", engine.run([str(corpus)], config, jobs=1)))


def index(doc: dict):
    functions = {f["qualname"]: f for f in doc["functions"]}
    findings: dict = {}
    for f in doc["findings"]:
        findings.setdefault(f["path"], []).append(f)
    return functions, findings


def main() -> int:
    from project_pass import copy_of, corpus_missing, edited

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus" / "stdlib")
    args = ap.parse_args()
    if corpus_missing(args.corpus):
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        corpus = copy_of(args.corpus, tmp)
        os.environ["CONCURLINT_CACHE_DIR"] = str(Path(tmp) / "cache")
        fns, finds = index(report(corpus))
        for kind, name in EDITS:
            path = corpus / name
            original = path.read_text(encoding="utf-8")
            path.write_text(edited(original, kind, 0), encoding="utf-8")
            try:
                fns2, finds2 = index(report(corpus))
            finally:
                path.write_text(original, encoding="utf-8")
            changed = [q for q in set(fns) | set(fns2) if fns.get(q) != fns2.get(q)]
            outside = [q for q in changed if (fns2.get(q) or fns[q])["path"] != str(path)]
            kinds = [q for q in changed if (fns.get(q) or {}).get("kind") != (fns2.get(q) or {}).get("kind")]
            files = [p for p in set(finds) | set(finds2) if finds.get(p) != finds2.get(p)]
            print(f"{kind:<8} {name}: functions changed {len(changed)} (outside the edited file {len(outside)}, "
                  f"kind changed {len(kinds)}); files whose findings changed {len(files)} "
                  f"(not the edited file: {len([p for p in files if p != str(path)])})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

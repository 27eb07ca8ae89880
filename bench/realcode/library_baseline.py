#!/usr/bin/env python3
"""Write the baseline that isolates library-mode findings on the real-code corpus.

Library mode reports what the default analysis reports plus what only ``--library`` finds. To
review the second part alone, this runs ``concurlint report <package> --write-baseline`` on every
fetched package with the default settings (``--min-confidence`` as given) and merges the entries
into ``sources/_reports/default.baseline.json``; review.py then runs library mode against it:

    python3 bench/realcode/library_baseline.py
    python3 bench/realcode/review.py --labels bench/realcode/reviewed-library.toml \\
        --tool-arg=--library --tool-arg=--baseline=_reports/default.baseline.json

Standard library only (3.9+); never downloads anything.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import SOURCES, load_packages, package_dir
from review import default_tool

OUT = SOURCES / "_reports" / "default.baseline.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-confidence", default="high", choices=("high", "medium", "low"))
    args = ap.parse_args(argv)
    tool = default_tool()
    merged = None
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in load_packages():
            target = package_dir(pkg)
            if not (target / ".fetched").is_file():
                print(f"library_baseline.py: not fetched: {target.name} (run fetch.py)", file=sys.stderr)
                return 2
            out = Path(tmp) / f"{pkg['name']}.json"
            proc = subprocess.run([*tool, "report", target.name, "--no-cache", "--fail-on", "never",
                                   "--min-confidence", args.min_confidence, "--format", "json",
                                   "--write-baseline", str(out)],
                                  cwd=SOURCES, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if proc.returncode not in (0, 1):
                print(f"library_baseline.py: concurlint failed on {target.name}: {proc.stderr[-500:]}", file=sys.stderr)
                return 2
            doc = json.loads(out.read_text(encoding="utf-8"))
            if merged is None:
                merged = doc
            else:
                merged["findings"].extend(doc["findings"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    print(f"{len(merged['findings'])} default findings in {OUT.relative_to(SOURCES.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

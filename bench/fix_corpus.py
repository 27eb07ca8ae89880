"""`concurlint fix` on copies of the real-code corpus and the standard library (issue #15's
done-when): every file that parsed before still parses, under Python 3.9 and 3.13, and no run
crashes. The originals are never touched: each tree is copied to a temporary directory first.

    python3 bench/fix_corpus.py [--unsafe-fixes] [--target-version 3.12] [--min-confidence low] [TREE ...]

TREE defaults to every package of bench/realcode/sources and bench/corpus/stdlib. Prints one line
per tree (files changed, findings fixed, findings left, crashes, files no longer parseable) and a
total; exit 1 when anything crashed or stopped parsing.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "bench" / "realcode" / "sources"
STDLIB = ROOT / "bench" / "corpus" / "stdlib"
CHECK = ("import ast, sys, json\nbad = []\nfor p in sys.argv[1:]:\n    try:\n"
         "        ast.parse(open(p, 'rb').read(), p)\n    except (SyntaxError, ValueError):\n"
         "        bad.append(p)\nprint(json.dumps(bad))\n")


def pythons() -> dict:
    out = {}
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() if shutil.which("pyenv") else ""
    for version in ("3.9.18", "3.13.0"):
        p = Path(root) / "versions" / version / "bin" / "python3"
        if root and p.exists():
            out[version] = str(p)
    return out


def unparsable(python: str, root: Path) -> set:
    files = [str(p) for p in sorted(root.rglob("*.py"))]
    bad = set()
    for i in range(0, len(files), 500):
        proc = subprocess.run([python, "-c", CHECK, *files[i:i + 500]], capture_output=True, text=True)
        bad |= set(json.loads(proc.stdout or "[]"))
    return {str(Path(b).relative_to(root)) for b in bad}


def run_tree(src: Path, options: list, vers: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="concurlint-fixbench-") as tmp:
        work = Path(tmp) / src.name
        shutil.copytree(src, work, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", ".concurlint_cache"))
        before_bad = {v: unparsable(py, work) for v, py in vers.items()}
        texts = {p: p.read_bytes() for p in work.rglob("*.py")}
        # the installed command, not `python -m` (which would import the stdlib copy's modules from cwd)
        command = shutil.which("concurlint", path=str(Path(sys.executable).parent)) or "concurlint"
        proc = subprocess.run([command, "fix", ".", "--no-cache", *options],
                              cwd=work, capture_output=True, text=True)
        crashed = proc.returncode not in (0, 1) or "Traceback" in proc.stderr or "CCL999" in proc.stdout
        m = re.search(r"Fixed (\d+) findings? in (\d+) files?; (\d+) findings? left", proc.stdout)
        fixed, files, left = (int(g) for g in m.groups()) if m else (0, 0, 0)
        changed = [p for p, data in texts.items() if p.read_bytes() != data]
        broken = {}
        for v, py in vers.items():
            new_bad = unparsable(py, work) - before_bad[v]
            if new_bad:
                broken[v] = sorted(new_bad)
        for p in changed:  # and this Python
            try:
                ast.parse(p.read_bytes())
            except SyntaxError:
                broken.setdefault("running", []).append(str(p.relative_to(work)))
        return {"tree": src.name, "fixed": fixed, "files": files, "changed": len(changed), "left": left,
                "crashed": crashed, "broken": broken, "stderr": proc.stderr[-2000:] if crashed else ""}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trees", nargs="*", type=Path)
    ap.add_argument("--unsafe-fixes", action="store_true")
    ap.add_argument("--target-version")
    ap.add_argument("--min-confidence", help="low fixes the most findings (the default, high, the fewest)")
    args = ap.parse_args(argv)
    trees = args.trees or [p for p in sorted(SOURCES.iterdir()) if p.is_dir() and not p.name.startswith("_")] + [STDLIB]
    options = (["--unsafe-fixes"] if args.unsafe_fixes else []) + (
        ["--target-version", args.target_version] if args.target_version else []) + (
        ["--min-confidence", args.min_confidence] if args.min_confidence else [])
    vers = pythons()
    print(f"options: {' '.join(options) or '(safe fixes)'}; parsed with {', '.join(vers) or 'no pyenv Python'} and {sys.version.split()[0]}")
    total = {"fixed": 0, "changed": 0, "left": 0, "crashed": 0, "broken": 0}
    for tree in trees:
        r = run_tree(tree.resolve(), options, vers)
        n_broken = sum(len(v) for v in r["broken"].values())
        line = f"{r['tree']:<28} fixed {r['fixed']:>4} in {r['changed']:>3} files, {r['left']:>5} left"
        if r["crashed"]:
            line += ", CRASHED"
        if n_broken:
            line += f", {n_broken} no longer parse: {r['broken']}"
        print(line)
        if r["crashed"]:
            print(r["stderr"])
        total["fixed"] += r["fixed"]
        total["changed"] += r["changed"]
        total["left"] += r["left"]
        total["crashed"] += r["crashed"]
        total["broken"] += n_broken
    print(f"total: fixed {total['fixed']} findings in {total['changed']} files, {total['left']} left, "
          f"{total['crashed']} crashes, {total['broken']} files no longer parse")
    return 1 if total["crashed"] or total["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())

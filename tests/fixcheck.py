"""What every test of `concurlint fix` checks, through the real command: the findings before and
after, the comments, the parse under Python 3.9 and the running one, and a second run."""
from __future__ import annotations

import ast
import io
import os
import re
import shutil
import subprocess
import tokenize
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

from conftest import run_cli, validate_report

import json


def findings(target, cwd: Path, *args) -> List[dict]:
    proc = run_cli("report", str(target), "--format", "json", "--no-cache", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    validate_report(doc)
    return doc["findings"]


def key(f: dict) -> tuple:
    """A finding's identity that does not move when lines above it do."""
    return (f["code"], f["path"], f["function"], re.sub(r":\d+", ":N", f["message"]))


def comments(text: str) -> Counter:
    out: Counter = Counter()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.string.strip()] += 1
    return out


def snapshot(root: Path) -> Dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.py"))}


def pyenv_python(version: str) -> Optional[Path]:
    roots = [os.environ.get("PYENV_ROOT")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        roots.append(subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip())
    roots.append(str(Path.home() / ".pyenv"))
    for root in filter(None, roots):
        candidate = Path(root) / "versions" / version / "bin" / "python"
        if candidate.exists():
            return candidate
    return None


def assert_parses(paths: List[Path]) -> None:
    """Every file parses with this Python's ast and with Python 3.9's (the oldest supported)."""
    for p in paths:
        ast.parse(p.read_bytes(), str(p))
    py39 = pyenv_python("3.9.18")
    if py39 is None or not paths:
        return
    code = ("import ast, sys\nbad = []\nfor p in sys.argv[1:]:\n    try:\n        ast.parse(open(p, 'rb').read(), p)\n"
            "    except SyntaxError as e:\n        bad.append(f'{p}: {e}')\nprint('\\n'.join(bad))\nsys.exit(1 if bad else 0)\n")
    proc = subprocess.run([str(py39), "-c", code, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"Python 3.9 cannot parse the fixed code:\n{proc.stdout}{proc.stderr}"


def fix(target, cwd: Path, *args, exit_code=None):
    proc = run_cli("fix", str(target), "--no-cache", *args, cwd=cwd)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode in ((0, 1) if exit_code is None else (exit_code,)), proc.stdout + proc.stderr
    if exit_code is not None:
        assert proc.returncode == exit_code, proc.stdout + proc.stderr
    return proc


def check_fix(root: Path, target: str, *args) -> dict:
    """Run `concurlint fix` on ``root/target`` and check every promise of a fix; returns facts."""
    shown = [a for i, a in enumerate(args) if a.startswith("--min-confidence") or
             (i and args[i - 1] == "--min-confidence")]  # the findings `fix` works on
    # and every finding, at any confidence: a fix must not add one that the shown level hides (a
    # rule capped at medium, docs/precision.md, or a less sure finding)
    every = ["--min-confidence", "low"]
    before = findings(target, root, *shown)
    every_before = before if shown == every else findings(target, root, *every)
    texts = snapshot(root)
    first = fix(target, root, *args)
    after = findings(target, root, *shown)
    every_after = after if shown == every else findings(target, root, *every)
    # no finding is added (identity without line numbers), none is lost without a fix
    for old, new in ((before, after), (every_before, every_after)):
        assert Counter(map(key, new)) - Counter(map(key, old)) == Counter(), (
            f"new findings after the fix:\n{first.stdout}\n" + "\n".join(map(str, new)))
    changed = {name for name, data in snapshot(root).items() if texts.get(name) != data}
    for name in changed:
        old, new = texts[name].decode("utf-8"), (root / name).read_text(encoding="utf-8")
        lost = comments(old) - comments(new)
        assert not lost, f"{name} lost comments {sorted(lost)}"
    assert_parses([root / n for n in changed])
    # idempotent: a second run changes nothing and fixes nothing
    again_texts = snapshot(root)
    second = fix(target, root, *args)
    assert snapshot(root) == again_texts, f"the second run changed files:\n{second.stdout}"
    assert "Fixed 0 findings in 0 files" in second.stdout, second.stdout
    return {"before": before, "after": after, "changed": changed, "output": first.stdout, "exit": first.returncode}

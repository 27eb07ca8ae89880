"""Helpers shared by tests/test_probe*.py (not a test module)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples" / "probe"
SCHEMA = json.loads((ROOT / "concurlint" / "schemas" / "probe.schema.json").read_text())


def concurlint_script():
    """The installed console script next to this interpreter."""
    found = shutil.which("concurlint", path=os.path.dirname(sys.executable))
    if not found:
        pytest.skip("the concurlint console script is not installed next to %s" % sys.executable)
    return found


def run_cli(*args, cwd=TARGETS, timeout=120):
    if "--retries" not in args:
        args = args + ("--retries", "0")
    return subprocess.run(
        [concurlint_script(), "probe", *args], cwd=str(cwd), capture_output=True, text=True, timeout=timeout
    )


def validate(payload):
    import jsonschema

    jsonschema.validate(payload, SCHEMA)
    return payload


def probe(target, **kw):
    """Python API probe from the test targets directory, schema-checked."""
    from concurlint.probe.harness import ProbeSpec, run_probe

    kw.setdefault("cwd", str(TARGETS))
    kw.setdefault("repeat", 1)
    kw.setdefault("retries", 0)
    return validate(run_probe(ProbeSpec(target, **kw)))


def python_version(version):
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() or os.path.expanduser("~/.pyenv")
    exe = Path(root) / "versions" / version / "bin" / "python3"
    if not exe.exists():
        pytest.skip("Python %s is not installed under pyenv" % version)
    return str(exe)


def busy(report):
    # a speed-up from 2 workers needs both CPUs: with other work on more than ~15% of them
    # (level "light" and up) the direction cannot be measured, only guessed
    return (report.get("load") or {}).get("level") not in (None, "idle")


def measure_until(make_report, check, attempts=2):
    """Re-measure up to `attempts` times until `check(report)` holds.

    Timing assertions are about direction and margin only; on a machine that
    other work keeps busy they can still miss, and then the test is skipped
    with the measured figures (it fails only if the machine was quiet).
    """
    report = None
    for _ in range(attempts):
        report = make_report()
        assert report["ok"], report.get("error")
        if check(report):
            return report
    figures = {m: e.get("speedup") for m, e in report["modes"].items()}
    if busy(report):
        pytest.skip("machine too busy to measure (%s): %s" % (report["load"], figures))
    raise AssertionError("direction not measured after %d tries: %s, load %s" % (attempts, figures, report["load"]))

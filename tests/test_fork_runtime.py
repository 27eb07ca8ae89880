"""The fork+threads findings, confirmed by CPython itself.

CPython 3.12+ checks, at every ``os.fork()`` (and so every multiprocessing fork), whether the
process has more than one thread, and warns: "This process (pid=N) is multi-threaded, use of
fork() may lead to deadlocks in the child." Each scenario of tests/fixtures/CCL301.py is run
under Python 3.12 in its own process; the scenarios with a CCL301 finding must make CPython
print that warning, the others must not.

The warning filter is ``always::DeprecationWarning`` (shown every time, never hidden by the
default filters). ``-W error::DeprecationWarning`` does not work for this warning: CPython 3.12.1
swallows the exception raised by the warning inside ``os.fork()`` (checked by
``test_error_filter_hides_the_fork_warning``), so with it nothing would ever appear.

subprocess's ``preexec_fn`` (CCL302) forks in C without that check, so CPython cannot confirm
CCL302 at run time; ``test_preexec_scenarios_run`` only checks that those scenarios run.
"""
from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, report_json

WARNING = "is multi-threaded, use of fork() may lead to deadlocks in the child"


def python312():
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = os.path.expanduser("~/.pyenv")
    exe = Path(root) / "versions" / "3.12.1" / "bin" / "python3"
    if not exe.exists():
        pytest.skip(f"Python 3.12.1 is not installed at {exe}: the runtime confirmation needs it")
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    return str(exe)


def scenarios(fixture: Path):
    """Names of SCENARIOS (the dict at the bottom of the fixture) -> function name."""
    tree = ast.parse(fixture.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SCENARIOS":
            return {k.value: v.id for k, v in zip(node.value.keys, node.value.values)}
    raise AssertionError(f"{fixture} has no SCENARIOS dict")


def functions_with(code: str, fixture: Path):
    """The fixture's functions that contain a finding of ``code`` (from the real CLI), at any
    confidence: CCL301 reports at medium at most (docs/precision.md), and a less sure finding in a
    scenario CPython does not warn about would be a false alarm too."""
    doc = report_json(str(fixture.relative_to(ROOT)), "--select", "CCL3", "--min-confidence", "low", cwd=ROOT)
    return {f["function"].rsplit(".", 1)[-1] for f in doc["findings"] if f["code"] == code and f["function"]}


def run(py, fixture: Path, scenario: str, warn_filter="always::DeprecationWarning"):
    return subprocess.run([py, "-W", warn_filter, str(fixture), scenario], capture_output=True, text=True,
                          timeout=60, cwd=str(fixture.parent))


def test_fork_scenarios_match_cpython_warning():
    py = python312()
    fixture = FIXTURES / "CCL301.py"
    flagged = functions_with("CCL301", fixture)
    table = scenarios(fixture)
    assert flagged, "no CCL301 finding in the fixture"
    positives = negatives = 0
    for name, func in table.items():
        # the finding sits in the scenario or in the function it runs in a thread
        calls = {func} | _thread_targets(fixture, func)
        expect = bool(flagged & calls)
        proc = run(py, fixture, name)
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{proc.stderr}"
        warned = WARNING in proc.stderr
        assert warned == expect, (
            f"{name}: static analysis says {'fork with threads' if expect else 'safe'}, "
            f"CPython {'warned' if warned else 'did not warn'}\n{proc.stderr}")
        positives += expect
        negatives += not expect
    assert positives >= 3 and negatives >= 3, (positives, negatives)


def _thread_targets(fixture: Path, func: str):
    """Functions that ``func`` hands to threading.Thread(target=...) in the fixture."""
    tree = ast.parse(fixture.read_text(encoding="utf-8"))
    out = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for sub in ast.walk(node):
                if isinstance(sub, ast.keyword) and sub.arg == "target" and isinstance(sub.value, ast.Name):
                    out.add(sub.value.id)
    return out


def test_error_filter_hides_the_fork_warning():
    """Why the test above uses ``always``: under ``error`` 3.12.1 prints nothing for a warned fork."""
    py = python312()
    fixture = FIXTURES / "CCL301.py"
    proc = run(py, fixture, "fork_with_heartbeat", "error::DeprecationWarning")
    assert proc.returncode == 0, proc.stderr
    assert WARNING not in proc.stderr


def test_preexec_scenarios_run():
    py = python312()
    fixture = FIXTURES / "CCL302.py"
    flagged = functions_with("CCL302", fixture)
    assert flagged == {"run_detached", "run_nice"}
    for name in scenarios(fixture):
        proc = run(py, fixture, name)
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{proc.stderr}"

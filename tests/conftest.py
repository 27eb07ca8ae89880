"""Shared helpers: run the installed console scripts for real, in a subprocess."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# every CLI run of the suite checks that what it reused from the last run (classification
# summaries, engine.project_pass) is what computing it again gives (concurlint/analysis/classify.py)
os.environ.setdefault("CONCURLINT_CHECK_REUSE", "1")
# and that the whole-project scans that visit only the calls passing a test of the call index
# (concurlint/analysis/call_index.py) report what visiting every call reports, and that the
# answers it reused from the last run are the ones testing every call again gives
os.environ.setdefault("CONCURLINT_CHECK_INDEX", "1")
# and every fix it plans is checked against rendering and checking the whole module
# (concurlint/fixes/splice.py renders and parses only the statements a fix changes)
os.environ.setdefault("CONCURLINT_SELF_CHECK_FIXES", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SCHEMA = ROOT / "concurlint" / "schemas" / "report.schema.json"


def pytest_sessionstart(session):
    """Byte-compile the concurlint that the console scripts import, once per session.

    Nearly every test runs the real command in a new interpreter. Where PYTHONDONTWRITEBYTECODE is
    set (it is on the development machines) Python never writes the .pyc files of an editable
    install, so each of those runs compiled every module it imports from source again: ~0.2 s of CPU
    a run, more than the analysis of a small project. The .pyc files are the ones Python would
    write itself (checked against each source's timestamp, so an edited module is recompiled)."""
    import compileall

    import concurlint

    compileall.compile_dir(str(Path(concurlint.__file__).parent), quiet=1)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "exclusive: the test measures timings; under pytest-xdist no other test of the session "
        "runs meanwhile (the machine is as quiet as in a run with one process)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """With pytest-xdist (the default, see pyproject.toml), tests run in two processes at once.
    A test marked ``exclusive`` (it measures speed-ups, which need both CPUs) runs alone: it waits
    until the test running in the other worker ends, and that worker waits until it is done.
    Every test takes a shared lock for its setup, call and teardown (module fixtures included),
    an exclusive test an exclusive one; a gate taken before either keeps the exclusive test from
    waiting for ever behind a stream of shared ones. One process (``-n 0``): no locks."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        fcntl = None
    if worker is None or fcntl is None:
        yield
        return
    # the session's base temporary directory, shared by its workers (each has its own below it)
    where = item.config._tmp_path_factory.getbasetemp().parent
    exclusive = item.get_closest_marker("exclusive") is not None
    with open(where / "xdist-turn.gate", "a") as gate, open(where / "xdist-turn.lock", "a") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        if not exclusive:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if exclusive:
                fcntl.flock(gate, fcntl.LOCK_UN)


def script(name: str) -> str:
    """The console script installed next to this interpreter (the real `concurlint`/`flake8`)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}; install the test extras (see README)")
    return found


def run_cli(*args, cwd=None, env=None, check_exit=None, input_text=None):
    """Run the real `concurlint` script; returns CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.pop("FORCE_COLOR", None)
    full_env["CONCURLINT_CACHE_DIR"] = full_env.get("CONCURLINT_TEST_CACHE", "")
    if not full_env["CONCURLINT_CACHE_DIR"]:
        full_env.pop("CONCURLINT_CACHE_DIR")
    if env:
        full_env.update(env)
    proc = subprocess.run([script("concurlint"), *map(str, args)], cwd=cwd, env=full_env, text=True,
                          capture_output=True, input=input_text, timeout=600)
    if check_exit is not None:
        assert proc.returncode == check_exit, (
            f"exit {proc.returncode} != {check_exit}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


_VALIDATOR = []


def validate_report(doc: dict) -> None:
    """``jsonschema.validate(doc, schema)``, with the schema checked and its validator built once a
    session instead of once a call (~15 ms each, ~250 calls)."""
    import jsonschema

    if not _VALIDATOR:
        schema = json.loads(SCHEMA.read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATOR.append(cls(schema))
    error = jsonschema.exceptions.best_match(_VALIDATOR[0].iter_errors(doc))
    if error is not None:
        raise error


def report_bytes(project, *args, target: str = "app", validate: bool = True, traced: bool = False):
    """The JSON report of ``project/<target>`` as bytes, written by the real command with its
    cache (``-o out.json``): warm and cold runs are compared byte for byte. ``traced``: with
    ``CONCURLINT_CACHE_TRACE=1``, and (bytes, what the trace said on stderr) is returned."""
    out = project / "out.json"
    if out.exists():
        out.unlink()
    proc = run_cli("report", "--format", "json", "-o", out, *args, target, cwd=project,
                   env={"CONCURLINT_CACHE_TRACE": "1"} if traced else None)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    data = out.read_bytes()
    if validate:
        validate_report(json.loads(data))
    return (data, proc.stderr) if traced else data


def report_json(*args, cwd=None, env=None) -> dict:
    proc = run_cli("report", *args, "--format", "json", "--no-cache", cwd=cwd, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    validate_report(doc)
    return doc

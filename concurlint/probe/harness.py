"""Parent side of ``concurlint probe``: start the child, watch it, build the report.

The parent never imports the user's code.  It writes a request file, runs
``_runner.py`` under the chosen interpreter in its own process group (in our
session: it is never detached), kills its whole process tree when the probe
ends, hangs, is interrupted or terminated (``_kill_tree``), and
reads the events the child appends to a file, restarting the timeout at every
``start`` event.  The report is a plain dict in the ``concurlint-probe/1``
shape (see ``docs/probe.md`` and ``concurlint/schemas/probe.schema.json``).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from concurlint.probe.names import ALL_MODES, MODELS, START_METHODS, ProbeUsageError  # noqa: F401

SCHEMA_ID = "concurlint-probe/1"
RUNNER = Path(__file__).with_name("_runner.py")

#: a parallel mode must beat serial by this factor to be worth recommending
WORTH_IT = 1.1
#: modes within this fraction of the best speed-up count as equally good
TIE = 0.10
#: serial CPU/(wall - run-queue wait) at or above this is cpu, at or below IO_RATIO io
CPU_RATIO = 0.8
IO_RATIO = 0.2
#: a serial run shorter than this is mostly overhead: no verdict on the kind
MIN_SERIAL_S = 0.02


@dataclass
class ProbeSpec:
    """Everything one probe needs; ``None`` means "use the default"."""

    target: str
    args: List[Any] = field(default_factory=list)
    kwargs: Dict[str, Any] = field(default_factory=dict)
    tasks: Optional[int] = None
    workers: Optional[int] = None
    modes: Optional[List[str]] = None
    repeat: int = 3
    timeout: float = 60.0
    python: Optional[str] = None
    start_method: Optional[str] = None
    factory: Optional[str] = None
    factory_args: List[Any] = field(default_factory=list)
    factory_kwargs: Dict[str, Any] = field(default_factory=dict)
    path: List[str] = field(default_factory=list)
    cwd: Optional[str] = None
    expect: Optional[str] = None
    static: bool = True
    retries: int = 2
    memory_limit: Optional[int] = None  # MB of address space for the child (RLIMIT_AS)
    #: what the child imports (``pkg.mod:func``): ``target`` itself, or the module a
    #: ``path/to/mod.py:func`` target names (its package root is added to ``path``)
    import_target: Optional[str] = None

    def resolved(self) -> "ProbeSpec":
        """Check the options and fill in defaults; raise ProbeUsageError."""
        target = self.target
        cwd = os.path.abspath(self.cwd or os.getcwd())
        path = [os.path.abspath(os.path.join(cwd, p)) for p in self.path]
        import_target = self.import_target
        if import_target is None:
            import_target, root = _import_form(target, cwd, path)
            if root is not None and root not in path:
                path.insert(0, root)
        mod, sep, attr = import_target.partition(":")
        if not sep or not mod or not attr or " " in target:
            raise ProbeUsageError(
                "target %r must look like pkg.mod:func, pkg.mod:Class.method or path/to/mod.py:func" % target
            )
        if self.memory_limit is not None and (isinstance(self.memory_limit, bool) or
                                              not isinstance(self.memory_limit, int) or self.memory_limit < 16):
            raise ProbeUsageError("--memory-limit must be a number of megabytes, at least 16")
        workers = self.workers if self.workers is not None else (os.cpu_count() or 2)
        if workers < 1:
            raise ProbeUsageError("--workers must be at least 1")
        tasks = self.tasks if self.tasks is not None else max(4, 2 * workers)
        if tasks < 1:
            raise ProbeUsageError("--tasks must be at least 1")
        if self.retries < 0:
            raise ProbeUsageError("--retries must be 0 or more")
        if self.repeat < 1:
            raise ProbeUsageError("--repeat must be at least 1")
        if not self.timeout > 0:
            raise ProbeUsageError("--timeout must be a positive number of seconds")
        modes = list(self.modes) if self.modes else list(ALL_MODES)
        for m in modes:
            if m not in ALL_MODES:
                raise ProbeUsageError(
                    "unknown mode %r (choose from %s)" % (m, ", ".join(ALL_MODES))
                )
        modes = ["serial"] + [m for m in ALL_MODES if m in modes and m != "serial"]
        if self.start_method is not None and self.start_method not in START_METHODS:
            raise ProbeUsageError(
                "unknown start method %r (choose from %s)"
                % (self.start_method, ", ".join(START_METHODS))
            )
        if self.expect is not None and self.expect not in MODELS:
            raise ProbeUsageError(
                "unknown expected model %r (choose from %s)" % (self.expect, ", ".join(MODELS))
            )
        python = self.python or sys.executable
        if os.sep in python or (os.altsep and os.altsep in python):
            if not (os.path.isfile(python) and os.access(python, os.X_OK)):
                raise ProbeUsageError("--python %s is not an executable file" % python)
        else:
            import shutil

            found = shutil.which(python)
            if not found:
                raise ProbeUsageError("--python %s was not found on PATH" % python)
            python = found
        if not isinstance(self.args, (list, tuple)):
            raise ProbeUsageError("args must be a list (a JSON array)")
        if not isinstance(self.kwargs, dict):
            raise ProbeUsageError("kwargs must be a mapping (a JSON object)")
        return ProbeSpec(
            target=target, args=list(self.args), kwargs=dict(self.kwargs), tasks=tasks,
            workers=workers, modes=modes, repeat=self.repeat, timeout=float(self.timeout),
            python=python, start_method=self.start_method, factory=self.factory,
            factory_args=list(self.factory_args), factory_kwargs=dict(self.factory_kwargs),
            path=path, cwd=cwd, expect=self.expect, static=self.static, retries=self.retries,
            memory_limit=self.memory_limit, import_target=import_target,
        )


def _import_form(target: str, cwd: str, path: List[str]):
    """``(pkg.mod:attr, None)`` for a module target; for ``path/to/mod.py:attr`` (the form
    ``explain --function`` takes) the module name from the package folders above the file and
    the folder to import it from. A file that does not exist is a ProbeUsageError."""
    where, sep, attr = target.rpartition(":")
    if not sep or not (where.endswith(".py") or "/" in where or os.sep in where):
        return target, None
    candidates = [os.path.join(base, where) for base in [cwd] + path] if not os.path.isabs(where) else [where]
    file = next((os.path.abspath(c) for c in candidates if os.path.isfile(c)), None)
    if file is None:
        raise ProbeUsageError("target %r: there is no file %s" % (target, where))
    if not file.endswith(".py"):
        raise ProbeUsageError("target %r: %s is not a .py file" % (target, where))
    folder, name = os.path.split(file)
    parts = [] if name == "__init__.py" else [name[:-3]]
    while os.path.isfile(os.path.join(folder, "__init__.py")) and os.path.dirname(folder) != folder:
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    if not parts or not all(p.isidentifier() for p in parts):
        raise ProbeUsageError("target %r: %s cannot be imported as a module" % (target, where))
    return "%s:%s" % (".".join(parts), attr), folder


# --------------------------------------------------------------------------
# machine load (Linux /proc/stat), read by the parent around the child's run


def _cpu_times() -> Optional[List[int]]:
    try:
        with open("/proc/stat", "rb") as f:
            first = f.readline().split()
        return [int(x) for x in first[1:]]
    except (OSError, ValueError):
        return None


def _children_cpu() -> float:
    try:
        import resource
    except ImportError:
        return 0.0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _loadavg() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _load_report(before, after, child_cpu: float) -> Dict[str, Any]:
    cpus = os.cpu_count() or 1
    out: Dict[str, Any] = {"cpus": cpus, "loadavg_1m": _loadavg()}
    if before and after and len(before) >= 8 and len(after) >= 8:
        d = [a - b for a, b in zip(after, before)]
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        total = sum(d[:8])  # user nice system idle iowait irq softirq steal
        if total > 0:
            busy = d[0] + d[1] + d[2] + d[5] + d[6]
            other = max(0.0, busy - child_cpu * hz) / total
            out["other_busy"] = round(min(1.0, other), 3)
            out["steal"] = round(d[7] / total, 3)
            out["level"] = (
                "idle" if other < 0.15 else "light" if other < 0.5
                else "busy" if other < 0.85 else "saturated"
            )
    return out


# --------------------------------------------------------------------------
# running the child


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except (ValueError, AttributeError):
        return "signal %d" % -rc


def _signal_all(pids, sig) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill the runner, everything it started and everything *they* started, wherever they
    went: the runner's process group (pool workers), and — found through ``/proc`` — its
    descendants in other groups or sessions (a target's ``start_new_session=True`` child).
    The runner is a child subreaper on Linux, so a double-forked daemon is re-parented to it
    and stays in the tree. The tree is frozen (SIGSTOP) first so that nothing forks while it
    is being killed."""
    if hasattr(signal, "SIGSTOP") and proc.poll() is None:
        # the child's own walk of /proc (standard library only, so the parent can share it);
        # imported here: the runner imports asyncio, which no other command needs at start-up
        from concurlint.probe._runner import _descendants

        frozen: List[int] = []
        for _ in range(5):
            found = [p for p in [proc.pid] + _descendants(proc.pid) if p not in frozen]
            if not found:
                break
            _signal_all(found, signal.SIGSTOP)
            frozen.extend(found)
        _signal_all(frozen, signal.SIGKILL)
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except OSError:
        pass


def _run_child(spec: ProbeSpec, workdir: Path):
    request = {
        "target": spec.import_target or spec.target,
        "memory_limit_mb": spec.memory_limit,
        "workdir": str(workdir),
        "tasks": spec.tasks,
        "workers": spec.workers,
        "modes": spec.modes,
        "repeat": spec.repeat,
        "start_method": spec.start_method,
        "factory": spec.factory,
        "factory_args": spec.factory_args,
        "factory_kwargs": spec.factory_kwargs,
        "path": [spec.cwd] + spec.path,
        "retries": spec.retries,
    }
    try:
        json.dumps([spec.args, spec.kwargs])
        request["args"], request["kwargs"] = spec.args, spec.kwargs
    except (TypeError, ValueError):
        import base64
        import pickle

        try:
            blob = pickle.dumps((list(spec.args), dict(spec.kwargs)), protocol=4)
        except Exception as exc:  # noqa: BLE001
            raise ProbeUsageError("the arguments are neither JSON nor picklable: %s" % exc)
        request["args_pickle"] = base64.b64encode(blob).decode("ascii")
    req_path = workdir / "request.json"
    ev_path = workdir / "events.jsonl"
    out_path = workdir / "stdout.txt"
    err_path = workdir / "stderr.txt"
    req_path.write_text(json.dumps(request), encoding="utf-8")
    ev_path.write_bytes(b"")
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONSTARTUP", None)
    # also on PYTHONPATH: fresh interpreters (spawned workers, subinterpreters)
    # must import the target without the runner's sys.path changes
    extra = [spec.cwd] + spec.path
    if env.get("PYTHONPATH"):
        extra.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(extra)
    cmd = [spec.python, str(RUNNER), str(req_path), str(ev_path)]
    events: List[Dict[str, Any]] = []
    timed_out: Optional[Dict[str, Any]] = None
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            # the runner stays in our session (a terminal hang-up, ``timeout`` or a CI job's
            # cancellation still concerns it) but leads its own process group, so that one
            # killpg() reaches its pool workers; it follows us when we die (see _runner.py)
            group = {"preexec_fn": os.setpgrp} if hasattr(os, "setpgrp") else {}
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=spec.cwd, env=env, **group,
            )
        except OSError as exc:
            raise ProbeUsageError("cannot run %s: %s" % (spec.python, exc.strerror or exc))
        pending = b""
        pos = 0
        deadline = time.monotonic() + spec.timeout
        current: Dict[str, Any] = {"stage": "startup"}
        try:
            while True:
                rc = proc.poll()
                with open(ev_path, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
                pos += len(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    events.append(ev)
                    if ev.get("event") == "start":
                        current = ev
                        deadline = time.monotonic() + spec.timeout
                if rc is not None:
                    break
                if time.monotonic() > deadline:
                    timed_out = current
                    if hasattr(signal, "SIGUSR1"):
                        try:
                            proc.send_signal(signal.SIGUSR1)  # faulthandler dumps stacks
                        except OSError:
                            pass
                        try:
                            proc.wait(0.5)
                        except subprocess.TimeoutExpired:
                            pass
                    _kill_tree(proc)
                    proc.wait()
                    break
                time.sleep(0.02)
        except BaseException:
            _kill_tree(proc)
            proc.wait()
            raise
        # pool workers or processes the target started must not outlive the probe
        _kill_tree(proc)
    return events, proc.returncode, timed_out, out_path, err_path


# --------------------------------------------------------------------------
# building the report


def _median(xs: List[float]) -> float:
    return statistics.median(xs)


def _r(x: Optional[float], nd: int = 4) -> Optional[float]:
    return None if x is None else round(x, nd)


def _stage_text(ev: Dict[str, Any]) -> str:
    stage = ev.get("stage")
    if stage == "measure":
        return "mode %s (repeat %d)" % (ev.get("mode"), ev.get("repeat", 0) + 1)
    if stage == "import":
        return "importing the target"
    if stage == "warmup":
        return "the warm-up call"
    return "start-up"


def _thread_like(mode: str, is_coro: bool) -> bool:
    """Modes whose lanes are threads of one process sharing one GIL."""
    return mode == "threads" or (mode == "asyncio" and not is_coro)


def _busy_wall(run: Dict[str, Any], mode: str, is_coro: bool) -> float:
    """Wall time less the time lost waiting for a CPU: an estimate for an idle machine.

    serial (and coroutines on one event loop) is one thread, so all of its
    run-queue wait was lost: exact.  Process and interpreter pools are
    independent lanes: each lane's share of the wait (summed wait / lanes) was
    on its own critical path.
    """
    wall = run["wall_s"]
    wait = run.get("cpu_wait_s")
    if wait is None or wall <= 0:
        return max(wall, 1e-9)
    lanes = run.get("lanes") or 1
    lost = wait / lanes if mode in ("processes", "interpreters") else wait
    return max(wall - lost, run.get("cpu_s", 0.0) / lanes, wall * 0.05, 1e-9)


def _speedup(serial: Dict[str, Any], run: Dict[str, Any], mode: str, is_coro: bool) -> float:
    """Serial time / this run's time, both corrected for CPU wait where that is sound.

    Threads share the GIL: a thread waiting for a CPU cannot be told apart from
    one whose wait did not matter, so thread modes are compared with serial on
    plain wall times (both runs suffered the same load; this never flatters
    GIL-bound threads).
    """
    if _thread_like(mode, is_coro):
        return serial["wall_s"] / run["wall_s"]
    return _busy_wall(serial, "serial", is_coro) / _busy_wall(run, mode, is_coro)


def _pick_best(modes: Dict[str, Dict[str, Any]], is_coro: bool):
    """Return (best mode, its speed-up, the set of modes tied with it)."""
    speed = {
        m: e["speedup"] for m, e in modes.items()
        if m != "serial" and e.get("speedup") is not None
    }
    if "serial" not in modes or modes["serial"].get("wall_s") is None:
        return None, None, set()
    if not speed or max(speed.values()) < WORTH_IT:
        tied = {"serial"} | {m for m, s in speed.items() if s >= 1.0 - TIE}
        return "serial", 1.0, tied
    top = max(speed.values())
    tied = {m for m, s in speed.items() if s >= (1.0 - TIE) * top}
    order = (
        ("asyncio", "threads", "interpreters", "processes") if is_coro
        else ("threads", "asyncio", "interpreters", "processes")
    )
    best = next(m for m in order if m in tied)
    if best == "asyncio" and not is_coro and "threads" in speed:
        # a plain function's asyncio mode is `asyncio.to_thread` on a thread pool: the same model
        # as threads, so a faster figure there is noise between two thread pools (seen on a
        # loaded CI machine), not a reason to rewrite the function as a coroutine
        tied.add("threads")
        best = "threads"
    return best, speed[best], tied


def _model_mode(model: str) -> str:
    return "threads" if model == "free-threading" else model


def _judge(model: Optional[str], report: Dict[str, Any], tied: set) -> Optional[bool]:
    """Is `model` as good as the measured best? None when it was not measured."""
    if model is None or report.get("recommended") is None:
        return None
    if model == report["recommended"]:
        return True
    if report["recommended"] == "serial":
        return False
    mode = _model_mode(model)
    if mode not in report["modes"] or report["modes"][mode].get("speedup") is None:
        return None if mode != "serial" else False
    return mode in tied


def build_report(spec: ProbeSpec, events, rc, timed_out, out_path, err_path, load) -> Dict[str, Any]:
    """The ``concurlint-probe/1`` report of one probe run, from the child's events."""
    hello = next((e for e in events if e["event"] == "hello"), {})
    target = next((e for e in events if e["event"] == "target"), {})
    warm = next((e for e in events if e["event"] == "warmup"), {})
    report = _report_head(spec, hello, target, load)
    if warm:
        report["result_repr"] = warm.get("result_repr")
    runs: Dict[str, List[Dict[str, Any]]] = {}
    for ev in events:
        if ev["event"] == "measure":
            runs.setdefault(ev["mode"], []).append(ev)
    serial_runs = {r["repeat"]: r for r in runs.get("serial", [])}
    is_coro = bool(target.get("is_coroutine"))
    for mode in spec.modes:
        report["modes"][mode] = _mode_entry(spec, events, mode, runs.get(mode, []), serial_runs, is_coro, timed_out)
    _add_failure(report, spec, events, rc, timed_out, out_path, err_path)
    warnings = _add_measured_kind(report, runs.get("serial", []), load)
    if load.get("level") in ("busy", "saturated"):
        warnings.append(
            "the machine was %s (other processes used %.0f%% of the CPUs): speed-ups are noisy; "
            "the measured kind excludes the time spent waiting for a CPU"
            % (load["level"], 100 * load.get("other_busy", 0))
        )
    report["warnings"] = warnings

    # ---- does threading help CPU work? (only meaningful with a GIL)
    thr = report["modes"].get("threads", {}).get("speedup")
    if report["measured_kind"] == "cpu" and thr is not None and spec.workers > 1 and report["gil_enabled"]:
        report["measured_releases_gil"] = True if thr >= 1.3 else False if thr <= 1.1 else None

    # ---- best model
    best, _, tied = _pick_best(report["modes"], is_coro)
    if best is not None:
        if best == "threads" and report["gil_enabled"] is False:
            best = "free-threading"
        report["recommended"] = best
    report["tied"] = sorted(tied) if report["recommended"] else []

    _add_static(report, spec, tied)  # static analysis of the same function
    if spec.expect is not None:
        report["expect"] = _expect_verdict(report, spec.expect, tied)
    return report


def _report_head(spec: ProbeSpec, hello: Dict[str, Any], target: Dict[str, Any], load) -> Dict[str, Any]:
    """The report's fixed fields: what was run, where, how; the verdict fields start empty."""
    import re

    return {
        "schema": SCHEMA_ID,
        # as the user named it; the module form when that does not fit the schema's pattern
        "target": spec.target if re.match(r"^[^:\s]+:[^:\s]+$", spec.target) else spec.import_target,
        "python": hello.get("python"),
        "gil_enabled": hello.get("gil_enabled"),
        "measured_kind": None,
        "cpu_ratio": None,
        "static_kind": None,
        "agrees": None,
        "modes": {},
        "recommended": None,
        "ok": True,
        "implementation": hello.get("implementation"),
        "executable": hello.get("executable") or spec.python,
        "free_threaded_build": hello.get("free_threaded_build"),
        "settings": {
            "args": spec.args if _jsonable(spec.args) else repr(spec.args),
            "kwargs": spec.kwargs if _jsonable(spec.kwargs) else repr(spec.kwargs),
            "tasks": spec.tasks, "workers": spec.workers, "repeat": spec.repeat,
            "timeout_s": spec.timeout, "modes": spec.modes,
            "start_method": spec.start_method or hello.get("default_start_method"),
        },
        "function": {
            "module": target.get("module"), "qualname": target.get("qualname"),
            "sourcefile": target.get("sourcefile"), "is_coroutine": target.get("is_coroutine"),
        },
        "load": load,
    }


def _mode_entry(spec: ProbeSpec, events, mode: str, mine: List[Dict[str, Any]],
                serial_runs: Dict[int, Dict[str, Any]], is_coro: bool, timed_out) -> Dict[str, Any]:
    """One mode's figures (``mine``: its measured runs) and why it was not measured, if so."""
    entry: Dict[str, Any] = {}
    impossible = next((e for e in events if e["event"] == "impossible" and e["mode"] == mode), None)
    error = next((e for e in events if e["event"] in ("mode_error", "fatal") and e.get("mode") == mode), None)
    if mine:
        _add_timings(entry, mode, mine, serial_runs, is_coro)
    else:
        entry.update({"wall_s": None, "cpu_s": None, "speedup": None})
    if mode in ("processes", "interpreters"):
        entry["possible"] = impossible is None
    if impossible is not None:
        entry["possible"] = False
        entry["why"] = impossible["why"]
    if error is not None:
        entry["error"] = error["error"]
        entry["traceback"] = error.get("traceback")
        entry["speedup"] = None
    elif timed_out and timed_out.get("mode") == mode:
        entry["error"] = "timed out after %g s" % spec.timeout
        entry["speedup"] = None
    elif not mine and impossible is None:
        entry["error"] = "not measured"
    return entry


def _add_timings(entry: Dict[str, Any], mode: str, mine: List[Dict[str, Any]],
                 serial_runs: Dict[int, Dict[str, Any]], is_coro: bool) -> None:
    """Medians of a mode's runs and its speed-up over the serial run of the same repeat."""
    walls = [r["wall_s"] for r in mine]
    entry["wall_s"] = _r(_median(walls))
    entry["cpu_s"] = _r(_median([r["cpu_s"] for r in mine]))
    waits = [r["cpu_wait_s"] for r in mine if r.get("cpu_wait_s") is not None]
    entry["cpu_wait_s"] = _r(_median(waits)) if len(waits) == len(mine) else None
    # time spent waiting for a CPU is taken out of each wall time: on a busy
    # machine a starved run must make no mode look faster or slower than it is
    ratios = [
        _speedup(serial_runs[r["repeat"]], r, mode, is_coro)
        for r in mine if r["repeat"] in serial_runs and r["wall_s"] > 0
    ]
    raw = [
        serial_runs[r["repeat"]]["wall_s"] / r["wall_s"]
        for r in mine if r["repeat"] in serial_runs and r["wall_s"] > 0
    ]
    if mode == "serial":
        entry["speedup"] = 1.0
    elif ratios:
        entry["speedup"] = round(_median(ratios), 3)
        entry["speedup_min"] = round(min(ratios), 3)
        entry["speedup_max"] = round(max(ratios), 3)
        entry["speedup_raw"] = round(_median(raw), 3)
    else:
        entry["speedup"] = None
    entry["wall_s_min"] = _r(min(walls))
    entry["wall_s_max"] = _r(max(walls))
    entry["runs"] = len(mine)
    redone = sum(r.get("attempts", 1) - 1 for r in mine)
    if redone:
        entry["redone_runs"] = redone
    startups = [r["startup_s"] for r in mine if r.get("startup_s") is not None]
    if startups:
        entry["startup_s"] = _r(_median(startups))
    if mine[0].get("start_method"):
        entry["start_method"] = mine[0]["start_method"]


def _add_failure(report: Dict[str, Any], spec: ProbeSpec, events, rc, timed_out, out_path, err_path) -> None:
    """What went wrong, if anything: ``ok`` becomes False and ``error`` says what and where."""
    stderr_tail = _tail(err_path)
    failure = _failure(report, spec, events, rc, timed_out, stderr_tail)
    if failure is not None:
        report["ok"] = False
        failure["stdout_tail"] = _tail(out_path) or None
        failure["stderr_tail"] = stderr_tail or None
        if rc is not None and "exit_status" not in failure:
            failure["exit_status"] = rc
        report["error"] = failure


def _failure(report: Dict[str, Any], spec: ProbeSpec, events, rc, timed_out, stderr_tail: str):
    """The failure of a run, by precedence: a timeout, an exception in the target, a crashed
    child (whose mode gets the error), then the first mode that failed; None when all went well."""
    fatal = next((e for e in events if e["event"] == "fatal"), None)
    if timed_out is not None:
        return {
            "kind": "timeout", "stage": timed_out.get("stage"), "mode": timed_out.get("mode"),
            "message": "the target did not finish %s within %g s; the probe killed it"
            % (_stage_text(timed_out), spec.timeout),
            "traceback": stderr_tail or None,
        }
    if fatal is not None:
        return {
            "kind": "exception", "stage": fatal.get("stage"), "mode": fatal.get("mode"),
            "message": "the target raised %s during %s" % (
                fatal["error"], "import" if fatal.get("stage") == "import"
                else "the warm-up call" if fatal.get("stage") == "warmup" else "the serial run"),
            "traceback": fatal.get("traceback"),
        }
    if not any(e["event"] == "done" for e in events):
        last = next((e for e in reversed(events) if e["event"] == "start"), {"stage": "startup"})
        how = ("was killed by %s" % _signal_name(rc)) if rc is not None and rc < 0 else (
            "exited with status %s" % rc)
        failure = {
            "kind": "crash", "stage": last.get("stage"), "mode": last.get("mode"),
            "exit_status": rc,
            "message": "the probe child %s during %s" % (how, _stage_text(last)),
            "traceback": stderr_tail or None,
        }
        if last.get("mode") in report["modes"]:
            report["modes"][last["mode"]]["error"] = failure["message"]
            report["modes"][last["mode"]]["speedup"] = None
        return failure
    broken = [m for m, e in report["modes"].items() if e.get("error")]
    if broken:
        e = report["modes"][broken[0]]
        return {
            "kind": "exception", "stage": "measure", "mode": broken[0],
            "message": "mode %s failed: %s" % (broken[0], e["error"]),
            "traceback": e.get("traceback"),
        }
    return None


def _add_measured_kind(report: Dict[str, Any], s: List[Dict[str, Any]], load) -> List[str]:
    """The measured kind (cpu / io / mixed / unknown) and CPU ratios, from the serial runs ``s``;
    returns the warnings so far."""
    warnings: List[str] = []
    if not s:
        return warnings
    ratios = [r["cpu_s"] / r["wall_s"] for r in s if r["wall_s"] > 0]
    adjusted = []
    for r in s:
        wait = r.get("cpu_wait_s")
        busy = r["wall_s"] - (wait or 0.0)
        if busy > 0:
            adjusted.append(min(r["cpu_s"] / busy, 1.5))
    if ratios:
        report["cpu_ratio"] = round(_median(ratios), 3)
    serial_wall = _median([r["wall_s"] for r in s])
    if adjusted:
        adj = _median(adjusted)
        report["cpu_ratio_excluding_wait"] = round(adj, 3)
        report["measured_kind"] = (
            "cpu" if adj >= CPU_RATIO else "io" if adj <= IO_RATIO else "mixed"
        )
    if serial_wall < MIN_SERIAL_S:
        report["measured_kind"] = "unknown"
        warnings.append(
            "the serial run took only %.4f s, too short to tell CPU from waiting; "
            "give the target more work or raise --tasks" % serial_wall
        )
    waits = [r["cpu_wait_s"] / r["wall_s"] for r in s if r.get("cpu_wait_s") is not None and r["wall_s"] > 0]
    if waits:
        load["serial_wait_fraction"] = round(_median(waits), 3)
    return warnings


def _expect_verdict(report: Dict[str, Any], expect: str, tied: set) -> Dict[str, Any]:
    """``--expect MODEL``: is it as good as the measured best?"""
    ok = _judge(expect, report, tied)
    return {
        "model": expect, "ok": bool(ok),
        "message": (
            "measured best model %s matches the expected %s" % (report["recommended"], expect)
            if ok else
            "expected %s, but the measured best model is %s%s" % (
                expect, report["recommended"] or "nothing (the probe failed)",
                _speed_phrase(report, expect))
        ),
    }


def _speed_phrase(report: Dict[str, Any], model: str) -> str:
    mode = _model_mode(model)
    e = report["modes"].get(mode)
    best = report.get("recommended")
    if not e or best is None:
        return ""
    if e.get("speedup") is None:
        why = e.get("why") or e.get("error") or "not measured"
        return " (%s: %s)" % (mode, why)
    if best == "serial":
        return " (%s %.2fx over serial)" % (mode, e["speedup"])
    best_e = report["modes"].get(_model_mode(best), {})
    return " (%s %.2fx, %s %.2fx over serial)" % (
        mode, e["speedup"], best, best_e.get("speedup") or 1.0)


def _busy(report: Dict[str, Any]) -> bool:
    return (report.get("load") or {}).get("level") in ("busy", "saturated")


def _doubts(report: Dict[str, Any], model: str) -> str:
    """The figures that argue against ``model`` being (one of) the best, as words; empty when
    every figure of the report agrees. On a busy machine the speed-up (CPU wait taken out), the
    plain wall-clock ratio and the spread over the runs can point different ways; a verdict
    must not say "confirms" next to a figure that says the opposite."""
    mode = _model_mode(model)
    modes = report.get("modes") or {}
    out = []
    if mode == "serial":
        for m, e in modes.items():
            if m == "serial" or e.get("speedup") is None:
                continue
            for key, words in (("speedup_raw", "on the wall clock"), ("speedup_max", "in its fastest run")):
                if e.get(key) is not None and e[key] >= WORTH_IT:
                    out.append("%s %.2fx %s" % (m, e[key], words))
                    break
        return ", ".join(out)
    e = modes.get(mode) or {}
    if e.get("speedup") is None:
        return ""
    raw, low = e.get("speedup_raw"), e.get("speedup_min")
    if raw is not None and raw < WORTH_IT <= e["speedup"]:
        out.append("%s %.2fx over serial once the wait for a CPU is taken out, %.2fx on the wall clock"
                   % (mode, e["speedup"], raw))
    if low is not None and low < 1.0:
        out.append("%s %.2fx in its slowest run" % (mode, low))
    return ", ".join(out)


def _jsonable(x: Any) -> bool:
    try:
        json.dumps(x)
        return True
    except (TypeError, ValueError):
        return False


def _add_static(report: Dict[str, Any], spec: ProbeSpec, tied: set) -> None:
    from concurlint.probe.static import lookup

    fn = report["function"]
    version = ".".join((report.get("python") or "").split(".")[:2]) or None
    if version and report.get("free_threaded_build"):
        version += "t"
    if not spec.static:
        verdict, note = None, "static comparison disabled"
    elif not fn.get("sourcefile") or not fn.get("qualname"):
        verdict, note = None, "static analysis unavailable: the target's source file is unknown"
    else:
        verdict, note = lookup(fn["sourcefile"], fn["qualname"], version)
    static: Dict[str, Any] = {"available": verdict is not None, "note": note}
    advice: Dict[str, Any] = {"static_recommended": None, "verdict": "unavailable", "message": note}
    if verdict is not None:
        kind = verdict.get("kind")
        static.update({
            "kind": kind, "releases_gil": verdict.get("releases_gil"),
            "recommended": verdict.get("recommended"), "evidence": list(verdict.get("evidence") or []),
        })
        report["static_kind"] = kind
        if kind in ("cpu", "io", "mixed") and report["measured_kind"] is not None:
            report["agrees"] = kind == report["measured_kind"]
        rec = verdict.get("recommended")
        advice["static_recommended"] = rec
        ok = _judge(rec, report, tied) if rec else None
        if rec is None:
            advice.update(verdict="unavailable", message="static analysis gave no recommendation")
        elif ok is None:
            advice.update(verdict="not measured", message="static analysis recommends %s, which was not measured%s"
                          % (rec, _speed_phrase(report, rec)))
        elif ok and _busy(report) and _doubts(report, rec):
            advice.update(verdict="inconclusive", message=(
                "the machine was busy and the figures disagree (%s): they neither confirm nor contradict "
                "the static advice (%s); measure again on a quiet machine" % (_doubts(report, rec), rec)))
        elif ok:
            advice.update(verdict="confirmed", message="measurement confirms the static advice (%s)" % rec)
        else:
            busy = (report.get("load") or {}).get("level") in ("busy", "saturated")
            winner = report["recommended"]
            but = "nothing beats serial" if winner == "serial" else "%s is faster" % winner
            message = "measurement contradicts the static advice: static analysis recommends %s, but %s%s" % (
                rec, but, _speed_phrase(report, rec))
            if busy:
                message += "; the machine was busy, measure again on a quiet one to be sure"
            advice.update(verdict="contradicted", message=message)
    report["static"] = static
    report["advice"] = advice


def import_failure(report: Dict[str, Any]) -> Optional[str]:
    """One sentence when the target could not be imported or named (no module, no such
    attribute, the module raising at import): a usage error for the CLI, not a measurement."""
    err = report.get("error") or {}
    if err.get("kind") != "exception" or err.get("stage") != "import":
        return None
    import re

    what = (err.get("message") or "").replace("the target raised ", "", 1)
    what = re.sub(r" during import$", "", what)
    where = ""
    frames = re.findall(r'File "([^"]+)", line (\d+)', err.get("traceback") or "")
    if frames:
        file, line = frames[-1]
        if not file.startswith("<") and "importlib" not in file and os.path.abspath(file) != str(RUNNER.resolve()):
            where = " (%s:%s)" % (os.path.relpath(file) if not os.path.relpath(file).startswith("..") else file, line)
    return "cannot import %s: %s%s" % (report.get("target"), what.splitlines()[0] if what else "unknown error", where)


def run_probe(spec: ProbeSpec) -> Dict[str, Any]:
    """Run one probe and return its report (never raises for target failures)."""
    spec = spec.resolved()
    with tempfile.TemporaryDirectory(prefix="concurlint-probe-") as tmp:
        stat0, kids0 = _cpu_times(), _children_cpu()
        load = {"loadavg_1m_before": _loadavg()}
        events, rc, timed_out, out_path, err_path = _run_child(spec, Path(tmp))
        load.update(_load_report(stat0, _cpu_times(), _children_cpu() - kids0))
        return build_report(spec, events, rc, timed_out, out_path, err_path, load)

#!/usr/bin/env python3
"""Benchmark concurlint against flake8 (+ bugbear, + async) and pylint, side by side in one run.

    python3 bench/run.py                 # everything (flake8-async alone takes ~7 minutes)
    python3 bench/run.py --quick         # a ~100-file concurrency-heavy subset of the corpus
    python3 bench/run.py --skip async,pylint --repeat 5
    python3 bench/run.py --only ccl-cold-j2,flake8-bugbear-j2   # re-run the key comparison

The corpus is the CPython 3.13 standard library without tests (``$(pyenv root)/versions/3.13.0/
lib/python3.13``, set ``--stdlib`` for another), copied to ``bench/corpus/stdlib``. The tools are
installed into ``bench/.venv`` (created with that interpreter on first use):
``bench/.venv/bin/pip install flake8 flake8-bugbear flake8-async pylint -e .``.
Every tool runs there, under the same interpreter. flake8 runs every installed plugin whatever
``--select`` says, so each flake8 measurement loads only the plugins it names
(``bench/flake8_only.py``).

Each figure is the median wall time of ``--repeat`` runs (one run for the slow peers), with the
peak RSS of the largest process and the 1-minute load average before the run. Results are
printed as a table and written to ``bench/results/<date>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / ".venv"
CORPUS = HERE / "corpus"
RESULTS = HERE / "results"
EXCLUDED_DIRS = {"test", "tests", "site-packages", "__pycache__", "idle_test", "__phello__"}
QUICK_PARTS = ("asyncio", "concurrent", "multiprocessing", "logging", "email", "http", "xmlrpc",
               "threading.py", "subprocess.py", "queue.py", "socketserver.py", "selectors.py")
PLUGIN_FILE = "multiprocessing/pool.py"  # ~960 lines, concurrency all over
PYLINT_CHECKS = ("unused-import,unused-variable,undefined-variable,dangerous-default-value,"
                 "consider-using-with,broad-exception-caught,redefined-outer-name")


def default_stdlib() -> Path:
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        root = os.path.expanduser("~/.pyenv")
    return Path(root) / "versions" / "3.13.0" / "lib" / "python3.13"


def venv_bin(name: str) -> str:
    return str(VENV / "bin" / name)


def ensure_venv(stdlib: Path) -> None:
    if (VENV / "bin" / "python").exists():
        return
    python = stdlib.parent.parent / "bin" / "python3"
    print(f"creating {VENV} with {python}", flush=True)
    subprocess.run([str(python), "-m", "venv", str(VENV)], check=True)
    subprocess.run([venv_bin("pip"), "install", "-q", "flake8", "flake8-bugbear", "flake8-async", "pylint",
                    "-e", str(REPO)], check=True)


def build_corpus(stdlib: Path, quick: bool) -> Path:
    """Copy the standard library (no tests, no build helpers) to bench/corpus/<name>."""
    dest = CORPUS / ("quick" if quick else "stdlib")
    if dest.exists():
        shutil.rmtree(dest)
    count = 0
    for dirpath, dirnames, filenames in os.walk(stdlib):
        rel = Path(dirpath).relative_to(stdlib)
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS
                             and not (rel == Path(".") and d.startswith("config-")))
        for name in sorted(filenames):
            if not name.endswith(".py") or (rel == Path(".") and name == "__hello__.py"):
                continue
            relpath = rel / name
            if quick and relpath.parts[0] not in QUICK_PARTS:
                continue
            (dest / rel).mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(dirpath) / name, dest / relpath)
            count += 1
    print(f"corpus: {count} files in {dest.relative_to(REPO)}", flush=True)
    return dest


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def tool_env(extra: Optional[dict] = None) -> dict:
    """The environment every measured tool runs in. Bytecode writing is left on, as on a user's
    machine (pip compiles installed packages; an editable install writes __pycache__ on first
    import): with PYTHONDONTWRITEBYTECODE set, the editable concurlint would recompile its
    modules on every run (~110 ms) while the peers, installed normally, would not."""
    env = dict(os.environ, **(extra or {}))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(cmd: List[str], env: Optional[dict] = None, cwd: Path = REPO) -> dict:
    """Wall time, exit status, output lines and peak RSS (largest process of the tree) of cmd."""
    out_path = RESULTS / "last-output.txt"
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(cwd),
                                env=tool_env(env))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = out_path.read_bytes().count(b"\n")
    return {"wall": wall, "rc": proc.returncode, "maxrss_mb": usage.ru_maxrss / 1024, "lines": lines}


class Bench:
    def __init__(self, corpus: Path, args):
        self.corpus = corpus
        self.rel = str(corpus.relative_to(REPO))
        self.args = args
        self.cache = RESULTS / "cache"
        self.rows: Dict[str, dict] = {}
        self.counter = 0

    # ------------------------------------------------------------ the measured commands
    def concurlint(self, jobs: int) -> List[str]:
        return [venv_bin("concurlint"), "report", "--format", "json", "-o", str(RESULTS / "concurlint.json"),
                "--cache-dir", str(self.cache), f"-j{jobs}", self.rel]

    def flake8(self, plugins: str, jobs: int, paths: Optional[List[str]] = None, extra=()) -> List[str]:
        return [venv_bin("python"), str(HERE / "flake8_only.py"), plugins, f"-j{jobs}", *extra,
                *(paths or [self.rel])]

    def pylint(self, jobs: int) -> List[str]:
        return [venv_bin("pylint"), f"-j{jobs}", "--disable=all", f"--enable={PYLINT_CHECKS}", "--score=n",
                "--persistent=n", "--rcfile=/dev/null", "--recursive=y", self.rel]

    # ------------------------------------------------------------ setups
    def clear_cache(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)

    def fill_cache(self) -> None:
        if not self.cache.exists():
            timed(self.concurlint(2))

    def change_one_file(self) -> None:
        """A real edit: new content every time, so the file's cache entry misses."""
        self.fill_cache()
        self.counter += 1
        target = self.corpus / ("concurrent/futures/thread.py" if (self.corpus / "concurrent").exists() else "")
        with open(target, "a", encoding="utf-8") as f:
            f.write(f"\n_bench_edit_{self.counter} = {self.counter}\n")

    # ------------------------------------------------------------ driver
    def measure(self, name: str, cmd: List[str], setup: Callable[[], None] = lambda: None,
                repeat: Optional[int] = None, env: Optional[dict] = None, note: str = "") -> Optional[dict]:
        if not self.selected(name):
            return None
        runs = []
        for _ in range(repeat or self.args.repeat):
            setup()
            load = loadavg()
            r = timed(cmd, env)
            r["load"] = load
            runs.append(r)
            print(f"  {name}: {r['wall']:.2f} s (rc {r['rc']}, {r['lines']} lines, {r['maxrss_mb']:.0f} MB, "
                  f"load {load:.2f})", flush=True)
        row = {
            "name": name, "median": statistics.median(r["wall"] for r in runs),
            "runs": [round(r["wall"], 3) for r in runs], "loads": [r["load"] for r in runs],
            "maxrss_mb": max(r["maxrss_mb"] for r in runs), "rc": runs[-1]["rc"], "lines": runs[-1]["lines"],
            "cmd": " ".join(cmd).replace(str(REPO) + "/", ""), "note": note,
        }
        self.rows[name] = row
        return row

    def selected(self, name: str) -> bool:
        if self.args.only:
            return name in self.args.only
        return not any(s and s in name for s in self.args.skip)

    def run_all(self) -> None:
        slow = 1 if self.args.repeat > 1 else self.args.repeat
        for jobs in (2, 1):
            self.measure(f"ccl-cold-j{jobs}", self.concurlint(jobs), setup=self.clear_cache)
            self.measure(f"ccl-warm-j{jobs}", self.concurlint(jobs), setup=self.fill_cache)
            self.measure(f"ccl-one-changed-j{jobs}", self.concurlint(jobs), setup=self.change_one_file)
        self.measure("flake8-bugbear-j2", self.flake8("flake8-bugbear", 2))
        self.measure("flake8-bugbear-j1", self.flake8("flake8-bugbear", 1), repeat=slow)
        self.measure("pylint-j2", self.pylint(2), repeat=slow)
        self.measure("flake8-async-j1", self.flake8("flake8-async", 1), repeat=1)
        self.plugin_latency()

    def plugin_latency(self) -> None:
        """flake8 on one ~1,000-line file, with and without concurlint's plugin. Both load the same
        built-in plugins and ask for the same codes; the difference is the plugin's import + run.
        The cache of the corpus (filled above) is where the plugin finds the facts of the modules
        this file imports, as in an editor after one ``concurlint check``."""
        path = [f"{self.rel}/{PLUGIN_FILE}"]
        if not (REPO / path[0]).exists():
            return
        self.fill_cache()
        env = {"CONCURLINT_CACHE_DIR": str(self.cache)}
        n = max(self.args.repeat, 5)
        sel = ("--select", "E9,F63,CCL")
        for plugin in ("", "concurlint"):  # one unmeasured run each: bytecode compiled, files in page cache
            timed(self.flake8(plugin, 1, path, sel), env)
        # alternate the two commands so that both see the same machine: this VM's speed drifts
        # between runs by up to 1.6x, and a block of one then a block of the other would
        # attribute that drift to the plugin
        names = ("plugin-file-flake8-alone", "plugin-file-flake8+concurlint")
        if not all(self.selected(nm) for nm in names):
            return
        runs = {nm: [] for nm in names}
        for _ in range(n):
            for nm, plugin in zip(names, ("", "concurlint")):
                load = loadavg()
                r = timed(self.flake8(plugin, 1, path, sel), env)
                r["load"] = load
                runs[nm].append(r)
                print(f"  {nm}: {r['wall']:.2f} s (rc {r['rc']}, load {load:.2f})", flush=True)
        for nm, plugin in zip(names, ("", "concurlint")):
            rs = runs[nm]
            self.rows[nm] = {
                "name": nm, "median": statistics.median(r["wall"] for r in rs),
                "runs": [round(r["wall"], 3) for r in rs], "loads": [r["load"] for r in rs],
                "maxrss_mb": max(r["maxrss_mb"] for r in rs), "rc": rs[-1]["rc"], "lines": rs[-1]["lines"],
                "cmd": " ".join(self.flake8(plugin, 1, path, sel)).replace(str(REPO) + "/", ""), "note": "interleaved",
            }
        diffs = [b["wall"] - a["wall"] for a, b in zip(runs[names[0]], runs[names[1]])]
        self.rows["plugin-paired-delta"] = {
            "name": "plugin-paired-delta", "median": statistics.median(diffs),
            "runs": [round(d, 3) for d in diffs], "loads": [], "maxrss_mb": 0, "rc": 0, "lines": 0,
            "cmd": "paired difference of the two rows above", "note": "",
        }


def versions() -> dict:
    code = ("import importlib.metadata as m, platform, json; print(json.dumps({'python': platform.python_version(), "
            "**{d: m.version(d) for d in ('concurlint', 'flake8', 'flake8-bugbear', 'flake8-async', 'pylint', "
            "'libcst', 'pyflakes', 'pycodestyle', 'astroid')}}))")
    return json.loads(subprocess.run([venv_bin("python"), "-c", code], capture_output=True, text=True,
                                     check=True).stdout)


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except OSError:
        pass
    return {"platform": platform.platform(), "cpu": cpu, "cpus": len(os.sched_getaffinity(0)), "memory": mem}


def ratios(rows: Dict[str, dict]) -> List[tuple]:
    def m(name):
        return rows[name]["median"] if name in rows else None

    out = []

    def add(label, a, b, target, ok):
        if m(a) is not None and m(b) is not None:
            value = m(a) / m(b)
            out.append((label, value, target, ok(value)))

    add("cold -j2 / flake8+bugbear -j2", "ccl-cold-j2", "flake8-bugbear-j2", "<= 1.0", lambda v: v <= 1.0)
    add("cold -j1 / flake8+bugbear -j1", "ccl-cold-j1", "flake8-bugbear-j1", "(info)", lambda v: None)
    add("flake8+async -j1 / cold -j2", "flake8-async-j1", "ccl-cold-j2", ">= 10", lambda v: v >= 10)
    add("pylint -j2 / cold -j2", "pylint-j2", "ccl-cold-j2", "(info)", lambda v: None)
    for j in (2, 1):
        add(f"warm / cold (-j{j})", f"ccl-warm-j{j}", f"ccl-cold-j{j}", "<= 0.10", lambda v: v <= 0.10)
        add(f"one changed / cold (-j{j})", f"ccl-one-changed-j{j}", f"ccl-cold-j{j}", "<= 0.15", lambda v: v <= 0.15)
    if m("plugin-paired-delta") is not None:
        delta = m("plugin-paired-delta") * 1000
        out.append(("flake8 plugin on ~1,000 lines, ms above flake8 (median of paired runs)", delta, "<= 150",
                    delta <= 150))
    if "ccl-cold-j2" in rows:
        mem = rows["ccl-cold-j2"]["maxrss_mb"]
        out.append(("peak RSS of cold -j2 (largest process), MB", mem, "<= 600", mem <= 600))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a concurrency-heavy subset of the corpus")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (slow peers: 1)")
    parser.add_argument("--skip", default="", help="comma-separated name parts to skip, e.g. async,pylint,j1")
    parser.add_argument("--only", default="", help="comma-separated exact names to run")
    parser.add_argument("--stdlib", type=Path, default=None, help="the lib/python3.13 folder to copy")
    args = parser.parse_args(argv)
    args.skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    stdlib = args.stdlib or default_stdlib()
    RESULTS.mkdir(parents=True, exist_ok=True)
    ensure_venv(stdlib)
    corpus = build_corpus(stdlib, args.quick)
    files = list(corpus.rglob("*.py"))
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    bench = Bench(corpus, args)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    bench.run_all()
    result = {"date": started, "machine": machine(), "versions": versions(), "corpus": {
        "path": bench.rel, "files": len(files), "lines": lines, "quick": args.quick},
        "rows": bench.rows, "ratios": ratios(bench.rows)}
    out = RESULTS / time.strftime("%Y%m%d-%H%M%S.json")
    out.write_text(json.dumps(result, indent=2))
    print(f"\n{len(files)} files, {lines} lines; {result['versions']}; {result['machine']}")
    print(f"{'measurement':<32} {'median s':>9} {'runs':<26} {'load':<18} {'MB':>5} rc")
    for row in bench.rows.values():
        print(f"{row['name']:<32} {row['median']:>9.2f} {str(row['runs']):<26} {str(row['loads']):<18} "
              f"{row['maxrss_mb']:>5.0f} {row['rc']}")
    print()
    for label, value, target, ok in result["ratios"]:
        verdict = "" if ok is None else ("met" if ok else "NOT met")
        print(f"{label:<48} {value:>8.2f}  target {target:<8} {verdict}")
    print(f"\nwritten to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

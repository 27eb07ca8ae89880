#!/usr/bin/env python3
"""Where a run after one changed file spends its time, phase by phase, in one process.

    python3 bench/project_pass.py                       # bench/corpus/stdlib, 3 repeats
    python3 bench/project_pass.py --corpus DIR --repeat 5 --edit concurrent/futures/thread.py

The corpus is copied to a temporary directory (the copy is edited, never the corpus). The per-file
cache is filled once; then each repeat appends a new line to one file (so its cache entry misses,
as after a real edit) and times, with ``time.perf_counter`` (wall) and ``time.process_time`` (CPU
of this process; steadier than wall on a shared machine):

- ``load``: discovery, reading and hashing every file, unpickling the cached facts, analysing the
  changed file;
- ``project``, ``classify``, ``sites``: building the project, classifying every function,
  finding the dispatch sites;
- ``classify`` reuses the summaries the previous run stored, as the real command does
  (``analysis/summary_store.py``); storing this run's (and the call-index answers the analyses
  asked for, ``analysis/call_index.py``) after the rules is ``store summaries``;
- one row per shared analysis (``shared: module.function``: what ``ctx.shared`` computes once per
  run for several rules, the thread map, the process model...; each without the shared analyses it
  asks for in turn, which have their own row), then one per rule (its ``check`` over every module,
  without the shared analyses);
- ``recommendations``, and ``total``.

Figures are medians over the repeats. Issue #16 item 10 asks that one changed file cost at most 15%
of a cold run: the rows say which parts of the project pass would have to become incremental.

``--cli`` measures that ratio itself, with the real command (``concurlint report --format json -o
FILE -j2``, the interpreter running this script): for each repeat, one edit of the unedited tree
(the kept cache is brought back to it first, untimed: two edits of the same kind in a row may
differ in a comment only, and the second would then find the first one's facts), then a cold run
(empty cache directory) and a run with the kept cache, on the same tree; wall time and the CPU time of the
command and its worker processes (``os.wait4``), medians, and one-changed / cold; the peak RSS of each
run (its largest process). The two JSON reports of every repeat must be byte-identical (the script
stops otherwise).

``--kind`` chooses the edit (each repeat makes a different one, so the file's cache entry misses):
``append`` (a new module-level line at the end of ``--edit``, the default), ``comment`` (a comment
line before its first function: every later line moves), ``import`` (a new import after its first
one), ``thread`` (a new function starting ``threading.Thread(target=_python_exit)`` at its end: meant
for ``concurrent/futures/thread.py``), ``body`` (a new statement at the top of ``posixpath.join``, a
helper called from all over the library: ``--edit posixpath.py``), ``docstring`` (the first
docstring reworded in place, no line moves: the run answers with the last report when the file's
facts are byte for byte the same, see ``concurlint/engine/reuse.py``; in the first file the bench
edits, the module docstring).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


class Clock:
    def __init__(self):
        self.wall = defaultdict(float)
        self.cpu = defaultdict(float)

    def time(self, name, fn, *args):
        w, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args)
        finally:
            self.wall[name] += time.perf_counter() - w
            self.cpu[name] += time.process_time() - c


def edited(text: str, kind: str, i: int) -> str:
    """``text`` after edit number ``i`` of ``kind`` (see the module docstring)."""
    lines = text.splitlines(keepends=True)
    if kind == "append":
        return text + f"\n_bench_edit_{i} = {i}\n"
    if kind == "comment":
        at = next(n for n, line in enumerate(lines) if line.startswith("def "))
        return "".join(lines[:at] + [f"# bench note {i}: why the helpers below exist\n"] + lines[at:])
    if kind == "import":
        at = next(n for n, line in enumerate(lines) if line.startswith("import "))
        return "".join(lines[:at + 1] + [f"import json  # bench {i}\n"] + lines[at + 1:])
    if kind == "thread":
        return text + f"\n\ndef _bench_start_{i}():\n    threading.Thread(target=_python_exit).start()\n"
    if kind == "body":
        at = next(n for n, line in enumerate(lines) if line.startswith("def join("))
        return "".join(lines[:at + 1] + [f"    a = os.fspath(a)  # bench {i}\n"] + lines[at + 1:])
    if kind == "docstring":
        at = next(n for n, line in enumerate(lines) if '"""' in line)
        return "".join(lines[:at] + [lines[at].replace('"""', f'"""(revision {i}) ', 1)] + lines[at + 1:])
    raise SystemExit(f"unknown edit kind {kind!r}")


def one_run(corpus: Path, cache: Path, clock: Clock) -> None:
    from concurlint import engine
    from concurlint.config import load_config
    from concurlint.engine.per_file import _make_cache, cache_salt
    from concurlint.engine.reuse import snapshot
    from concurlint.registry import enabled_codes

    config = load_config(corpus)
    codes = enabled_codes(config.select, config.ignore)

    def load():
        files = engine.discover([str(corpus)], config)
        snap = snapshot(files, config, codes, _make_cache(str(cache), cache_salt(config)))
        return engine.analyse_files(files, config, 1, str(cache), known=snap), snap

    results, snap = clock.time("load", load)
    import gc

    gc.disable()  # as engine.run_project does for the pass
    try:
        project_pass(results, config, codes, clock, (str(cache), snap.config_key, snap.entries))
    finally:
        gc.enable()


def project_pass(results, config, codes, clock: Clock, kept) -> None:
    from concurlint import engine, knowledge
    from concurlint.advice import recommendations
    from concurlint.analysis import summary_store
    from concurlint.analysis.classify import classify
    from concurlint.analysis.dispatch import find_sites
    from concurlint.analysis.project import Project
    from concurlint.registry import rule_classes

    modules = [r.facts for r in results if r.facts is not None]
    kb = knowledge.load(config.knowledge)
    project = clock.time("project", Project, modules, kb, config.target_version)
    cache_dir, config_key, keys = kept
    by_facts = {id(r.facts): k for r, k in zip(results, keys) if r.facts is not None and k is not None}
    stored = summary_store.Stored(summary_store.load(cache_dir, config_key), by_facts)
    summaries = clock.time("classify", classify, project, stored)
    sites = clock.time("sites", find_sites, project)
    ctx = SharedTimed(project, summaries, sites, config, clock)
    classes = rule_classes()
    for code in codes:
        if code not in classes:
            continue
        rule = classes[code]()

        def check_all(rule=rule):
            out = []
            for mod in modules:
                try:
                    out.extend(rule.check(ctx, mod))
                except Exception:  # a rule failing is CCL999 in a real run; not timed here
                    pass
            return out

        ctx.timed(code, check_all)
    ctx.timed("recommendations", recommendations, ctx)
    # after the rules, as the real command does: with the call-index answers they asked for
    clock.time("store summaries", summary_store.store, cache_dir, config_key, stored)


def _shared_timed():
    from concurlint import engine

    class SharedTimed(engine.Context):
        """``engine.Context`` whose shared analyses are timed apart: each one's own time (without
        the shared analyses it asks for) under ``shared: module.name``; ``timed`` charges a rule
        its time without the shared analyses first computed while it ran."""

        def __init__(self, project, summaries, sites, config, clock: Clock):
            super().__init__(project, summaries, sites, config)
            self.clock = clock
            self._inner = [0.0]  # the innermost timed piece: CPU its shared analyses took

        def shared(self, fn):
            if fn in self._shared:
                return self._shared[fn]
            name = f"shared: {fn.__module__.rsplit('.', 1)[-1]}.{fn.__qualname__}"
            return self.timed(name, super().shared, fn)

        def timed(self, name, fn, *args):
            w, c = time.perf_counter(), time.process_time()
            self._inner.append(0.0)
            try:
                return fn(*args)
            finally:
                inner = self._inner.pop()
                dw, dc = time.perf_counter() - w, time.process_time() - c
                self.clock.wall[name] += dw - inner  # (the shared analyses' wall ~ their CPU here)
                self.clock.cpu[name] += dc - inner
                self._inner[-1] += dc

    return SharedTimed


def SharedTimed(*args):
    return _shared_timed()(*args)


def cli_run(corpus: Path, cache: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "concurlint", "report", "--format", "json", "-o", str(out), "-j2",
           "--cache-dir", str(cache), str(corpus)]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a user's machine (see bench/run.py)
    w = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed")
    return {"wall": time.perf_counter() - w, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024}


def cli_ratio(corpus: Path, tmp: Path, edit: str, kind: str, repeat: int) -> None:
    warm_cache = tmp / "cli-cache"
    out, cold_out = tmp / "out.json", tmp / "cold.json"
    original = (corpus / edit).read_text(encoding="utf-8")
    cli_run(corpus, warm_cache, out)  # fill the cache the one-changed runs use
    cold, changed = [], []
    for i in range(repeat):
        if i:  # the kept cache answers for the unedited tree again: each timed run follows one edit of it
            (corpus / edit).write_text(original, encoding="utf-8")
            cli_run(corpus, warm_cache, out)
        (corpus / edit).write_text(edited(original, kind, i), encoding="utf-8")
        cold_cache = tmp / f"cli-cold-{i}"
        cold.append(cli_run(corpus, cold_cache, cold_out))
        shutil.rmtree(cold_cache)
        changed.append(cli_run(corpus, warm_cache, out))
        if out.read_bytes() != cold_out.read_bytes():
            raise SystemExit(f"edit {kind} {i}: the report with the kept cache differs from the cold one")
        print(f"  cli run {i + 1}: cold {cold[-1]['wall']:.2f} s wall / {cold[-1]['cpu']:.2f} s CPU / "
              f"{cold[-1]['rss']:.0f} MB, one changed {changed[-1]['wall']:.2f} s / {changed[-1]['cpu']:.2f} s / "
              f"{changed[-1]['rss']:.0f} MB", flush=True)
    (corpus / edit).write_text(original, encoding="utf-8")
    print(f"\nedit: {kind} in {edit}; the warm and cold reports were byte-identical every time")
    print(f"\n{'concurlint report -j2':<24}{'wall (median)':>15}{'CPU (median)':>15}")
    med = {}
    for name, runs in (("cold", cold), ("one changed", changed)):
        med[name] = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu")}
        print(f"{name:<24}{med[name]['wall']:>13.2f} s{med[name]['cpu']:>13.2f} s")
    print(f"{'one changed / cold':<24}{med['one changed']['wall'] / med['cold']['wall']:>15.2f}"
          f"{med['one changed']['cpu'] / med['cold']['cpu']:>15.2f}")


def corpus_missing(path: Path) -> bool:
    """Say so (one sentence) when the stdlib copy the benchmarks work on is not there."""
    if path.is_dir():
        return False
    print(f"no corpus at {path}: run bench/run.py once to copy the standard library", file=sys.stderr)
    return True


def copy_of(corpus: Path, tmp: str) -> Path:
    """A copy of the corpus in ``tmp`` that the benchmark may edit."""
    copy = Path(tmp) / corpus.name
    shutil.copytree(corpus, copy)
    return copy


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=HERE / "corpus" / "stdlib")
    ap.add_argument("--edit", default="concurrent/futures/thread.py", help="the file changed before each run")
    ap.add_argument("--kind", default="append", choices=("append", "comment", "import", "thread", "body", "docstring"),
                    help="the edit made before each one-changed run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="also time the real command: cold and one changed")
    ap.add_argument("--cli-only", action="store_true", help="time the real command only (no phases)")
    args = ap.parse_args()
    if corpus_missing(args.corpus):
        return 2
    import gc

    with tempfile.TemporaryDirectory() as tmp:
        corpus = copy_of(args.corpus, tmp)
        if args.cli or args.cli_only:  # first: a child's peak RSS counts the pages it was forked with (this process's)
            cli_ratio(corpus, Path(tmp), args.edit, args.kind, args.repeat)
            if args.cli_only:
                return 0
        cache = Path(tmp) / "cache"
        one_run(corpus, cache, Clock())  # fill the cache
        target = corpus / args.edit
        original = target.read_text(encoding="utf-8")
        runs = []
        for i in range(args.repeat):
            target.write_text(edited(original, args.kind, i), encoding="utf-8")
            clock = Clock()
            start_w, start_c = time.perf_counter(), time.process_time()
            one_run(corpus, cache, clock)
            clock.wall["total"] = time.perf_counter() - start_w
            clock.cpu["total"] = time.process_time() - start_c
            runs.append(clock)
            gc.unfreeze()
            gc.collect()
            print(f"  run {i + 1}: {clock.wall['total']:.2f} s wall, {clock.cpu['total']:.2f} s CPU", flush=True)
    names = [n for n in runs[0].wall if n != "total"] + ["total"]
    print(f"\n{'phase':<40}{'wall (median)':>15}{'CPU (median)':>15}")
    for n in names:
        w = statistics.median(r.wall[n] for r in runs)
        c = statistics.median(r.cpu[n] for r in runs)
        if n == "total" or c >= 0.02:
            print(f"{n:<40}{w:>13.2f} s{c:>13.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The one engine behind every front-end.

1. Per file (``per_file``; in worker processes, ``workers``; cached by content hash): decode, parse
   once, one traversal that extracts the module's facts (``analysis.facts``). A file Python cannot
   read is CCL000. Which files: ``discovery``.
2. Per project (``project_pass``, cheap, on the facts): resolve names across modules, classify
   every function, find dispatch sites, run the selected rules module by module. A rule that
   raises on a module becomes CCL999 for that file.
3. ``# noqa``, select/ignore and per-file-ignores filter the findings (``findings``); output is
   sorted, so it is the same for any number of jobs.

This module runs the three (``run``) and re-exports what the front-ends use.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Callable

from concurlint.config import Config
from concurlint.engine.discovery import (  # noqa: F401
    PROJECT_FILES, VCS_DIRS, SourceFile, discover, display_of, imported_project_files, module_name, project_root,
    root_relative,
)
from concurlint.engine.findings import EQUIVALENT_CODES  # noqa: F401
from concurlint.engine.per_file import (  # noqa: F401
    MAX_FILE_BYTES, NOQA_RE, OVERLAY, FileResult, _all_code_fingerprint, _noqa_map, _read, analyse_source,
    cache_salt,
)
from concurlint.engine.project_pass import Context, Report, finding_json, run_project  # noqa: F401
from concurlint.engine.workers import analyse_files  # noqa: F401
from concurlint.registry import RuleMeta, all_meta, enabled_codes


def cache_directory(config: Config) -> str:
    """``cache-dir`` / $CONCURLINT_CACHE_DIR, else .concurlint_cache beside the project's
    pyproject.toml, else the user's cache directory (never litter a random working directory)."""
    cache_dir = config.cache_dir or os.environ.get("CONCURLINT_CACHE_DIR")
    if cache_dir is not None:
        if config.root is not None and not os.path.isabs(cache_dir):
            return str(config.root / cache_dir)
        return cache_dir
    if config.root is not None:
        return str(config.root / ".concurlint_cache")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "concurlint")


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)



MAX_CONTEXT_FILES = 400



def with_context(files: List[SourceFile], results: List[FileResult], config: Config, jobs: int,
                 cache_dir: Optional[str], freeze: bool = True) -> List[FileResult]:
    """For files named one by one (pre-commit passes only the changed ones; flake8 one at a
    time), also read the project modules they import, transitively (breadth-first, at most
    MAX_CONTEXT_FILES), from the cache or analysed here, so that a helper in another module is
    still classified. Those context files' findings are not reported. The flake8 plugin and
    ``concurlint check FILE`` both come here: the same file gets the same findings."""
    seen = {sf.path.resolve() for sf in files}
    frontier = [(sf.path, r) for sf, r in zip(files, results)]
    context: List[FileResult] = []
    while frontier and len(context) < MAX_CONTEXT_FILES:
        wanted: List[SourceFile] = []
        for path, r in frontier:
            for f in imported_project_files(r.facts, path):
                key = f.resolve()
                if key in seen or len(seen) - len(files) >= MAX_CONTEXT_FILES:
                    continue
                seen.add(key)
                mod, pkg = module_name(f)
                wanted.append(SourceFile(display_of(f), f, mod, pkg))
        if not wanted:
            break
        got = analyse_files(wanted, config, jobs, cache_dir, freeze=freeze)
        context.extend(r for r in got if r.facts is not None)
        frontier = [(sf.path, r) for sf, r in zip(wanted, got) if r.facts is not None]
    return context


def run(paths: Sequence[str], config: Config, *, select: Optional[List[str]] = None,
        ignore: Optional[List[str]] = None, jobs: Optional[int] = None, use_cache: bool = True,
        progress: Optional[Callable[[int, int], None]] = None) -> Report:
    """Analyse ``paths`` and return the report (findings, functions, recommendations)."""
    files = discover(paths, config)
    sel = select if select is not None else config.select
    ign = (config.ignore or []) + (ignore or [])
    codes = enabled_codes(sel, ign)
    cache_dir = cache_directory(config) if use_cache else None
    snap = None
    # files named one by one pull in the project modules they import (see with_context): the
    # report then depends on files not in the key, so the whole-report cache is for trees only
    explicit = any(Path(p).is_file() for p in paths)
    if cache_dir is not None and not explicit:
        from concurlint.cache import load_report
        from concurlint.engine.per_file import _make_cache
        from concurlint.engine.reuse import reuse, snapshot, trace

        cache = _make_cache(cache_dir, cache_salt(config))
        snap = snapshot(files, config, codes, cache)
        cached = load_report(cache_dir, snap.key)
        if cached is not None:
            trace("the stored report of these same inputs")
            _current(cache_dir, snap, files)
            return cached
        reused = reuse(files, snap, config, cache_dir, cache)
        if reused is not None:
            report, stored_as = reused
            _store(cache_dir, snap, files, report, same_as=stored_as)
            return report
    n = jobs or config.jobs or default_jobs()
    results = analyse_files(files, config, n, cache_dir, progress, known=snap)
    if snap is not None:
        snap.data = []  # the files' bytes: no longer needed
    if explicit:
        context = with_context(files, results, config, n, cache_dir)
        if context:
            report = run_project(results + context, config, codes, freeze=True)
            _only(report, {sf.display for sf in files})
            return report
    kept = (cache_dir, snap.config_key, snap.entries) if snap is not None else None
    report = run_project(results, config, codes, freeze=True, kept=kept)
    if snap is not None and not report.transient:  # a timeout belongs to this run, not to the input
        trace("computed by the project pass")
        _store(cache_dir, snap, files, Report(report.findings, report.functions, report.recommendations,
                                              report.files, readiness=report.readiness, below=report.below))
    return report


def _store(cache_dir: str, snap, files: List[SourceFile], report: Report, same_as: str = "") -> None:
    """The report under its inputs' key, and the manifest that lets a run after an edit that
    changed no file's facts read it back (engine.reuse)."""
    from concurlint.cache import store_manifest, store_report

    store_report(cache_dir, snap.key, report, same_as=same_as)
    store_manifest(cache_dir, snap.config_key, snap.manifest(files))


def _current(cache_dir: str, snap, files: List[SourceFile]) -> None:
    """After a report read back for the same inputs (an edit undone), the next run compares the
    files with these inputs, not with those of the last report computed (engine.reuse)."""
    from concurlint.cache import load_manifest, store_manifest

    last = load_manifest(cache_dir, snap.config_key)
    if last is None or last.report_key != snap.key:
        store_manifest(cache_dir, snap.config_key, snap.manifest(files))


def _only(report: Report, displays: set) -> None:
    """Keep what belongs to the requested files (context files were read for their facts only)."""
    report.findings = [f for f in report.findings if f.path in displays]
    report.below = [b for b in report.below if b[0] in displays]
    report.functions = [f for f in report.functions if f["path"] in displays]
    report.recommendations = [r for r in report.recommendations if r["path"] in displays]
    if report.readiness is not None:
        report.readiness = [m for m in report.readiness if m["path"] in displays]
    report.files = len(displays)


def rule_meta(code: str) -> RuleMeta:
    return all_meta()[code]


def iter_codes() -> Iterable[str]:
    return sorted(all_meta())

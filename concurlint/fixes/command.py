"""``concurlint fix PATH...``: apply the fixes of the findings ``check`` reports.

Runs the same engine as ``check`` (config, ``--select/--ignore``, ``# noqa``, ``--baseline``), then
parses with LibCST only the files that have a fixable finding. Fixes whose edits overlap one
already taken in the same file wait for the next pass; passes repeat (the analysis re-runs on the
changed files) until nothing more can be fixed. ``--diff`` writes nothing: it prints a unified diff
on stdout and the summary on stderr. Every pass works on the text in memory (the engine reads it
through ``engine.OVERLAY``); files are written once, at the end.

Exit status: 0 nothing left to fix or report; 1 ``--diff`` shows fixes, or findings at or above
``--fail-on`` remain; 2 usage or configuration error.
"""
from __future__ import annotations

import difflib
import re
import sys
from collections import Counter
from typing import Dict, List, Tuple

from concurlint.fixes.base import Edit, Fix, Unfixable, apply_edits, check_new_text

MAX_PASSES = 16


def _analyse(args, config, paths):
    """The report at the configured confidence, with the repeats of a pattern ``check`` lists as
    related places of the first (``report.findings``: what is fixed), and every finding at any
    confidence (``report.every``: a fix must not add one; a finding only more visible after a
    fix is not a new one)."""
    import dataclasses

    from concurlint import engine
    from concurlint.registry import CONFIDENCE_RANK

    select = args.select if args.select is not None else config.select
    if args.extend_select:
        select = (select if select is not None else ["CCL"]) + args.extend_select
    report = engine.run(paths, dataclasses.replace(config, min_confidence="low"), select=select,
                        ignore=args.ignore, jobs=args.jobs, use_cache=not args.no_cache)
    if config.baseline:  # --baseline or the configured one: its findings are left alone
        from concurlint.output.baseline import apply_baseline

        report.findings = apply_baseline(config.baseline, report, config.root)
    floor = CONFIDENCE_RANK[config.min_confidence]
    report.every = report.findings
    # the repeats of a pattern that check lists with its first place are fixed with it
    report.findings = [f for f in report.every if CONFIDENCE_RANK[f.was or f.confidence] >= floor]
    return report


def _ident(f) -> tuple:
    """A finding's identity that does not move when lines above it do."""
    return (f.code, f.path, f.function, re.sub(r":\d+", ":N", f.message))


def _place(f) -> tuple:
    return (f.code, f.path, f.line, f.col, f.message)


def _choose(findings: list, planned: dict, unsafe: bool, one_at_a_time: set,
            rejected: set) -> Dict[str, List[Tuple[object, Fix]]]:
    """Per file, the fixes to apply this pass: wanted, and not overlapping one taken before."""
    chosen: Dict[str, List[Tuple[object, Fix]]] = {}
    for f in sorted(findings, key=lambda f: f.sort_key()):
        fx = planned.get(id(f))
        fx = fx.default(unsafe) if isinstance(fx, Fix) else None
        if fx is None or _place(f) in rejected:
            continue
        others = chosen.get(f.path, [])
        if others and f.path in one_at_a_time:
            continue
        taken = [e for _, other in others for e in other.edits]
        if any(e.overlaps(t) for e in fx.edits for t in taken):
            continue  # next pass, on the changed text
        if any(fx.introduces & other.introduces for _, other in others):
            continue  # both would invent the same name: the next pass picks another
        chosen.setdefault(f.path, []).append((f, fx))
    return chosen


def _replan(findings: list, texts: Dict[str, str], known: Dict[tuple, object], changed: set,
            target_version=None) -> dict:
    """``plan()`` again for the files this pass changed (or with findings not planned before);
    a file whose text did not change keeps the fixes planned for it (LibCST parses it once)."""
    from concurlint.fixes import FIXERS, plan

    for key in [k for k in known if k[1] in changed]:
        del known[key]
    stale = {f.path for f in findings if f.code in FIXERS and (f.path in changed or _place(f) not in known)}
    fresh = plan([f for f in findings if f.path in stale], texts, target_version)
    planned = {}
    for f in findings:
        if id(f) in fresh:
            planned[id(f)] = known[_place(f)] = fresh[id(f)]
        elif f.code in FIXERS and _place(f) in known:
            planned[id(f)] = known[_place(f)]
    return planned


def _new_text(text: str, fixes: List[Tuple[object, Fix]]) -> Tuple[str, List[Tuple[object, Fix]]]:
    """The text with the fixes applied; when together they would break it, only the first."""
    edits: List[Edit] = [e for _, fx in fixes for e in fx.edits]
    new = apply_edits(text, edits)
    if len(fixes) > 1 and check_new_text(text, new) is not None:
        fixes = fixes[:1]
        new = apply_edits(text, fixes[0][1].edits)
    return new, fixes


def _write(path: str, text: str, encoding: str) -> None:
    with open(path, "wb") as fh:
        fh.write(text.encode(encoding))


def _diff(path: str, old: str, new: str) -> str:
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    out = []
    for line in difflib.unified_diff(a, b, fromfile=f"a/{path}", tofile=f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def run(args) -> int:
    import multiprocessing
    import os

    from concurlint import engine
    from concurlint.cli import FAIL_RANK, SEVERITY_RANK, _load_config
    from concurlint.config import ConfigError
    from concurlint.fixes import read_source

    config, paths = _load_config(args)
    if getattr(args, "write_baseline", None):
        raise ConfigError("fix does not write baselines; use concurlint report --write-baseline")
    if args.no_cache:
        # passes after the first re-analyse only the files they changed: a cache for this run only
        import tempfile

        scratch = tempfile.TemporaryDirectory(prefix="concurlint-fix-")
        config.cache_dir, args.no_cache = scratch.name, False
    if "fork" not in multiprocessing.get_all_start_methods():
        args.jobs = 1  # spawned workers would read the files, not the fixed text in memory
    applied: List[Tuple[object, Fix]] = []
    originals: Dict[str, Tuple[str, str]] = {}  # path -> (text on disk, encoding)
    texts: Dict[str, str] = {}  # path -> text with the fixes so far (analysed through the overlay)
    report = _analyse(args, config, paths)
    known: Dict[tuple, object] = {}  # _place(finding) -> its fix, for files not changed since
    planned = _replan(report.findings, texts, known, set(), config.target_version)
    one_at_a_time: set = set()  # files where fixes together added a finding: one per pass now
    rejected: Dict[tuple, str] = {}  # a fix that adds a finding on its own: never applied
    demoted: set = set()  # places whose unsafe fix added a finding: their safe fallback is used
    try:
        for _ in range(MAX_PASSES):
            chosen = _choose(report.findings, planned, args.unsafe_fixes, one_at_a_time, set(rejected))
            if not chosen:
                break
            before = Counter(_ident(f) for f in report.every if f.path in chosen)
            previous = {p: texts.get(p) for p in chosen}
            for path, fixes in sorted(chosen.items()):
                if path not in originals:
                    originals[path] = read_source(path)
                new, chosen[path] = _new_text(texts.get(path, originals[path][0]), fixes)
                texts[path] = new
                engine.OVERLAY[os.path.abspath(path)] = new.encode(originals[path][1])
            report = _analyse(args, config, paths)
            added = Counter(_ident(f) for f in report.every if f.path in chosen) - before
            undone = {ident[1] for ident in added}
            for path in undone:  # the fix must not add a finding: take it back
                if len(chosen[path]) == 1:
                    f, fx = chosen[path][0]
                    codes = sorted({i[0] for i in added if i[1] == path})
                    if fx.fallback is not None:
                        demoted.add(_place(f))  # the unsafe form adds a finding: its safe one next
                    else:
                        rejected[_place(f)] = f"the fix would add a finding ({', '.join(codes)})"
                one_at_a_time.add(path)
                if previous[path] is None:
                    del texts[path]
                    engine.OVERLAY.pop(os.path.abspath(path), None)
                else:
                    texts[path] = previous[path]
                    engine.OVERLAY[os.path.abspath(path)] = previous[path].encode(originals[path][1])
            for path, fixes in chosen.items():
                if path not in undone:
                    applied.extend(fixes)
                    for key in [k for k in rejected if k[1] == path]:
                        del rejected[key]  # the file changed: what was taken back may fit now
            if undone:
                report = _analyse(args, config, paths)
            planned = _replan(report.findings, texts, known, set(chosen), config.target_version)
            for f in report.findings:
                if _place(f) in rejected:
                    planned[id(f)] = Unfixable(rejected[_place(f)])
                elif _place(f) in demoted and isinstance(planned.get(id(f)), Fix) and planned[id(f)].fallback:
                    planned[id(f)] = planned[id(f)].fallback
    finally:
        engine.OVERLAY.clear()
    changed = [p for p in sorted(texts) if texts[p] != originals[p][0]]
    if args.diff:
        sys.stdout.write("".join(_diff(p, originals[p][0], texts[p]) for p in changed))
    else:
        for p in changed:
            _write(p, texts[p], originals[p][1])
    _summary(args, applied, len(changed), report.findings, planned)
    threshold = FAIL_RANK[config.fail_on]
    failing = any(SEVERITY_RANK[f.severity] >= threshold for f in report.findings)
    return 1 if failing or (args.diff and changed) else 0


def _summary(args, applied, files: int, left, planned) -> None:
    out = sys.stderr if args.diff else sys.stdout
    unsafe_left = 0
    for f in sorted(left, key=lambda f: f.sort_key()):
        fx = planned.get(id(f))
        note = ""
        if isinstance(fx, Fix) and fx.default(args.unsafe_fixes) is None:
            note = " [unsafe fix available: --unsafe-fixes]"
            unsafe_left += 1
        elif isinstance(fx, Fix):
            note = " [fix overlaps another one: run fix again]"
        elif isinstance(fx, Unfixable):
            note = f" [not fixed: {fx.reason}]"
        out.write(f"{f.path}:{f.line}:{f.col + 1}: {f.code} {f.message}{note}\n")
    n = len(applied)
    line = (f"{'Would fix' if args.diff else 'Fixed'} {n} finding{'s' if n != 1 else ''} in {files} "
            f"file{'s' if files != 1 else ''}; {len(left)} finding{'s' if len(left) != 1 else ''} left")
    if unsafe_left:
        line += f" ({unsafe_left} with an unsafe fix: rerun with --unsafe-fixes)"
    out.write(line + ".\n")

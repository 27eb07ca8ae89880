"""The ``concurlint`` command: check, report, fix, probe, rules, explain."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

from concurlint import __version__
from concurlint.config import ConfigError, check_fail_on, check_min_confidence, check_target_version

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
FAIL_RANK = {"info": 0, "warning": 1, "error": 2, "never": 99}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one sentence, exit 2, no usage dump on stderr noise
        self.exit(2, f"concurlint: {message}\n")


def _codes(value: str) -> List[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


def _patterns(value: str) -> List[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


def _add_analysis_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    p.add_argument("--select", type=_codes, help="comma-separated code prefixes to enable (e.g. CCL4,CCL201)")
    p.add_argument("--ignore", type=_codes, help="comma-separated code prefixes to disable")
    p.add_argument("--extend-select", type=_codes, default=[], help="prefixes to enable on top of the configured ones")
    p.add_argument("--target-version", help="Python the code targets: 3.9 .. 3.14, 3.13t/3.14t for free-threaded builds")
    p.add_argument("--fail-on", help="lowest severity that makes the exit status 1: error|warning|info|never")
    p.add_argument("--min-confidence", help="report findings at or above this confidence: high (default) | medium | low")
    p.add_argument("--jobs", "-j", type=int, help="worker processes (default: the CPU count)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the per-file cache")
    p.add_argument("--cache-dir", help="where the cache lives (default: .concurlint_cache next to pyproject.toml)")
    p.add_argument("--config", help="read [tool.concurlint] from this pyproject.toml instead of searching")
    p.add_argument("--library", action="store_true",
                   help="library mode: callers may run every public function in many threads and tasks at once")
    p.add_argument("--exclude", type=_patterns, metavar="PATTERNS",
                   help="comma-separated path patterns not to analyse; replaces the configured and built-in list")
    p.add_argument("--extend-exclude", type=_patterns, metavar="PATTERNS",
                   help="comma-separated path patterns not to analyse, on top of the configured ones")
    p.add_argument("--baseline", help="only report findings not recorded in this baseline file (config: baseline)")
    p.add_argument("--no-baseline", action="store_true", help="ignore the configured baseline for this run")
    p.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE and exit 0")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="concurlint", description="Which concurrency model fits your Python code, and the hazards of the one you chose.")
    parser.add_argument("--version", action="version", version=f"concurlint {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    check = sub.add_parser("check", help="flake8-style findings: path:line:col: CODE message")
    _add_analysis_options(check)
    check.add_argument("--show-source", action="store_true", help="print the offending line under each finding")
    report = sub.add_parser("report", help="project-wide report (text, json, sarif, markdown)")
    _add_analysis_options(report)
    report.add_argument("--format", default="text", help="text | json | sarif | markdown")
    report.add_argument("--output", "-o", help="write the report to this file instead of stdout")
    report.add_argument("--shard", metavar="K/N", help="analyse only shard K of N and write its facts to --facts-dir")
    report.add_argument("--facts-dir", metavar="DIR", help="where --shard writes its facts")
    report.add_argument("--from-facts", metavar="DIR", help="merge the facts of every shard in DIR and report")
    # the fix options are declared here, not in concurlint.fixes: importing that package imports
    # LibCST (~150 ms of CPU), which check, explain, rules and probe never need
    fix = sub.add_parser("fix", help="apply the fixes of the findings (safe ones unless --unsafe-fixes)")
    _add_analysis_options(fix)
    fix.add_argument("--diff", action="store_true", help="write nothing; print the changes as a unified diff")
    fix.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes that may change behaviour")
    probe = sub.add_parser("probe", help="run a function serially, in threads and in processes, and measure")
    try:
        from concurlint.probe.cli import add_arguments as add_probe_arguments
    except ImportError:
        add_probe_arguments = None
    if add_probe_arguments is not None:
        add_probe_arguments(probe)
    rules = sub.add_parser("rules", help="table of every rule")
    rules.add_argument("--format", default="text", help="text | json")
    explain = sub.add_parser("explain", help="a rule's documentation, or a function's classification")
    explain.add_argument("code", nargs="?", metavar="CCLnnn")
    explain.add_argument("--function", metavar="PATH:QUALNAME", help="show a function's kind and evidence, e.g. pkg/mod.py:Cls.method")
    explain.add_argument("--target-version", help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from concurlint import interrupt

    interrupt.install()  # SIGTERM cleans up like Ctrl-C
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            parser.print_help()
            return 2
        if args.command in ("check", "report"):
            return _analyse(args)
        if args.command == "fix":
            from concurlint.fixes.command import run as run_fix

            return run_fix(args)
        if args.command == "rules":
            return _rules(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "probe":
            from concurlint.probe.cli import run as run_probe

            return run_probe(args)
    except ConfigError as exc:
        print(f"concurlint: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"concurlint: {interrupt.words(exc)}", file=sys.stderr)
        return interrupt.exit_status(exc)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 2


def _load_config(args):
    from concurlint.config import load_config
    from concurlint.registry import is_known_prefix

    paths = args.paths or ["."]
    start = Path(paths[0])
    if not start.exists():
        start = Path.cwd()
    config = load_config(start, Path(args.config) if getattr(args, "config", None) else None)
    if getattr(args, "target_version", None):
        config.target_version = check_target_version(args.target_version, "--target-version")
    if getattr(args, "fail_on", None):
        config.fail_on = check_fail_on(args.fail_on, "--fail-on")
    if getattr(args, "min_confidence", None):
        config.min_confidence = check_min_confidence(args.min_confidence, "--min-confidence")
    for opt in ("select", "ignore", "extend_select"):
        for code in getattr(args, opt, None) or []:
            if not is_known_prefix(code):
                raise ConfigError(f"unknown rule code '{code}' in --{opt.replace('_', '-')}")
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    if getattr(args, "library", False):
        config.library = True
    if getattr(args, "cache_dir", None):
        config.cache_dir = os.path.abspath(args.cache_dir)
    if getattr(args, "exclude", None) is not None:
        config.exclude = args.exclude
    if getattr(args, "extend_exclude", None):
        config.extend_exclude = config.extend_exclude + args.extend_exclude
    if getattr(args, "no_baseline", False):
        config.baseline = None
    if getattr(args, "baseline", None):
        config.baseline = args.baseline
    return config, paths


def _analyse(args) -> int:
    from concurlint import engine

    config, paths = _load_config(args)
    select = args.select if args.select is not None else config.select
    if args.extend_select:
        select = (select if select is not None else ["CCL"]) + args.extend_select
    fmt = getattr(args, "format", "text")
    progress = None
    if sys.stderr.isatty() and fmt != "check":
        from concurlint.output.progress import Progress

        progress = Progress(sys.stderr)
    if getattr(args, "shard", None) or getattr(args, "from_facts", None):
        from concurlint import shard

        report = shard.run(args, paths, config, select, progress)
        if report is None:  # this shard wrote its facts; the merging run reports
            if progress is not None:
                progress.done()
            return 0
    else:
        report = engine.run(paths, config, select=select, ignore=args.ignore, jobs=args.jobs,
                            use_cache=not args.no_cache, progress=progress)
    report.target_version = config.target_version  # the fixes in JSON/SARIF use what it offers
    if progress is not None:
        progress.done()
    if report.files == 0:
        _explain_nothing_analysed(paths, config)
    if args.write_baseline:
        from concurlint.output.baseline import write_baseline

        write_baseline(args.write_baseline, report, config.root)
        n = len(report.findings)
        print(f"concurlint: wrote {_plural(n, 'finding')} to baseline {args.write_baseline}; runs with "
              f"--baseline {args.write_baseline} (or baseline = ... in [tool.concurlint]) report only new ones",
              file=sys.stderr)
        return 0
    if config.baseline:
        from concurlint.output.baseline import apply_baseline

        before = len(report.findings)
        report.findings = apply_baseline(config.baseline, report, config.root)
        report.baseline = {"path": _shown(config.baseline), "suppressed": before - len(report.findings)}
        if args.command == "check" or getattr(args, "output", None) or fmt != "text":
            # check's stdout is flake8-style lines only; the text report says it itself
            print(f"concurlint: {_plural(report.baseline['suppressed'], 'finding')} suppressed by baseline "
                  f"{report.baseline['path']}", file=sys.stderr)
    findings = report.findings
    threshold = FAIL_RANK[config.fail_on]
    failing = any(SEVERITY_RANK[f.severity] >= threshold for f in findings)
    if args.command == "report":
        from concurlint.output import render

        text = render(fmt, report, color=_use_color(args.output), fail_on=config.fail_on)
        if args.output:
            try:
                Path(args.output).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write {args.output}: {exc.strerror}") from None
        else:
            sys.stdout.write(text)
    else:
        from concurlint.output.text import render_check

        sys.stdout.write(render_check(report, show_source=args.show_source, color=_use_color(None)))
        from concurlint.output.text import below_line

        if below_line(report):  # check's stdout is flake8-style lines only
            print(f"concurlint: {below_line(report)}", file=sys.stderr)
    return 1 if failing else 0


def _shown(path: str) -> str:
    """``path`` relative to the current directory when it is below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _explain_nothing_analysed(paths, config) -> None:
    """A run that analysed no file says why when exclusion is the reason (one line, stderr)."""
    from concurlint.config import skipped_by_exclusion

    count, why = skipped_by_exclusion(paths, config)
    if not count:
        return
    source = "the built-in excludes" if config.exclude is None else "exclude"
    if config.extend_exclude:
        source += " and extend-exclude"
    print(f"concurlint: no file analysed: {_plural(count, 'Python file')} skipped by exclusion "
          f"({', '.join(why)}: {source}); to analyse them set exclude in [tool.concurlint] or pass "
          f"--exclude (either replaces the built-in list)", file=sys.stderr)


def _use_color(output: Optional[str]) -> bool:
    if output or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _rules(args) -> int:
    from concurlint.registry import all_meta

    metas = all_meta()
    if args.format == "json":
        import json

        print(json.dumps([{"code": m.code, "name": m.name, "severity": m.severity, "default": m.default,
                           "up_to": m.ceiling, "summary": m.summary} for m in metas.values()], indent=2))
        return 0
    if args.format != "text":
        raise ConfigError(f"--format '{args.format}' is not one of text, json")
    width = max(len(m.name) for m in metas.values())
    print(f"{'code':<7} {'name':<{width}} {'severity':<8} {'on':<3} {'up to':<6} summary")
    for m in metas.values():
        print(f"{m.code:<7} {m.name:<{width}} {m.severity:<8} {'yes' if m.default else 'no':<3} "
              f"{m.ceiling:<6} {m.summary}")
    return 0


def _explain(args) -> int:
    if args.function:
        from concurlint.api import explain_function

        text = explain_function(args.function, target_version=args.target_version)
        sys.stdout.write(text)
        return 0
    from concurlint.docs import rule_markdown
    from concurlint.registry import all_meta

    if not args.code:
        raise ConfigError("explain needs a rule code (e.g. concurlint explain CCL401) or --function")
    code = args.code.upper()
    metas = all_meta()
    if code not in metas:
        raise ConfigError(f"unknown rule code '{args.code}'")
    sys.stdout.write(rule_markdown(metas[code]))
    return 0

"""``concurlint probe``: options and the command.

The main CLI calls :func:`add_arguments` on its ``probe`` sub-parser and then
:func:`run`.  Exit status: 0 every probe ran and met ``--expect``; 1 a probe
failed (crash, hang, exception) or measurement contradicts ``--expect``;
2 usage error, one sentence on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from concurlint.probe.names import ALL_MODES, MODELS, START_METHODS, ProbeUsageError

if TYPE_CHECKING:
    from concurlint.probe.harness import ProbeSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET",
        help="pkg.mod:func, pkg.mod:Class.method or path/to/mod.py:func; none = every "
        "[[tool.concurlint.probe]] entry of the nearest pyproject.toml",
    )
    parser.add_argument("--args", metavar="JSON", help="positional arguments as a JSON array")
    parser.add_argument("--kwargs", metavar="JSON", help="keyword arguments as a JSON object")
    parser.add_argument("--workers", type=int, metavar="N", help="workers per mode (default: CPU count)")
    parser.add_argument("--tasks", type=int, metavar="N", help="calls per mode (default: 2 x workers, at least 4)")
    parser.add_argument(
        "--modes", metavar="LIST",
        help="comma-separated subset of %s (serial always runs)" % ",".join(ALL_MODES),
    )
    parser.add_argument("--repeat", type=int, metavar="N", help="runs per mode; the median is reported (default 3)")
    parser.add_argument(
        "--timeout", type=float, metavar="S",
        help="seconds one run of one mode (or the import) may take before the probe kills it (default 60)",
    )
    parser.add_argument(
        "--retries", type=int, metavar="N",
        help="measure a run again, up to N times, when its threads waited for a CPU more than 15%% "
        "of the time (a busy machine; default 2)",
    )
    parser.add_argument("--python", metavar="PATH", help="interpreter to measure under (default: this one)")
    parser.add_argument(
        "--start-method", choices=START_METHODS,
        help="multiprocessing start method for the processes mode (default: that Python's default)",
    )
    parser.add_argument("--factory", metavar="pkg.mod:func", help="callable that builds the object whose method is probed")
    parser.add_argument(
        "--path", action="append", default=None, metavar="DIR",
        help="extra directory to import the target from (repeatable; the current directory is always added)",
    )
    parser.add_argument(
        "--memory-limit", type=int, metavar="MB",
        help="address-space limit for the child and its workers, in megabytes (default: none); "
        "a target that needs more fails with MemoryError",
    )
    parser.add_argument("--expect", choices=MODELS, help="exit 1 unless this model measures as (one of) the best")
    parser.add_argument("--no-static", action="store_true", help="skip the comparison with static analysis")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    parser.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument("--plot", metavar="FILE", help="write a speed-up chart (.svg, or .png with rsvg-convert/ImageMagick)")


def _json_arg(text: Optional[str], name: str, kind: type) -> Any:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ProbeUsageError("--%s is not valid JSON (%s)" % (name, exc))
    if not isinstance(value, kind):
        raise ProbeUsageError("--%s must be a JSON %s" % (name, "array" if kind is list else "object"))
    return value


def build_specs(args: argparse.Namespace, cwd: Optional[str] = None) -> List[ProbeSpec]:
    """Merge CLI options over pyproject entries (CLI > pyproject > defaults)."""
    from concurlint.probe.config import load_entries, spec_fields
    from concurlint.probe.harness import ProbeSpec

    cli: Dict[str, Any] = {}
    for name, kind in (("args", list), ("kwargs", dict)):
        value = _json_arg(getattr(args, name, None), name, kind)
        if value is not None:
            cli[name] = value
    for name in ("workers", "tasks", "repeat", "retries", "timeout", "python", "start_method", "factory", "expect",
                 "memory_limit"):
        value = getattr(args, name, None)
        if value is not None:
            cli[name] = value
    if getattr(args, "modes", None):
        cli["modes"] = [m.strip() for m in args.modes.split(",") if m.strip()]
    if getattr(args, "path", None):
        cli["path"] = list(args.path)
    if getattr(args, "no_static", False):
        cli["static"] = False

    pyproject, entries = load_entries(cwd)
    targets = list(getattr(args, "targets", None) or [])
    if targets:
        chosen = []
        for target in targets:
            entry = next((e for e in entries if e["target"] == target), {"target": target})
            chosen.append(entry)
    else:
        if not entries:
            where = str(pyproject) if pyproject else "no pyproject.toml found"
            raise ProbeUsageError(
                "give a TARGET such as pkg.mod:func, or add [[tool.concurlint.probe]] entries to "
                "pyproject.toml (%s)" % where
            )
        chosen = entries
    specs = []
    for entry in chosen:
        fields = spec_fields(entry)
        if "path" in cli:
            fields["path"] = list(fields.get("path", [])) + cli["path"]
        merged = dict(fields)
        merged.update({k: v for k, v in cli.items() if k != "path"})
        if cwd is not None:
            merged.setdefault("cwd", cwd)
        specs.append(ProbeSpec(**merged).resolved())
    return specs


def _write(text: str, output: Optional[str]) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from concurlint.probe.harness import import_failure, run_probe
    from concurlint.probe.plot import check_plot_path, write_plot
    from concurlint.probe.report import to_json, to_text

    try:
        specs = build_specs(args)
        if getattr(args, "plot", None):
            check_plot_path(args.plot)
        output = getattr(args, "output", None)
        if output and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
            raise ProbeUsageError("--output %s: that directory does not exist" % output)
    except ProbeUsageError as exc:
        print("concurlint probe: error: %s" % exc, file=sys.stderr)
        return 2
    reports = []
    try:
        for spec in specs:
            if sys.stderr.isatty():
                print("probing %s ..." % spec.target, file=sys.stderr, flush=True)
            report = run_probe(spec)
            unusable = import_failure(report)
            if unusable is not None:
                raise ProbeUsageError(unusable)
            reports.append(report)
    except ProbeUsageError as exc:
        print("concurlint probe: error: %s" % exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (``timeout``, a cancelled CI job)
        from concurlint import interrupt

        print("concurlint probe: %s" % interrupt.words(exc), file=sys.stderr)
        return interrupt.exit_status(exc)
    text = to_json(reports) if getattr(args, "format", "text") == "json" else to_text(reports)
    try:
        _write(text, output)
        if getattr(args, "plot", None):
            write_plot(reports, args.plot)
    except (OSError, ProbeUsageError) as exc:
        print("concurlint probe: error: %s" % exc, file=sys.stderr)
        return 2
    failed = any(not r.get("ok") for r in reports)
    missed = any(r.get("expect") and not r["expect"]["ok"] for r in reports)
    return 1 if failed or missed else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="concurlint probe",
        description="Measure a function under serial, threads, processes, asyncio and interpreters.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))

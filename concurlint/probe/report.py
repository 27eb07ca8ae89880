"""Text and JSON renderings of probe reports."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from concurlint.probe.harness import ALL_MODES


def to_json(reports: List[Dict[str, Any]]) -> str:
    """One probe: its object.  Several: a JSON array of them."""
    payload: Any = reports[0] if len(reports) == 1 else reports
    return json.dumps(payload, indent=2) + "\n"


def _num(x, fmt="%.3f") -> str:
    return "-" if x is None else fmt % x


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def _where(report: Dict[str, Any]) -> str:
    fn = report.get("function") or {}
    if not fn.get("sourcefile"):
        return ""
    path = fn["sourcefile"]
    try:
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            path = rel
    except ValueError:
        pass
    return "  (%s.%s in %s)" % (fn.get("module"), fn.get("qualname"), path)


def _header(report: Dict[str, Any]) -> List[str]:
    s = report.get("settings", {})
    gil = report.get("gil_enabled")
    gil_text = {True: "GIL enabled", False: "GIL disabled", None: "GIL unknown"}[gil]
    lines = ["probe %s%s" % (report["target"], _where(report))]
    py = report.get("python") or "?"
    lines.append(
        "  Python %s (%s), %s tasks on %s workers, %s"
        % (py, gil_text, s.get("tasks"), s.get("workers"),
           "1 run" if s.get("repeat") == 1 else "median of %s runs" % s.get("repeat"))
    )
    load = report.get("load") or {}
    bits = ["%s CPUs" % load.get("cpus", "?")]
    if "level" in load:
        bits.append("%s (other processes used %.0f%% of the CPUs)" % (load["level"], 100 * load["other_busy"]))
    if load.get("loadavg_1m") is not None:
        bits.append("load average %.2f" % load["loadavg_1m"])
    if load.get("serial_wait_fraction"):
        bits.append("%.0f%% of the serial run waiting for a CPU" % (100 * load["serial_wait_fraction"]))
    lines.append("  machine: " + ", ".join(bits))
    return lines


def _table(report: Dict[str, Any]) -> List[str]:
    rows = [("mode", "wall s", "CPU s", "CPU wait s", "speed-up", "min-max", "note")]
    for mode in ALL_MODES:
        e = report["modes"].get(mode)
        if e is None:
            continue
        note = ""
        if e.get("possible") is False:
            note = "impossible: %s" % e.get("why")
        elif e.get("error"):
            note = "FAILED: %s" % e["error"].splitlines()[0]
        else:
            extra = []
            if e.get("start_method"):
                extra.append(e["start_method"])
            if e.get("startup_s") is not None:
                extra.append("pool start %.3f s" % e["startup_s"])
            if e.get("redone_runs"):
                extra.append("%d run(s) redone: busy machine" % e["redone_runs"])
            note = ", ".join(extra)
        spread = ""
        if e.get("speedup_min") is not None:
            spread = "%.2f-%.2f" % (e["speedup_min"], e["speedup_max"])
        rows.append((
            mode, _num(e.get("wall_s")), _num(e.get("cpu_s")), _num(e.get("cpu_wait_s")),
            _num(e.get("speedup"), "%.2fx"), spread, note,
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    out = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, 5)]
        cells.append(r[5].ljust(widths[5]))
        out.append(("  " + "  ".join(cells) + "  " + r[6]).rstrip())
    return out


def _verdict(report: Dict[str, Any]) -> List[str]:
    lines = []
    kind = report.get("measured_kind")
    if kind is not None:
        text = "%s (CPU/wall %.2f" % (kind, report["cpu_ratio"])
        adj = report.get("cpu_ratio_excluding_wait")
        if adj is not None and abs(adj - report["cpu_ratio"]) >= 0.005:
            text += ", %.2f once the wait for a CPU is taken out" % adj
        text += ")"
        if report.get("measured_releases_gil") is True:
            text += "; threads speed it up, so it releases the GIL"
        elif report.get("measured_releases_gil") is False:
            text += "; threads do not speed it up: it holds the GIL"
        lines.append("  measured kind: " + text)
    static = report.get("static") or {}
    if report.get("static_kind") is not None:
        agree = {True: "agrees", False: "DISAGREES with the measurement", None: "not comparable"}[report.get("agrees")]
        lines.append("  static kind:   %s (%s)" % (report["static_kind"], agree))
    else:
        lines.append("  static kind:   unknown (%s)" % static.get("note", "static analysis unavailable"))
    rec = report.get("recommended")
    if rec is not None:
        mode = "threads" if rec == "free-threading" else rec
        sp = report["modes"].get(mode, {}).get("speedup") or 1.0
        tied = [m for m in report.get("tied", []) if m != mode]
        text = "%s (%.2fx over serial)" % (rec, sp) if rec != "serial" else "serial (no mode is 1.1x faster)"
        if tied:
            text += "; as good: %s" % ", ".join(tied)
        lines.append("  best model:    " + text)
    advice = report.get("advice") or {}
    if advice.get("verdict") == "contradicted":
        lines.append("  advice:        " + advice["message"].upper()[:1] + advice["message"][1:])
    elif advice.get("message"):
        lines.append("  advice:        " + advice["message"])
    for warning in report.get("warnings") or []:
        lines.append("  note:          " + warning)
    expect = report.get("expect")
    if expect:
        lines.append("  expected:      %s -> %s" % (expect["model"], "ok" if expect["ok"] else "FAILED: " + expect["message"]))
    return lines


def _failure(report: Dict[str, Any]) -> List[str]:
    err = report.get("error")
    if not err:
        return []
    lines = ["  FAILED: " + err["message"]]
    if err.get("traceback"):
        lines.append(_indent(err["traceback"]))
    if err.get("stdout_tail"):
        lines.append("  the target's last output on stdout:")
        lines.append(_indent(err["stdout_tail"][-1500:]))
    return lines


def to_text(reports: List[Dict[str, Any]]) -> str:
    blocks = []
    for report in reports:
        lines = _header(report) + [""] + _table(report) + [""] + _verdict(report) + _failure(report)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"

"""Speed-up chart of a probe: hand-written SVG (PNG through a converter if present)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import textwrap
from typing import Any, Dict, List
from xml.sax.saxutils import escape

from concurlint.probe.harness import ALL_MODES, ProbeUsageError

WIDTH = 720
PANEL = 330
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 58, 70

GOOD, BAD, FLAT, MISSING = "#2e7d32", "#c62828", "#8d8d8d", "#e0e0e0"


def _png_converter():
    """rsvg-convert, or a `magick`/`convert` that really is ImageMagick (a `convert` on PATH can
    be something else entirely: a stand-in, or Windows' filesystem tool)."""
    for name in ("rsvg-convert", "magick", "convert"):
        path = shutil.which(name)
        if path and (name == "rsvg-convert" or _is_imagemagick(path)):
            return name, path
    return None


def _is_imagemagick(path: str) -> bool:
    import subprocess

    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.lstrip().startswith("Version: ImageMagick")


def check_plot_path(path: str) -> None:
    """Fail early (before probing) on a chart file the probe cannot write."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".svg", ".png"):
        raise ProbeUsageError("--plot %s must end in .svg or .png" % path)
    if ext == ".png" and _png_converter() is None:
        raise ProbeUsageError("--plot %s: PNG needs rsvg-convert or ImageMagick; write .svg instead" % path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ProbeUsageError("--plot %s: directory %s does not exist" % (path, folder))


def _t(x: float, y: float, text: str, size: int = 12, anchor: str = "middle",
       weight: str = "normal", fill: str = "#222", extra: str = "") -> str:
    return (
        '<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" fill="%s"%s>%s</text>'
        % (x, y, size, anchor, weight, fill, extra, escape(text))
    )


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _panel(report: Dict[str, Any], y0: float) -> List[str]:
    out: List[str] = []
    modes = [m for m in ALL_MODES if m in report.get("modes", {})]
    values = [report["modes"][m].get("speedup_max") or report["modes"][m].get("speedup") or 0 for m in modes]
    top = max([2.0] + [v * 1.15 for v in values])
    step = 0.5 if top <= 3 else 1.0 if top <= 8 else 2.0
    top = math.ceil(top / step) * step
    plot_h = PANEL - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    base = y0 + TOP + plot_h

    def y(v: float) -> float:
        return base - plot_h * v / top

    gil = {True: "GIL enabled", False: "GIL disabled", None: ""}[report.get("gil_enabled")]
    title = "%s \u2014 Python %s%s" % (report["target"], report.get("python") or "?", (", " + gil) if gil else "")
    out.append(_t(WIDTH / 2, y0 + 22, _short(title, 90), 15, weight="bold"))
    rec = report.get("recommended")
    sub = "measured kind: %s" % (report.get("measured_kind") or "?")
    if report.get("static_kind"):
        sub += " (static: %s)" % report["static_kind"]
    sub += "  \u00b7  best model: %s" % (rec or "none: probe failed")
    s = report.get("settings", {})
    sub += "  \u00b7  %s tasks, %s workers" % (s.get("tasks"), s.get("workers"))
    out.append(_t(WIDTH / 2, y0 + 42, sub, 12, fill="#444"))

    # grid and axis
    v = 0.0
    while v <= top + 1e-9:
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (LEFT, WIDTH - RIGHT, y(v), y(v)))
        out.append(_t(LEFT - 8, y(v) + 4, "%gx" % v, 11, anchor="end", fill="#555"))
        v += step
    out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#999"/>' % (LEFT, WIDTH - RIGHT, base, base))
    out.append(_t(18, y0 + TOP + plot_h / 2, "speed-up over serial", 12, extra=' transform="rotate(-90 18 %.1f)"' % (y0 + TOP + plot_h / 2)))

    n = max(1, len(modes))
    slot = plot_w / n
    bar_w = min(70.0, slot * 0.55)
    best_mode = "threads" if rec == "free-threading" else rec
    for i, mode in enumerate(modes):
        e = report["modes"][mode]
        cx = LEFT + slot * (i + 0.5)
        sp = e.get("speedup")
        label = mode + (" (best)" if mode == best_mode else "")
        out.append(_t(cx, base + 18, label, 12, weight="bold" if mode == best_mode else "normal"))
        if sp is None:
            what = "impossible" if e.get("possible") is False else "failed" if e.get("error") else "not run"
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="#bbb" stroke-dasharray="3 3"/>'
                       % (cx - bar_w / 2, y(1.0), bar_w, base - y(1.0), MISSING))
            out.append(_t(cx, y(1.0) + (base - y(1.0)) / 2 + 4, what, 11, fill="#666"))
            why = e.get("why") or e.get("error") or ""
            if why:
                lines = textwrap.wrap(why.splitlines()[0], int(slot / 5.2))[:2]
                if len(lines) == 2 and len(why) > len(" ".join(lines)):
                    lines[1] = _short(lines[1] + " \u2026", int(slot / 5.2))
                for k, line in enumerate(lines):
                    out.append(_t(cx, base + 32 + 11 * k, line, 9, fill="#777"))
            continue
        colour = GOOD if sp >= 1.1 else BAD if sp < 0.9 else FLAT
        stroke = ' stroke="#111" stroke-width="2"' if mode == best_mode else ""
        out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"%s/>'
                   % (cx - bar_w / 2, y(sp), bar_w, base - y(sp), colour, stroke))
        lo, hi = e.get("speedup_min"), e.get("speedup_max")
        label_y = y(sp) - 6
        if lo is not None and hi is not None and hi - lo > 1e-6:
            out.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#222"/>' % (cx, cx, y(lo), y(hi)))
            for v in (lo, hi):
                out.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#222"/>' % (cx - 6, cx + 6, y(v), y(v)))
            label_y = min(label_y, y(hi) - 6)
        out.append(_t(cx, label_y, "%.2fx" % sp, 12, weight="bold",
                      extra=' stroke="white" stroke-width="3" paint-order="stroke"'))
        if e.get("wall_s") is not None:
            out.append(_t(cx, base + 33, "%.3g s wall" % e["wall_s"], 10, fill="#666"))

    # the serial line, drawn last so it stays visible across the bars
    out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#1565c0" stroke-width="1.5" stroke-dasharray="6 4"/>'
               % (LEFT, WIDTH - RIGHT, y(1.0), y(1.0)))
    out.append(_t(WIDTH - RIGHT - 4, y(1.0) - 5, "serial = 1.0x", 11, anchor="end", fill="#1565c0"))
    if report.get("error"):
        out.append(_t(WIDTH / 2, base + 60, _short("FAILED: " + report["error"]["message"], 110), 11, fill=BAD))
    else:
        advice = (report.get("advice") or {}).get("message") or ""
        colour = BAD if (report.get("advice") or {}).get("verdict") == "contradicted" else "#555"
        out.append(_t(WIDTH / 2, base + 60, _short(advice, 110), 11, fill=colour))
    return out


def to_svg(reports: List[Dict[str, Any]]) -> str:
    height = PANEL * len(reports)
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif">' % (WIDTH, height, WIDTH, height),
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for i, report in enumerate(reports):
        parts.extend(_panel(report, i * PANEL))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_plot(reports: List[Dict[str, Any]], path: str) -> None:
    svg = to_svg(reports)
    if path.lower().endswith(".svg"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg)
        return
    conv = _png_converter()
    if conv is None:
        raise ProbeUsageError("PNG needs rsvg-convert or ImageMagick; write .svg instead")
    name, exe = conv
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "chart.svg")
        with open(src, "w", encoding="utf-8") as f:
            f.write(svg)
        cmd = [exe, src, "-o", path] if name == "rsvg-convert" else [exe, src, path]
        if name == "magick":
            cmd = [exe, src, path]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if done.returncode != 0 or not os.path.exists(path):
            raise ProbeUsageError("converting the chart to PNG failed: %s"
                                  % done.stderr.decode("utf-8", "replace").strip()[:200])

"""Report writers. ``render(format, report)`` returns the text to print."""
from __future__ import annotations

from concurlint.config import ConfigError

FORMATS = ("text", "json", "sarif", "markdown")


def render(fmt: str, report, color: bool = False, fail_on: str = "warning") -> str:
    if fmt == "text":
        from concurlint.output.text import render_report

        return render_report(report, color=color, fail_on=fail_on)
    if fmt == "json":
        from concurlint.output.json_report import render_json

        return render_json(report)
    if fmt == "sarif":
        from concurlint.output.sarif import render_sarif

        return render_sarif(report)
    if fmt == "markdown":
        from concurlint.output.markdown import render_markdown

        return render_markdown(report, fail_on=fail_on)
    raise ConfigError(f"--format '{fmt}' is not one of {', '.join(FORMATS)}")

"""Adapter to the static engine: what does static analysis say about the target?

``concurlint.api.static_verdict`` is imported lazily and only here.  When it
is missing or fails, the probe reports ``static_kind: null`` with the reason;
it never makes a value up.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple


def lookup(path: str, qualname: str, target_version: Optional[str]) -> Tuple[Optional[Dict[str, Any]], str]:
    """Return (verdict or None, a short note on where the verdict came from)."""
    try:
        from concurlint.api import static_verdict
    except (ImportError, AttributeError):
        return None, "static analysis unavailable"
    try:
        verdict = static_verdict(path, qualname, target_version=target_version)
    except Exception as exc:  # noqa: BLE001 - the probe must still report its measurements
        return None, "static analysis unavailable: %s: %s" % (type(exc).__name__, exc)
    if not verdict:
        return None, "static analysis unavailable: no function %s in %s" % (qualname, path)
    return dict(verdict), "static analysis of %s in %s" % (qualname, path)

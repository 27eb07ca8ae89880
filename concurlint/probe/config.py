"""``[[tool.concurlint.probe]]`` entries from the nearest pyproject.toml.

Read here rather than through ``concurlint.config`` so the probe does not
depend on the rest of the configuration machinery.  Keys are kebab-case like
the rest of ``[tool.concurlint]``; an unknown key is an error naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from concurlint.probe.harness import ProbeUsageError

#: key -> (accepted Python types, what to say when the type is wrong)
KEYS: Dict[str, Tuple[tuple, str]] = {
    "target": ((str,), "a string like pkg.mod:func"),
    "args": ((list,), "an array"),
    "kwargs": ((dict,), "a table"),
    "tasks": ((int,), "an integer"),
    "workers": ((int,), "an integer"),
    "repeat": ((int,), "an integer"),
    "retries": ((int,), "an integer"),
    "timeout": ((int, float), "a number of seconds"),
    "modes": ((list, str), "an array of mode names"),
    "python": ((str,), "a path to an interpreter"),
    "start-method": ((str,), "fork, spawn or forkserver"),
    "expect": ((str,), "a model name"),
    "factory": ((str,), "a string like pkg.mod:make_object"),
    "factory-args": ((list,), "an array"),
    "factory-kwargs": ((dict,), "a table"),
    "path": ((list,), "an array of directories"),
    "memory-limit": ((int,), "a number of megabytes"),
}


def find_pyproject(start: Optional[str] = None) -> Optional[Path]:
    """The nearest pyproject.toml in ``start`` (default: cwd) or above it."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _load_toml(path: Path) -> Dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise ProbeUsageError("reading %s needs tomli on Python before 3.11" % path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, ValueError) as exc:
        raise ProbeUsageError("cannot read %s: %s" % (path, exc))


def load_entries(start: Optional[str] = None) -> Tuple[Optional[Path], List[Dict[str, Any]]]:
    """Return (pyproject path, validated probe entries) with paths made absolute."""
    pyproject = find_pyproject(start)
    if pyproject is None:
        return None, []
    table = _load_toml(pyproject).get("tool", {}).get("concurlint", {})
    raw = table.get("probe", []) if isinstance(table, dict) else []
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ProbeUsageError("%s: [tool.concurlint] probe must be an array of tables" % pyproject)
    base = pyproject.parent
    entries = []
    for n, entry in enumerate(raw, 1):
        where = "%s: [[tool.concurlint.probe]] entry %d" % (pyproject, n)
        if not isinstance(entry, dict):
            raise ProbeUsageError("%s is not a table" % where)
        for key, value in entry.items():
            if key not in KEYS:
                hint = " (did you mean %r?)" % key.replace("_", "-") if key.replace("_", "-") in KEYS else ""
                raise ProbeUsageError("%s has an unknown key %r%s" % (where, key, hint))
            types, what = KEYS[key]
            if isinstance(value, bool) or not isinstance(value, types):
                raise ProbeUsageError("%s: %r must be %s" % (where, key, what))
        if "target" not in entry:
            raise ProbeUsageError("%s has no 'target'" % where)
        entry = dict(entry)
        entry["path"] = [str(base)] + [str((base / p).resolve()) for p in entry.get("path", [])]
        python = entry.get("python")
        if python and (os.sep in python or "/" in python) and not os.path.isabs(python):
            entry["python"] = str((base / python).resolve())
        if isinstance(entry.get("modes"), str):
            entry["modes"] = [m.strip() for m in entry["modes"].split(",") if m.strip()]
        entries.append(entry)
    return pyproject, entries


def spec_fields(entry: Dict[str, Any]) -> Dict[str, Any]:
    """Map a config entry to ProbeSpec keyword arguments."""
    out = {}
    for key, value in entry.items():
        out[key.replace("-", "_")] = value
    return out

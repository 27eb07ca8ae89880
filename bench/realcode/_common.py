"""Shared by fetch.py and review.py: paths, the package list, and a TOML reader.

Standard library only, Python 3.9+. ``tomllib`` (3.11+) or ``tomli`` is used when present;
otherwise a small reader handles the subset these files use: comments, ``[[table]]`` headers,
and ``key = value`` lines whose value is a string, integer, boolean or one-line array of those.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SOURCES = HERE / "sources"
PACKAGES_FILE = HERE / "packages.toml"
LABELS_FILE = HERE / "reviewed.toml"

# Directory and file names (fnmatch patterns) never analysed: tests, whatever the package calls them.
DEFAULT_EXCLUDE = ("tests", "test", "_tests", "conftest.py", "test_*.py")


class TomlError(ValueError):
    pass


def _toml_module():
    try:
        import tomllib  # type: ignore[import-not-found]

        return tomllib
    except ImportError:
        pass
    try:
        import tomli  # type: ignore[import-not-found]

        return tomli
    except ImportError:
        return None


_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def _parse_value(text: str, pos: int, where: str):
    """Parse one value starting at text[pos]; return (value, new_pos)."""
    if text.startswith('"', pos):
        out = []
        i = pos + 1
        while i < len(text):
            c = text[i]
            if c == '"':
                return "".join(out), i + 1
            if c == "\\":
                nxt = text[i + 1 : i + 2]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    i += 2
                    continue
                if nxt in ("u", "U"):
                    n = 4 if nxt == "u" else 8
                    out.append(chr(int(text[i + 2 : i + 2 + n], 16)))
                    i += 2 + n
                    continue
                raise TomlError(f"{where}: bad escape \\{nxt}")
            out.append(c)
            i += 1
        raise TomlError(f"{where}: unterminated string")
    if text.startswith("'", pos):
        end = text.find("'", pos + 1)
        if end < 0:
            raise TomlError(f"{where}: unterminated string")
        return text[pos + 1 : end], end + 1
    if text.startswith("[", pos):
        items = []
        i = pos + 1
        while True:
            while i < len(text) and text[i] in " \t,":
                i += 1
            if i >= len(text):
                raise TomlError(f"{where}: unterminated array (arrays must be on one line)")
            if text[i] == "]":
                return items, i + 1
            value, i = _parse_value(text, i, where)
            items.append(value)
    m = re.compile(r"true|false|[+-]?\d[\d_]*").match(text, pos)
    if not m:
        raise TomlError(f"{where}: cannot parse value {text[pos:pos + 20]!r}")
    word = m.group(0)
    if word in ("true", "false"):
        return word == "true", m.end()
    return int(word.replace("_", "")), m.end()


def _mini_loads(text: str, name: str) -> Dict[str, Any]:
    data: Dict[str, Any] = {}
    current: Dict[str, Any] = data
    key_re = re.compile(r'\s*([A-Za-z0-9_-]+|"[^"]*")\s*=\s*')
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{lineno}"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = re.fullmatch(r"\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]\s*(#.*)?", stripped)
        if m:
            current = {}
            data.setdefault(m.group(1), []).append(current)
            continue
        m = re.fullmatch(r"\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?", stripped)
        if m:
            current = data.setdefault(m.group(1), {})
            continue
        m = key_re.match(line)
        if not m:
            raise TomlError(f"{where}: expected 'key = value'")
        key = m.group(1).strip('"')
        value, end = _parse_value(line, m.end(), where)
        rest = line[end:].strip()
        if rest and not rest.startswith("#"):
            raise TomlError(f"{where}: unexpected text after the value: {rest!r}")
        if key in current:
            raise TomlError(f"{where}: duplicate key {key!r}")
        current[key] = value
    return data


def load_toml(path: Path) -> Dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    mod = _toml_module()
    if mod is not None:
        try:
            return mod.loads(text)
        except mod.TOMLDecodeError as exc:
            raise TomlError(f"{path}: {exc}") from None
    return _mini_loads(text, str(path))


def toml_string(value: str) -> str:
    """A TOML basic string (one line)."""
    out = ['"']
    for c in value:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def load_packages(path: Path = PACKAGES_FILE) -> List[Dict[str, Any]]:
    data = load_toml(path)
    pkgs = data.get("package", [])
    seen = set()
    for p in pkgs:
        for key in ("name", "version", "category", "source"):
            if key not in p:
                raise TomlError(f"{path}: a [[package]] has no {key!r}: {p}")
        if isinstance(p["source"], str):
            p["source"] = [p["source"]]
        p.setdefault("exclude", [])
        p.setdefault("dist", "wheel")
        if p["name"] in seen:
            raise TomlError(f"{path}: package {p['name']!r} is listed twice")
        seen.add(p["name"])
    return pkgs


def package_dir(pkg: Dict[str, Any]) -> Path:
    return SOURCES / f"{pkg['name']}-{pkg['version']}"

"""tomllib on 3.11+, tomli before."""
from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as _toml

TOMLDecodeError = _toml.TOMLDecodeError


def load_toml(path: Path) -> dict:
    with open(path, "rb") as f:
        return _toml.load(f)


def loads_toml(text: str) -> dict:
    return _toml.loads(text)

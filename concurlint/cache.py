"""Per-file facts cached by content hash, tool version and the configuration they depend on.

One file per entry, written to a temporary name and renamed into place (atomic: concurrent runs
never see half an entry). An entry that cannot be read back is deleted and recomputed.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

FORMAT = 1


class Cache:
    def __init__(self, directory: Path, salt: str):
        self.dir = directory
        self.salt = salt
        self._ok = True

    def _key(self, data: bytes, display: str, module: str, is_package: bool) -> Path:
        h = hashlib.sha256()
        h.update(f"{FORMAT}\0{self.salt}\0{display}\0{module}\0{is_package}\0".encode())
        h.update(data)
        digest = h.hexdigest()
        return self.dir / digest[:2] / f"{digest[2:]}.pickle"

    def get(self, data: bytes, display: str, module: str, is_package: bool):
        path = self._key(data, display, module, is_package)
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            return None
        except Exception:  # corrupt or from an incompatible build: heal by recomputing
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def put(self, data: bytes, display: str, module: str, is_package: bool, result) -> None:
        if not self._ok:
            return
        path = self._key(data, display, module, is_package)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _mark(self.dir)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            self._ok = False  # read-only or full disk: run without caching


def _mark(directory: Path) -> None:
    """Tell backup tools (CACHEDIR.TAG) and git (a .gitignore of '*') to leave the cache alone."""
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text("Signature: 8a477f597d28d172789f06886806bc55\n# concurlint cache\n")
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# created by concurlint\n*\n")


def load_report(cache_dir: str, key: str):
    """A whole report computed before from exactly the same inputs (see engine._report_key)."""
    path = Path(cache_dir) / "reports" / f"{key}.pickle"
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:
        try:
            path.unlink()
        except OSError:
            pass
        return None


def store_report(cache_dir: str, key: str, report, keep: int = 8) -> None:
    """Atomically store ``report``; keep only the most recent few (one per config/selection)."""
    d = Path(cache_dir) / "reports"
    try:
        d.mkdir(parents=True, exist_ok=True)
        _mark(d.parent)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(report, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, d / f"{key}.pickle")
        old = sorted(d.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)[keep:]
        for p in old:
            p.unlink()
    except OSError:
        pass

"""Per-file facts cached by content hash, tool version and the configuration they depend on.

One file per entry, written to a temporary name and renamed into place (atomic: concurrent runs
never see half an entry). Every entry is sealed (``concurlint.sealed``): authenticated with a
secret from the user's cache directory and decoded by a restricted unpickler, so an entry planted
in a repository, copied from another machine or damaged on disk is discarded and recomputed,
never trusted and never able to run code. See docs/security.md.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from concurlint.sealed import RejectedFile, read_limited, seal, sweep_temporaries, unseal, write_atomic

FORMAT = 2
_MAX_ENTRY = 256 * 1024 * 1024  # never read more than this from one entry


class Cache:
    def __init__(self, directory: Path, salt: str):
        self.dir = directory
        self.salt = salt
        self._ok = True

    def key_of(self, data: bytes, rel: str, module: str, is_package: bool) -> str:
        """``rel``: the file's path relative to its project root (engine.root_relative), so runs
        from any working directory, and the flake8 plugin, find the same entry."""
        h = hashlib.sha256()
        h.update(f"{FORMAT}\0{self.salt}\0{rel}\0{module}\0{is_package}\0".encode("utf-8", "surrogateescape"))
        h.update(data)
        return h.hexdigest()

    def _key(self, data: bytes, rel: str, module: str, is_package: bool) -> Path:
        return self._path(self.key_of(data, rel, module, is_package))

    def _path(self, digest: str) -> Path:
        return self.dir / digest[:2] / f"{digest[2:]}.entry"

    def get(self, data: bytes, rel: str, module: str, is_package: bool):
        return self.get_entry(self.key_of(data, rel, module, is_package))

    def get_entry(self, digest: str):
        """The entry of a per-file key (``key_of``), or None."""
        from concurlint.engine import FileResult

        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            return None
        return _read(self._path(digest), FileResult)

    def put(self, data: bytes, rel: str, module: str, is_package: bool, result) -> None:
        if not self._ok:
            return
        sealed = seal(result)
        if sealed is None:
            self._ok = False  # no key can be had (read-only home): run without caching
            return
        path = self._key(data, rel, module, is_package)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _mark(self.dir)
        except OSError:
            self._ok = False
            return
        if not write_atomic(path, sealed):
            self._ok = False  # read-only or full disk: run without caching


def _read(path: Path, expected):
    """The object sealed in ``path``, or None (missing; planted, damaged or foreign: deleted)."""
    if not path.exists():
        return None
    data = read_limited(path, _MAX_ENTRY)
    try:
        if data is None:
            raise RejectedFile("not a regular file of a sane size")
        return unseal(data, expected)
    except RejectedFile:
        try:
            if path.is_file() and not path.is_symlink():
                path.unlink()
        except OSError:
            pass
        return None


def _mark(directory: Path) -> None:
    """Tell backup tools (CACHEDIR.TAG) and git (a .gitignore of '*') to leave the cache alone."""
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():  # written whole or not at all (a full disk must not leave half a tag)
        write_atomic(tag, b"Signature: 8a477f597d28d172789f06886806bc55\n# concurlint cache\n")
    ignore = directory / ".gitignore"
    if not ignore.exists():
        write_atomic(ignore, b"# created by concurlint\n*\n")


def load_report(cache_dir: str, key: str):
    """A whole report computed before from exactly the same inputs (see engine._report_key)."""
    from concurlint.engine import Report

    return _read(Path(cache_dir) / "reports" / f"{key}.entry", Report)


def load_manifest(cache_dir: str, config_key: str):
    """Which per-file entries the last stored report of this configuration was computed from
    (engine.reuse)."""
    from concurlint.engine.reuse import Manifest

    return _read(Path(cache_dir) / "reports" / f"{config_key}.manifest", Manifest)


def store_manifest(cache_dir: str, config_key: str, manifest, keep: int = 8) -> None:
    sealed = seal(manifest)
    if sealed is not None:
        write_keeping(Path(cache_dir) / "reports" / f"{config_key}.manifest", sealed, keep)


def write_keeping(path: Path, sealed: bytes, keep: int) -> bool:
    """Write one sealed entry atomically, then keep only the ``keep`` most recent files of its
    kind (its suffix) in its folder. True when written."""
    if not write_atomic(path, sealed):
        return False
    try:
        for p in sorted(path.parent.glob(f"*{path.suffix}"), key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
            p.unlink()
    except OSError:
        pass
    return True


def store_report(cache_dir: str, key: str, report, keep: int = 8, same_as: str = "") -> None:
    """Atomically store ``report``; keep only the most recent few (one per config/selection).
    ``same_as``: the key of a stored report holding exactly ``report`` (engine.reuse), whose
    sealed bytes are copied instead of pickling it again."""
    d = Path(cache_dir) / "reports"
    sealed = read_limited(d / f"{same_as}.entry", _MAX_ENTRY) if same_as else None
    if sealed is None:
        sealed = seal(report)
    if sealed is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        _mark(d.parent)
    except OSError:
        return
    if write_keeping(d / f"{key}.entry", sealed, keep):
        # once per run: what runs killed mid-write (SIGKILL) left behind, anywhere in the cache
        sweep_temporaries(d.parent)

"""Sealed files: what concurlint writes to disk and reads back later (caches, shards).

A cache can sit inside the analysed repository, so anything in it may have been planted by
whoever wrote that repository. Two independent guards keep a planted or damaged file from running
code or forging results:

1. **Authentication.** Every sealed file starts with ``MAGIC`` and an HMAC-SHA256 of its payload,
   keyed with a random secret that lives in the *user's* cache directory (``secret_path()``),
   never in a project. A file whose tag does not verify (planted, copied from another machine,
   truncated, bit-flipped) is rejected before a single byte of it is decoded. The tag doubles as
   the checksum against corruption.
2. **A restricted decoder.** Payloads are pickles of concurlint's own dataclasses, decoded by an
   unpickler that can only build concurlint's classes and plain builtin containers: it refuses
   every other global (``os.system``, ``subprocess.Popen``, ``builtins.eval`` ...), so even a
   file that passes the first guard (shards copied between CI jobs are read with
   ``authenticate=False``) cannot call anything outside concurlint.

The caller then checks the decoded object's type before using it.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Optional, Tuple, Type

MAGIC = b"concurlint-sealed/1\n"
_TAG = 32  # bytes of HMAC-SHA256

# plain builtins that pickles of concurlint's dataclasses may name (sets, frozensets and
# containers are encoded with these when protocol opcodes do not cover them)
_SAFE_BUILTINS = frozenset({
    "set", "frozenset", "list", "dict", "tuple", "str", "bytes", "bytearray", "int", "float",
    "complex", "bool", "slice", "range", "NoneType", "object",
})
_SAFE_MODULES = ("concurlint.",)


class RejectedFile(Exception):
    """A sealed file that is not ours, damaged, or names code it must not."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if module == "collections" and name in ("OrderedDict", "defaultdict", "Counter"):
            return super().find_class(module, name)
        if module.startswith(_SAFE_MODULES) and not name.startswith("_") and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type):  # a class of ours: never a function (no calls to make)
                return obj
        raise RejectedFile(f"sealed file names a forbidden global {module}.{name}")


def loads_restricted(payload: bytes):
    """Decode a payload that may only contain concurlint's own classes and builtin containers."""
    try:
        return _Unpickler(io.BytesIO(payload)).load()
    except RejectedFile:
        raise
    except Exception as exc:  # truncated, wrong opcodes, classes of another version ...
        raise RejectedFile(f"undecodable payload ({type(exc).__name__})") from None


def secret_path() -> Path:
    """The per-user secret: in the user's cache directory, never inside a project."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "concurlint" / "secret.key"


_SECRET: Optional[bytes] = None


def secret() -> Optional[bytes]:
    """This user's 32-byte key, created on first use (mode 0600). ``None`` when it can be neither
    read nor created (read-only home): callers then run without a cache."""
    global _SECRET
    if _SECRET is not None:
        return _SECRET
    path = secret_path()
    for _ in range(2):
        try:
            data = path.read_bytes()
            if len(data) == 32:
                _SECRET = data
                return data
            path.unlink()  # damaged: make a new one (old cache entries become misses)
        except FileNotFoundError:
            pass
        except OSError:
            return None
        made = _new_secret(path)
        if made is None:
            return None
        if made:
            continue  # read it back: another run may have linked its own first
    return None


def _new_secret(path: Path) -> Optional[bool]:
    """Write a fresh key to a temporary file and link it into place, so that the key file is
    either absent or whole (a full disk must not leave an empty key behind). True when ours
    or another run's key is now in place, None when no key can be written."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another run made one first: use theirs
        except OSError:  # a file system without hard links
            os.replace(tmp, path)
            tmp = None
        return True
    except OSError:
        return None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def seal(obj, authenticate: bool = True) -> Optional[bytes]:
    """The bytes of a sealed file holding ``obj``; ``None`` when no key can be had."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if authenticate:
        key = secret()
        if key is None:
            return None
        return MAGIC + _tag(key, payload) + payload
    return MAGIC + hashlib.sha256(payload).digest() + payload


def unseal(data: bytes, expected: Tuple[Type, ...] | Type, authenticate: bool = True):
    """The object in a sealed file, or :class:`RejectedFile`. With ``authenticate`` the tag must
    be this user's HMAC; without it (files carried between machines, such as shards) it must be
    the payload's SHA-256, which catches damage but not forgery, so the restricted decoder is
    what keeps those from running code."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _TAG:
        raise RejectedFile("not a concurlint file of this format")
    tag = data[len(MAGIC):len(MAGIC) + _TAG]
    payload = data[len(MAGIC) + _TAG:]
    if authenticate:
        key = secret()
        if key is None:
            raise RejectedFile("no key to check the file with")
        good = _tag(key, payload)
    else:
        good = hashlib.sha256(payload).digest()
    if not hmac.compare_digest(tag, good):
        raise RejectedFile("checksum does not match: planted, copied or damaged")
    obj = loads_restricted(payload)
    if not isinstance(obj, expected):
        raise RejectedFile(f"holds a {type(obj).__name__}, not what was expected")
    return obj


TMP_PREFIX = ".tmp-"


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file renamed into place; never leave the
    temporary file behind (full disk, read-only folder, Ctrl-C or SIGTERM mid-write). True when
    written."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def sweep_temporaries(directory: Path, older_than: float = 3600.0) -> None:
    """Remove temporary files that a run killed outright (SIGKILL, power loss) left in
    ``directory`` and its sub-folders. Only old ones: a concurrent run may be writing its own."""
    import time

    limit = time.time() - older_than
    try:
        folders = [directory] + [e for e in directory.iterdir() if e.is_dir() and not e.is_symlink()]
    except OSError:
        return
    for folder in folders:
        try:
            for entry in folder.glob(TMP_PREFIX + "*"):
                try:
                    if entry.is_file() and not entry.is_symlink() and entry.stat().st_mtime < limit:
                        entry.unlink()
                except OSError:
                    pass
        except OSError:
            pass


def read_limited(path: Path, limit: int) -> Optional[bytes]:
    """The bytes of a regular file no larger than ``limit``; ``None`` otherwise (missing, a FIFO,
    a device, a directory, too big)."""
    from concurlint.source import read_file

    return read_file(path, limit)[0]

#!/usr/bin/env python3
"""Download the pinned releases of packages.toml and unpack their package sources.

    python3 bench/realcode/fetch.py                 # every package (skips what is already there)
    python3 bench/realcode/fetch.py redis celery    # only these
    python3 bench/realcode/fetch.py --force redis   # re-fetch
    python3 bench/realcode/fetch.py --pip "/path/to/python -m pip"

Releases are downloaded forty at a time with ``pip download --no-deps`` (a wheel for CPython 3.11 on
manylinux2014_x86_64, or the sdist when the package says ``dist = "sdist"``), its sha256 is
checked against packages.toml, and the .py files of its importable package directories are copied
to ``bench/realcode/sources/<name>-<version>/`` without tests. A finished directory carries a
``.fetched`` marker; it is skipped next time. This is the only step that uses the network:
review.py reads sources/ only.

Standard library only (Python 3.9+); pip comes from the interpreter running this script unless
``--pip`` says otherwise.
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_EXCLUDE, SOURCES, load_packages, package_dir  # noqa: E402

MARKER = ".fetched"
GROUP = 40  # releases per pip download
WHEEL_TARGET = ["--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--implementation", "cp"]

# A pyproject.toml with no [tool.concurlint] table at the top of sources/: concurlint stops its
# configuration search here, so the repository's own settings never apply to the corpus.
ISOLATING_PYPROJECT = """\
# Written by bench/realcode/fetch.py. No [tool.concurlint] table on purpose: concurlint looks for
# the nearest pyproject.toml, finds this one, and analyses the corpus with its default settings
# rather than with the settings of the repository around it.
"""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(pkg: Dict[str, Any], pip: List[str], into: Path) -> Path:
    spec = f"{pkg['name']}=={pkg['version']}"
    cmd = [*pip, "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", str(into)]
    if pkg["dist"] == "sdist":
        cmd += ["--no-binary", ":all:"]
    else:
        cmd += ["--only-binary", ":all:", *WHEEL_TARGET]
    cmd.append(spec)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip download {spec} failed:\n{proc.stdout}")
    files = [p for p in into.iterdir() if p.is_file()]
    if len(files) != 1:
        raise RuntimeError(f"pip download {spec}: expected one archive, got {[p.name for p in files]}")
    archive = files[0]
    want = pkg.get("sha256")
    got = sha256_of(archive)
    if want and got != want:
        raise RuntimeError(f"{archive.name}: sha256 {got} does not match packages.toml ({want})")
    if not want:
        print(f"  note: no sha256 pinned for {spec}; this download is {got}", file=sys.stderr)
    return archive


def unpack(archive: Path, into: Path) -> Path:
    """Extract the archive; return the directory the package's ``source`` paths are relative to."""
    name = archive.name
    if name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if PurePosixPath(member).is_absolute() or ".." in PurePosixPath(member).parts:
                    raise RuntimeError(f"{name}: unsafe member {member}")
            zf.extractall(into)
    elif name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar")):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                p = PurePosixPath(member.name)
                if p.is_absolute() or ".." in p.parts or not (member.isfile() or member.isdir()):
                    continue
                tf.extract(member, into)
    else:
        raise RuntimeError(f"do not know how to unpack {name}")
    if name.endswith(".whl"):
        return into
    # an sdist has one top folder, <name>-<version>/
    tops = [p for p in into.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else into


def excluded(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) for pat in patterns)


def copy_sources(root: Path, pkg: Dict[str, Any], dest: Path) -> int:
    """Copy the .py files of each source path (minus tests); return the number of lines copied."""
    patterns = (*DEFAULT_EXCLUDE, *pkg["exclude"])
    lines = 0
    for rel in pkg["source"]:
        src = root / rel
        if src.is_file():
            files = [src]
            base = src.parent
        elif src.is_dir():
            base = src.parent
            files = []
            for p in sorted(src.rglob("*.py")):
                parts = p.relative_to(src).parts
                if any(excluded(part, patterns) for part in parts):
                    continue
                files.append(p)
        else:
            raise RuntimeError(f"{pkg['name']}: source {rel!r} is not in the archive")
        for p in files:
            target = dest / p.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
            with p.open("rb") as f:
                lines += sum(1 for _ in f)
    return lines


def download_many(pkgs: List[Dict[str, Any]], pip: List[str], into: Path) -> Dict[str, Path]:
    """One ``pip download`` for a group of releases of one kind (all wheels or all sdists).

    Starting pip once per release is most of a fetch's time; one pip for forty releases is several
    times faster. The archives are matched to their releases by the pinned sha256, so no file-name
    rules are needed. A release left without an archive (no sha256 pinned, or pip failed on the
    group) is downloaded on its own afterwards, which reports its error.
    """
    if not pkgs:
        return {}
    cmd = [*pip, "download", "--no-deps", "--disable-pip-version-check", "-q", "-d", str(into)]
    if pkgs[0]["dist"] == "sdist":
        cmd += ["--no-binary", ":all:"]
    else:
        cmd += ["--only-binary", ":all:", *WHEEL_TARGET]
    cmd += [f"{p['name']}=={p['version']}" for p in pkgs]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    by_sha = {p["sha256"]: p["name"] for p in pkgs if p.get("sha256")}
    found: Dict[str, Path] = {}
    for f in into.iterdir():
        name = by_sha.get(sha256_of(f)) if f.is_file() else None
        if name:
            found[name] = f
    return found


def fetch(pkg: Dict[str, Any], pip: List[str], force: bool, archive: "Path | None" = None) -> str:
    dest = package_dir(pkg)
    if (dest / MARKER).is_file() and not force:
        return "present"
    if dest.exists():
        shutil.rmtree(dest)
    with tempfile.TemporaryDirectory(prefix="realcode-") as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "dl").mkdir()
        (tmpdir / "x").mkdir()
        if archive is None:
            archive = download(pkg, pip, tmpdir / "dl")
        root = unpack(archive, tmpdir / "x")
        # a staging folder of this process's own: two fetches at once (of the same package) must
        # not copy into one folder, or the one renamed first may be missing files
        staging = SOURCES / f".{dest.name}.partial-{os.getpid()}"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        lines = copy_sources(root, pkg, staging)
        (staging / MARKER).write_text(f"{archive.name}\n{sha256_of(archive)}\n{lines} lines\n")
        if (dest / MARKER).is_file():  # another fetch finished it meanwhile: keep that one
            shutil.rmtree(staging)
            return "present"
        staging.rename(dest)
    return f"fetched ({lines} lines)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="only these packages (default: all of packages.toml)")
    ap.add_argument("--force", action="store_true", help="re-fetch even when already present")
    ap.add_argument("--pip", default=None, help="pip command (default: '<this python> -m pip')")
    args = ap.parse_args(argv)

    pip = shlex.split(args.pip) if args.pip else [sys.executable, "-m", "pip"]
    pkgs = load_packages()
    unknown = set(args.names) - {p["name"] for p in pkgs}
    if unknown:
        print(f"fetch.py: not in packages.toml: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    SOURCES.mkdir(parents=True, exist_ok=True)
    (SOURCES / "pyproject.toml").write_text(ISOLATING_PYPROJECT)
    failed = 0
    todo = [p for p in pkgs if (not args.names or p["name"] in args.names)
            and (args.force or not (package_dir(p) / MARKER).is_file())]
    present = len([p for p in pkgs if not args.names or p["name"] in args.names]) - len(todo)
    if present:
        print(f"{present} release(s) already present", flush=True)
    for i in range(0, len(todo), GROUP):
        group = todo[i:i + GROUP]
        with tempfile.TemporaryDirectory(prefix="realcode-many-") as tmp:
            archives = {}
            for kind in ("wheel", "sdist"):
                archives.update(download_many([p for p in group if p["dist"] == kind], pip, Path(tmp)))
            for pkg in group:
                label = f"{pkg['name']}-{pkg['version']}"
                try:
                    status = fetch(pkg, pip, True, archives.get(pkg["name"]))
                except (RuntimeError, OSError) as exc:
                    failed += 1
                    status = f"FAILED: {exc}"
                print(f"{label:32} {status}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

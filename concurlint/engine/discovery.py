"""Which files a run analyses, and what each one is: its display path, dotted module name and
project root (``project_root``: the cache key is the path below it, so a run from any directory and
the flake8 plugin share the cache); and, for files named one by one, the project modules they import
(``imported_project_files``)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from concurlint.config import Config, ConfigError


@dataclass
class SourceFile:
    display: str  # the PATH given joined with the path below it, '/'-separated
    path: Path
    module: str
    is_package: bool
    key: str = ""  # its path relative to the project root (project_root), '/'-separated: the cache key

    def __post_init__(self):
        if not self.key:
            self.key = root_relative(self.path)



# how many directories without __init__.py in a row a package may hold (see _in_package)
MAX_NAMESPACE_GAP = 2


def _in_package(d: Path) -> bool:
    """Whether directory ``d`` is a package Python would import it as, below the top one: it has
    an ``__init__.py``, or it is a namespace portion inside a regular package (PEP 420: a
    directory named like an identifier, without ``__init__.py``, under a package within
    MAX_NAMESPACE_GAP levels: ``betty/test_utils/project/extension/maps`` is
    ``betty.test_utils.project.extension.maps`` though ``project/`` has no ``__init__.py``)."""
    if (d / "__init__.py").is_file():
        return True
    for _ in range(MAX_NAMESPACE_GAP):
        if not d.name.isidentifier() or d.parent == d:
            return False
        d = d.parent
        if (d / "__init__.py").is_file():
            return True
    return False


def module_name(path: Path) -> Tuple[str, bool]:
    """Dotted module name of a file, from the top of its package (directories with __init__.py,
    and namespace portions inside them: _in_package)."""
    path = path.resolve()
    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    d = path.parent
    while d.parent != d and _in_package(d):
        parts.insert(0, d.name)
        d = d.parent
    return ".".join(p for p in parts if p) or path.stem, is_package


# what makes a directory the root of a project, nearest first (see project_root)
PROJECT_FILES = ("pyproject.toml", "setup.cfg")
VCS_DIRS = (".git", ".hg", ".svn")


def project_root(path: Path) -> Path:
    """The root of the project a file belongs to, whatever the working directory: the nearest
    directory above it holding a ``pyproject.toml`` or ``setup.cfg``; else the nearest holding a
    version-control directory (``.git``, ``.hg``, ``.svn``); else the directory above the file's
    outermost package (the one ``python -m pkg.mod`` would run from)."""
    path = Path(os.path.abspath(path))
    return Path(_root_of(str(path.parent), str(path)))


@lru_cache(maxsize=4096)
def _root_of(directory: str, file: str) -> str:
    found = _marked_root(directory)
    if found is not None:
        return found
    d = Path(directory)
    while d.parent != d and _in_package(d):
        d = d.parent
    return str(d)


@lru_cache(maxsize=4096)
def _marked_root(directory: str) -> Optional[str]:
    d = Path(directory)
    chain = [d, *d.parents]
    for p in chain:
        if any((p / name).is_file() for name in PROJECT_FILES):
            return str(p)
    for p in chain:
        if any((p / name).exists() for name in VCS_DIRS):
            return str(p)
    return None


def root_relative(path: Path) -> str:
    """``path`` relative to its project root, '/'-separated (the same from any directory)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(project_root(absolute)).as_posix()
    except ValueError:  # pragma: no cover - the root is an ancestor by construction
        return absolute.as_posix()


def discover(paths: Sequence[str], config: Config) -> List[SourceFile]:
    """Every *.py under the given paths; a missing path is a ConfigError (exit 2)."""
    out: List[SourceFile] = []
    seen = set()
    for raw in paths:
        p = Path(raw)
        if not p.exists() and not p.is_symlink():
            raise ConfigError(f"path '{raw}' does not exist")
        base = raw.rstrip("/\\") or raw
        if p.is_file() or (p.is_symlink() and not p.is_dir()):
            files = [(p, base.replace(os.sep, "/"))]
        else:
            files = []
            for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                d = Path(dirpath)
                dirnames[:] = sorted(n for n in dirnames if not config.is_excluded(d / n / "x.py", p))
                for name in sorted(filenames):
                    if not name.endswith(".py"):
                        continue
                    fp = d / name
                    if config.is_excluded(fp, p):
                        continue
                    rel = fp.relative_to(p).as_posix()
                    display = rel if base in (".", "") else f"{base.replace(os.sep, '/')}/{rel}"
                    files.append((fp, display))
            # a directory named x.py is walked like any directory, never read as a file
        for fp, display in files:
            key = os.path.normcase(os.path.abspath(fp))
            if key in seen:
                continue
            seen.add(key)
            try:
                mod, pkg = module_name(fp)
            except (OSError, RuntimeError):
                mod, pkg = fp.stem, False
            out.append(SourceFile(display, fp, mod, pkg))
    return out


def imported_project_files(facts, path: Path) -> List[Path]:
    """The source files of the project that the module ``facts`` (read from ``path``) imports,
    found where Python would find them: modules of the same top-level package (``from app.maths
    import crunch`` in app/jobs.py -> app/maths.py), or of a package below a directory without
    ``__init__.py`` on the way up, which its code may put on the path (``from worker.db import
    fetch`` in apps/worker/worker/jobs.py -> apps/worker/worker/db.py), or, for a module in no
    package (a script), the modules beside it (``import helpers`` -> helpers.py), and only inside
    the file's project root (``project_root``). Other top-level names are taken to be installed
    libraries: never read (the standard library's ``os`` is not the project's, even in a tree
    that holds an os.py)."""
    if facts is None or not facts.module:
        return []
    levels = facts.module.count(".") + (1 if path.name == "__init__.py" else 0)
    me = Path(os.path.abspath(path))
    base = me.parent
    # (directory, the top-level name imported from it): the package's base, and every directory
    # without __init__.py on the way up (a source root its code may import from: `apps/worker`
    # holding the `worker` package, imported as `worker.state`; Project's namespace aliases)
    roots = []
    for _ in range(levels):
        if not (base / "__init__.py").is_file():
            below = me.relative_to(base).parts[0]
            roots.append((base, below[:-3] if below.endswith(".py") else below))
        base = base.parent
    root = project_root(me)
    inside = base == root or root in base.parents
    top = facts.module.split(".", 1)[0]
    script = levels == 0
    roots.insert(0, (base, top))
    out: List[Path] = []
    # module-level imports, and those made in functions (bound there only, so not in ``imports``)
    for qualname in sorted(set(facts.imports.values()) | {q for q, _line, _col in facts.import_lines}):
        parts = qualname.split(".")
        if script:
            bases = [base]
        else:
            bases = [d for d, name in roots if qualname == name or qualname.startswith(name + ".")]
        for base_dir, n in ((b, n) for b in bases for n in (len(parts), len(parts) - 1)):
            if n < 1:
                continue
            candidate = base_dir.joinpath(*parts[:n])
            for file in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                if file in out or not file.is_file():
                    continue
                if file.resolve() == me.resolve():
                    continue
                if not inside and root not in file.parents:
                    continue  # outside the project
                out.append(file)
    return out



def display_of(file: Path) -> str:
    """The display path `concurlint check .` run here would give ``file``."""
    try:
        return file.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return file.as_posix()


"""``[tool.concurlint]`` discovery, validation and precedence (CLI > pyproject > defaults)."""
from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from concurlint.tomlcompat import TOMLDecodeError, load_toml

TARGET_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.13t", "3.14", "3.14t")
FAIL_ON = ("error", "warning", "info", "never")
KNOWLEDGE_KEYS = ("io", "cpu", "releases-gil", "async-io")
KEYS = (
    "target-version", "select", "ignore", "exclude", "per-file-ignores", "fail-on", "knowledge",
    "probe", "cache-dir", "jobs", "extend-exclude", "min-confidence", "library", "baseline",
)
CONFIDENCE_LEVELS = ("high", "medium", "low")
DEFAULT_EXCLUDES = (".git", ".hg", ".svn", ".venv", "venv", "__pycache__", "build", "dist", ".tox",
                    ".nox", "node_modules", ".eggs", ".mypy_cache", ".pytest_cache", ".concurlint_cache")


class ConfigError(Exception):
    """A user error in configuration or usage: one sentence, exit status 2."""


@dataclass
class Config:
    target_version: Optional[str] = None
    select: Optional[List[str]] = None
    ignore: List[str] = field(default_factory=list)
    exclude: Optional[List[str]] = None  # None: DEFAULT_EXCLUDES; a list replaces them (ruff's rule)
    extend_exclude: List[str] = field(default_factory=list)  # added to either
    per_file_ignores: Dict[str, List[str]] = field(default_factory=dict)
    fail_on: str = "warning"
    min_confidence: str = "high"  # findings below this are not reported (docs/precision.md)
    knowledge: Dict[str, List[str]] = field(default_factory=dict)
    probe: List[dict] = field(default_factory=list)
    cache_dir: Optional[str] = None
    baseline: Optional[str] = None  # absolute path: findings recorded there are not reported
    jobs: Optional[int] = None
    library: bool = False  # library mode: callers run the public API in many threads (docs/free-threading.md)
    # the first Python the project's `requires-python` excludes from above (`<3.14` -> (3, 14)),
    # None when it sets no upper bound: rules about what a newer Python rejects stay quiet there
    python_below: Optional[Tuple[int, int]] = None
    source: Optional[Path] = None  # the pyproject.toml it came from
    root: Optional[Path] = None  # its directory: relative excludes are matched from here

    @property
    def free_threaded(self) -> bool:
        return bool(self.target_version and self.target_version.endswith("t"))

    def version_tuple(self):
        if not self.target_version:
            return None
        v = self.target_version.rstrip("t")
        major, minor = v.split(".")
        return int(major), int(minor)

    def fingerprint(self) -> str:
        """What the per-file facts depend on (for the cache key)."""
        settings: dict = {"knowledge": self.knowledge}
        if self.library:  # only when set: the default keeps the fingerprint (and caches) it always had
            settings["library"] = True
        blob = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def is_excluded(self, path: Path, base: Optional[Path] = None) -> bool:
        return self.excluded_by(path, base) is not None

    def excluded_by(self, path: Path, base: Optional[Path] = None) -> Optional[str]:
        """The pattern that leaves ``path`` (found while walking ``base``) out, or None.
        Without ``exclude`` the built-in junk folders count, and only below the path the user
        named: `concurlint check .venv/lib/.../pkg` analyses pkg. ``exclude`` replaces that list;
        ``extend-exclude`` adds to whichever applies."""
        if self.exclude is None:
            try:
                parts = path.relative_to(base).parts if base is not None else path.parts
            except ValueError:
                parts = path.parts
            for p in parts[:-1]:
                if p in DEFAULT_EXCLUDES:
                    return p + "/"
        patterns = (self.exclude or []) + self.extend_exclude
        if not patterns:
            return None
        rel = _relative(path, self.root)
        for pattern in patterns:
            pat = pattern.rstrip("/")
            if not pat:
                continue
            if fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(rel, pat + "/*") or rel.startswith(pat + "/"):
                return pattern
            if "/" not in pat and any(fnmatch.fnmatch(p, pat) for p in rel.split("/")):
                return pattern
        return None

    def ignored_for(self, path: str) -> List[str]:
        out: List[str] = []
        rel = _relative(Path(path), self.root)
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path, pattern):
                out.extend(codes)
        return out


def _relative(path: Path, root: Optional[Path]) -> str:
    try:
        if root is not None:
            return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        pass
    return path.as_posix()


_BOUND = re.compile(r"^\s*(<=|<|==|~=)\s*(\d+)\.(\d+)(?:\.(\d+|\*))?\s*$")


def python_below(spec: str) -> Optional[Tuple[int, int]]:
    """The first minor version a ``requires-python`` specifier excludes from above: ``<3.14`` and
    ``<=3.13`` -> (3, 14); ``==3.11.*`` -> (3, 12); ``<3.13.2`` -> (3, 14) (3.13.0 and 3.13.1
    are in); no upper bound (``>=3.9``, ``~=3.10``, ``>=3.9,!=3.9.1``) -> None. Unparsable
    clauses are ignored: a bound is only taken from what is certain."""
    best: Optional[Tuple[int, int]] = None
    for clause in spec.split(","):
        m = _BOUND.match(clause)
        if not m:
            continue
        op, major, minor, patch = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        if op == "<":
            bound = (major, minor) if patch in (None, "0") else (major, minor + 1)
        elif op == "~=" and patch in (None, "*"):
            continue  # ~=3.10 allows every 3.x from 3.10 (~=3.10.2 allows 3.10.x only)
        else:  # <=3.13, ==3.11.*, ~=3.10.2
            bound = (major, minor + 1)
        best = bound if best is None else min(best, bound)
    return best


def find_pyproject(start: Path) -> Optional[Path]:
    start = start.resolve()
    d = start if start.is_dir() else start.parent
    for p in [d, *d.parents]:
        candidate = p / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _str_list(value, key: str, source: Path) -> List[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'{key}' in [tool.concurlint] of {source} must be a list of strings")
    return list(value)


def _check_codes(codes: List[str], key: str, source: str) -> List[str]:
    from concurlint.registry import is_known_prefix

    for c in codes:
        if not is_known_prefix(c):
            raise ConfigError(f"unknown rule code '{c}' in '{key}' of {source}")
    return codes


def load_config(start: Path, explicit: Optional[Path] = None) -> Config:
    """The configuration for a run over ``start``: the nearest pyproject.toml with a
    [tool.concurlint] table (or ``explicit``), validated."""
    path = explicit if explicit is not None else find_pyproject(start)
    cfg = Config()
    if path is None:
        return cfg
    if explicit is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = load_toml(path)
    except TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    table = data.get("tool", {}).get("concurlint")
    cfg.source = path
    cfg.root = path.parent
    project = data.get("project")
    if isinstance(project, dict) and isinstance(project.get("requires-python"), str):
        cfg.python_below = python_below(project["requires-python"])
    if table is None:
        return cfg
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.concurlint] in {path} must be a table")
    return apply_table(cfg, table, str(path))


def apply_table(cfg: Config, table: dict, source: str) -> Config:
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"unknown key '{key}' in [tool.concurlint] of {source}")
    src = Path(source)
    if "target-version" in table:
        cfg.target_version = check_target_version(str(table["target-version"]), f"'target-version' in {source}")
    if "select" in table:
        cfg.select = _check_codes(_str_list(table["select"], "select", src), "select", source)
    if "ignore" in table:
        cfg.ignore = _check_codes(_str_list(table["ignore"], "ignore", src), "ignore", source)
    if "exclude" in table:
        cfg.exclude = _str_list(table["exclude"], "exclude", src)
    if "extend-exclude" in table:
        cfg.extend_exclude = _str_list(table["extend-exclude"], "extend-exclude", src)
    if "baseline" in table:
        if not isinstance(table["baseline"], str) or not table["baseline"]:
            raise ConfigError(f"'baseline' in {source} must be a file path (a string)")
        cfg.baseline = str(src.parent / table["baseline"])
    if "fail-on" in table:
        cfg.fail_on = check_fail_on(str(table["fail-on"]), f"'fail-on' in {source}")
    if "min-confidence" in table:
        cfg.min_confidence = check_min_confidence(str(table["min-confidence"]), f"'min-confidence' in {source}")
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"'per-file-ignores' in {source} must be a table of pattern = [codes]")
        for pattern, codes in pfi.items():
            cfg.per_file_ignores[pattern] = _check_codes(
                _str_list(codes, f"per-file-ignores.{pattern}", src), f"per-file-ignores.{pattern}", source)
    if "knowledge" in table:
        kn = table["knowledge"]
        if not isinstance(kn, dict):
            raise ConfigError(f"'knowledge' in {source} must be a table")
        for k, v in kn.items():
            if k not in KNOWLEDGE_KEYS:
                raise ConfigError(f"unknown key 'knowledge.{k}' in [tool.concurlint] of {source}")
            cfg.knowledge[k] = _str_list(v, f"knowledge.{k}", src)
    if "probe" in table:
        probes = table["probe"]
        if not isinstance(probes, list) or not all(isinstance(p, dict) for p in probes):
            raise ConfigError(f"'probe' in {source} must be an array of tables ([[tool.concurlint.probe]])")
        cfg.probe = probes
    if "cache-dir" in table:
        cfg.cache_dir = str(table["cache-dir"])
    if "library" in table:
        if not isinstance(table["library"], bool):
            raise ConfigError(f"'library' in [tool.concurlint] of {source} must be true or false")
        cfg.library = table["library"]
    if "jobs" in table:
        if not isinstance(table["jobs"], int) or table["jobs"] < 1:
            raise ConfigError(f"'jobs' in {source} must be a positive integer")
        cfg.jobs = table["jobs"]
    return cfg


def check_target_version(value: str, where: str) -> str:
    v = value.strip()
    if v.startswith("py3") and v[3:].isdigit():
        v = f"3.{v[3:]}"
    if v not in TARGET_VERSIONS:
        raise ConfigError(f"{where}: '{value}' is not a supported target version ({', '.join(TARGET_VERSIONS)})")
    return v


def check_min_confidence(value: str, where: str) -> str:
    if value not in CONFIDENCE_LEVELS:
        raise ConfigError(f"{where}: '{value}' must be one of {', '.join(CONFIDENCE_LEVELS)}")
    return value


def check_fail_on(value: str, where: str) -> str:
    if value not in FAIL_ON:
        raise ConfigError(f"{where}: '{value}' must be one of {', '.join(FAIL_ON)}")
    return value


def skipped_by_exclusion(paths, config: Config, limit: int = 100_000):
    """(number of *.py files under ``paths`` that exclusion left out, the patterns that did it),
    for the run that analysed nothing. Walks at most ``limit`` files."""
    import os

    count, why, seen = 0, [], 0
    for raw in paths:
        base = Path(raw)
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                seen += 1
                if seen > limit:
                    return count, why
                if not name.endswith(".py"):
                    continue
                reason = config.excluded_by(Path(dirpath) / name, base)
                if reason is not None:
                    count += 1
                    if reason not in why:
                        why.append(reason)
    return count, why

"""A small Python API over the engine, for the probe and for scripts."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from concurlint.config import ConfigError


def _project_paths(path: Path):
    """The files to analyse for a function in ``path``: its whole top-level package, or the file."""
    path = path.resolve()
    d = path.parent
    top = None
    while (d / "__init__.py").is_file():
        top = d
        d = d.parent
    return [str(top)] if top is not None else [str(path)]


def analyse_for(path: str, target_version: Optional[str] = None):
    from concurlint import engine
    from concurlint.config import load_config

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"path '{path}' does not exist")
    config = load_config(p)
    if target_version:
        config.target_version = target_version
    return engine.run(_project_paths(p), config, jobs=1, use_cache=False)


def _find(report, path: str, qualname: str):
    target = Path(path).resolve()
    for m in report.project.modules:
        if Path(m.path).resolve() != target:
            continue
        full = f"{m.module}.{qualname}" if m.module else qualname
        fn = m.functions.get(full)
        if fn is not None:
            return m, fn
    return None, None


def static_verdict(path: str, qualname: str, target_version: Optional[str] = None) -> Optional[dict]:
    """Kind, GIL release, evidence and recommended model of function ``qualname`` (dotted within
    its module, e.g. ``crunch`` or ``Cls.method``) defined in source file ``path``."""
    from concurlint.advice import recommend

    report = analyse_for(path, target_version)
    mod, fn = _find(report, path, qualname)
    if fn is None:
        return None
    s = report.summaries.get(fn.qualname)
    kind = s.kind if s else "unknown"
    rg = s.releases_gil if s else None
    version = None
    ft = False
    if target_version:
        v = target_version.rstrip("t").split(".")
        version = (int(v[0]), int(v[1]))
        ft = target_version.endswith("t")
    current = "asyncio" if fn.is_async else "serial"
    recommended, alternatives, reason = recommend(kind, rg, fn.is_async, current, version, ft)
    return {"qualname": fn.qualname, "kind": kind, "releases_gil": rg, "recommended": recommended,
            "alternatives": alternatives, "reason": reason, "evidence": list(s.evidence) if s else []}


def explain_function(spec: str, target_version: Optional[str] = None) -> str:
    """``concurlint explain --function path.py:Qual.name``: the kind and its evidence chain."""
    path, sep, qualname = spec.rpartition(":")
    if not sep or not path or not qualname:
        raise ConfigError(f"--function takes PATH:QUALNAME (e.g. pkg/mod.py:Cls.method), not '{spec}'")
    verdict = static_verdict(path, qualname, target_version)
    if verdict is None:
        raise ConfigError(f"no function '{qualname}' is defined in {path}")
    lines = [f"{verdict['qualname']}: {verdict['kind']}"]
    if verdict["releases_gil"] is not None:
        lines.append(f"  CPU work {'releases' if verdict['releases_gil'] else 'holds'} the GIL")
    lines.append(f"  best model: {verdict['recommended']} ({verdict['reason']})")
    if verdict["evidence"]:
        lines.append("  evidence:")
        lines += [f"    - {e}" for e in verdict["evidence"]]
    else:
        lines.append("  evidence: none (no IO calls, no heavy loops, no known CPU calls)")
    return "\n".join(lines) + "\n"

"""flake8 front-end (entry point ``CCL``): the same engine, one file at a time.

flake8 hands us the file's ``ast`` tree, so nothing is parsed twice. Functions imported from other
modules of the same project are classified from concurlint's cache when it holds their facts
(written by any ``concurlint check``/``report`` run); otherwise the module is analysed alone.
The configuration is ``[tool.concurlint]`` of the nearest pyproject.toml (flake8 does not read it).
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from concurlint import __version__


@lru_cache(maxsize=32)
def _config_for(directory: str):
    from concurlint.config import ConfigError, load_config

    try:
        return load_config(Path(directory)), None
    except ConfigError as exc:
        return None, str(exc)


@lru_cache(maxsize=4)
def _knowledge(extra_key: str, extra: Tuple[Tuple[str, Tuple[str, ...]], ...]):
    from concurlint import knowledge

    return knowledge.load({k: list(v) for k, v in extra})


class ConcurlintChecker:
    name = "concurlint"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: Optional[List[str]] = None):
        self.tree = tree
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        from concurlint import engine
        from concurlint.registry import enabled_codes

        path = Path(self.filename)
        directory = str(path.resolve().parent) if self.filename not in ("stdin", "-", "") else str(Path.cwd())
        config, error = _config_for(directory)
        if config is None:
            yield 1, 0, f"CCL000 file could not be analysed: {error}", type(self)
            return
        kb = _knowledge(repr(sorted(config.knowledge.items())),
                        tuple((k, tuple(v)) for k, v in sorted(config.knowledge.items())))
        text = "".join(self.lines) if self.lines is not None else path.read_text(encoding="utf-8", errors="replace")
        module, is_package = engine.module_name(path) if path.is_file() else (path.stem, False)
        display = self.filename
        result = _from_tree(self.tree, text, display, module, is_package, kb)
        results = [result] + _project_neighbours(result, path, config)
        codes = enabled_codes(config.select, config.ignore)
        report = engine.run_project(results, config, codes)
        from concurlint.output.text import qualifier

        for f in report.findings:
            if f.path == display:
                yield f.line, f.col, f"{f.code} {f.message}{qualifier(f)}", type(self)


def _from_tree(tree, text, display, module, is_package, kb):
    from concurlint.analysis.facts import extract
    from concurlint.engine import FileResult

    result = FileResult(display, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    try:
        result.facts = extract(tree, text, display, module, is_package, kb)
    except RecursionError:
        result.error = ("nested too deeply to analyse", 1, 0)
    except Exception as exc:  # report, never break the editor's flake8 run
        result.internal = f"analysis failed: {type(exc).__name__}: {exc}"
    return result


def _project_neighbours(result, path: Path, config) -> list:
    """Cached facts of the project modules this file imports, transitively (never parsed here:
    editor latency). Empty when no concurlint run has filled the cache yet."""
    if result.facts is None or not path.is_file():
        return []
    from concurlint import engine
    from concurlint.cache import Cache

    cache_dir = engine.cache_directory(config)
    if not Path(cache_dir).is_dir():
        return []
    cache = Cache(Path(cache_dir), engine.cache_salt(config))
    out = []
    seen = {path.resolve()}
    frontier = [(path, result)]
    while frontier and len(out) < engine.MAX_CONTEXT_FILES:
        nxt = []
        for current, res in frontier:
            for file in engine.imported_project_files(res.facts, current):
                key = file.resolve()
                if key in seen:
                    continue
                seen.add(key)
                mod, pkg = engine.module_name(file)
                data, _err = engine._read(file)  # regular files only, never more than the limit
                if data is None:
                    continue
                hit = cache.get(data, engine.display_of(file), mod, pkg)
                if hit is not None and hit.facts is not None:
                    out.append(hit)
                    nxt.append((file, hit))
        frontier = nxt
    return out

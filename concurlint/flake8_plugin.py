"""flake8 front-end (entry point ``CCL``): the same engine, one file at a time.

flake8 hands us the file's ``ast`` tree, so nothing is parsed twice. The project modules the file
imports (transitively, as ``concurlint check FILE`` reads them: ``engine.with_context``) come from
concurlint's per-file cache, keyed by their path relative to the project root, so a cache filled
by ``concurlint check`` from any directory serves the plugin; a module not cached yet is analysed
here and cached for the next save. So the plugin reports for a file what ``concurlint check FILE``
reports, whatever the cache holds and whatever the working directory.
The configuration is ``[tool.concurlint]`` of the nearest pyproject.toml (flake8 does not read it);
flake8's own option ``--concurlint-min-confidence`` (``concurlint-min-confidence`` in ``.flake8``,
``setup.cfg`` or ``tox.ini``) overrides its ``min-confidence``.
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
    min_confidence: Optional[str] = None  # flake8's --concurlint-min-confidence, when given

    @classmethod
    def add_options(cls, manager) -> None:
        manager.add_option(
            "--concurlint-min-confidence", default=None, parse_from_config=True,
            choices=("high", "medium", "low"),
            help="concurlint: report findings at or above this confidence (default: min-confidence "
                 "of [tool.concurlint] in pyproject.toml, else high)")

    @classmethod
    def parse_options(cls, options) -> None:
        cls.min_confidence = getattr(options, "concurlint_min_confidence", None)

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
        if self.min_confidence and self.min_confidence != config.min_confidence:
            from dataclasses import replace

            config = replace(config, min_confidence=self.min_confidence)
        kb = _knowledge(repr(sorted(config.knowledge.items())),
                        tuple((k, tuple(v)) for k, v in sorted(config.knowledge.items())))
        text = "".join(self.lines) if self.lines is not None else path.read_text(encoding="utf-8", errors="replace")
        module, is_package = engine.module_name(path) if path.is_file() else (path.stem, False)
        display = self.filename
        result = _from_tree(self.tree, text, display, module, is_package, kb)
        results = [result]
        if result.facts is not None and path.is_file():
            sf = engine.SourceFile(display, path, module, is_package)
            results += engine.with_context([sf], [result], config, 1, engine.cache_directory(config), freeze=False)
        codes = enabled_codes(config.select, config.ignore)
        report = engine.run_project(results, config, codes)
        from concurlint.output.text import qualifier

        for f in report.findings:
            if f.path == display:
                yield f.line, f.col, f"{f.code} {f.message}{qualifier(f)}", type(self)


def _from_tree(tree, text, display, module, is_package, kb):
    from concurlint.analysis.facts import extract
    from concurlint.engine import FileResult, _noqa_map

    from concurlint.budget import BudgetExceeded, budget

    result = FileResult(display, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), module=module)
    result.noqa = _noqa_map(text)  # flake8 applies `# noqa` itself; this is for other linters' codes
    try:
        with budget():  # a runaway file is a CCL000, not a hung editor
            result.facts = extract(tree, text, display, module, is_package, kb)
    except BudgetExceeded as exc:
        result.error = (exc.words(), 1, 0)
    except RecursionError:
        result.error = ("nested too deeply to analyse", 1, 0)
    except Exception as exc:  # report, never break the editor's flake8 run
        result.internal = f"analysis failed: {type(exc).__name__}: {exc}"
    return result

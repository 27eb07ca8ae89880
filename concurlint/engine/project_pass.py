"""The project pass, on the facts of every file: resolve names across modules, classify every
function, find the dispatch sites, run the selected rules module by module (a rule that raises
on a module becomes CCL999 for that file), then ``findings.finish``; the report also lists every
function's classification and the recommendations."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from concurlint import __version__
from concurlint.analysis.hints import in_deprecated_code, is_example_code, is_test_code
from concurlint.config import Config
from concurlint.engine.findings import finish
from concurlint.engine.per_file import FileResult
from concurlint.registry import Finding, all_meta, rule_classes


@dataclass
class Report:
    findings: List[Finding]
    functions: List[dict]
    recommendations: List[dict]
    files: int
    project: Optional[object] = None
    summaries: Dict[str, object] = field(default_factory=dict)
    readiness: Optional[List[dict]] = None  # library mode on a free-threaded target (analysis/readiness.py)
    transient: bool = False  # a file or rule ran out of its CPU budget: never cache this report
    # (path, confidence) of each finding not reported only because of --min-confidence
    below: List[tuple] = field(default_factory=list)
    every: List[Finding] = field(default_factory=list)  # `concurlint fix`: the findings at any confidence

    def to_json(self) -> dict:
        doc = {
            "schema": "concurlint-report/1",
            "tool": {"name": "concurlint", "version": __version__},
            "findings": [finding_json(f) for f in self.findings],
            "functions": self.functions,
            "recommendations": self.recommendations,
        }
        if self.readiness is not None:
            doc["readiness"] = self.readiness
        return doc


def finding_json(f: Finding) -> dict:
    out = {
        "code": f.code, "path": f.path, "line": f.line, "col": f.col,
        "end_line": f.end_line, "end_col": f.end_col, "severity": f.severity,
        "message": f.message, "function": f.function, "confidence": f.confidence,
    }
    if f.related:
        out["related"] = f.related
    if f.count > 1:
        out["count"] = f.count
    return out


class Context:
    """What a rule sees: the project, its classification and dispatch sites, the configuration.
    ``report`` builds a finding from the rule's TOML message; ``shared(fn)`` memoises an analysis
    that several rules use (computed once per run)."""

    def __init__(self, project, summaries, sites, config: Config):
        self.project = project
        self.summaries = summaries
        self.sites = sites
        self.config = config
        self.meta = all_meta()
        self._shared: Dict[Callable, object] = {}
        self.sites_by_path: Dict[str, list] = {}
        for s in sites:
            self.sites_by_path.setdefault(s.path, []).append(s)

    def shared(self, fn: Callable):
        if fn not in self._shared:
            from concurlint.budget import paused

            with paused():  # computed once for every module: not the current module's budget
                self._shared[fn] = fn(self)
        return self._shared[fn]

    def kind_of(self, qualname: Optional[str]):
        return self.summaries.get(qualname) if qualname else None

    def report(self, code: str, module, node, *, function: Optional[str] = None,
               related: Optional[List[dict]] = None, snippet: str = "", confidence: str = "high",
               root: Optional[tuple] = None, pattern: Tuple[tuple, ...] = (), **fields) -> Finding:
        meta = self.meta[code]
        try:
            message = meta.message.format(**fields)
        except (KeyError, IndexError) as exc:
            raise RuntimeError(f"{code}: message field {exc} not supplied") from None
        line = getattr(node, "line", 1)
        col = getattr(node, "col", 0)
        if confidence != "low" and is_test_code(module.module, function):
            confidence = "low"  # a test or test helper: rarely worth a maintainer's change
        elif confidence == "high" and in_deprecated_code(self.project, function):
            confidence = "medium"  # @deprecated code is on its way out
        elif confidence == "high" and is_example_code(module.module):
            confidence = "medium"  # an example or a demo shipped with the package
        return Finding(
            code=code, path=module.path, line=line, col=col,
            end_line=getattr(node, "end_line", line) or line, end_col=getattr(node, "end_col", col) or col,
            severity=meta.severity, message=message, function=function,
            related=related or [], snippet=snippet or getattr(node, "text", ""), confidence=confidence,
            root=root, pattern=pattern,
        )


def _target_version(config: Config) -> Optional[str]:
    return config.target_version


def run_project(results: List[FileResult], config: Config, codes: List[str], freeze: bool = False,
                kept: Optional[Tuple[str, str, List[Optional[str]]]] = None) -> Report:
    """``kept``: (cache directory, configuration key, each result's per-file cache key) for a run
    on a tree with a cache: the classification summaries of the last such run are reused where
    what they were computed from is unchanged, and this run's are stored (``summary_store``).
    ``freeze``: for a run that ends with the report (the CLI), move what the pass leaves out of
    the cyclic collector's way, as ``analyse_files`` does with the facts: ~160k objects in cycles
    on the standard library, which its first collection would otherwise traverse (~0.07 s); not
    in a long-lived process (the flake8 plugin), where they must be collected."""
    import gc

    # the pass builds millions of objects and frees few of them: the cyclic collector would
    # re-scan the growing heap again and again (~10% of the pass); the caller's state is restored
    enabled = gc.isenabled()
    gc.disable()
    try:
        report = _run_project(results, config, codes, kept)
        from concurlint.analysis.call_index import checking

        if checking():
            _check_index(report, results, config, codes)
        return report
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def _check_index(report: Report, results: List[FileResult], config: Config, codes: List[str]) -> None:
    """The guard of ``analysis/call_index.py`` (``CONCURLINT_CHECK_INDEX``, set by the test
    suite): the pass again, with every call passing every test of the index, gives the same
    report; otherwise a scan acts on calls its test does not pass."""
    from concurlint.analysis.call_index import IndexDisagrees

    other = _run_project(results, config, codes, None, exhaustive=True)
    if report.to_json() != other.to_json() or report.below != other.below or report.readiness != other.readiness:
        mine = {(f.code, f.path, f.line, f.col, f.message) for f in report.findings}
        theirs = {(f.code, f.path, f.line, f.col, f.message) for f in other.findings}
        raise IndexDisagrees("call index: visiting only the calls that pass its tests changes the report "
                             f"(missing: {sorted(theirs - mine)[:3]}, extra: {sorted(mine - theirs)[:3]}): "
                             "a test in analysis/call_index.py no longer passes every call its analysis uses")


def _unimported(results: List[FileResult]) -> set:
    """Modules that could not be analysed and that no analysed module of their package imports
    (``aioamqp/compat.py``, a leftover in a syntax no supported Python accepts; a module of a
    remote backend nothing loads): their CCL000 is medium. On real packages every such file
    reported at high was a dead leftover or a file of another dialect, true but no hazard
    (docs/precision.md). A package's ``__init__``, a ``__main__`` and a top-level module stay
    high, and so does any file when no other module of its package was analysed (one file
    checked by flake8 or pre-commit). So does a file deep inside a package's tree, below more
    folders without ``__init__.py`` than a package name spans (``nfstream/engine/dependencies/
    libpcap/testprogs/visopts.py``, a vendored library's Python 2 test program): no import names
    it with its package, and when no analysed module imports its bare name, nothing does. An
    import in an ``except`` block or under a test of the Python version does not count: it is
    for the Pythons where another import fails (a Python 2 twin of a Python 3 module)."""
    failed = {r.module for r in results if r.error is not None and "." in r.module
              and not r.module.endswith(".__main__")}
    buried = {r.module for r in results if r.error is not None and "." not in r.module and _buried(r.display)}
    if not failed and not buried:
        return set()
    names = [r.facts.module for r in results if r.facts is not None]
    # a module named only by imports in `except` blocks or under tests of the Python version is
    # for some Pythons only (func-timeout's py2_raise, loaded where `from .py3_raise import ...`
    # raises SyntaxError; Paver's vendored Python 2 path2: rev137b's and rev139a's high debatables)
    every = Counter(q for r in results if r.facts is not None for q, _line, _col in r.facts.import_lines)
    every.subtract(q for r in results if r.facts is not None for q in r.facts.fallback_imports)
    imported = [q for q, n in every.items() if n > 0]
    out = {m for m in buried if names and not any(q == m or q.startswith(m + ".") for q in imported)}
    for m in failed:
        top = m.split(".", 1)[0] + "."
        if any(n.startswith(m + ".") for n in names) or not any(n.startswith(top) for n in names):
            continue  # a package (its modules import it), or nothing of its package to judge by
        if not any(q == m or q.startswith(m + ".") for q in imported):
            out.add(m)
    return out


def _buried(display: str) -> bool:
    """A top-level module's file with a package (a folder holding ``__init__.py``) among the
    folders above its own: it lies inside that package's tree but out of its import names' reach."""
    parent = Path(display).resolve().parent
    return any((d / "__init__.py").is_file() for d in list(parent.parents)[:6])


def _run_project(results: List[FileResult], config: Config, codes: List[str],
                 kept: Optional[Tuple[str, str, List[Optional[str]]]] = None, exhaustive: bool = False) -> Report:
    from concurlint import knowledge
    from concurlint.advice import recommendations
    from concurlint.analysis.classify import classify
    from concurlint.analysis.dispatch import find_sites
    from concurlint.analysis.project import Project
    from concurlint.analysis.call_index import IndexDisagrees
    from concurlint.budget import BudgetExceeded, Meter
    from concurlint.source import CANNOT_PARSE, TEMPLATE

    meta = all_meta()
    findings: List[Finding] = []
    modules = []
    noqa: Dict[str, Dict[int, Optional[Tuple[str, ...]]]] = {}
    unimported = _unimported(results)
    # a file that does not parse among other analysed modules of its package: on real packages
    # each of 20 such findings at high was true and not worth a maintainer's time (a Python 2
    # leftover, a template, a vendored file, code of a newer Python), none a hazard: medium. A
    # file checked alone, and one that cannot be read or is too large, stay high
    packages = {r.module.split(".", 1)[0] for r in results if r.facts is not None}
    for r in results:
        noqa[r.display] = r.noqa
        if r.error is not None:
            msg, line, col = r.error
            findings.append(Finding("CCL000", r.display, line, col, line, col, meta["CCL000"].severity,
                                    meta["CCL000"].message.format(reason=msg),
                                    confidence="low" if msg.startswith(TEMPLATE)
                                    else "medium" if r.module in unimported or (
                                        msg.startswith(CANNOT_PARSE) and r.module.split(".", 1)[0] in packages)
                                    else "high"))
        elif r.internal is not None:
            findings.append(Finding("CCL999", r.display, 1, 0, 1, 0, meta["CCL999"].severity,
                                    meta["CCL999"].message.format(rule="analysis", reason=r.internal)))
        if r.facts is not None:
            modules.append(r.facts)
    kb = knowledge.load(config.knowledge)
    project = Project(modules, kb, config.target_version)
    project.python_below = config.python_below
    if exhaustive:
        from concurlint.analysis.call_index import CallIndex

        project._index = CallIndex(project, exhaustive=True)
    stored = None
    if kept is not None:
        from concurlint.analysis import summary_store

        cache_dir, config_key, keys = kept
        by_facts = {id(r.facts): k for r, k in zip(results, keys) if r.facts is not None and k is not None}
        stored = summary_store.Stored(summary_store.load(cache_dir, config_key), by_facts)
    summaries = classify(project, stored)
    sites = find_sites(project)
    ctx = Context(project, summaries, sites, config)
    classes = rule_classes()
    rules = [classes[c]() for c in codes if c in classes]
    transient = any(r.transient for r in results)
    meter = Meter()  # each rule on each module within the budget, as budget() would
    with meter.installed():
        for mod in modules:
            for rule in rules:
                try:
                    with meter:
                        findings.extend(rule.check(ctx, mod))
                except IndexDisagrees:
                    raise  # the test suite's guard (analysis/call_index.py): stop the run
                except (Exception, BudgetExceeded) as exc:  # one rule failing on one file must not stop the run
                    reason = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, BudgetExceeded):
                        reason, transient = exc.words(), True
                    findings.append(Finding("CCL999", mod.path, 1, 0, 1, 0, meta["CCL999"].severity,
                                            meta["CCL999"].message.format(
                                                rule=f"{rule.code} ({meta[rule.code].name})", reason=reason)))
    below: List[tuple] = []
    findings = finish(findings, noqa, config, codes, below)
    functions = []
    for mod in modules:
        for fn in mod.functions.values():
            if fn.is_lambda:
                continue
            s = summaries.get(fn.qualname)
            functions.append({
                "qualname": fn.qualname, "path": mod.path, "line": fn.line,
                "kind": s.kind if s else "unknown",
                "releases_gil": s.releases_gil if s else None,
                "evidence": list(s.evidence) if s else [],
            })
    functions.sort(key=lambda f: (f["path"], f["line"], f["qualname"]))
    # plumbing is not work: in gather(to_thread(f)) the to_thread site has f's recommendation
    apis = project.kb.table("dispatch").get("sites", {})
    recs = [r for r in recommendations(ctx) if r["function"] not in apis]
    readiness = None
    if config.library and config.free_threaded:
        from concurlint.analysis.readiness import readiness as module_readiness

        readiness = module_readiness(ctx)
    if stored is not None and not transient:
        from concurlint.engine.reuse import trace

        trace(f"classification: {stored.reused} summaries reused, {stored.computed_count} computed")
        trace(f"call index: the answers of {len(project.index.kept)} of {len(modules)} modules reused")
        summary_store.store(cache_dir, config_key, stored)
    return Report(findings, functions, recs, len(results), project, summaries, readiness, transient, below)

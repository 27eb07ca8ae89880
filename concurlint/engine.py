"""The one engine behind every front-end.

1. Per file (in worker processes, cached by content hash): decode, parse once, one traversal
   that extracts the module's facts (``analysis.facts``). A file Python cannot read is CCL000.
2. Per project (cheap, on the facts): resolve names across modules, classify every function,
   find dispatch sites, run the selected rules module by module. A rule that raises on a module
   becomes CCL999 for that file.
3. ``# noqa``, select/ignore and per-file-ignores filter the findings; output is sorted, so it is
   the same for any number of jobs.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from concurlint import __version__
from concurlint.config import Config, ConfigError
from concurlint.registry import CONFIDENCE_RANK, Finding, RuleMeta, all_meta, enabled_codes, rule_classes

# flake8's meaning: a bare "# noqa" silences the line; "# noqa: CCL201,CCL4" silences those prefixes
NOQA_RE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
MAX_FILE_BYTES = 20 * 1024 * 1024


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


@dataclass
class FileResult:
    """What the per-file phase produces: facts, or the CCL000 error that replaced them."""

    display: str
    digest: str
    facts: Optional[object] = None
    error: Optional[Tuple[str, int, int]] = None  # (message, line, col) -> CCL000
    internal: Optional[str] = None  # extractor crash -> CCL999
    transient: bool = False  # ran out of its CPU budget: a result of this run, never cached
    noqa: Dict[int, Optional[Tuple[str, ...]]] = field(default_factory=dict)


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


# ---------------------------------------------------------------- discovery
def module_name(path: Path) -> Tuple[str, bool]:
    """Dotted module name of a file, from the top of its package (directories with __init__.py)."""
    path = path.resolve()
    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    d = path.parent
    while (d / "__init__.py").is_file() and d.parent != d:
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
    while (d / "__init__.py").is_file() and d.parent != d:
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


# ---------------------------------------------------------------- per file
def _noqa_map(text: str) -> Dict[int, Optional[Tuple[str, ...]]]:
    out: Dict[int, Optional[Tuple[str, ...]]] = {}
    if "noqa" not in text and "NOQA" not in text:
        return out
    for i, line in enumerate(text.splitlines(), 1):
        m = NOQA_RE.search(line)
        if m:
            codes = m.group("codes")
            out[i] = tuple(c.upper() for c in re.split(r"[,\s]+", codes) if c) if codes else None
    return out


def analyse_source(data: bytes, display: str, module: str, is_package: bool, knowledge) -> FileResult:
    """The file's facts, or the CCL000 error that replaced them; within the per-file CPU
    budget (``concurlint.budget``), past which the file is a CCL000 and the run goes on."""
    from concurlint import analysis  # noqa: F401  (imported before the budget starts counting)
    from concurlint.analysis import facts  # noqa: F401
    from concurlint.budget import BudgetExceeded, budget

    try:
        with budget():
            return _analyse_source(data, display, module, is_package, knowledge)
    except BudgetExceeded as exc:
        return FileResult(display, hashlib.sha256(data).hexdigest(), error=(exc.words(), 1, 0), transient=True)


def _analyse_source(data: bytes, display: str, module: str, is_package: bool, knowledge) -> FileResult:
    from concurlint.analysis.facts import extract
    from concurlint.source import InputError, decode, parse

    digest = hashlib.sha256(data).hexdigest()
    result = FileResult(display, digest)
    try:
        if len(data) > MAX_FILE_BYTES:
            raise InputError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not analysed")
        text = decode(data)
        result.noqa = _noqa_map(text)
        tree = parse(text, display)
    except InputError as exc:
        result.error = (exc.message, exc.line, exc.col)
        return result
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        result.facts = extract(tree, text, display, module, is_package, knowledge)
    except RecursionError:
        result.error = ("nested too deeply to analyse", 1, 0)
    except Exception as exc:  # a bug of ours on this file: report it, go on with the rest
        result.internal = f"analysis failed: {type(exc).__name__}: {exc}"
    finally:
        sys.setrecursionlimit(old)
    return result


# Contents to analyse instead of the file's, by absolute path: `concurlint fix` re-analyses the
# text it fixed in memory (--diff never writes it). Forked workers inherit it.
OVERLAY: Dict[str, bytes] = {}


def _read(path: Path) -> Tuple[Optional[bytes], Optional[str]]:
    from concurlint.source import read_file

    if OVERLAY:
        data = OVERLAY.get(os.path.abspath(path))
        if data is not None:
            return data, None
    return read_file(path, MAX_FILE_BYTES)


# worker-process state, set once per worker
_WORKER: Dict[str, object] = {}


def _worker_init(knowledge_extra, cache_dir, cache_salt, parent: int = 0):
    import gc

    from concurlint import knowledge

    _follow_parent(parent)
    _WORKER["kb"] = knowledge.load(knowledge_extra)
    _WORKER["cache"] = _make_cache(cache_dir, cache_salt)
    # everything inherited from the parent or imported so far lives as long as the worker:
    # keep it out of every collection (copy-on-write pages stay shared, collections stay short);
    # the parent forked us while loading with the collector off: per file it is off anyway
    gc.freeze()
    gc.enable()


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _follow_parent(parent: int) -> None:
    """A worker never outlives the run that started it. The parent stops its workers itself
    on Ctrl-C and SIGTERM (``_stop_pool``); a worker ignores SIGINT (a Ctrl-C reaches the
    whole process group: the parent decides) and dies of SIGTERM without Python's handlers
    (a forked worker inherits the CLI's). When the parent is killed outright (SIGKILL, a
    crash), nobody stops the workers, so each one watches: on Linux the kernel sends it
    SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); everywhere, a daemon thread exits
    the worker once its parent process is no longer the one that started it."""
    import signal
    import threading

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):  # pragma: no cover - not the main thread
        pass
    if hasattr(signal, "pthread_sigmask"):  # blocked by the parent while it forked us (_in_pool)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    if not parent:
        return
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError, ValueError):
            pass
    if os.getppid() != parent:  # it died before we were watching
        os._exit(1)

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="concurlint-parent-watch", daemon=True).start()


def _quiet_cancelled_futures() -> None:
    """When its workers are killed, the pool's manager thread fails every pending future; one
    that was already cancelled raises ``InvalidStateError`` in that thread (a CPython race, seen
    on 3.11 under load) and prints a traceback. That is our own stop, not an error: keep quiet."""
    import threading
    from concurrent.futures import InvalidStateError

    previous = threading.excepthook
    if getattr(previous, "concurlint_quiet", False):
        return

    def hook(args):
        if args.exc_type is not None and issubclass(args.exc_type, InvalidStateError):
            return
        previous(args)

    hook.concurlint_quiet = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _stop_pool(pool) -> None:
    """Stop a process pool's workers now, queued files and all (SIGKILL: a worker holds nothing
    that needs cleaning up; its cache writes are atomic)."""
    _quiet_cancelled_futures()
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        try:
            p.kill()
        except (OSError, ValueError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join(5)
        except (OSError, ValueError, AttributeError, AssertionError):
            pass


def _worker_run(sf: SourceFile) -> FileResult:
    # the parent already looked this file up in the cache: it is a miss
    return _analyse_file(sf, _WORKER["kb"], _WORKER["cache"], lookup=False)


def _make_cache(cache_dir, salt):
    if cache_dir is None:
        return None
    from concurlint.cache import Cache

    return Cache(Path(cache_dir), salt)


def _analyse_file(sf: SourceFile, kb, cache, data: Optional[bytes] = None, lookup: bool = True) -> FileResult:
    import gc

    if data is None:
        data, err = _read(sf.path)
        if data is None:
            return FileResult(sf.display, "", error=(err or "cannot read", 1, 0))
    if cache is not None and lookup:
        hit = _cached(cache, data, sf)
        if hit is not None:
            return hit
    # a syntax tree and its facts are hundreds of thousands of acyclic objects: reference
    # counting frees them; the cyclic collector would only re-scan them many times over
    enabled = gc.isenabled()
    gc.disable()
    try:
        result = analyse_source(data, sf.display, sf.module, sf.is_package, kb)
    finally:
        if enabled:
            gc.enable()
    if cache is not None and result.internal is None and not result.transient:
        cache.put(data, sf.key, sf.module, sf.is_package, result)
    return result


def _cached(cache, data: bytes, sf: SourceFile) -> Optional[FileResult]:
    """The cached facts of ``sf`` (keyed by its root-relative path, so a run from any directory
    and the flake8 plugin share them), shown under this run's display path."""
    hit = cache.get(data, sf.key, sf.module, sf.is_package)
    if hit is not None and hit.display != sf.display:
        hit.display = sf.display
        if hit.facts is not None:
            hit.facts.path = sf.display
    return hit


# below this many files to analyse, starting worker processes costs more than it saves
_MIN_POOL_FILES = 8


def analyse_files(files: List[SourceFile], config: Config, jobs: int, cache_dir: Optional[str],
                  progress: Optional[Callable[[int, int], None]] = None, freeze: bool = True) -> List[FileResult]:
    """Facts of every file, in the order of ``files``. Cached files are loaded here, in this
    process (reading + hashing the whole stdlib costs ~15 ms); only the misses are analysed,
    in worker processes when there are enough of them. A warm run therefore never starts a
    pool, never imports LibCST, and never pickles facts through a pipe."""
    import gc

    salt = cache_salt(config)
    cache = _make_cache(cache_dir, salt)
    total = len(files)
    results: List[Optional[FileResult]] = [None] * total
    pending: List[int] = []
    data_of: Dict[int, bytes] = {}
    done = 0
    gc_enabled = gc.isenabled()
    # unpickling facts creates millions of objects and no garbage: do not let the collector
    # traverse them again and again while they load
    gc.disable()
    try:
        for i, sf in enumerate(files):
            if cache is None:
                pending.append(i)
                continue
            data, err = _read(sf.path)
            if data is None:
                results[i] = FileResult(sf.display, "", error=(err or "cannot read", 1, 0))
            else:
                results[i] = _cached(cache, data, sf)
            if results[i] is None:
                pending.append(i)
                if data is not None and (jobs <= 1 or len(files) < _MIN_POOL_FILES):
                    data_of[i] = data
                continue
            done += 1
            if progress:
                progress(done, total)
        serial = list(pending) if jobs <= 1 or len(pending) < _MIN_POOL_FILES else []
        if pending and not serial:
            # largest files first so that one big file does not finish last on its own
            order = sorted(pending, key=lambda i: -_size(files[i].path))
            pooled = _in_pool(files, order, jobs, config, cache_dir, salt)
            try:
                for i, res in pooled:
                    results[i] = res
                    done += 1
                    if progress:
                        progress(done, total)
            finally:
                pooled.close()  # interrupted between two results: stop the workers now, not at exit
            # what a pool that could not start or broke down (no semaphores on a full /dev/shm,
            # a worker killed by the OOM killer) left undone is analysed here
            serial = [i for i in pending if results[i] is None]
        if serial:
            from concurlint import knowledge

            kb = knowledge.load(config.knowledge)
            for i in serial:
                results[i] = _analyse_file(files[i], kb, cache, data=data_of.pop(i, None), lookup=False)
                done += 1
                if progress:
                    progress(done, total)
    finally:
        if gc_enabled:
            gc.enable()
    # the facts live until the report is written: move them out of the collector's way, so the
    # project pass's own collections do not re-scan millions of objects (~25% of that pass);
    # not in a long-lived process that analyses file after file (the flake8 plugin)
    if freeze:
        gc.freeze()
    return [r for r in results if r is not None]


def _in_pool(files: List[SourceFile], order: List[int], jobs: int, config: Config, cache_dir: Optional[str],
             salt: str) -> Iterable[Tuple[int, FileResult]]:
    """(index, result) for the files ``order`` names, analysed in worker processes, as they
    finish; stops early (without raising) when the pool cannot start or breaks."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    try:
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(order)), mp_context=ctx, initializer=_worker_init,
                                   initargs=(config.knowledge, cache_dir, salt, os.getpid()))
    except OSError:
        return
    # the workers are forked during the first submit, with the parent's Python signal handlers:
    # until _worker_init has set their own, a Ctrl-C or SIGTERM would raise in them (a traceback
    # on stderr). Keep those signals blocked while forking; they are delivered right after.
    masked = hasattr(signal, "pthread_sigmask")
    if masked:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        try:
            results = pool.map(_worker_run, [files[i] for i in order], chunksize=1)
        finally:
            if masked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        for i, res in zip(order, results):
            yield i, res
    except (BrokenProcessPool, OSError):
        _stop_pool(pool)
        return
    except BaseException:
        # Ctrl-C, SIGTERM (cli: ``Terminated``), a broken pipe: the workers would go on with
        # the queued files (``shutdown`` waits for them): stop them now
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


_FACT_SOURCES = ("engine.py", "source.py", "knowledge.py", "analysis/facts.py", "analysis/cst_to_ast.py",
                 "analysis/extractor.py", "analysis/scopes.py", "analysis/values.py", "analysis/calls.py",
                 "analysis/loops.py", "analysis/state.py", "analysis/structure.py")


def cache_salt(config: Config) -> str:
    """What cached per-file facts depend on besides the file: the version, the user's knowledge
    config, and the code and knowledge base that compute facts (so an upgraded or edited
    install never reads stale facts)."""
    return f"{__version__}:{config.fingerprint()}:{_code_fingerprint()}"


def _hash_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        try:
            h.update(p.name.encode() + b"\0" + p.read_bytes())
        except OSError:
            h.update(p.name.encode())
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def _code_fingerprint() -> str:
    """The code and knowledge base that compute per-file facts."""
    from concurlint.knowledge import rules_dir

    here = Path(__file__).resolve().parent
    return _hash_files([here / name for name in _FACT_SOURCES]
                       + sorted((rules_dir() / "knowledge").glob("*.toml")))


@lru_cache(maxsize=None)
def _all_code_fingerprint() -> str:
    """Every concurlint module and rule file: a changed rule changes the report."""
    from concurlint.knowledge import rules_dir

    here = Path(__file__).resolve().parent
    return _hash_files(sorted(here.rglob("*.py")) + sorted(rules_dir().rglob("*.toml")))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# ---------------------------------------------------------------- project pass
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
               root: Optional[tuple] = None, **fields) -> Finding:
        meta = self.meta[code]
        try:
            message = meta.message.format(**fields)
        except (KeyError, IndexError) as exc:
            raise RuntimeError(f"{code}: message field {exc} not supplied") from None
        line = getattr(node, "line", 1)
        col = getattr(node, "col", 0)
        return Finding(
            code=code, path=module.path, line=line, col=col,
            end_line=getattr(node, "end_line", line) or line, end_col=getattr(node, "end_col", col) or col,
            severity=meta.severity, message=message, function=function,
            related=related or [], snippet=snippet or getattr(node, "text", ""), confidence=confidence,
            root=root,
        )


def _target_version(config: Config) -> Optional[str]:
    return config.target_version


def run_project(results: List[FileResult], config: Config, codes: List[str]) -> Report:
    from concurlint import knowledge
    from concurlint.advice import recommendations
    from concurlint.analysis.classify import classify
    from concurlint.analysis.dispatch import find_sites
    from concurlint.analysis.project import Project
    from concurlint.budget import BudgetExceeded, budget

    meta = all_meta()
    findings: List[Finding] = []
    modules = []
    noqa: Dict[str, Dict[int, Optional[Tuple[str, ...]]]] = {}
    for r in results:
        noqa[r.display] = r.noqa
        if r.error is not None:
            msg, line, col = r.error
            findings.append(Finding("CCL000", r.display, line, col, line, col, meta["CCL000"].severity,
                                    meta["CCL000"].message.format(reason=msg)))
        elif r.internal is not None:
            findings.append(Finding("CCL999", r.display, 1, 0, 1, 0, meta["CCL999"].severity,
                                    meta["CCL999"].message.format(rule="analysis", reason=r.internal)))
        if r.facts is not None:
            modules.append(r.facts)
    kb = knowledge.load(config.knowledge)
    project = Project(modules, kb, config.target_version)
    summaries = classify(project)
    sites = find_sites(project)
    ctx = Context(project, summaries, sites, config)
    classes = rule_classes()
    rules = [classes[c]() for c in codes if c in classes]
    transient = any(r.transient for r in results)
    for mod in modules:
        for rule in rules:
            try:
                with budget():
                    findings.extend(rule.check(ctx, mod))
            except (Exception, BudgetExceeded) as exc:  # one rule failing on one file must not stop the run
                reason = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, BudgetExceeded):
                    reason, transient = exc.words(), True
                findings.append(Finding("CCL999", mod.path, 1, 0, 1, 0, meta["CCL999"].severity,
                                        meta["CCL999"].message.format(
                                            rule=f"{rule.code} ({meta[rule.code].name})", reason=reason)))
    marked = [f for f in findings if _acknowledged(f, noqa)]
    acknowledged = {(f.code, f.root) for f in marked if f.root is not None}
    for f in findings:  # the line (or, for one cause, any of its places) silences the same hazard
        if (f.code, f.root) in acknowledged:
            f.confidence = "low"
    for f in marked:
        f.confidence = "low"
    floor = CONFIDENCE_RANK[config.min_confidence]
    findings = [f for f in findings if f.code in codes and not _suppressed(f, noqa, config)
                and CONFIDENCE_RANK[f.confidence] >= floor]
    findings = _one_per_cause(_dedupe(sorted(findings, key=Finding.sort_key)))
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
    return Report(findings, functions, recs, len(results), project, summaries, readiness, transient)


# other linters' codes for the same hazard: a line that silences one of them was read by its
# maintainer, who chose to keep it; the finding stays, at low confidence (docs/precision.md)
EQUIVALENT_CODES = {
    "CCL501": ("ASYNC2",),  # flake8-async / ruff ASYNC210-251: a blocking call in an async function
    "CCL504": ("ASYNC2",),
    "CCL503": ("RUF006",),  # ruff: asyncio-dangling-task
}


def _acknowledged(f: Finding, noqa) -> bool:
    codes = noqa.get(f.path, {}).get(f.line, ())
    prefixes = EQUIVALENT_CODES.get(f.code)
    return bool(codes and prefixes) and any(c.upper().startswith(prefixes) for c in codes)


def _suppressed(f: Finding, noqa, config: Config) -> bool:
    codes = noqa.get(f.path, {}).get(f.line, ())
    if codes is None:
        return True
    if codes and any(f.code.startswith(c) for c in codes):
        return True
    ignored = config.ignored_for(f.path) if config.per_file_ignores else []
    return any(f.code.startswith(c) for c in ignored)


def _one_per_cause(findings: List[Finding]) -> List[Finding]:
    """Findings of one rule that share a root cause (one blocking helper reached from many
    coroutines) become one finding: the first place, the most confident, with the others as
    ``related`` locations and their number in ``count``."""
    groups: Dict[tuple, List[Finding]] = {}
    for f in findings:
        if f.root is not None:
            groups.setdefault((f.code, f.root), []).append(f)
    drop = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        best = max(members, key=lambda f: CONFIDENCE_RANK[f.confidence])  # first of the most confident
        for f in members:
            if f is best:
                continue
            drop.add(id(f))
            where = f" in {f.function}" if f.function else ""
            best.related.append({"path": f.path, "line": f.line, "col": f.col,
                                 "message": f"the same cause is also reached here{where}"})
        best.count = len(members)
    return [f for f in findings if id(f) not in drop]


def _dedupe(findings: List[Finding]) -> List[Finding]:
    out = []
    last = None
    for f in findings:
        key = (f.code, f.path, f.line, f.col, f.message)
        if key != last:
            out.append(f)
        last = key
    return out


def cache_directory(config: Config) -> str:
    """``cache-dir`` / $CONCURLINT_CACHE_DIR, else .concurlint_cache beside the project's
    pyproject.toml, else the user's cache directory (never litter a random working directory)."""
    cache_dir = config.cache_dir or os.environ.get("CONCURLINT_CACHE_DIR")
    if cache_dir is not None:
        if config.root is not None and not os.path.isabs(cache_dir):
            return str(config.root / cache_dir)
        return cache_dir
    if config.root is not None:
        return str(config.root / ".concurlint_cache")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "concurlint")


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def imported_project_files(facts, path: Path) -> List[Path]:
    """The source files of the project that the module ``facts`` (read from ``path``) imports,
    found where Python would find them: modules of the same top-level package (``from app.maths
    import crunch`` in app/jobs.py -> app/maths.py), or, for a module in no package (a script),
    the modules beside it (``import helpers`` -> helpers.py), and only inside the file's project
    root (``project_root``). Other top-level names are taken to be installed libraries: never read
    (the standard library's ``os`` is not the project's, even in a tree that holds an os.py)."""
    if facts is None or not facts.module:
        return []
    levels = facts.module.count(".") + (1 if path.name == "__init__.py" else 0)
    me = Path(os.path.abspath(path))
    base = me.parent
    for _ in range(levels):
        base = base.parent
    root = project_root(me)
    inside = base == root or root in base.parents
    top = facts.module.split(".", 1)[0]
    script = levels == 0
    out: List[Path] = []
    for qualname in sorted(set(facts.imports.values())):
        if not script and qualname != top and not qualname.startswith(top + "."):
            continue
        parts = qualname.split(".")
        for n in (len(parts), len(parts) - 1):
            if n < 1:
                continue
            candidate = base.joinpath(*parts[:n])
            for file in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                if file in out or not file.is_file():
                    continue
                if file.resolve() == me.resolve():
                    continue
                if not inside and root not in file.parents:
                    continue  # outside the project
                out.append(file)
    return out


MAX_CONTEXT_FILES = 400


def display_of(file: Path) -> str:
    """The display path `concurlint check .` run here would give ``file``."""
    try:
        return file.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return file.as_posix()


def with_context(files: List[SourceFile], results: List[FileResult], config: Config, jobs: int,
                 cache_dir: Optional[str], freeze: bool = True) -> List[FileResult]:
    """For files named one by one (pre-commit passes only the changed ones; flake8 one at a
    time), also read the project modules they import, transitively (breadth-first, at most
    MAX_CONTEXT_FILES), from the cache or analysed here, so that a helper in another module is
    still classified. Those context files' findings are not reported. The flake8 plugin and
    ``concurlint check FILE`` both come here: the same file gets the same findings."""
    seen = {sf.path.resolve() for sf in files}
    frontier = [(sf.path, r) for sf, r in zip(files, results)]
    context: List[FileResult] = []
    while frontier and len(context) < MAX_CONTEXT_FILES:
        wanted: List[SourceFile] = []
        for path, r in frontier:
            for f in imported_project_files(r.facts, path):
                key = f.resolve()
                if key in seen or len(seen) - len(files) >= MAX_CONTEXT_FILES:
                    continue
                seen.add(key)
                mod, pkg = module_name(f)
                wanted.append(SourceFile(display_of(f), f, mod, pkg))
        if not wanted:
            break
        got = analyse_files(wanted, config, jobs, cache_dir, freeze=freeze)
        context.extend(r for r in got if r.facts is not None)
        frontier = [(sf.path, r) for sf, r in zip(wanted, got) if r.facts is not None]
    return context


def run(paths: Sequence[str], config: Config, *, select: Optional[List[str]] = None,
        ignore: Optional[List[str]] = None, jobs: Optional[int] = None, use_cache: bool = True,
        progress: Optional[Callable[[int, int], None]] = None) -> Report:
    """Analyse ``paths`` and return the report (findings, functions, recommendations)."""
    files = discover(paths, config)
    sel = select if select is not None else config.select
    ign = (config.ignore or []) + (ignore or [])
    codes = enabled_codes(sel, ign)
    cache_dir = cache_directory(config) if use_cache else None
    key = None
    # files named one by one pull in the project modules they import (see with_context): the
    # report then depends on files not in the key, so the whole-report cache is for trees only
    explicit = any(Path(p).is_file() for p in paths)
    if cache_dir is not None and not explicit:
        from concurlint.cache import load_report, store_report

        key = _report_key(files, config, codes)
        cached = load_report(cache_dir, key) if key is not None else None
        if cached is not None:
            return cached
    n = jobs or config.jobs or default_jobs()
    results = analyse_files(files, config, n, cache_dir, progress)
    if explicit:
        context = with_context(files, results, config, n, cache_dir)
        if context:
            report = run_project(results + context, config, codes)
            _only(report, {sf.display for sf in files})
            return report
    report = run_project(results, config, codes)
    if key is not None and not report.transient:  # a timeout belongs to this run, not to the input
        store_report(cache_dir, key, Report(report.findings, report.functions, report.recommendations,
                                            report.files, readiness=report.readiness))
    return report


def _only(report: Report, displays: set) -> None:
    """Keep what belongs to the requested files (context files were read for their facts only)."""
    report.findings = [f for f in report.findings if f.path in displays]
    report.functions = [f for f in report.functions if f["path"] in displays]
    report.recommendations = [r for r in report.recommendations if r["path"] in displays]
    if report.readiness is not None:
        report.readiness = [m for m in report.readiness if m["path"] in displays]
    report.files = len(displays)


def _report_key(files: List[SourceFile], config: Config, codes: List[str]) -> Optional[str]:
    """Everything a whole report depends on: every file's path and content, the configuration,
    the enabled rules, and the code of concurlint itself (rules included). Hashing the standard
    library's 11 MB costs ~20 ms, so an unchanged project is answered without any analysis."""
    h = hashlib.sha256()
    h.update(f"{__version__}\0{_all_code_fingerprint()}\0{cache_salt(config)}\0".encode())
    h.update(repr((config.target_version, sorted(config.per_file_ignores.items()), codes, config.min_confidence)).encode("utf-8", "surrogateescape"))
    for sf in files:
        data, err = _read(sf.path)
        if data is None:  # its CCL000 depends only on why it cannot be read
            data = f"<{err}>".encode("utf-8", "surrogateescape")
        h.update(f"\0{sf.display}\0{sf.module}\0{sf.is_package}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
        h.update(data)
    return h.hexdigest()


def rule_meta(code: str) -> RuleMeta:
    return all_meta()[code]


def iter_codes() -> Iterable[str]:
    return sorted(all_meta())

"""What happens to the rules' findings before they are reported: a line's ``# noqa`` (and another
linter's code for the same hazard, ``EQUIVALENT_CODES``), select/ignore, per-file-ignores and
``min-confidence`` filter them; then one finding per place and per root cause (``Finding.root``)."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from concurlint.analysis.hints import leftover_copy
from concurlint.config import Config
from concurlint.engine.per_file import DELIBERATE
from concurlint.registry import CONFIDENCE_RANK, Finding, all_meta


def finish(findings: List[Finding], noqa, config: Config, codes: List[str],
           below: Optional[List[Tuple[str, str]]] = None) -> List[Finding]:
    """The findings to report, sorted: filtered, deduplicated, one per cause. ``below`` receives
    the (path, confidence) of each finding left out only for its confidence, one per cause."""
    _calibrate(findings, config)
    marked = [f for f in findings if _acknowledged(f, noqa)]
    acknowledged = {(f.code, f.root) for f in marked if f.root is not None}
    for f in findings:  # the line (or, for one cause, any of its places) silences the same hazard
        if (f.code, f.root) in acknowledged:
            f.confidence = "low"
    for f in marked:
        f.confidence = "low"
    floor = CONFIDENCE_RANK[config.min_confidence]
    findings = [f for f in findings if f.code in codes and not _suppressed(f, noqa, config)]
    _echoes(findings)
    if below is not None:
        hidden = [f for f in findings if CONFIDENCE_RANK[f.confidence] < floor]
        below.extend((f.path, f.confidence) for f in _one_per_cause(_dedupe(sorted(hidden, key=Finding.sort_key))))
    findings = [f for f in findings if CONFIDENCE_RANK[f.confidence] >= floor]
    return _one_per_cause(_dedupe(sorted(findings, key=Finding.sort_key)))


def _echoes(findings: List[Finding]) -> None:
    """One pattern repeated (``shutil.rmtree`` on the loop in three methods of one store class,
    the same ``time.sleep`` in the coroutines of every class of a module written from one
    template, one synchronous client library in the coroutines of several modules of a package,
    one coroutine that blocks at three places, futures dropped by three submits to one pool, the
    same method of a module copied to make a variant) is one cause to fix: the first place keeps
    its confidence and lists the others as ``related``; the others, each with its own message
    and fix, are medium at most (shown with ``--min-confidence medium``). On real packages,
    reviewers judged such repeats debatable more often than not (docs/precision.md)."""
    leads: Dict[tuple, Finding] = {}
    for f in sorted(findings, key=Finding.sort_key):
        if not f.pattern or f.confidence != "high":
            continue
        # a pattern is one file's, except a library client's and an async twin's, which span their
        # package's modules
        keys = [(f.code, p) if p[0] in ("library", "twin") else (f.code, f.path, p) for p in f.pattern] \
            + _copy_key(f)
        lead = next((leads[k] for k in keys if k in leads), None)
        if lead is None:
            leads.update((k, f) for k in keys)
            continue
        for k in keys:  # a pattern an echo shares with later places leads back to the same lead
            leads.setdefault(k, lead)
        if lead.root is not None and lead.root == f.root:
            continue  # the same cause, which _one_per_cause makes one finding
        f.was, f.confidence = f.confidence, "medium"
        lead.echoes += 1
        where = f" in {f.function}" if f.function else ""
        lead.related.append({"path": f.path, "line": f.line, "col": f.col,
                             "message": f"the same pattern again{where} (reported at medium confidence)"})


def _copy_key(f: Finding) -> List[tuple]:
    """The same method of a class of the same name (or function of a module of the same name),
    with the same message, in another module: a module copied to make a variant (babeldoc's
    ``rpc_doclayout2.py`` ... ``rpc_doclayout5.py``, each ``RpcDocLayoutModel.predict`` dropping
    the same future) is one pattern to fix."""
    parts = (f.function or "").split(".")
    if len(parts) < 3:
        return []
    # a class's method, or a module's function: `service.version` in `pkg/legacy/ui/api/service.py`
    # and in `pkg/ui/service/api/service.py`, the module copied into the new UI
    keys = [(f.code, "copy", ".".join(parts[-2:]), f.message)]
    if parts[-2][:1].isupper():
        # a method copied into a sibling class of the same package: `Proxy.debug` and
        # `Relay.debug`, each clearing the terminal with os.system('clear') on the loop (ouija,
        # rev129a's high debatable)
        keys.append((f.code, "copy-method", parts[0], parts[-1], f.message))
    return keys


def _calibrate(findings: List[Finding], config: Config) -> None:
    """No finding is surer than its rule's record: a rule whose high-confidence findings were
    mostly wrong on real packages it had never seen reports at most its ``ceiling``. In library
    mode the user declares that every public function runs in many threads at once, which is what
    the shared-state rules (CCL2) got wrong there, so their findings keep their confidence."""
    metas = all_meta()
    for f in findings:
        if leftover_copy(f.path):
            f.confidence = "low"  # a file kept beside the real one that no import can load
            continue
        if config.library and f.code.startswith("CCL2"):
            continue
        meta = metas.get(f.code)
        if meta is not None and CONFIDENCE_RANK[f.confidence] > CONFIDENCE_RANK[meta.ceiling]:
            f.confidence = meta.ceiling


# other linters' codes for the same hazard: a line that silences one of them was read by its
# maintainer, who chose to keep it; the finding stays, at low confidence (docs/precision.md)
EQUIVALENT_CODES = {
    # flake8-async / ruff ASYNC210-251: a blocking call in an async function; ruff before 0.5
    # numbered the same checks ASYNC100 (HTTP), ASYNC101 (open, sleep, subprocess), ASYNC102 (os)
    "CCL501": ("ASYNC2", "ASYNC100", "ASYNC101", "ASYNC102"),
    "CCL504": ("ASYNC2",),
    "CCL503": ("RUF006",),  # ruff: asyncio-dangling-task
}


def _acknowledged(f: Finding, noqa) -> bool:
    codes = noqa.get(f.path, {}).get(f.line, ())
    prefixes = EQUIVALENT_CODES.get(f.code)
    if codes and prefixes and any(c.upper().startswith(prefixes) for c in codes):
        return True
    if f.code not in BLOCKING_CODES:
        return False
    # a comment at the finding or at the blocking call itself (the cause's root) says the code
    # blocks on purpose ("intentionally block the whole bridge until the proxy change applied")
    places = [(f.path, f.line)] + ([(f.root[0], f.root[1])] if f.root else [])
    return any(DELIBERATE in (noqa.get(path, {}).get(line) or ()) for path, line in places)


BLOCKING_CODES = frozenset({"CCL501", "CCL504"})


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
    ``related`` locations and their number in ``count``. When the cause is one of the places (a
    file opened, then read and written; a client made, then used), the finding stays there if it
    is as sure as the surest; otherwise the surest place names the cause (``proc.wait()``, not the
    ``Popen()`` that made the process: the message names the call that waits longest)."""
    groups: Dict[tuple, List[Finding]] = {}
    for f in findings:
        if f.root is not None:
            groups.setdefault((f.code, f.root), []).append(f)
    drop = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        # first of the most confident (as judged before a repeat of a pattern was lowered: the
        # place that waits stays the one named)
        best = max(members, key=lambda f: CONFIDENCE_RANK[f.was or f.confidence])
        at_root = [f for f in members if (f.path, f.line, f.col) == tuple(f.root)[:3]]
        if at_root and CONFIDENCE_RANK[at_root[0].was or at_root[0].confidence] >= CONFIDENCE_RANK[best.was or best.confidence]:
            best = at_root[0]  # one file opened and used: reported at the open()
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


"""Free-threading readiness: per module, the shared mutable state, how it is guarded, a verdict.

Computed in library mode for a free-threaded target (``--library --target-version 3.13t|3.14t``),
from the same facts as the library-mode rules (``checks.library``). Listed per module:

- every module global, and every class attribute assigned in a class body, that some function
  changes after import (writes, mutations, ``+=``); state only written at import time is not
  mutable shared state and is not listed;
- ``guarded_by``: the value's own thread safety (``threading.local``, ``contextvars.ContextVar``,
  ``queue.Queue`` ...), the lock held at every change (``lock: _lock``), ``atomic operations``
  when every change is one store or one ``append``/``add``/``d[k] = v`` (atomic in the
  free-threaded build too, PEP 703) and no library-mode race was found on it, else ``none``.

Verdict: ``needs-locks`` when a library-mode race (CCL201/202/204) is reported on the module at
high confidence; ``unknown`` when some state is unguarded but no race is certain (medium or low
confidence, or changes the analysis cannot judge); ``ready`` when all of it is guarded. The
state of a module's shared objects (``self`` attributes) shows in the findings, not in this list.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from concurlint.analysis.facts import Access
from concurlint.analysis.library import is_application
from concurlint.analysis.threads import is_class_level, is_thread_safe_value, state_info

CHANGES = ("write", "mutate", "rmw")
ATOMIC = ("[...] =", ".append()", ".add()", ".appendleft()", ".discard()")
CODES = ("CCL201", "CCL202", "CCL204")


def _kind(project, value) -> str:
    if value is None:
        return "unknown"
    t = project.value_type(value) or (value.qualname if value.kind in ("instance", "call") else None)
    if value.kind == "container" or (t or "").startswith("builtins."):
        return (t or "builtins.object").rsplit(".", 1)[-1]
    if value.kind == "literal" and value.text == "None":
        return "set later (None at import)"
    if value.kind == "literal":
        return "counter" if value.meta.get("type") in ("builtins.int", "builtins.float") else "value"
    if t:
        return t
    return value.kind


def _guard(project, value, changes: List[Access], raced: bool) -> str:
    if is_thread_safe_value(project, value):
        t = project.value_type(value) or value.qualname
        return t or "thread-safe value"
    locks = {lk for a in changes for lk in a.locks}
    if changes and all(a.locks for a in changes):
        return "lock: " + ", ".join(sorted(locks))
    if not raced and all(a.kind == "write" or a.op.startswith(ATOMIC) for a in changes if not a.locks):
        return "atomic operations"
    return "none"


def readiness(ctx) -> List[dict]:
    """The ``readiness`` list of the JSON report (see the module docstring)."""
    from concurlint.checks.library import library_analysis

    project = ctx.project
    lib = ctx.shared(library_analysis)
    changes: Dict[str, List[Access]] = {}
    for fn in project.functions.values():
        for a in fn.accesses:
            if a.kind in CHANGES and not (a.via_self and a.kind == "write"):
                changes.setdefault(a.target, []).append(a)
    out = []
    for mod in sorted(project.modules, key=lambda m: m.path):
        if is_application(mod.module):
            continue
        state: List[Tuple[int, dict]] = []
        for target, accs in changes.items():
            home = _home(project, target)
            if home != mod.module:
                continue
            desc, path, line, value = state_info(project, target)
            if path is None:
                continue
            name = target.split(":", 1)[1][len(mod.module) + 1:]
            state.append((line or 0, {"name": name, "line": line or 0, "kind": _kind(project, value),
                                      "guarded_by": _guard(project, value, accs, target in lib.raced)}))
        state.sort(key=lambda x: (x[0], x[1]["name"]))
        confidences = {f.confidence for f in lib.out.get(mod.path, ()) if f.code in CODES}
        if "high" in confidences:
            verdict = "needs-locks"
        elif confidences or any(s["guarded_by"] == "none" for _, s in state):
            verdict = "unknown"
        else:
            verdict = "ready"
        out.append({"module": mod.module, "path": mod.path, "state": [s for _, s in state], "verdict": verdict})
    return out


def _home(project, target: str) -> Optional[str]:
    """The module that defines a global, or the class whose attribute it is (class level only)."""
    kind, _, name = target.partition(":")
    if kind == "global":
        return name.rpartition(".")[0]
    cls, _, attr = name.rpartition(".")
    if not is_class_level(project, cls, attr):
        return None
    info = project.classes.get(cls)
    if info is None:
        return None
    for m in project.modules:
        if cls in m.classes:
            return m.module
    return None

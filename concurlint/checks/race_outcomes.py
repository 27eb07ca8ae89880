"""What a race on shared state loses, for CCL202: a cache filled on a miss with a value made
anew (nothing lost: the work is done twice), lazy initialisation, a set of warnings already
given, double-checked locking, resets to a constant -- and which check-then-act or write-back can
really break (a removal, a fresh container filled after, a resource stored, a value computed from
the read). Pure functions of the facts of one function; ``shared_state`` decides who races.
"""
from __future__ import annotations

import re
from typing import List

from concurlint.analysis.facts import Access, Function
from concurlint.analysis.hints import RESOURCE
from concurlint.analysis.library import CONSTANT

WRITE_KINDS = ("write", "mutate", "rmw")

# `[...] = proxy`, `[...] = make_class(spec)`: a value stored whole under a key, not computed
# from what was read (`[...] = n + 1`)
_PLAIN_STORE = re.compile(r"^\[\.\.\.\] = [A-Za-z_][\w.]*(\(.*)?$")
_CALL_STORE = re.compile(r"^= [A-Za-z_][\w.]*\(.*$")
_NAMED_CONSTANT = re.compile(r"^= [A-Z_][A-Z0-9_]*$")
_LAZY_TEST = re.compile(r"\bis\s+None\b|^\s*not\s")


def double_checked(fn: Function, check: Access) -> bool:
    """``if _client is None: with _lock: if _client is None: _client = make()``: every write after
    the unlocked test is made under a lock, after the state is tested again under that lock."""
    writes = [a for a in fn.accesses if a.target == check.target and a.kind in WRITE_KINDS and a.line > check.line]
    if not writes or any(not w.locks for w in writes):
        return False
    return all(any(c.kind == "check" and c.target == check.target and c.locks and set(c.locks) & set(w.locks)
                   and check.line < c.line <= w.line for c in fn.accesses) for w in writes)


def check_confidence(writes: List[Access]) -> str:
    """high when the act after the check can break: a removal (``if k in d: ... del d[k]``, a
    second thread's del raises), a fresh container stored and then filled (``if t not in subs:
    subs[t] = []`` then ``.append``: a second store drops what the first got), or a resource
    stored (``_sessions[h] = make_session(h)``: the replaced one leaks). Other lazy
    initialisation: medium -- on real code its race usually costs one redundant initialisation
    (docs/precision.md)."""
    for w in writes:
        value = w.op.split("= ", 1)[-1] if "= " in w.op else ""
        if w.op.startswith(REMOVALS) or _FRESH_CONTAINER.match(value) or (value and RESOURCE.search(value)):
            return "high"
    return "medium"


def carries(read: Access, write: Access) -> bool:
    """The write-back computes its value from what was read (``current = hits`` ... ``hits =
    current + 1``): a lost update. A write of a value made afresh (``cache[key] = {...}``, each
    task its own key) overwrites without losing what another thread computed from the old one."""
    if read.line == write.line:
        return True  # `hits = hits + 1`, `Engine.opened = Engine.opened + 1`
    return bool(read.into) and re.search(rf"\b{re.escape(read.into)}\b", write.op) is not None


def only_resets_after(fn: Function, check: Access) -> bool:
    """Every write of the state after the test stores a constant (``if self._root is not None:
    self._root = None``): a second thread doing the same reset changes nothing."""
    writes = [a for a in fn.accesses if a.target == check.target and a.kind in WRITE_KINDS and a.line >= check.line]
    return bool(writes) and all(a.kind == "write" and CONSTANT.match(a.op) for a in writes)


def _stores_class(project, fn: Function, write: Access) -> bool:
    """``cache[k] = _Client``: the value stored is a class (made in the function or the module),
    not an instance of one: nothing to close, whatever its name."""
    name = write.op[len("[...] = "):] if write.op.startswith("[...] = ") else ""
    if not name.isidentifier():
        return False
    module = fn.qualname.rsplit(".", 1)[0] if fn.cls is None else fn.cls.rsplit(".", 1)[0]
    return any(q in project.classes for q in (f"{fn.qualname}.<locals>.{name}", f"{module}.{name}"))


def fills_cache(fn: Function, read: Access, write: Access, project=None) -> bool:
    """A cache filled on a miss (``v = cache.get(k)``, or ``if k in cache: return cache[k]``,
    then ``cache[k] = make(k)``): two threads that both miss both build a value and the second
    store replaces an equivalent first one; work is duplicated, nothing is lost. Not when the
    value is a resource to close (``cache[k] = make_session(k)``): the replaced one leaks."""
    if read.kind == "check" and _LAZY_TEST.search(read.op) and write.kind == "write":
        # `if _registry is None: _registry = _load_registry()`: lazy initialisation from a call;
        # two threads both load an equivalent value, unless the call makes a resource to close
        if CONSTANT.match(write.op) or _NAMED_CONSTANT.match(write.op):
            return True  # the fallback (`_registry = _EMPTY_REGISTRY`) of the same initialisation
        return bool(_CALL_STORE.match(write.op)) and not RESOURCE.search(write.op)
    tested = read.op == ".get()" or read.kind == "check" or any(
        a.target == write.target and a.in_check and a.line <= read.line for a in fn.accesses)
    # ... unless what is stored is a resource to close (a session, a connection): one leaks
    return tested and (bool(_PLAIN_STORE.match(write.op)) or _derived_store(read, write)) and (
        not RESOURCE.search(write.op) or (project is not None and _stores_class(project, fn, write)))


def _derived_store(read: Access, write: Access) -> bool:
    """``memo[key] = 'storage' in params or ...``: a value computed anew, from neither the state
    nor what was read from it (``counts[k] = counts.get(k, 0) + 1`` and ``n = visits.get(h, 0);
    visits[h] = n + 1`` are updates, not fills)."""
    value = write.op[8:]
    if _FRESH_CONTAINER.match(value):
        return False  # `stacks[k] = []`, filled next: a second store drops what the first got
    names = [write.target.rsplit(".", 1)[-1]] + ([read.into] if read.into else [])
    return write.op.startswith("[...] = ") and not any(re.search(rf"\b{re.escape(n)}\b", value) for n in names)


_FRESH_CONTAINER = re.compile(r"^\s*(?:[\[{]|(?:collections\.)?(?:list|dict|set|defaultdict|deque|OrderedDict|Counter)\()")


_REPORTING = ("logging.", "warnings.warn", "builtins.print")
REMOVALS = ("del", "[...] del", ".pop()", ".popitem()", ".remove()", ".discard()", ".clear()")


def warns_once(project, fn: Function, check: Access, writes: List[Access]) -> bool:
    """``if topic not in _WARNED: _WARNED.add(topic); logger.warning(message)``: a set of what
    was already reported; two threads that both miss log the same warning twice, nothing else."""
    if " not in " not in check.op or not all(w.op == ".add()" for w in writes):
        return False
    last = max(w.line for w in writes)
    between = [c for c in project.calls_of(fn) if check.line <= c.line <= last + 2 and c.line != check.line]
    return all((project.call_target(c) or "").startswith(_REPORTING) or c.method == "add"
               or c.method in ("strip", "split", "format", "lower")
               or (c.method in _LOG_METHODS and "log" in c.text.rsplit(".", 1)[0].lower()) for c in between)


# a logger's methods, on a receiver named as one (`logger.warning`, `self._log.info`) when its type
# is not known (`logger = logging.getLogger(__name__)` is not typed by every path)
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})

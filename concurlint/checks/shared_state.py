"""CCL2xx: shared mutable state touched by code that runs in other threads or processes.

Which code runs where comes from ``analysis.threads`` (dispatch sites + call graph). The accesses
come from the facts: every read/write/mutation of a module global or a ``self.``/class attribute,
with the locks held at that point (``with lock:`` and ``acquire()`` ... ``finally: release()``).

Policy on single operations: one ``list.append``, one ``dict[k] = v``, one ``set.add`` of
independent items is atomic in CPython, with the GIL and also in the free-threaded build (PEP 703
gives built-in containers per-object locks), so it is never reported on its own. What is reported
is what breaks in both builds: read-modify-write (``n += 1``), check-then-act, a read followed by a
write-back, and size changes while other code iterates. Under a free-threaded target (``3.13t``)
the threads run truly in parallel, so the messages say these races will happen far more often.

State that is safe to share is not reported: ``queue.Queue``, ``threading.local()``,
``contextvars``, locks and events, multiprocessing shared values and manager proxies; state only
read by threads (written once before they start) produces no write access at all. What a race
loses (a cache fill, lazy initialisation, a warn-once set: nothing; a removal, a counter: data)
is in ``race_outcomes``.
"""
from __future__ import annotations

import re

from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Access, Function, ModuleFacts
from concurlint.analysis.library import CONSTANT
from concurlint.analysis.threads import (
    Reach, chain_text, is_class_level, is_thread_safe_value, short_name, state_info, thread_map,
)
from concurlint.checks.race_outcomes import (
    REMOVALS, WRITE_KINDS, carries, check_confidence, double_checked, fills_cache, only_resets_after, warns_once,
)
from concurlint.registry import Finding, Rule

SIZE_CHANGING = (".append()", ".extend()", ".insert()", ".pop()", ".popitem()", ".remove()", ".clear()",
                 ".update()", ".setdefault()", ".add()", ".discard()", ".popleft()", ".appendleft()", "del")
ITER_METHODS = (".items()", ".keys()", ".values()")
FT_NOTE = ("; the free-threaded target runs these threads truly in parallel, so this race will "
           "happen far more often than under the GIL")


class _Pos:
    def __init__(self, line: int, col: int, text: str = ""):
        self.line = line
        self.col = col
        self.end_line = line
        self.end_col = col
        self.text = text


def _runner(reach: Reach, project) -> str:
    e = reach.entry
    where = f"{e.site.api} at {e.site.path}:{e.site.call.line}"
    how = "several threads at once" if e.repeated else "another thread"
    via = f" (via {chain_text(reach.chain, project)})" if len(reach.chain) > 1 else ""
    return f"'{e.short}' running in {how}, started by {where}{via}"


def _accesses(project) -> Dict[str, List[Tuple[ModuleFacts, Function, Access]]]:
    out: Dict[str, List[Tuple[ModuleFacts, Function, Access]]] = {}
    for mod in project.modules:
        for fn in mod.functions.values():
            for acc in fn.accesses:
                out.setdefault(acc.target, []).append((mod, fn, acc))
    return out


def _is_iteration(fn: Function, acc: Access) -> bool:
    if acc.kind != "read":
        return False
    for loop in fn.loops:
        if loop.line != acc.line or " over " not in loop.desc:
            continue
        it = loop.desc.split(" over ", 1)[1]
        if acc.op in ITER_METHODS and it.endswith(acc.op):
            return True
        if it == acc.op or it in (acc.op + m for m in ITER_METHODS):
            return True
    return False


class _Analysis:
    """Everything the CCL2 rules report, computed once per run (``ctx.shared``)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.project = ctx.project
        self.tm = ctx.shared(thread_map)
        self.by_target = _accesses(self.project)
        self.ft = FT_NOTE if ctx.config.free_threaded else ""
        self.out: Dict[str, List[Finding]] = {}
        self._defs: Dict[str, tuple] = {}
        self._child_side: Optional[set] = None  # see _handed_on_in_child, when first needed
        self.threads()
        self.processes()

    # ---------------------------------------------------------------- helpers
    def definition(self, target: str):
        if target not in self._defs:
            self._defs[target] = state_info(self.project, target)
        return self._defs[target]

    def defined_at(self, target: str) -> str:
        _, path, line, _ = self.definition(target)
        return f"{path}:{line}" if path else "outside the analysed files"

    def def_related(self, target: str) -> List[dict]:
        desc, path, line, _ = self.definition(target)
        return [{"path": path, "line": line, "col": 0, "message": f"{desc} is defined here"}] if path else []

    def safe(self, target: str) -> bool:
        return is_thread_safe_value(self.project, self.definition(target)[3])

    def mutable_sequence(self, target: str) -> bool:
        """The state is a list, set or dict (a display, a constructor call, a dataclass field with
        such a ``default_factory``): ``+=``/``|=`` change it in place."""
        value = self.definition(target)[3]
        if value is None:
            return False
        t = self.project.value_type(value)
        if t in ("builtins.list", "builtins.set", "builtins.dict", "collections.deque"):
            return True
        return bool(_MUTABLE_FACTORY.search(value.text or ""))

    def add(self, code: str, mod: ModuleFacts, fn: Function, pos: _Pos, related: List[dict], **fields) -> None:
        f = self.ctx.report(code, mod, pos, function=fn.qualname, related=related, **fields)
        self.out.setdefault(mod.path, []).append(f)

    def shared_reach(self, fn: Function, target: str, writers: Dict[str, Dict[int, bool]]) -> Optional[Reach]:
        """The reach under which this function's access to ``target`` can race, else None."""
        reaches = self.tm.thread_reaches(fn.qualname, unlocked_only=True)
        if not reaches:
            return None
        if target.startswith("attr:"):
            cls, _, attr = target[5:].rpartition(".")
            if not is_class_level(self.project, cls, attr) or _assigns_through_self(fn, target):
                # an instance attribute is shared when one object's method runs in several threads
                # (so is a class-level default the method only assigns through `self`: the
                # assignment makes an attribute of the instance, it never changes the class's)
                for r in reaches:
                    b = r.entry.bound_class
                    if r.entry.repeated_on(True) and b and fn.cls and self.project.is_subclass(b, fn.cls):
                        return r
                return None
        parties = writers.get(target, {})
        count = sum(2 if rep else 1 for rep in parties.values())
        for r in reaches:
            if r.entry.repeated or count >= 2:
                return r
        return None

    # ---------------------------------------------------------------- threads
    def threads(self) -> None:
        tm, project = self.tm, self.project
        # who writes each piece of state from thread code: target -> {entry key: repeated}
        writers: Dict[str, Dict[int, bool]] = {}
        for q in tm.thread:
            fn = project.functions[q]
            for acc in fn.accesses:
                if acc.kind in WRITE_KINDS and not acc.locks:
                    for r in tm.thread_reaches(q, unlocked_only=True):
                        writers.setdefault(acc.target, {})[r.entry.key] = r.entry.repeated
        for q in sorted(tm.thread):
            fn = project.functions[q]
            mod = project.function_module[q]
            done: set = set()
            for acc in fn.accesses:
                if acc.locks or acc.kind not in WRITE_KINDS + ("check",) or self.safe(acc.target):
                    continue
                if (acc.target, acc.kind) in done:
                    continue
                r = self.shared_reach(fn, acc.target, writers)
                if acc.kind == "rmw":
                    if r is None or (acc.op in IN_PLACE_OPS and self.mutable_sequence(acc.target)):
                        continue  # `self.errors += [msg]` on a list: extended in place, stored back as it was
                    level = acc.target.startswith("global:") or is_class_level(
                        project, *acc.target[5:].rpartition(".")[::2])
                    done.add((acc.target, acc.kind))
                    if level:
                        self.report_race("CCL201", mod, fn, acc, r, f"'{acc.op}'", "concurrent updates are lost")
                    else:  # self.X += 1 on an object whose method runs in several threads
                        self.report_check(mod, fn, acc, r, "the read", f"the write of '{acc.op}' at line {acc.line}")
                elif acc.kind == "check":
                    if r is None or only_resets_after(fn, acc) or double_checked(fn, acc) \
                            or self.present_until_removed(fn, acc, r):
                        continue
                    done.add((acc.target, acc.kind))
                    writes = [w for w in fn.accesses if w.target == acc.target and w.kind in WRITE_KINDS
                              and w.line >= acc.line]
                    cache = bool(writes) and (all(fills_cache(fn, acc, w, self.project) for w in writes)
                                              or warns_once(self.project, fn, acc, writes))
                    self.report_check(mod, fn, acc, r, f"check '{acc.op}'", "the write after it",
                                      confidence="low" if cache else check_confidence(writes))
                elif acc.kind in ("write", "mutate"):
                    if r is not None and (acc.target, "check") not in done:
                        rd = self.read_before(fn, acc)
                        if rd is not None and acc.kind == "write" and CONSTANT.match(acc.op):
                            continue  # a reset to a constant (`self.conn = None`): nothing read is carried
                        if rd is not None:
                            done.add((acc.target, "check"))
                            conf = "low" if fills_cache(fn, rd, acc, self.project) else (
                                "high" if carries(rd, acc) else "medium")
                            self.report_check(mod, fn, rd, r, f"read '{rd.op}' at line {rd.line}",
                                              f"the write-back '{acc.op}' at line {acc.line}", at=rd,
                                              confidence=conf)
                            continue
                    if acc.op.startswith(SIZE_CHANGING) or acc.op.startswith("[...] ="):
                        if (acc.target, "iter") in done:
                            continue
                        other = self.concurrent_iteration(fn, acc)
                        if other is not None:
                            done.add((acc.target, "iter"))
                            self.report_iteration(mod, fn, acc, other)

    def present_until_removed(self, fn: Function, check: Access, r: Reach) -> bool:
        """``if key in OID_ADD: added = OID_ADD[key]; del OID_ADD[key]``: a test that a key is
        there can only turn false through a removal; when no other code removes from the state
        and this code runs in one thread at a time, what the test saw still holds at the act."""
        if " in " not in check.op or " not in " in check.op or r.entry.repeated or any(
                x.entry.repeated for x in self.tm.thread_reaches(fn.qualname)):
            return False  # the same code in two threads at once: one can remove what the other saw
        acts = [a for a in fn.accesses if a.target == check.target and a.kind in WRITE_KINDS and a.line >= check.line]
        if not acts or not all(a.op.startswith(REMOVALS) for a in acts):
            return False
        return not any(other.qualname != fn.qualname and acc.kind in WRITE_KINDS and acc.op.startswith(REMOVALS)
                       for _, other, acc in self.by_target.get(check.target, ()))

    def read_before(self, fn: Function, w: Access) -> Optional[Access]:
        """``x = d.get(k)`` ... ``d[k] = x + 1``: an unlocked read of the state earlier in the
        same function than an unlocked write-back (not the read that is part of the write)."""
        if not (w.kind == "write" or w.op.startswith("[...] =")):
            return None
        positions = {(a.line, a.col) for a in fn.accesses if a.target == w.target and a.kind != "read"}
        for a in fn.accesses:
            if a is w:
                break
            if (a.target == w.target and a.kind == "read" and not a.locks and not a.in_check
                    and (a.line, a.col) not in positions and a.line <= w.line and not _is_iteration(fn, a)):
                return a
        return None

    def concurrent_iteration(self, fn: Function, w: Access):
        """Other code iterating the same dict/set while this thread changes its size."""
        value = self.definition(w.target)[3]
        t = self.project.value_type(value) if value is not None else None
        if t not in ("builtins.dict", "builtins.set"):
            return None
        reaches = self.tm.thread_reaches(fn.qualname, unlocked_only=True)
        mine = {r.entry.key for r in reaches}
        if not mine:
            return None  # every thread that reaches this write holds a lock on the way
        instance = False
        if w.target.startswith("attr:"):
            cls, _, attr = w.target[5:].rpartition(".")
            instance = not is_class_level(self.project, cls, attr)
            if instance and not any(
                    r.entry.bound_class and fn.cls and self.project.is_subclass(r.entry.bound_class, fn.cls)
                    for r in reaches):
                return None  # instance state: only one object's own thread shares it
        repeated = any(r.entry.repeated_on(instance) for r in reaches)
        for mod, other, acc in self.by_target.get(w.target, ()):
            if other.qualname == fn.qualname or acc.locks or other.qualname in self.tm.fork_child:
                continue
            if not _is_iteration(other, acc):
                continue
            theirs = {r.entry.key for r in self.tm.thread_reaches(other.qualname)}
            if not theirs or theirs - mine or repeated:
                return mod, other, acc
        return None

    def runner_related(self, r: Reach) -> dict:
        return r.entry.related(f"'{r.entry.short}' is started in "
                               f"{'several threads' if r.entry.repeated else 'a thread'} here")

    def report_race(self, code, mod, fn, acc, r: Reach, action: str, consequence: str) -> None:
        desc = self.definition(acc.target)[0]
        self.add(code, mod, fn, _Pos(acc.line, acc.col, acc.op), self.def_related(acc.target) + [self.runner_related(r)],
                 action=action, state=desc, defined=self.defined_at(acc.target), runner=_runner(r, self.project),
                 consequence=consequence, ft=self.ft, confidence=_by_depth(r, "high"))

    def report_check(self, mod, fn, acc, r: Reach, first: str, second: str, at: Optional[Access] = None,
                     confidence: str = "high") -> None:
        desc = self.definition(acc.target)[0]
        self.add("CCL202", mod, fn, _Pos(acc.line, acc.col, acc.op),
                 self.def_related(acc.target) + [self.runner_related(r)],
                 first=first, second=second, state=desc, defined=self.defined_at(acc.target),
                 runner=_runner(r, self.project), ft=self.ft, confidence=_by_depth(r, confidence))

    def report_iteration(self, mod, fn, acc, other) -> None:
        omod, ofn, oacc = other
        desc = self.definition(acc.target)[0]
        reaches = self.tm.thread_reaches(fn.qualname, unlocked_only=True)
        where = "the main thread" if not self.tm.thread_reaches(ofn.qualname) else "another thread"
        self.add("CCL201", mod, fn, _Pos(acc.line, acc.col, acc.op),
                 self.def_related(acc.target) + [self.runner_related(reaches[0]),
                                                 {"path": omod.path, "line": oacc.line, "col": oacc.col,
                                                  "message": f"'{short_name(ofn.qualname, self.project)}' iterates it here"}],
                 action=f"'{acc.op}'", state=desc, defined=self.defined_at(acc.target), runner=_runner(reaches[0], self.project),
                 consequence=(f"'{short_name(ofn.qualname, self.project)}' iterates it at {omod.path}:{oacc.line} in {where} "
                              "and fails with 'RuntimeError: changed size during iteration'"),
                 ft=self.ft, confidence=_by_depth(reaches[0], "high"))

    # -------------------------------------------------------------- processes
    def processes(self) -> None:
        tm, project = self.tm, self.project
        for q in sorted(tm.process):
            fn = project.functions[q]
            mod = project.function_module[q]
            done: set = set()
            for acc in fn.accesses:
                if acc.kind not in WRITE_KINDS or acc.target in done or self.safe(acc.target):
                    continue
                if acc.kind in ("write", "mutate") and "=" in acc.op and acc.op.rsplit("=", 1)[-1].strip() in EMPTY_VALUES:
                    continue  # `self.engine = None`, `self.x[i] = []`: a reset, not a result for the parent
                if acc.target.startswith("attr:"):
                    cls, _, attr = acc.target[5:].rpartition(".")
                    bound = any(r.entry.bound_class and fn.cls and project.is_subclass(r.entry.bound_class, fn.cls)
                                for r in tm.process_reaches(q))
                    if not bound and not is_class_level(project, cls, attr):
                        continue
                reaches = [r for r in tm.process_reaches(q) if self.owned_by_dispatcher(acc.target, r)]
                if not reaches:
                    continue  # another library's per-process state (threading._active, caches)
                reads = self.parent_reads(acc.target)
                if not reads:
                    continue
                done.add(acc.target)
                # the parent waits for the child and then reads what it expected the child to
                # change: high; a read elsewhere may be the parent's own use of its copy
                # (a status it sets itself from messages the child sends): medium
                after = [(r, rd) for r in reaches for rd in reads if _reads_after(r.entry.site, rd)]
                r, (rmod, rfn, racc) = after[0] if after else (reaches[0], reads[0])
                conf = "high" if after else "medium"
                desc = self.definition(acc.target)[0]
                via = f" via {chain_text(r.chain, project)}" if len(r.chain) > 1 else ""
                self.add("CCL203", mod, fn, _Pos(acc.line, acc.col, acc.op),
                         self.def_related(acc.target) + [
                             r.entry.related(f"'{r.entry.short}' is sent to a child process here"),
                             {"path": rmod.path, "line": racc.line, "col": racc.col,
                              "message": f"the parent reads {desc} here"}],
                         action=f"'{acc.op}'", state=desc, defined=self.defined_at(acc.target),
                         runner=f"'{r.entry.short}' ({r.entry.site.api} at {r.entry.site.path}:{r.entry.site.call.line}{via})",
                         read_at=f"{rmod.path}:{racc.line} ('{short_name(rfn.qualname, project)}')",
                         confidence=conf)

    def owned_by_dispatcher(self, target: str, r) -> bool:
        """Is the state defined in the module that dispatches the work or defines the worker?
        A library's own module state touched deep inside a worker is that library's per-process
        bookkeeping, not state the dispatching code expects to get back."""
        name = target.split(":", 1)[1]
        home = None
        while "." in name:
            name = name.rpartition(".")[0]
            if name in self.project.by_module:
                home = name
                break
        if home is None:
            return True
        entry_mod = self.project.function_module.get(r.chain[0]) if r.chain else None
        return home in (r.entry.site.module.module, entry_mod.module if entry_mod else None)

    def parent_reads(self, target: str) -> List[tuple]:
        """(module, function, access) of every read of ``target`` in code the parent runs."""
        if self._child_side is None:
            self._child_side = _handed_on_in_child(self.project, self.tm)
        return [(mod, fn, acc) for mod, fn, acc in self.by_target.get(target, ())
                if acc.kind in ("read", "check") and fn.qualname not in self.tm.process
                and fn.qualname not in self._child_side and fn.name != "__init__" and not _registered_callback(fn)]


# functions on the way from a thread's entry (itself included) from which a race it reaches is
# medium at most: whether such a deep path runs in that thread depends on values and state handed
# down at each step (a loop running or not, a registry already filled), which are not followed;
# on real code every such finding at high was wrong (nicegui, pywebio)
DEEP_REACH = 5


def _by_depth(r: Reach, confidence: str) -> str:
    return "medium" if confidence == "high" and len(r.chain) >= DEEP_REACH else confidence


# augmented assignments a list, set or dict does in place (`+=` extends, `|=` updates)
IN_PLACE_OPS = frozenset({"+=", "|="})
_MUTABLE_FACTORY = re.compile(r"default_factory\s*=\s*(list|set|dict|collections\.deque|deque)\b")


def _reads_after(site, read) -> bool:
    """The read is in the function that hands the work to the child, after it does
    (``pool.map(score, docs)`` then ``sum(results)``; ``p.start(); p.join(); print(obj.total)``)."""
    mod, fn, acc = read
    return fn.qualname == site.call.function and mod.path == site.path and acc.line > site.call.line


# decorators that leave a function where it is called from
PLAIN_DECORATORS = frozenset({"staticmethod", "classmethod", "property", "builtins.staticmethod",
                              "builtins.classmethod", "builtins.property", "functools.wraps",
                              "functools.cache", "functools.lru_cache", "functools.cached_property"})


def _assigns_through_self(fn: Function, target: str) -> bool:
    """Every write of ``target`` in ``fn`` is an assignment through ``self`` (``self.opts =
    self.opts.union(o)``, ``self.n += 1``), none a mutation of the object it holds: a class-level
    default then only seeds the instance's own attribute."""
    writes = [a for a in fn.accesses if a.target == target and a.kind in WRITE_KINDS]
    return bool(writes) and all(a.via_self and a.kind in ("write", "rmw") for a in writes)


# what a write stores when it clears or resets state (MAVProxy's speech child starts from
# `self.voice = ''`, its grapher frees `self.x[i] = []` after plotting): nothing the parent waits for
EMPTY_VALUES = frozenset({"None", "''", '""', "[]", "{}", "()", "set()", "dict()", "list()", "False", "0"})


def _handed_on_in_child(project, tm) -> set:
    """Project functions that code running in a child process hands on as values (a callback a
    child registers: ``fig.canvas.mpl_connect("xlim_changed", self.xlim_change_check)``), and what
    they call: the function object is the child's, so it runs there, never in the parent."""
    out: set = set()
    todo = list(tm.process)
    while todo:
        fn = project.functions.get(todo.pop())
        if fn is None:
            continue
        for call in project.calls_of(fn):
            for v in list(call.args) + list(call.kwargs.values()):
                if v.kind not in ("bound-method", "function", "name", "ref"):
                    continue
                q = project.function_of_value(v)
                if q in project.functions and q not in out and q not in tm.process:
                    out.add(q)
                    todo.append(q)
            t = project.call_target(call) if fn.qualname in out else None
            if t in project.functions and t not in out and t not in tm.process:
                out.add(t)  # what a handed-on callback calls runs in the child too
                todo.append(t)
    return out


def _registered_callback(fn) -> bool:
    """A function handed to a framework by a decorator (``@app.route("/")``, ``@task``): the
    framework decides in which process it runs (often the very child that wrote the state), so
    its reads are no evidence that the parent reads it."""
    return any(d not in PLAIN_DECORATORS for d in fn.decorators)


def _analysis(ctx) -> _Analysis:
    return _Analysis(ctx)


class _SharedState(Rule):
    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        seen = set()
        for f in ctx.shared(_analysis).out.get(module.path, ()):
            if f.code == self.code:
                seen.add(f.line)
                yield f
        if ctx.config.library:  # library mode (checks/library.py): what the callers' threads can race on
            from concurlint.checks.library import library_analysis

            for f in ctx.shared(library_analysis).out.get(module.path, ()):
                if f.code == self.code and f.line not in seen:
                    yield f


class UnsynchronisedWriteToSharedState(_SharedState):
    code = "CCL201"


class CheckThenActOnSharedState(_SharedState):
    code = "CCL202"


class StateMutatedInChildProcess(_SharedState):
    code = "CCL203"

"""Library mode (``--library`` / ``library = true``): the hazards of code its callers run at once.

Which code counts and which objects are shared comes from ``analysis.library``. Reported:

- CCL201 / CCL202 (computed here, yielded by ``shared_state``): read-modify-write, check-then-act
  (lazy initialisation ``if _x is None: _x = make()`` included), a read followed by a write-back,
  a pop followed by a reinsertion, and a size change while other public code iterates, on module
  globals, class attributes and the ``self`` state of shared classes, with no lock held;
- CCL204: per-call state stored on an object every caller shares (a decorator instance, a
  module-level singleton), read back later in the same call;
- CCL306: a process pool or ``Process`` created with the default start method;
- CCL605: ``signal.signal()`` / ``loop.add_signal_handler()`` at import time or in library code
  with no main-thread check.

Not reported: accesses with a lock held (or reached only through calls made with one),
``threading.local``, ``ContextVar``, queues and the other thread-safe values of
``analysis.threads``, state written only at import time, ``__init__`` of the object itself, and
single atomic operations (CCL201's policy). A class whose docstring says it is not thread-safe
gets low confidence.
"""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Access, Call, Function, ModuleFacts
from concurlint.analysis.hints import is_lifecycle
from concurlint.analysis.library import CONSTANT, LibraryMap, is_application, library_map, runner_text
from concurlint.analysis.processes import process_model
from concurlint.analysis.threads import is_class_level, is_thread_safe_value, short_name, state_info
from concurlint.registry import Finding, Rule

WRITES = ("write", "mutate", "rmw")
RANK = {"none": -1, "low": 0, "medium": 1, "high": 2}
SIZE_CHANGING = (".append()", ".extend()", ".insert()", ".pop()", ".popitem()", ".remove()", ".clear()",
                 ".update()", ".setdefault()", ".add()", ".discard()", "del", "[...] =")
REMOVING = ("del", ".pop()", ".popitem()", ".remove()")
ITER_METHODS = (".items()", ".keys()", ".values()")
CONSTRUCTION = ("__init__", "__new__", "__post_init__", "__init_subclass__", "__set_name__")
_GET_ARITH = re.compile(r"\.get\(.*\)\s*[-+*|&]")
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")
_REGISTRATION = re.compile(r"^_*(un)?register")
SIGNAL_CALLS = ("signal.signal", "asyncio.AbstractEventLoop.add_signal_handler")
MAIN_THREAD_CHECKS = ("threading.main_thread", "threading.current_thread", "threading.get_ident",
                      "_thread.get_ident", "threading.currentThread")


class _Pos:
    def __init__(self, line: int, col: int, text: str = ""):
        self.line, self.col, self.end_line, self.end_col, self.text = line, col, line, col, text


def _is_iteration(fn: Function, acc: Access) -> bool:
    if acc.kind != "read":
        return False
    for loop in fn.loops:
        if loop.line != acc.line or " over " not in loop.desc:
            continue
        it = loop.desc.split(" over ", 1)[1]
        if it == acc.op or it in (acc.op + m for m in ITER_METHODS) or (acc.op in ITER_METHODS and it.endswith(acc.op)):
            return True
    return False


class LibraryAnalysis:
    """Every library-mode finding, computed once per run (``ctx.shared(library_analysis)``)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.project = ctx.project
        self.out: Dict[str, List[Finding]] = {}
        # state each race is about: shared-state key -> the best confidence (readiness report)
        self.raced: Dict[str, str] = {}
        if not ctx.config.library:
            return
        self.lm: LibraryMap = ctx.shared(library_map)
        self.ft = ("; the free-threaded target runs these calls truly in parallel, so this race will happen "
                   "far more often than under the GIL") if ctx.config.free_threaded else ""
        self.iterated: Dict[str, Tuple[ModuleFacts, Function, Access]] = {}
        # class attributes some method rebinds through ``self``: ``self.X`` is then per instance
        self.rebound = {a.target for fn in self.project.functions.values() for a in fn.accesses
                        if a.via_self and a.kind == "write" and a.target.startswith("attr:")}
        for q in sorted(self.lm.reached):
            fn = self.project.functions[q]
            for acc in fn.accesses:
                if not acc.locks and _is_iteration(fn, acc):
                    self.iterated.setdefault(acc.target, (self.project.function_module[q], fn, acc))
        for q in sorted(self.lm.reached):
            fn = self.project.functions[q]
            mod = self.project.function_module[q]
            if is_application(mod.module):
                continue
            self.races(mod, fn)
            self.per_call_state(mod, fn)
        self.signals()
        self.pools()

    # ------------------------------------------------------------------ state
    def scope(self, fn: Function, acc: Access) -> Optional[str]:
        """'global' | 'class' | 'instance' when callers share this state, else None."""
        desc, path, line, value = state_info(self.project, acc.target)
        if is_thread_safe_value(self.project, value):
            return None
        if acc.target.startswith("global:"):
            return "global" if path is not None or acc.kind != "read" else None
        cls, _, attr = acc.target[5:].rpartition(".")
        if is_class_level(self.project, cls, attr) and (
                not acc.via_self or (acc.kind in ("mutate", "read") and acc.target not in self.rebound)):
            return "class"
        if acc.via_self and fn.name not in CONSTRUCTION and self.lm.shared_reason(self.project, fn):
            return "instance"
        return None

    def confidence(self, scope: str, acc: Access, fn: Function, strong: bool = True) -> str:
        cls = acc.target[5:].rpartition(".")[0] if acc.target.startswith("attr:") else (fn.cls or "")
        if cls in self.lm.not_thread_safe or (fn.cls and fn.cls in self.lm.not_thread_safe):
            return "low"
        if is_lifecycle(fn.qualname):
            return "low" if scope == "instance" else "medium"
        if _REGISTRATION.match(fn.name):
            return "medium"  # registries are filled at start-up, one caller at a time
        if fn.is_async and scope == "global" and acc.kind == "rmw":
            return "medium"  # no await in one statement: only several event loops in threads race here
        if scope == "instance":
            attr = acc.target.rpartition(".")[2]
            guarded = attr in self.lm.locked_attrs.get(cls, ())
            singleton = not (self.lm.shared_reason(self.project, fn) or "").startswith(("the class", "'"))
            return "high" if strong and (guarded or singleton) else "medium"
        return "high" if strong else "medium"

    def describe(self, acc: Access, scope: str, fn: Function) -> str:
        desc = state_info(self.project, acc.target)[0]
        if scope == "instance":
            desc += f" of a shared object ({self.lm.shared_reason(self.project, fn)})"
        return desc

    def related(self, acc: Access, fn: Function) -> List[dict]:
        desc, path, line, _ = state_info(self.project, acc.target)
        out = [{"path": path, "line": line, "col": 0, "message": f"{desc} is defined here"}] if path else []
        chain = self.lm.reached.get(fn.qualname) or ()
        if chain and chain[0] != fn.qualname:
            entry = self.project.functions[chain[0]]
            emod = self.project.function_module[chain[0]]
            out.append({"path": emod.path, "line": entry.line, "col": entry.col,
                        "message": f"public '{short_name(chain[0], self.project)}' reaches it"})
        return out

    def add(self, code: str, mod: ModuleFacts, fn: Optional[Function], acc_pos, confidence: str,
            related: List[dict], target: Optional[str] = None, **fields) -> None:
        f = self.ctx.report(code, mod, acc_pos, function=fn.qualname if fn else None, related=related,
                            confidence=confidence, **fields)
        self.out.setdefault(mod.path, []).append(f)
        if target is not None and RANK[confidence] > RANK[self.raced.get(target, "none")]:
            self.raced[target] = confidence

    def races(self, mod: ModuleFacts, fn: Function) -> None:
        done: set = set()
        runner = runner_text(self.project, self.lm, fn.qualname)
        accs = fn.accesses
        for i, acc in enumerate(accs):
            if acc.locks or acc.kind == "read":
                continue
            scope = self.scope(fn, acc)
            if scope is None:
                continue
            pos = _Pos(acc.line, acc.col, acc.op)
            key = acc.target
            if acc.kind == "rmw" and (key, "rmw") not in done:
                done.add((key, "rmw"))
                self.add("CCL201", mod, fn, pos, self.confidence(scope, acc, fn), self.related(acc, fn), key,
                         action=f"'{acc.op}'", state=self.describe(acc, scope, fn), defined=self.defined(acc),
                         runner=runner, consequence="concurrent updates are lost", ft=self.ft)
            elif acc.kind == "check" and (key, "check") not in done:
                act = next((a for a in accs[:i] if a.target == key and a.kind in WRITES and a.line >= acc.line
                            and not a.locks), None)
                if act is None or self.pop_with_default(mod, act):
                    continue  # `if k in d: d.pop(k, None)`: the slower caller finds nothing, no error
                done.add((key, "check"))
                lazy = act.kind == "write" and (" is None" in acc.op or acc.op.startswith("not ")
                                                or acc.op == key.rpartition(".")[2] or acc.op.endswith("." + key.rpartition(".")[2]))
                removing = act.op.startswith(REMOVING)
                if lazy:
                    first = f"the lazy initialisation check '{acc.op}'"
                    second = f"the assignment '{act.op}' at line {act.line} (two callers can both create it)"
                elif removing:
                    first, second = f"check '{acc.op}'", f"the removal '{act.op}' at line {act.line} (KeyError for the slower caller)"
                else:
                    first, second = f"check '{acc.op}'", f"the write '{act.op}' at line {act.line}"
                strong = (lazy and self.creates_object(fn, act) and self.used_after(key, acc)) or removing
                self.add("CCL202", mod, fn, pos, self.confidence(scope, acc, fn, strong), self.related(acc, fn), key,
                         first=first, second=second, state=self.describe(acc, scope, fn), defined=self.defined(acc),
                         runner=runner, ft=self.ft)
            elif acc.kind in ("write", "mutate") and (key, "check") not in done:
                earlier = self.read_before(fn, acc, i)
                if earlier is not None:
                    done.add((key, "check"))
                    pop = earlier.kind == "mutate"
                    first = (f"the removal '{earlier.op}' at line {earlier.line}" if pop
                             else f"read '{earlier.op}' at line {earlier.line}")
                    second = (f"the reinsertion '{acc.op}' at line {acc.line} (KeyError for a caller in between)" if pop
                              else f"the write-back '{acc.op}' at line {acc.line}")
                    name = key.rpartition(".")[2]
                    code = _STRINGS.sub("''", acc.op)  # pwd.getpwnam('nobody') does not use `nobody`
                    strong = pop or re.search(rf"\b{re.escape(name)}\b", code) is not None
                    self.add("CCL202", mod, fn, _Pos(earlier.line, earlier.col, earlier.op),
                             self.confidence(scope, acc, fn, strong), self.related(acc, fn), key,
                             first=first, second=second, state=self.describe(acc, scope, fn), defined=self.defined(acc),
                             runner=runner, ft=self.ft)
                    continue
                if acc.op.startswith(SIZE_CHANGING) and scope in ("global", "class") and (key, "iter") not in done:
                    other = self.iterated.get(key)
                    if other is None or not self.is_dict_or_set(key) or other[1] is fn:
                        continue
                    done.add((key, "iter"))
                    omod, ofn, oacc = other
                    where = short_name(ofn.qualname, self.project)
                    self.add("CCL201", mod, fn, pos, self.confidence(scope, acc, fn), self.related(acc, fn) + [
                        {"path": omod.path, "line": oacc.line, "col": oacc.col, "message": f"'{where}' iterates it here"}], key,
                        action=f"'{acc.op}'", state=self.describe(acc, scope, fn), defined=self.defined(acc), runner=runner,
                        consequence=(f"'{where}' iterates it at {omod.path}:{oacc.line}, also public, and fails "
                                     "with 'RuntimeError: changed size during iteration'"), ft=self.ft)

    def creates_object(self, fn: Function, act: Access) -> bool:
        """Does the lazy initialisation create an object (a client, a pool, a lock: a class is
        called), so that two racing callers end up with two of them?"""
        for call in self.project.calls_of(fn):
            if call.line != act.line:
                continue
            t = self.project.call_target(call) or ""
            last = t.rsplit(".", 1)[-1]
            if t in self.project.classes or last == "__init__" or last[:1].isupper():
                return True
        return False

    @staticmethod
    def pop_with_default(mod: ModuleFacts, acc: Access) -> bool:
        """``d.pop(k, None)``: a missing key is not an error."""
        if acc.op != ".pop()":
            return False
        for call in mod.calls:
            if (call.line, call.col) == (acc.line, acc.col) and call.method == "pop":
                return len(call.args) >= 2 or "default" in call.kwargs
        return False

    def used_after(self, target: str, check: Access) -> bool:
        """Is the lazily created object used (read outside a test) anywhere? One that is never
        read only marks that the set-up was done: racing callers do it twice, nothing leaks."""
        for fn in self.project.functions.values():
            for a in fn.accesses:
                if a.target == target and a.kind == "read" and not a.in_check:
                    return True
        return False

    def defined(self, acc: Access) -> str:
        _, path, line, _ = state_info(self.project, acc.target)
        return f"{path}:{line}" if path else "outside the analysed files"

    def is_dict_or_set(self, target: str) -> bool:
        value = state_info(self.project, target)[3]
        t = self.project.value_type(value) if value is not None else None
        return t in ("builtins.dict", "builtins.set", "collections.OrderedDict", "collections.defaultdict")

    def read_before(self, fn: Function, w: Access, index: int) -> Optional[Access]:
        """What makes this write a write-back: an unlocked removal earlier in the function
        (``v = d.pop(k)`` ... ``d[k] = v``), an unlocked read on an earlier line before a plain
        rebinding (``n = _count`` ... ``_count = n + 1``), or, for an entry, a ``.get()`` in the
        value written (``d[k] = d.get(k, 0) + 1``)."""
        entry = w.op.startswith("[...] =")
        if not (w.kind == "write" or entry):
            return None
        name = w.target.rpartition(".")[2]
        for a in fn.accesses[:index]:
            if a.target != w.target or a.locks or a.line > w.line:
                continue
            if a.kind == "mutate" and a.op in (".pop()", ".popitem()") and a.line < w.line \
                    and not self.pop_with_default(self.project.function_module[fn.qualname], a):
                return a
            if entry:
                if a.kind == "read" and a.op == ".get()" and a.line == w.line and _GET_ARITH.search(w.op) \
                        and name + ".get(" in w.op:
                    return a
                continue
            if a.kind == "read" and not a.in_check and a.line < w.line and not _is_iteration(fn, a):
                return a
        return None

    # ---------------------------------------------------------- per-call state
    def per_call_state(self, mod: ModuleFacts, fn: Function) -> None:
        if not fn.cls or fn.name in CONSTRUCTION:
            return
        if is_lifecycle(fn.qualname) and fn.name not in ("__enter__", "__aenter__"):
            return
        why = self.lm.shared_reason(self.project, fn) or ""
        if not why.startswith(("an instance", "its instance")):
            return
        info = self.project.classes.get(fn.cls)
        readers: List[Tuple[Function, List[Access]]] = [(fn, fn.accesses)]
        if fn.name in ("__enter__", "__aenter__") and info is not None:
            ex = info.methods.get("__exit__" if fn.name == "__enter__" else "__aexit__")
            if ex in self.project.functions:
                readers.append((self.project.functions[ex], self.project.functions[ex].accesses))
        done = set()
        for i, w in enumerate(fn.accesses):
            if w.kind != "write" or not w.via_self or w.locks or w.target in done or CONSTANT.match(w.op):
                continue
            if not w.target.startswith(f"attr:{fn.cls}."):
                continue
            if any(a.target == w.target for a in fn.accesses[:i]):
                continue  # read (or checked) before the write: state kept across calls, not per call
            for rfn, accs in readers:
                later = accs[i + 1:] if rfn is fn else accs
                r = next((a for a in later if a.target == w.target and a.kind == "read"
                          and (rfn is not fn or a.line > w.line)), None)
                if r is None:
                    continue
                done.add(w.target)
                attr = w.target.rpartition(".")[2]
                conf = "low" if fn.cls in self.lm.not_thread_safe else (
                    "high" if why.startswith(("its instance", "an instance is the module global")) else "medium")
                where = "later in the same call" if rfn is fn else f"in '{short_name(rfn.qualname, self.project)}'"
                self.add("CCL204", mod, fn, _Pos(w.line, w.col, w.op), conf, self.related(w, fn) + [
                    {"path": mod.path, "line": r.line, "col": r.col, "message": f"read back here {where}"}], w.target,
                    attr=f"self.{attr}", cls=fn.cls.rsplit(".", 1)[-1], why=why,
                    reader=f"line {r.line} ({where})", runner=runner_text(self.project, self.lm, fn.qualname))
                break

    # ---------------------------------------------------------------- signals
    def signals(self) -> None:
        project = self.project
        for mod in project.modules:
            if is_application(mod.module):
                continue
            for call in mod.calls:
                t = project.call_target(call)
                if not (t in SIGNAL_CALLS or (t is None and call.method == "add_signal_handler")):
                    continue
                if call.in_main_guard or call.in_try or call.in_handler:
                    continue
                api = "signal.signal()" if t == "signal.signal" else "loop.add_signal_handler()"
                if call.function is None:
                    self.add("CCL605", mod, None, call, "high", [], api=api, where="at import time",
                             consequence="importing the library from any thread but the main one fails")
                    continue
                if call.function not in self.lm.reached or self.checks_main_thread(call.function) \
                        or call.function in self.process_targets():
                    continue
                fn = project.functions[call.function]
                chain = self.lm.reached[call.function]
                # a function that installs handlers is usually a start-up API documented for the
                # main thread: worth a look, rarely a bug on its own (import time is high)
                conf = "medium"
                via = f" (reached from public '{short_name(chain[0], project)}')" if len(chain) > 1 else ""
                self.add("CCL605", mod, fn, call, conf, self.related_entry(chain), api=api,
                         where=f"in '{short_name(fn.qualname, project)}'{via}",
                         consequence="a caller that runs it in a worker thread gets the error")

    def process_targets(self) -> set:
        """Functions run in a child process (its main thread installs the handlers)."""
        from concurlint.analysis.threads import thread_map

        return set(self.ctx.shared(thread_map).process)

    def related_entry(self, chain) -> List[dict]:
        if len(chain) < 2:
            return []
        entry = self.project.functions[chain[0]]
        return [{"path": self.project.function_module[chain[0]].path, "line": entry.line, "col": entry.col,
                 "message": f"public '{short_name(chain[0], self.project)}' reaches it"}]

    def checks_main_thread(self, qualname: str) -> bool:
        """The function (or one of its callers in the chain) asks which thread it runs in."""
        for q in self.lm.reached.get(qualname, (qualname,)):
            fn = self.project.functions[q]
            for call in self.project.calls_of(fn):
                if self.project.call_target(call) in MAIN_THREAD_CHECKS:
                    return True
        return False

    # ------------------------------------------------------------------ pools
    def pools(self) -> None:
        m = self.ctx.shared(process_model)
        if not m.default_is_fork():
            return
        for fp in m.fork_points:
            if fp.kind != "multiprocessing" or fp.start_method is not None or self.from_context(fp):
                continue
            call: Call = fp.call
            mod = fp.module
            if is_application(mod.module) or call.in_main_guard:
                continue
            fn = self.project.functions.get(call.function) if call.function else None
            if fn is not None and fn.qualname not in self.lm.reached:
                continue
            where = f"'{short_name(fn.qualname, self.project)}'" if fn else "module-level code"
            self.add("CCL306", mod, fn, call, "high", self.related_entry(self.lm.reached.get(call.function, ())),
                     what=fp.what, where=where)


    def from_context(self, fp) -> bool:
        """Made by a context object (``ctx.Process(...)``, ``ctx.Pool()``) the caller chose, even
        when the analysis cannot tell which one."""
        if (self.project.call_target(fp.call) or "").startswith("multiprocessing.context."):
            return True
        r = fp.call.receiver
        if r is None or not r.line:
            return False
        for c in fp.module.calls:
            if (c.line, c.col) == (r.line, r.col):
                return (self.project.call_target(c) or "").startswith("multiprocessing.context.")
        return False


def library_analysis(ctx) -> LibraryAnalysis:
    return LibraryAnalysis(ctx)


class _LibraryRule(Rule):
    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        for f in ctx.shared(library_analysis).out.get(module.path, ()):
            if f.code == self.code:
                yield f


class PerCallStateOnSharedObject(_LibraryRule):
    code = "CCL204"


class DefaultStartMethodInLibrary(_LibraryRule):
    code = "CCL306"


class SignalHandlerInstalledByLibrary(_LibraryRule):
    code = "CCL605"

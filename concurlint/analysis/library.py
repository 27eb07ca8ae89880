"""Library mode: the code that the library's callers may run in many threads and tasks at once.

A library starts no threads itself; its callers bring them. With ``--library`` (``library =
true``) every public function and method of the analysed package is taken to be called from many
threads and many coroutines at once, and so is everything it calls. Built once per run and
memoised with ``ctx.shared(library_map)``.

- *public*: no component of the qualname after the package root starts with an underscore
  (dunder methods such as ``__call__`` or ``__getitem__`` count as public), or the name is listed
  in its module's ``__all__``. ``__main__`` modules, test helpers and code under the main guard are
  the application, not the library.
- *reached*: the public functions, every project function they call through call edges made with
  no lock held, and the functions nested in a reached one (the wrapper a decorator returns runs
  on every call of the decorated function); each with one shortest chain from a public entry.
- *shared classes*: classes whose instances' own (``self``) state is shared by design:
  the class guards some of its state with a lock; an instance is a module global or a class
  attribute of the same package (a singleton, a default client; an instance a demo or another
  package makes does not count); the class is used as a decorator (its instance
  replaces a module-level function); its name says it is a cache, pool or registry. A class whose
  docstring says it is not thread-safe is recorded as such (findings on it are low confidence).
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from concurlint.analysis.hints import is_test_code
from concurlint.analysis.state import LOCK_TYPES
from concurlint.analysis.threads import call_graph, short_name

THREAD_LOCKS = frozenset(t for t in LOCK_TYPES if not t.startswith("asyncio."))
CONSTANT = re.compile(r"^= (None|True|False|-?\d[\d_.]*|'[^']*'|\"[^\"]*\"|\(\)|\[\]|\{\})$")
# a null object (the default no-op callback, an empty payload): its state means nothing
_NULL_OBJECT = re.compile(r"_*(NoOp|Noop|Null|Dummy|Empty)[A-Z_]")
_SHARED_NAME = re.compile(r"(Cache|Pool|Registry)(?![a-z])|^(Cache|Pool|Registry)|(cache|pool|registry)$")


@dataclass
class LibraryMap:
    public: Set[str] = field(default_factory=set)
    # reached function -> shortest chain of calls from a public function (unlocked edges only)
    reached: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    # shared class -> why its instances are shared ("an instance is the module global 'x'")
    shared: Dict[str, str] = field(default_factory=dict)
    # classes that guard some of their state with a lock: class -> attrs written under a lock
    locked_attrs: Dict[str, Set[str]] = field(default_factory=dict)
    not_thread_safe: Set[str] = field(default_factory=set)
    async_classes: Set[str] = field(default_factory=set)
    # base class -> shared subclasses that may inherit its methods
    shared_subclasses: Dict[str, List[str]] = field(default_factory=dict)

    def shared_reason(self, project, fn) -> Optional[str]:
        """Why the object ``fn`` (a method) runs on is shared, else None."""
        if not fn.cls:
            return None
        if fn.cls in self.shared:
            return self.shared[fn.cls]
        for sub in self.shared_subclasses.get(fn.cls, ()):
            if project.find_method(sub, fn.name) == fn.qualname:
                return self.shared[sub]
        return None

    def chain(self, qualname: str) -> Optional[Tuple[str, ...]]:
        return self.reached.get(qualname)


def _exports(mod) -> Set[str]:
    g = mod.globals.get("__all__")
    if g is None or g.value.kind != "container":
        return set()
    return {v.text.strip("\"'") for v in g.value.inner if v.kind == "literal"}


_APPLICATION = re.compile(r"(^|\.)(__main__|cli|pytest_?plugin|_pytest|conftest)(\.|$)")


def is_application(module: str) -> bool:
    """``__main__`` and command-line modules, test helpers and pytest plugins: code that runs as
    the application (on its main thread), not code the library's users call."""
    return bool(_APPLICATION.search(module)) or is_test_code(module)


def is_public(project, qualname: str) -> bool:
    fn = project.functions[qualname]
    mod = project.function_module[qualname]
    if fn.is_lambda or is_application(mod.module):
        return False
    if fn.parent is not None:
        return False  # nested: reached through its enclosing function
    rest = qualname[len(mod.module) + 1:].split(".") if qualname.startswith(mod.module + ".") else [fn.name]
    exported = _exports(mod)
    if rest[0] in exported:
        rest = rest[1:]
        mod_parts: List[str] = []
    else:
        mod_parts = mod.module.split(".")[1:]
    for part in mod_parts + rest:
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            return False
    return True


def build(ctx) -> LibraryMap:
    project = ctx.project
    lm = LibraryMap()
    graph = call_graph(project)
    nested: Dict[str, List[str]] = {}
    for q, fn in project.functions.items():
        if fn.parent is not None and not fn.is_lambda:
            nested.setdefault(fn.parent, []).append(q)
    locked_only = _called_only_under_lock(project)
    for q in project.functions:
        if is_public(project, q) and q not in locked_only:
            lm.public.add(q)
    todo = deque()
    for q in sorted(lm.public):
        lm.reached[q] = (q,)
        todo.append(q)
    while todo:
        q = todo.popleft()
        chain = lm.reached[q]
        for callee, locked in graph.get(q, ()):
            if locked or callee in lm.reached or is_application(project.function_module[callee].module):
                continue
            lm.reached[callee] = chain + (callee,)
            todo.append(callee)
        for inner in nested.get(q, ()):
            if inner not in lm.reached:
                lm.reached[inner] = chain + (inner,)
                todo.append(inner)
    _shared_classes(project, lm)
    return lm


def _called_only_under_lock(project) -> Set[str]:
    """Methods that every call site in the project makes with a lock held: public by name, but
    the class's own protocol is to call them under its lock (``ConnectionPool.make_connection``)."""
    calls: Dict[str, List[bool]] = {}
    for _, call in project.index.calls("project-call"):
        t = project.call_target(call)
        if t in project.functions:
            calls.setdefault(t, []).append(bool(call.locks))
    return {q for q, held in calls.items() if all(held) and project.functions[q].cls}


def _is_async_class(project, info) -> bool:
    """An asyncio object: its methods run on one event loop, whose thread owns its state."""
    return any(project.functions[m].is_async for m in info.methods.values() if m in project.functions)


def _shared_classes(project, lm: LibraryMap) -> None:
    for cq, info in project.classes.items():
        if info.local:
            continue
        if _is_async_class(project, info):
            lm.async_classes.add(cq)
            continue
        if info.not_thread_safe:
            lm.not_thread_safe.add(cq)
        locked: Set[str] = set()
        has_lock = any(project.value_type(v) in THREAD_LOCKS for v in info.attrs.values())
        for mq in info.methods.values():
            fn = project.functions.get(mq)
            if fn is None:
                continue
            for acc in fn.accesses:
                # updates under the object's own lock (a reset to a constant shows less: it is
                # often done under a lock taken for something else)
                if acc.locks and acc.target.startswith(f"attr:{cq}.") and acc.kind in ("write", "mutate", "rmw") \
                        and not (acc.kind == "write" and CONSTANT.match(acc.op)) \
                        and any(lk.startswith(tuple(p + "." for p in fn.params[:1])) for lk in acc.locks):
                    locked.add(acc.target.rpartition(".")[2])
        if locked:
            lm.locked_attrs[cq] = locked
            lm.shared.setdefault(cq, "the class guards some of its state with a lock")
        elif has_lock:
            lm.shared.setdefault(cq, "the class holds a lock")
        if _SHARED_NAME.search(info.name) and not info.name.startswith("_"):
            lm.shared.setdefault(cq, f"'{info.name}' is a cache, pool or registry, shared by design")
    # module globals the public API reads: a private singleton only matters when it is used
    read = {a.target for q in lm.reached for a in project.functions[q].accesses if a.target.startswith("global:")}
    for q in lm.reached:
        module = project.function_module[q].module
        fn = project.functions[q]
        read.update(f"global:{module}.{n}" for n in fn.loaded_names)
        read.update(f"global:{module}.{c.receiver.text.split('.', 1)[0]}" for c in project.calls_of(fn)
                    if c.receiver is not None and c.receiver.text)
    for mod in project.modules:
        if is_application(mod.module):
            continue
        # an instance made at the module's top first: the plainest evidence (`shared = Client()`)
        for name, g in sorted(mod.globals.items(), key=lambda item: item[1].assigned_in_function):
            if g.in_main_guard:
                continue
            t = project.value_type(g.value)
            if t in project.classes and g.value.kind in ("instance", "call") and t not in lm.async_classes \
                    and not _NULL_OBJECT.match(project.classes[t].name) \
                    and t.split(".", 1)[0] == mod.module.split(".", 1)[0] \
                    and (not name.startswith("_") or f"global:{mod.module}.{name}" in read):
                lm.shared.setdefault(t, f"an instance is the module global '{name}' at {mod.path}:{g.line}")
        for cq, info in mod.classes.items():
            for attr, v in info.attrs.items():
                t = project.value_type(v)
                if t in project.classes and v.kind in ("instance", "call") and _class_level(project, cq, attr) \
                        and t not in lm.async_classes:
                    lm.shared.setdefault(t, f"an instance is the class attribute '{info.name}.{attr}'")
        for q, fn in mod.functions.items():
            if fn.parent is None and not fn.cls:
                for d in fn.decorators:
                    if d in project.classes and d not in lm.async_classes:
                        lm.shared.setdefault(d, f"its instance replaces the decorated function '{fn.name}'")
    # an inherited method runs on the shared instance of the subclass (see ``shared_reason``)
    for cq in list(lm.shared):
        for base in _bases(project, cq):
            if base.split(".", 1)[0] == cq.split(".", 1)[0]:  # a subclass in another package is its business
                lm.shared_subclasses.setdefault(base, []).append(cq)


def _class_level(project, cls: str, attr: str) -> bool:
    from concurlint.analysis.threads import is_class_level

    return is_class_level(project, cls, attr)


def _bases(project, cls: str) -> List[str]:
    out: List[str] = []
    todo = [cls]
    seen = set()
    while todo:
        c = todo.pop()
        info = project.classes.get(c)
        if info is None or c in seen:
            continue
        seen.add(c)
        for b in info.bases:
            r = project.resolve(b)
            if r in project.classes and r not in seen:
                out.append(r)
                todo.append(r)
    return out


def runner_text(project, lm: LibraryMap, qualname: str) -> str:
    """``public 'Cache.get' (via Cache.get -> _evict; library mode: ...)``, for messages."""
    chain = lm.reached.get(qualname) or (qualname,)
    via = f"via {' -> '.join(short_name(q, project) for q in chain)}; " if len(chain) > 1 else ""
    return (f"public '{short_name(chain[0], project)}' ({via}library mode: callers may run it in many "
            "threads and tasks at once)")


def library_map(ctx) -> LibraryMap:
    """The memoised map for this run: ``ctx.shared(library_map)``."""
    return build(ctx)

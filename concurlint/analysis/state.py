"""Shared state and locks: reads and writes of state that outlives a call, and the locks held.

Collects ``Function.accesses`` and ``ModuleFacts.module_accesses``: one ``Access`` per read,
write, mutation (``d[k] = v``, ``d.append(x)``, ``del``), read-modify-write (``+=``) of a module
global or a class / ``self`` attribute, with the locks held at that point and whether it is part
of an ``if``/``while`` test; and the "check" access of a check-then-act (``if k not in d:
d[k] = v``). Also the plain statements and expressions that bind names (assignments,
``with ... as``, ``except ... as``, ``:=``), which it hands to ``bind``, and ``Function.withs``
(the context managers of plain ``with``).

It owns ``locks`` (the ``with`` locks and the locks a ``try`` releases in ``finally``, read by
``calls`` for ``Call.locks``) and ``in_test``. It needs ``function``, ``scope``, ``scopes``,
``lookup``, ``_self_class``, ``bind`` and ``segment`` (scopes), ``describe`` (values) and
``use`` (calls: marking how a call's result is used).
"""
from __future__ import annotations

import re

import ast
from typing import Dict, List, Optional

from concurlint.analysis.facts import Access, Function, Value

# the asyncio primitives `with await lock:` held before Python 3.9 removed it
ASYNCIO_LOCKS = frozenset({"asyncio.Lock", "asyncio.Semaphore", "asyncio.BoundedSemaphore", "asyncio.Condition"})
LOCK_TYPES = frozenset(
    {
        "threading.Lock", "threading.RLock", "threading.Condition", "threading.Semaphore",
        "threading.BoundedSemaphore", "multiprocessing.Lock", "asyncio.Lock", "asyncio.Semaphore",
        "asyncio.Condition",
    }
)
# the locks a `with` can make for itself (CCL206): the standard library's, whose types are resolved
FRESH_LOCK_TYPES = LOCK_TYPES | {
    "multiprocessing.RLock", "multiprocessing.synchronize.Lock", "multiprocessing.synchronize.RLock",
    "asyncio.BoundedSemaphore",
}
MUTATING_METHODS = frozenset(
    {
        "append", "extend", "insert", "pop", "popleft", "appendleft", "remove", "clear", "update",
        "setdefault", "add", "discard", "sort", "reverse", "popitem", "__setitem__", "__delitem__",
    }
)
READING_METHODS = frozenset({"get", "keys", "values", "items", "copy", "index", "count", "__contains__"})
# names of locks: `lock`, `self._io_lock`, `maplock`, `job_mutex`, `write_sem`, `self.cond`
_LOCK_NAME = re.compile(r"(?i)((?<![bc])lock|mutex|semaphore|(^|_)sem|(^|_)cond(ition)?)$")


class StateCollector:
    """Shared-state accesses, assignments and locks (a mixin of ``Extractor``)."""

    def _init_state(self) -> None:
        self.locks: List[str] = []
        self.in_test = 0
        self._via_self = False  # the last key shared_target returned was reached through ``self``

    # --------------------------------------------------------- shared state
    def shared_target(self, node: ast.AST) -> Optional[str]:
        """The shared-state key for an expression naming a global or an attribute of self/class."""
        fn = self.function
        self._via_self = False
        if isinstance(node, ast.Name):
            name = node.id
            if fn is None:
                return None
            sc = self.scope
            if name in sc.globals:
                return f"global:{self.module}.{name}"
            if any(name in s.values for s in self.scopes[1:]):
                return None
            if name in fn.params:
                return None
            if name in self.facts.globals or name in self.scopes[0].values:
                g = self.scopes[0].values.get(name)
                if g is not None and g.kind in ("function", "class", "ref"):
                    return None
                return f"global:{self.module}.{name}"
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = self._self_class(node.value.id)
            if owner is not None:
                if node.attr in owner.methods:
                    return None
                self._via_self = not (fn is not None and "classmethod" in " ".join(fn.decorators))
                return f"attr:{owner.qualname}.{node.attr}"
            v = self.lookup(node.value.id)
            if v is not None and v.kind == "class" and v.qualname and not v.local:
                return f"attr:{v.qualname}.{node.attr}"
            owner = self._class_of_self(v)
            if owner is not None and node.attr not in owner.methods:
                # `cls = type(self)` then `cls._cache = ...`: the class's own attribute, shared
                # by every instance (dashbox's JS-runtime probe, filled once per process)
                return f"attr:{owner.qualname}.{node.attr}"
            if v is not None and v.kind == "ref" and v.qualname and v.qualname in self.facts.classes:
                return f"attr:{v.qualname}.{node.attr}"
        return None

    def _class_of_self(self, v):
        """The class of ``self`` when ``v`` is ``type(self)`` or ``self.__class__``."""
        if v is None or not v.text.endswith((")", "__class__")):
            return None
        m = re.fullmatch(r"type\((\w+)\)|(\w+)\.__class__", v.text)
        return self._self_class(m.group(1) or m.group(2)) if m else None

    def access(self, target: str, kind: str, op: str, node: ast.AST) -> None:
        acc = Access(target, kind, op, node.lineno, node.col_offset, tuple(self.locks), self.in_test > 0,
                     self._via_self)
        fn = self.function
        if fn is not None:
            fn.accesses.append(acc)
        else:
            self.facts.module_accesses.append(acc)

    def _write_target(self, target: ast.AST, kind: str, op: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for e in target.elts:
                self._write_target(e, kind, op)
            return
        if isinstance(target, ast.Starred):
            self._write_target(target.value, kind, op)
            return
        if isinstance(target, ast.Subscript):
            key = self.shared_target(target.value)
            if key:
                self.access(key, "mutate" if kind == "write" else kind, "[...] " + op, target)
            return
        key = self.shared_target(target)
        if key:
            if isinstance(target, ast.Name) and key.startswith("global:") and target.id not in self.scope.globals:
                return  # a plain local assignment shadows, it does not write the global
            self.access(key, kind, op, target)

    def _method_access(self, node: ast.Call) -> Optional[str]:
        """Record the read or mutation of shared state through a method (``d.append(x)``,
        ``d.get(k)``) of a call whose callee is an attribute; return the receiver's key."""
        key = self.shared_target(node.func.value)
        if key:
            attr = node.func.attr
            if attr in MUTATING_METHODS:
                self.access(key, "mutate", f".{attr}()", node)
            elif attr in READING_METHODS:
                self.access(key, "read", f".{attr}()", node)
        return key

    def _checked_targets(self, test: ast.AST) -> Dict[str, str]:
        found: Dict[str, str] = {}
        for sub in ast.walk(test):
            if isinstance(sub, ast.Compare):
                for operand in [sub.left] + list(sub.comparators):
                    key = self.shared_target(operand)
                    if key:
                        found[key] = self.segment(sub)
            elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                key = self.shared_target(sub.func.value)
                if key and sub.func.attr in READING_METHODS:
                    found[key] = self.segment(sub)
            elif isinstance(sub, ast.Name):
                key = self.shared_target(sub)
                if key:
                    found.setdefault(key, sub.id)
        return found

    def _record_check(self, fn: Function, checked: Dict[str, str], start: int, node: ast.AST) -> None:
        """A write, in an ``if`` body, to state its test read (``checked``; the body's accesses
        start at ``start``) makes a check-then-act: one "check" access at the ``if``."""
        for acc in fn.accesses[start:]:
            if acc.target in checked and acc.kind in ("write", "mutate", "rmw"):
                fn.accesses.append(Access(acc.target, "check", checked[acc.target],
                                          node.lineno, node.col_offset, tuple(self.locks), via_self=acc.via_self))
                break

    # ------------------------------------------------------------- visitors
    def visit_With(self, node: ast.With) -> None:
        held = []
        for item in node.items:
            as_name = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else None
            self.use[id(item.context_expr)] = ("with", as_name)  # `with open(p) as f`: f
            first = len(self.facts.calls)
            self.visit(item.context_expr)
            if isinstance(item.context_expr, ast.Call) and len(self.facts.calls) > first:
                self.facts.calls[first].block_end = getattr(node, "end_lineno", 0) or 0
            v = self.describe(item.context_expr)
            if isinstance(node, ast.With) and isinstance(item.context_expr, (ast.Await, ast.YieldFrom)) \
                    and isinstance(item.context_expr.value, (ast.Name, ast.Attribute)):
                held_type = self.describe(item.context_expr.value)
                held = self.segment(item.context_expr.value, 40).rsplit(".", 1)[-1].lower()
                # an asyncio lock, or an object named like one whose type is not known (an aioredis
                # 1.x pool's `with await pool:` is its own API: aioredlock, a corpus fp)
                if held_type.qualname in ASYNCIO_LOCKS or (
                        held_type.kind != "instance" and any(w in held for w in ("lock", "sem", "cond", "mutex"))):
                    self.facts.awaited_locks.append((node.lineno, node.col_offset, self.segment(item.context_expr, 40),
                                                     self.function.qualname if self.function is not None else None))
            keyword = "with" if isinstance(node, ast.With) else "async with"
            self._note_anded_lock(item.context_expr, keyword)
            self._note_fresh_lock(node, item, v, keyword)
            if self.function is not None and isinstance(node, ast.With):
                self.function.withs.append(v)
                self.function.with_blocks.append((self.segment(item.context_expr, 60), node.lineno,
                                                  getattr(node, "end_lineno", 0) or node.lineno))
            elif self.function is not None:
                self.function.async_withs.append((v.qualname or self.segment(item.context_expr, 60), node.lineno,
                                                  getattr(node, "end_lineno", 0) or node.lineno))
            if item.optional_vars is not None:
                self.bind(item.optional_vars, v if v.kind != "other" else None, node)
            if v.kind == "instance" and v.qualname in LOCK_TYPES:
                held.append(self.segment(item.context_expr, 40))
            elif isinstance(item.context_expr, ast.Subscript) \
                    and self.describe(item.context_expr.value).meta.get("item") in LOCK_TYPES:
                held.append(self.segment(item.context_expr, 40))  # `with self.locks[key]:` a lock per key
        self.locks.extend(held)
        for s in node.body:
            self.visit(s)
        if held:
            del self.locks[-len(held):]

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def _note_anded_lock(self, expr: ast.AST, keyword: str) -> None:
        """``with self._lock and open(path) as f:`` (``ModuleFacts.anded_locks``): a lock before
        the last operand of an ``and`` is only tested for truth, never entered. ``or`` is the
        idiom for an optional lock (``with lock or nullcontext():``) and is left alone."""
        if not (isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.And)):
            return
        for operand in expr.values[:-1]:
            if self._lock_like(operand):
                self.facts.anded_locks.append((expr.lineno, expr.col_offset, keyword, self.segment(operand, 60),
                                               self.segment(expr.values[-1], 60),
                                               self.function.qualname if self.function is not None else None))
                return

    def _note_fresh_lock(self, node: ast.AST, item: ast.withitem, v: Value, keyword: str) -> None:
        """``with threading.Lock():`` (``ModuleFacts.fresh_locks``): the lock is made there, on
        every pass, so no other thread can ever hold it. Not when its ``as`` name is used in the
        block (``with Lock() as lock: Pool(initializer=init, initargs=(lock,))`` shares it)."""
        expr = item.context_expr
        if not (isinstance(expr, ast.Call) and v.kind == "instance" and v.qualname in FRESH_LOCK_TYPES):
            return
        made_by = self._call_target(expr)[0] or ""
        if made_by.rsplit(".", 1)[-1] not in ("Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition"):
            return  # `async with _pin_lock(pid):` -- a helper that hands back a kept lock
        if isinstance(item.optional_vars, ast.Name):
            name = item.optional_vars.id
            if any(isinstance(n, ast.Name) and n.id == name for b in node.body for n in ast.walk(b)):
                return
        self.facts.fresh_locks.append((node.lineno, node.col_offset, keyword, self.segment(item.context_expr, 60),
                                       self.function.qualname if self.function is not None else None))

    def _lock_like(self, node: ast.AST) -> bool:
        """A lock, semaphore or condition: by its type where it is known, else by its name
        (``self.maplock``, ``history.get_lock()``, ``_jobs_mutex``)."""
        v = self.describe(node)
        if v.kind == "instance" and v.qualname:
            return v.qualname in LOCK_TYPES or v.qualname.startswith("multiprocessing.synchronize.")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args:
            return node.func.attr == "get_lock"  # a multiprocessing Value's or Array's lock
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
        return bool(_LOCK_NAME.search(name))

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self.use[id(node.value)] = ("assign", node.targets[0].id)
        elif isinstance(node.value, ast.Call):
            self.use[id(node.value)] = ("assign", None)
        fn = self.function
        first = len(fn.accesses) if fn is not None else 0
        self.visit(node.value)
        if fn is not None and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if any(a.into == name for a in fn.accesses[:first]) and not any(
                    isinstance(n, ast.Name) and n.id == name for n in ast.walk(node.value)):
                fn.rebinds.append((name, node.lineno))  # the value read into it is replaced
            self._mark_into(fn, first, node.value, name)
        v = self.describe(node.value)
        for t in node.targets:
            if isinstance(t, ast.Subscript):
                self._store_key(t, v)
                self.visit(t.value)
                self.visit(t.slice)
            elif isinstance(t, ast.Attribute):
                self.visit(t.value)
                if isinstance(t.value, ast.Name) and t.value.id in self.facts.imports:
                    self.facts.patches.append(f"{self.facts.imports[t.value.id]}.{t.attr}")
            if not _same_value(t, node.value):
                self._write_target(t, "write", "= " + _short(self.segment(node.value, 30)))
            self.bind(t, v, node)

    def _store_key(self, target: ast.Subscript, v: Value) -> None:
        """``kwargs["async_"] = ...`` in a function: remember the key for ``f(**kwargs)``."""
        key = target.slice
        if self.function is not None and isinstance(target.value, ast.Name) \
                and isinstance(key, ast.Constant) and isinstance(key.value, str):
            self.scope.dict_keys.setdefault(target.value.id, {})[key.value] = v

    @staticmethod
    def _mark_into(fn: Function, first: int, value: ast.AST, name: str) -> None:
        """``n = self.count`` / ``n = COUNTS.get(k)``: the read is taken whole into ``n``."""
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in READING_METHODS:
            value = value.func.value
            reads = [a for a in fn.accesses[first:] if a.kind == "read" and a.op.startswith(".")]
        elif isinstance(value, (ast.Attribute, ast.Name, ast.Subscript)):
            reads = [a for a in fn.accesses[first:] if a.kind == "read"]
        else:
            return
        if len(reads) == 1:
            reads[0].into = name

    def visit_NamedExpr(self, node) -> None:
        """``(n := expr)`` binds ``n`` like an assignment (in a function: module level is left as it was)."""
        if isinstance(node.value, ast.Call) and isinstance(node.target, ast.Name):
            self.use[id(node.value)] = ("assign", node.target.id)
        self.visit(node.value)
        if self.function is not None:
            self.bind(node.target, self.describe(node.value), node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        """``except E as name`` binds ``name`` in the function: it hides a module name of that spelling."""
        if node.type is not None:
            self.visit(node.type)
        if node.name and self.function is not None:
            self.bind(ast.Name(id=node.name, ctx=ast.Store(), lineno=node.lineno, col_offset=node.col_offset),
                      None, node)
        for s in node.body:
            self.visit(s)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            if isinstance(node.value, ast.Call):
                self.use[id(node.value)] = ("assign", node.target.id if isinstance(node.target, ast.Name) else None)
            self.visit(node.value)
            v = self.describe(node.value)
            self._write_target(node.target, "write", "= ...")
            self.bind(node.target, v, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Subscript):
            self.visit(node.target.value)
            self.visit(node.target.slice)
        elif isinstance(node.target, ast.Attribute):
            self.visit(node.target.value)
        op = _OPS.get(type(node.op), "?") + "="
        self._write_target(node.target, "rmw", op)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            if isinstance(t, ast.Subscript):
                self.visit(t.slice)
            self._write_target(t, "mutate", "del")

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            fn = self.function
            if fn is not None and not self._comprehension_bound(node.id):
                fn.loaded_names.append(node.id)
            key = self.shared_target(node)
            if key:
                self.access(key, "read", node.id, node)

    def _comprehension_bound(self, name: str) -> bool:
        """A comprehension's own target (``[k for k in keys]``): not a name of the function, nor
        the module's global of the same spelling (patator's ``k`` beside a ``k`` bound in its
        main guard: rev93c's CCL304 fp)."""
        for sc in reversed(self.scopes):
            if not sc.comprehension:
                return False
            if name in sc.values:
                return True
        return False

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            key = self.shared_target(node)
            if key:
                self.access(key, "read", self.segment(node, 40), node)
            if isinstance(node.value, ast.Name) and node.attr not in CORO_ATTRS:
                self.result_use(node.value, "." + node.attr)
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.value, ast.Name):
            self.result_use(node.value, "[]")
        self.visit(node.value)
        self.visit(node.slice)


# what a coroutine object has: reading these does not take it for its result
CORO_ATTRS = frozenset({"send", "throw", "close", "cr_await", "cr_code", "cr_frame", "cr_running", "cr_origin",
                        "cr_suspended", "__await__", "__name__", "__qualname__", "__class__"})

_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
    ast.MatMult: "@",
}


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:27] + "..."


def _same_value(target: ast.AST, value: ast.AST) -> bool:
    """``self.site = cast(Site, self.site)``, ``x.y = x.y``: the store writes back the object it
    read (``typing.cast`` does nothing at run time), so nothing another thread wrote can be lost
    (render-engine's collection, a rev137a fp)."""
    if isinstance(value, ast.Call) and len(value.args) == 2 and not value.keywords \
            and (isinstance(value.func, ast.Name) and value.func.id == "cast"
                 or isinstance(value.func, ast.Attribute) and value.func.attr == "cast"):
        value = value.args[1]
    written = _dotted(target)
    return written is not None and written == _dotted(value)


def _dotted(node: ast.AST) -> Optional[str]:
    """``self.site`` for a name or a chain of attributes on one, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head is not None else None
    return None

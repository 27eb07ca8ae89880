"""Names, imports and scopes: the collector every other one stands on.

Collects ``ModuleFacts.imports`` (module-level imports) and ``import_lines`` (every import), one
``Function`` per def and lambda (its qualname, parameters, decorators, parent and class), the names
bound in each scope (``bind``: module-level names become ``ModuleFacts.globals``, class-level names
and ``self.X`` assignments become ``ClassInfo.attrs``; imports, parameters and the other binding
forms inside a function are locals of that function, and a comprehension in a function has its own
scope) and ``global`` / ``nonlocal`` declarations.

It owns the shared scope state the other collectors read: ``facts``, ``lines``, ``kb`` (the
knowledge base), ``module``, ``package``, the ``scopes`` stack (one ``_Scope`` per module,
class and function body), ``class_stack``, and the helpers ``scope``, ``function``, ``qual``,
``lookup``, ``_self_class`` and ``segment``. From ``values`` it needs ``resolve`` (decorators,
annotations); entering a function it resets the per-body state of the loops, state, structure
and calls collectors.
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import replace
from typing import Dict, List, Optional, Sequence

from concurlint.analysis.bodies import (catches_all, forwards_exc_info, guards_errors, handles_errors, local_names,
                                        memo_line, only_not_implemented, warns_deprecated)
from concurlint.analysis.facts import FORK_SOMETIMES, ClassInfo, Function, GlobalDef, ModuleFacts, Value
from concurlint.knowledge import Knowledge

BUILTIN_NAMES = frozenset(dir(builtins))
# calls whose result unpacks into values of the same type (`parent, child = multiprocessing.Pipe()`)
PAIRS = frozenset({"multiprocessing.connection.Connection"})
# the value of a local name nothing is known about (an unannotated parameter): it shadows the
# module's names of the same spelling, and ``lookup`` answers None for it as for an unknown name
LOCAL = Value("local")


class _Scope:
    __slots__ = ("function", "values", "globals", "self_name", "cls", "is_async", "local_defs", "comprehension",
                 "dict_keys")

    def __init__(self, function: Optional[Function], cls: Optional[ClassInfo] = None, comprehension: bool = False):
        self.function = function
        self.values: Dict[str, Value] = {}
        self.globals: set = set()
        self.self_name: Optional[str] = None
        self.cls = cls
        self.is_async = bool(function and function.is_async)
        self.local_defs: Dict[str, Value] = {}
        # a comprehension's own scope inside a function: its targets are not the function's names
        self.comprehension = comprehension
        # the string keys stored into a local dict (``kwargs["async_"] = True``): what a
        # ``**kwargs`` splat passes besides what the caller gave
        self.dict_keys: Dict[str, Dict[str, Value]] = {}


class ScopeCollector:
    """Scopes, bindings, imports, functions and lambdas (a mixin of ``Extractor``)."""

    def _init_scopes(self, facts: ModuleFacts, lines: Sequence[str], knowledge: Knowledge, package: str) -> None:
        self.facts = facts
        self.lines = lines
        self.kb = knowledge
        self.package = package
        self.module = facts.module
        self.scopes: List[_Scope] = [_Scope(None)]
        self.class_stack: List[ClassInfo] = []
        # the return annotation of each function and method of the module (read when a call of it
        # is described, so a class defined further down resolves): `def _open_zip(...) -> ZipFile`
        self.return_annotations: Dict[str, ast.expr] = {}

    # ----------------------------------------------------------------- helpers
    @property
    def scope(self) -> _Scope:
        return self.scopes[-1]

    @property
    def function(self) -> Optional[Function]:
        return self.scopes[-1].function

    def segment(self, node: ast.AST, limit: int = 80) -> str:
        line = getattr(node, "lineno", 0)
        end_line = getattr(node, "end_lineno", line) or line
        if not line or line > len(self.lines):
            return ""
        col = node.col_offset
        end_col = node.end_col_offset
        if line == end_line:
            text = _slice(self.lines[line - 1], col, end_col)
        else:
            text = _slice(self.lines[line - 1], col, None).rstrip() + " ..."
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def qual(self, name: str) -> str:
        """Qualified name of a definition made in the current scope."""
        fn = self.function
        if fn is not None:
            return f"{fn.qualname}.<locals>.{name}" if not fn.is_lambda else f"{fn.qualname}.{name}"
        if self.class_stack:
            return f"{self.class_stack[-1].qualname}.{name}"
        return f"{self.module}.{name}" if self.module else name

    def lookup(self, name: str) -> Optional[Value]:
        """The value a bare name stands for, searched like Python does (LEGB, no class scope)."""
        for i in range(len(self.scopes) - 1, -1, -1):
            sc = self.scopes[i]
            if i == len(self.scopes) - 1 or sc.function is not None or i == 0:
                if name in sc.globals:
                    mine = sc.values.get(name)
                    if mine is not None and mine is not LOCAL and mine.kind == "instance" \
                            and _is_none(self.scopes[0].values.get(name, mine)):
                        # `global _conn; if _conn is None: _conn = Connection(...); return _conn`:
                        # the module's `_conn = None` is a placeholder for what this function
                        # made (blender-mcp's connection getter, rev115c's recall miss)
                        return mine
                    break
                v = sc.values.get(name)
                if v is not None:
                    return None if v is LOCAL else v
        g = self.scopes[0].values.get(name)
        if g is not None:
            return g
        q = self.facts.imports.get(name)
        if q is not None:
            return Value("ref", self.kb.canonical(q), name)
        if name in BUILTIN_NAMES:
            return Value("ref", "builtins." + name, name)
        return None

    def _self_class(self, name: str) -> Optional[ClassInfo]:
        for sc in reversed(self.scopes):
            if sc.function is None:
                return None
            if sc.self_name == name:
                return sc.cls
            if name in sc.values:
                return None
        return None

    # --------------------------------------------------------------- binding
    def bind(self, target: ast.AST, value: Optional[Value], node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            v = value if value is not None else Value("other", None, target.id)
            sc = self.scope
            if isinstance(node, ast.NamedExpr):  # `:=` in a comprehension binds in the function around it
                sc = next(s for s in reversed(self.scopes) if not s.comprehension)
            if sc.function is None and not self.class_stack:
                name = target.id
                old = self.facts.globals.get(name)
                if old is not None and "fork" in (old.value.meta.get("start_method"), v.meta.get("start_method")) \
                        and old.value.meta.get("start_method") != v.meta.get("start_method"):
                    # `ctx = get_context('fork')` on the platforms that have it, another context
                    # elsewhere: fork where the code mostly runs, not everywhere
                    v = replace(v, meta={**v.meta, "start_method": FORK_SOMETIMES})
                if name not in self.facts.globals or not self.in_main_guard:
                    self.facts.globals[name] = GlobalDef(name, target.lineno, target.col_offset, v,
                                                         in_main_guard=self.in_main_guard)
            elif sc.function is not None and target.id in sc.globals:
                g = self.facts.globals.get(target.id)
                if g is not None:
                    g.assigned_in_function = True
                    if g.value.kind == "literal" and g.value.text == "None" and v.kind in ("instance", "call"):
                        # `_engine = None` at the top, `global _engine; _engine = Engine(path)` in
                        # the start-up code: what the name holds once the program runs
                        # (chesspal-mcp-engine's engine, rev130d's recall miss); for the functions
                        # that follow, as start-up code comes first
                        g.value = v
                        self.scopes[0].values[target.id] = v
                else:
                    self.facts.globals[target.id] = GlobalDef(target.id, target.lineno, target.col_offset, v,
                                                              assigned_in_function=True)
            if self.class_stack and sc.function is None:
                self.class_stack[-1].attrs[target.id] = v
            else:
                sc.values[target.id] = v
        elif isinstance(target, (ast.Tuple, ast.List)):
            # `parent, child = multiprocessing.Pipe()`: both ends are connections
            each = value if value is not None and value.kind == "instance" and value.qualname in PAIRS else None
            for elt in target.elts:
                self.bind(elt, each, node)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            owner = self._self_class(target.value.id)
            if owner is not None and value is not None:
                owner.attrs[target.attr] = self._attr_value(owner.attrs.get(target.attr), value)

    def _attr_value(self, old: Optional[Value], value: Value) -> Value:
        """What ``self.X`` holds after ``self.X = value``, given what it held (``old``). ``self.x =
        None`` is a placeholder: it does not erase the type an assignment elsewhere gives
        (``self.x = Worker()`` in ``start()``, read by the prescan). When ``__init__`` sets another
        type in the other arm of an ``if`` (``if processes: self.ev = manager.Event() else: self.ev
        = threading.Event()``, or ``None`` there), the other is kept in ``meta["or_type"]``: which
        one the object holds depends on the branch."""
        in_init = self.function is not None and self.function.name == "__init__"
        if self.function is not None and self.function.is_async and value.qualname:
            value = replace(value, meta={**value.meta, "in_async": "1"})
        if old is None:
            return value
        if (old.line, old.col) == (value.line, value.col):  # the prescan's reading of this assignment
            return replace(value, meta={**old.meta, **value.meta}) if in_init else old
        other = old.qualname or old.text
        if _is_none(old) or _is_none(value):
            if in_init and _opposite_arms(self.function, old.line, value.line):
                kept, other = (old, "None") if _is_none(value) else (value, "None")
                return replace(kept, meta={**kept.meta, "or_type": other})
            return old if _is_none(value) else value
        if not in_init:
            if old.kind == value.kind == "instance" and old.qualname != value.qualname \
                    and bool(old.meta.get("in_async")) != bool(value.meta.get("in_async")):
                # `self.session = requests.Session()` in `__enter__`, `self.session =
                # aiohttp.ClientSession()` in `__aenter__`: the coroutines use the one the async
                # path made (opencage's geocoder, rev132d's high fp)
                key = "sync_type" if old.meta.get("in_async") else "async_type"
                return replace(old, meta={**old.meta, key: value.qualname})
            return old
        if old.qualname != value.qualname:
            return replace(value, meta={**value.meta, "or_type": other})
        return value

    def enter_comprehension(self) -> None:
        """A comprehension in a function has its own scope: its targets (``[s.recv() for s in
        socks]``) are not names of the function, and hide the module's names only inside it."""
        outer = self.scope
        self.scopes.append(_Scope(outer.function, outer.cls, comprehension=True))

    def leave_comprehension(self) -> None:
        self.scopes.pop()

    def _prescan(self, body: List[ast.stmt], enclosing: Optional[Function]) -> None:
        """Bind the defs and classes of a block before walking it, so forward references resolve.
        In a function, defs inside its ``if``/``for``/``while``/``with``/``try`` blocks too (they
        are local functions all the same)."""
        sc = self.scope
        if enclosing is not None:
            body = list(_block_statements(body))
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = self.qual(stmt.name)
                v = Value("function", q, stmt.name, stmt.lineno, stmt.col_offset, local=enclosing is not None)
                if stmt.returns is not None and isinstance(stmt, ast.FunctionDef) and enclosing is None:
                    self.return_annotations[q] = stmt.returns
                if self.class_stack and sc.function is None:
                    if not _is_property(stmt):  # `self.name` of a @property is its value, not a method
                        self.class_stack[-1].methods[stmt.name] = q
                elif sc.values.get(stmt.name, LOCAL) is LOCAL:  # a def rebinds a parameter's name
                    sc.values[stmt.name] = v
            elif isinstance(stmt, ast.ClassDef):
                q = self.qual(stmt.name)
                if self.class_stack and sc.function is None:
                    continue
                if sc.values.get(stmt.name, LOCAL) is LOCAL:
                    sc.values[stmt.name] = Value("class", q, stmt.name, stmt.lineno, stmt.col_offset,
                                                 local=enclosing is not None)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and sc.function is None and not self.class_stack:
                self._import(stmt, record=False)

    def _import(self, node: ast.AST, record: bool = True) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self._bind_import(alias.asname, alias.name)
                else:
                    top = alias.name.split(".", 1)[0]
                    self._bind_import(top, top)
                if record:
                    self.facts.import_lines.append((alias.name, node.lineno, node.col_offset))
                    if self.in_handler or self.tolerant:
                        self.facts.fallback_imports.append(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = self.package.split(".") if self.package else []
                if node.level > 1:
                    parts = parts[: len(parts) - (node.level - 1)] if len(parts) >= node.level - 1 else []
                base = ".".join(p for p in parts + ([node.module] if node.module else []) if p)
            for alias in node.names:
                if alias.name == "*":
                    continue
                q = f"{base}.{alias.name}" if base else alias.name
                self._bind_import(alias.asname or alias.name, q)
                if record:
                    self.facts.import_lines.append((q, node.lineno, node.col_offset))
                    if self.in_handler or self.tolerant:
                        self.facts.fallback_imports.append(q)

    def _bind_import(self, name: str, qualname: str) -> None:
        """An import binds its name in the scope it runs in, like an assignment: at module level
        (or for a name the function declares ``global``) a module import (``ModuleFacts.imports``);
        in a function, a local of that function and the functions nested in it, which hides the
        module's name of the same spelling there and nowhere else (``from dask.array.reductions
        import max`` in a method leaves the builtin ``max`` of every other function alone); in a
        class body, a class attribute."""
        sc = self.scope
        if sc.function is not None and name not in sc.globals:
            sc.values[name] = Value("ref", self.kb.canonical(qualname), name)
        elif sc.function is None and self.class_stack:
            self.class_stack[-1].attrs[name] = Value("ref", self.kb.canonical(qualname), name)
        else:
            self.facts.imports[name] = qualname

    def visit_Import(self, node: ast.Import) -> None:
        self._import(node)

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node, node.name, isinstance(node, ast.AsyncFunctionDef))

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _function(self, node, name: str, is_async: bool) -> None:
        for d in getattr(node, "decorator_list", ()):
            self.visit(d)
        args = node.args
        for default in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        qualname = self.qual(name)
        parent = self.function
        cls = self.class_stack[-1] if self.class_stack and self.scope.function is None else None
        fn = Function(
            qualname=qualname,
            name=name,
            line=node.lineno,
            col=node.col_offset,
            end_line=getattr(node, "end_lineno", node.lineno) or node.lineno,
            is_async=is_async,
            cls=cls.qualname if cls else None,
            parent=parent.qualname if parent else None,
            decorators=[self.resolve(d.func if isinstance(d, ast.Call) else d) or self.segment(d)
                        for d in getattr(node, "decorator_list", ())],
            is_lambda=isinstance(node, ast.Lambda),
            warns_deprecated=warns_deprecated(node, self.resolve),
            thread_decorated=any(isinstance(d, ast.Call) and any(_is_true(k.value) for k in d.keywords
                                                                 if k.arg == "thread")
                                 for d in getattr(node, "decorator_list", ())),
        )
        all_args = list(getattr(args, "posonlyargs", [])) + list(args.args)
        fn.params = [a.arg for a in all_args + list(args.kwonlyargs)]
        positional = all_args[len(all_args) - len(args.defaults):] if args.defaults else []
        fn.defaults = tuple((a.arg, repr(d.value)) for a, d in
                            list(zip(positional, args.defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
                            if isinstance(d, ast.Constant) and (d.value is None or isinstance(d.value, (int, float))
                                                                 or (isinstance(d.value, str) and len(d.value) <= 64)))
        fn.optional = tuple(a.arg for a in positional) + tuple(a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults)
                                                             if d is not None)
        if args.vararg:
            fn.params.append(args.vararg.arg)
        if args.kwarg:
            fn.params.append(args.kwarg.arg)
        self.facts.functions[qualname] = fn
        scope = _Scope(fn, cls)
        for p in fn.params:  # a parameter hides the module's name of the same spelling
            scope.values[p] = LOCAL
        # ... except one whose default is the name it hides: the local-alias idiom (``open=open``,
        # ``encode_varint=encode_varint``) holds what the name means outside unless a caller
        # passes something else
        defaults = list(zip(all_args[len(all_args) - len(args.defaults):], args.defaults))
        defaults += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        for a, d in defaults:
            if a.annotation is None and isinstance(d, ast.Name) and d.id == a.arg:
                outer = self.lookup(d.id)  # the enclosing scopes: the new one is not pushed yet
                if outer is not None:
                    scope.values[a.arg] = outer
        is_static = any(d == "staticmethod" or d == "builtins.staticmethod" for d in fn.decorators)
        if cls is not None and all_args and not is_static:
            scope.self_name = all_args[0].arg
            if any(d in ("classmethod", "builtins.classmethod") for d in fn.decorators):
                scope.values[scope.self_name] = Value("class", cls.qualname, scope.self_name, local=cls.local)
        for a in all_args + list(args.kwonlyargs):
            if a.annotation is not None:
                t = self.annotated_type(a.annotation)
                if t:
                    t = self.kb.canonical(t)
                    local_cls = self.facts.classes.get(t)
                    scope.values[a.arg] = Value("instance", t, a.arg, a.lineno, a.col_offset,
                                                local=bool(local_cls and local_cls.local))
        # a body starts outside the enclosing loops, `with` locks, main guard and try (the state
        # of the loops, state, structure and calls collectors); in_test, nb_try and tolerant
        # carry on (tolerant is restored after the body: a version test's early return in it
        # makes the rest of the body tolerant, not the code after the function)
        saved = (self.loop_stack, self.locks, self.in_main_guard, self.in_try, self.in_handler, self.in_finally,
                 self.narrowed, self.tolerant)
        saved_items, self.loop_items = self.loop_items, []
        self.loop_stack, self.locks, self.in_main_guard, self.in_try, self.in_handler, self.in_finally = [], [], False, 0, 0, 0
        self.narrowed = []
        self.scopes.append(scope)
        try:
            if isinstance(node, ast.Lambda):
                self.visit(node.body)
            else:
                self._prescan(node.body, fn)
                fn.catches_all = catches_all(node.body) or forwards_exc_info(node.body)
                fn.handles_errors = fn.catches_all or handles_errors(node.body)
                fn.guards_errors = guards_errors(node.body)
                fn.abstract = only_not_implemented(node.body)
                fn.memo_from = memo_line(node.body)
                fn.local_names = local_names(node.body)
                for stmt in node.body:
                    self.visit(stmt)
                if self._calls_itself(fn):  # recursion counts as work only with arithmetic
                    from concurlint.analysis.loops import _has_ops, combines_self

                    fn.ops_outside_loops = _has_ops(node.body)
                    fn.self_arith = combines_self(node.body, fn.name)
        finally:
            self.scopes.pop()
            (self.loop_stack, self.locks, self.in_main_guard, self.in_try, self.in_handler, self.in_finally,
             self.narrowed, self.tolerant) = saved
            self.loop_items = saved_items

    def _calls_itself(self, fn: Function) -> bool:
        """Calls ``name(...)`` or ``self.name(...)`` in its own body (by the callee's text: the
        cheap first filter; the project pass resolves the call graph)."""
        own = {fn.name, "self." + fn.name, "cls." + fn.name}
        return any(self.facts.calls[i].text in own for i in fn.calls)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node, f"<lambda:{node.lineno}:{node.col_offset}>", False)
        fn = self.facts.functions[self._lambda_qualname(node)]
        fn.end_line = getattr(node, "end_lineno", node.lineno) or node.lineno

    def visit_Global(self, node: ast.Global) -> None:
        if self.function is not None:
            self.scope.globals.update(node.names)
            self.function.globals_declared.extend(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        if self.function is not None:
            for n in node.names:
                self.scope.values.setdefault(n, Value("other", None, n))


def _is_none(v: Value) -> bool:
    return v.kind == "literal" and v.meta.get("type") == "builtins.NoneType"


def _slice(line: str, start: int, end: Optional[int]) -> str:
    if line.isascii():
        return line[start:end]
    raw = line.encode("utf-8")
    return raw[start:end].decode("utf-8", "replace")


def _block_statements(body):
    """The statements of ``body`` and of the blocks nested in it, not entering defs or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from _block_statements(inner)
        for h in getattr(stmt, "handlers", ()) or ():
            yield from _block_statements(h.body)
        for case in getattr(stmt, "cases", ()) or ():
            yield from _block_statements(case.body)


_PROPERTY_DECORATORS = frozenset({"property", "cached_property", "functools.cached_property", "abc.abstractproperty"})


def _is_property(node) -> bool:
    """``@property`` / ``@cached_property`` / ``@name.setter``: reading ``self.name`` gets a value."""
    for d in node.decorator_list:
        text = ast.unparse(d) if hasattr(ast, "unparse") else getattr(d, "id", "")
        if text in _PROPERTY_DECORATORS or text.endswith((".setter", ".getter", ".deleter")):
            return True
    return False


def _opposite_arms(fn: Function, a: int, b: int) -> bool:
    """Lines ``a`` and ``b`` sit in the two arms of one ``if``/``else`` of ``fn``."""
    return any((f1 <= a <= l1 and f2 <= b <= l2) or (f1 <= b <= l1 and f2 <= a <= l2) for f1, l1, f2, l2 in fn.branches)


def _is_true(node) -> bool:
    """The literal ``True`` (``@work(thread=True)``)."""
    return isinstance(node, ast.Constant) and node.value is True

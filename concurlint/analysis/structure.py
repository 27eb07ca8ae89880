"""Module structure: classes, the main guard, the module body.

Collects ``ModuleFacts.classes`` (one ``ClassInfo`` per class: resolved bases, methods and
attributes; ``self.X = <call>`` in any method types ``X`` before the methods are walked),
``has_main_guard`` / ``main_guard_line``, and the ``in_main_guard`` flag that ``calls`` copies
into each ``Call`` and ``scopes`` into each ``GlobalDef``. Module globals themselves are
recorded by ``scopes.bind``.

It owns ``in_main_guard``. It needs ``scopes``, ``class_stack``, ``function``, ``qual`` and
``_prescan`` (scopes), ``resolve`` and ``_describe_call`` (values), ``in_test``,
``_checked_targets`` and ``_record_check`` (state: an ``if`` may be a check-then-act).
"""
from __future__ import annotations

import ast
import re
from typing import List, Optional, Tuple

from concurlint.analysis import platforms
from concurlint.analysis.bodies import documented_deprecated
from concurlint.analysis.calls import version_test
from concurlint.analysis.facts import ClassInfo, Value
from concurlint.analysis.hints import is_deprecation
from concurlint.analysis.scopes import _Scope

# "not thread-safe", "is not threadsafe", "not safe to share between threads" in a class docstring
_NOT_THREAD_SAFE = re.compile(r"not\s+(thread[-\s]?safe|safe\s+(to\s+(use|share)\s+)?(across|between|from)\s+"
                              r"(multiple\s+)?threads)", re.IGNORECASE)


class StructureCollector:
    """Module body, classes and the main guard (a mixin of ``Extractor``)."""

    def _init_structure(self) -> None:
        self.in_main_guard = False
        self.platform = ""  # the platform the code being walked runs on (analysis/platforms.py)
        # (name, literal value, last line where it still holds) inside `if name == "literal":`
        self.narrowed: List[Tuple[str, Value, int]] = []

    def visit_Module(self, node: ast.Module) -> None:
        self._prescan(node.body, None)
        for stmt in node.body:
            self.visit(stmt)
        if getattr(self, "names_platforms", True):  # (set by extract(): no second walk otherwise)
            self.facts.platform_names = platforms.module_names(node.body, self.qual, self._platform_ref)

    def _platform_ref(self, node: ast.AST) -> Optional[str]:
        """What a name in a platform test refers to: a module global of this module by its
        qualified name (``IS_WINDOWS``), an attribute of ``self`` as one of its class
        (``self._is_windows``), anything else as ``resolve`` says."""
        if isinstance(node, ast.Name):
            v = self.lookup(node.id)
            if v is not None and v.kind not in ("ref", "function", "class") and self.scopes[0].values.get(node.id) is v:
                return f"{self.module}.{node.id}" if self.module else node.id
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            cls = self._self_class(node.value.id)  # self._is_windows
            if cls is not None:
                return f"{cls.qualname}.{node.attr}"
        return self.resolve(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        for b in node.bases:
            self.visit(b)
        q = self.qual(node.name)
        bases = []
        for b in node.bases:
            r = self.resolve(b.value if isinstance(b, ast.Subscript) else b)  # Base[T] is Base
            if r:
                bases.append(self.kb.canonical(r))
        deprecated = any(is_deprecation(self.resolve(d.func if isinstance(d, ast.Call) else d) or "")
                         for d in node.decorator_list) or documented_deprecated(node)
        info = ClassInfo(q, node.name, node.lineno, bases, local=self.function is not None,
                         not_thread_safe=bool(_NOT_THREAD_SAFE.search(ast.get_docstring(node, clean=False) or "")),
                         deprecated=deprecated)
        self.facts.classes[q] = info
        if self.function is not None:
            self.scope.values[node.name] = Value("class", q, node.name, node.lineno, node.col_offset, local=True)
        self.class_stack.append(info)
        class_scope = _Scope(None, info)
        self.scopes.append(class_scope)
        try:
            self._prescan(node.body, None)
            self._prescan_self_attrs(node, info)
            for stmt in node.body:
                self.visit(stmt)
        finally:
            self.scopes.pop()
            self.class_stack.pop()

    def _prescan_self_attrs(self, node: ast.ClassDef, info: ClassInfo) -> None:
        """``self.X = <call>`` in any method gives X a type before the methods are walked."""
        for stmt in node.body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) or not stmt.args.args:
                continue
            self_name = stmt.args.args[0].arg
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Call):
                    for t in sub.targets:
                        if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                                and t.value.id == self_name and t.attr not in info.attrs):
                            v = self._describe_call(sub.value)
                            if v.kind in ("instance", "container"):
                                info.attrs[t.attr] = v

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Constant):
            # `if True: ... else: ...`, `if False: ...`, `if 0:`: the compiler drops the dead
            # branch, so do the facts (code generated from a sync twin keeps the sync calls there)
            self.visit(node.test)
            for stmt in (node.body if node.test.value else node.orelse):
                self.visit(stmt)
            return
        guard = _is_main_guard(node.test)
        if guard and self.function is None and not self.class_stack:
            self.facts.has_main_guard = True
            self.facts.main_guard_line = node.lineno
        self.in_test += 1
        self.visit(node.test)
        self.in_test -= 1
        self.note_has_data(node)
        fn = self.function
        if fn is not None:
            first, last = node.body[0].lineno, _last_line(node.body)
            fn.guards += tuple((name, op, const, first, last) for name, op, const in _guards(node.test))
            fn.data_urls += _data_url_lines(node, fn, self.segment)
            tested = _coroutine_test(node.test)
            if tested is not None:
                expr, when = tested
                text = self.segment(expr, 60)
                fn.coroutine_tests += ((text, when, first, last),)
                if node.orelse:
                    fn.coroutine_tests += ((text, not when, node.orelse[0].lineno, _last_line(node.orelse)),)
        if fn is not None and node.orelse:
            fn.branches.append((node.body[0].lineno, _last_line(node.body),
                                node.orelse[0].lineno, _last_line(node.orelse)))
        checked = self._checked_targets(node.test) if fn is not None else None
        start = len(fn.accesses) if checked else 0
        saved = self.in_main_guard
        if guard:
            self.in_main_guard = True
        narrowing = _narrowing(node)
        if narrowing is not None:
            self.narrowed.append(narrowing)
        outer = self.platform
        body_side, else_side = platforms.sides(node.test, self._platform_ref)
        self.platform = platforms.nest(outer, body_side)
        versioned = int(version_test(node.test))  # both branches are for some Pythons only
        self.tolerant += versioned
        for stmt in node.body:
            self.visit(stmt)
        self.platform = outer
        if narrowing is not None:
            self.narrowed.remove(narrowing)
        self.in_main_guard = saved
        if checked:
            self._record_check(fn, checked, start, node)
        self.platform = platforms.nest(outer, else_side)
        for stmt in node.orelse:
            self.visit(stmt)
        self.platform = outer
        self.tolerant -= versioned
        if versioned and not node.orelse and isinstance(node.body[-1], ast.Return):
            # `if sys.version_info >= (3, 7): return asyncio.run(main())`: what follows is the
            # other side, up to the end of the function (restored there, see scopes)
            self.tolerant += 1

    def visit_IfExp(self, node: ast.IfExp) -> None:
        """``Process(...) if is_unix_system() else Thread(...)``: each side on its platform; and
        ``asyncio.all_tasks(loop) if hasattr(asyncio, "all_tasks") else asyncio.Task.all_tasks()``:
        each side for some Pythons only, like an ``if`` on the version."""
        self.visit(node.test)
        outer = self.platform
        versioned = int(version_test(node.test))
        self.tolerant += versioned
        body_side, else_side = platforms.sides(node.test, self._platform_ref)
        self.platform = platforms.nest(outer, body_side)
        self.visit(node.body)
        self.platform = platforms.nest(outer, else_side)
        self.visit(node.orelse)
        self.platform = outer
        self.tolerant -= versioned


def _last_line(stmts) -> int:
    last = stmts[-1]
    return getattr(last, "end_lineno", None) or last.lineno


_GUARD_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not"}


def _guards(test: ast.AST):
    """The conjuncts of an ``if`` test that compare a name to a constant (``workers != 1``,
    ``mode is None``, ``multiprocess``, ``not dry_run``): the body runs only if each holds."""
    parts = test.values if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) else [test]
    for t in parts:
        if isinstance(t, ast.Name):
            yield t.id, "truthy", "True"
        elif isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) and isinstance(t.operand, ast.Name):
            yield t.operand.id, "falsy", "False"
        elif isinstance(t, ast.Compare) and len(t.ops) == 1 and type(t.ops[0]) in _GUARD_OPS \
                and isinstance(t.left, ast.Name) and isinstance(t.comparators[0], ast.Constant):
            value = t.comparators[0].value
            if value is None or isinstance(value, (bool, int, float, str)):
                yield t.left.id, _GUARD_OPS[type(t.ops[0])], repr(value)


COROUTINE_TESTS = frozenset({"iscoroutinefunction", "iscoroutine", "isawaitable"})


def _coroutine_test(test: ast.AST):
    """``inspect.iscoroutinefunction(f)`` (or ``asyncio.``'s, or ``not ...``): (the tested
    expression, whether the body runs when it is a coroutine function); None otherwise."""
    when = True
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, when = test.operand, False
    if not (isinstance(test, ast.Call) and len(test.args) == 1 and not test.keywords):
        return None
    name = test.func.attr if isinstance(test.func, ast.Attribute) else getattr(test.func, "id", None)
    if name not in COROUTINE_TESTS:
        return None
    return test.args[0], when


def _data_url_lines(node: ast.If, fn, segment) -> tuple:
    """``if url.startswith("data:"):`` -- the body; ``if not url.startswith("data:"): raise``
    (or ``return``) -- the rest of the function: there ``url`` holds an inline ``data:`` URL."""
    test, negated = node.test, False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, negated = test.operand, True
    if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "startswith"
            and len(test.args) == 1 and not test.keywords):
        return ()
    prefix = test.args[0]
    prefixes = prefix.elts if isinstance(prefix, ast.Tuple) else [prefix]
    if not prefixes or not all(isinstance(p, ast.Constant) and isinstance(p.value, str)
                               and p.value.lower().startswith("data:") for p in prefixes):
        return ()
    text = segment(test.func.value)
    if not text:
        return ()
    if not negated:
        return ((text, node.body[0].lineno, _last_line(node.body)),)
    if node.orelse or not isinstance(node.body[-1], (ast.Raise, ast.Return)):
        return ()
    return ((text, _last_line(node.body) + 1, fn.end_line),)


def _narrowing(node: ast.If) -> Optional[Tuple[str, Value, int]]:
    """``if host == "localhost":`` -- in the body, up to the first line that rebinds ``host``
    (its right-hand side included), ``host`` is that literal."""
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.Is))):
        return None
    left, right = test.left, test.comparators[0]
    if isinstance(right, ast.Name) and isinstance(left, ast.Constant):
        left, right = right, left
    if not (isinstance(left, ast.Name) and isinstance(right, ast.Constant) and isinstance(right.value, (str, int))):
        return None
    until = max((getattr(s, "end_lineno", s.lineno) or s.lineno) for s in node.body)
    for stmt in node.body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name) and sub.id == left.id and isinstance(sub.ctx, (ast.Store, ast.Del)):
                until = min(until, sub.lineno)
    const = right.value
    return left.id, Value("literal", None, repr(const), right.lineno, right.col_offset,
                          size=len(const) if isinstance(const, str) else None), until


def _is_main_guard(test: ast.AST) -> bool:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        sides = [test.left, test.comparators[0]]
        names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
        consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
        return bool(names and consts)
    return False

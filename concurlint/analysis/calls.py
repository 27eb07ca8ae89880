"""Calls: one ``Call`` per call expression, in source order, with its context.

Collects ``ModuleFacts.calls`` (and each ``Function.calls`` index): the resolved target, the
described arguments, how the result is used (``use``: discarded, assigned, awaited, returned,
iterated, a ``with`` context, an argument), the innermost loop, the locks held, and whether the
call sits in the main guard, an ``async def``, a ``try`` (``in_try``) or a ``try`` that catches
``BlockingIOError`` (``nonblocking_try``). Marks generators (``yield``).

It owns ``use`` / ``awaited`` (set by the statement that contains a call, read when the call is
visited), ``in_try`` and ``nb_try``. It needs ``function`` and ``segment`` (scopes),
``_call_target``, ``describe`` and ``value_of`` (values), ``loop_stack`` (loops), ``locks`` and
``_method_access`` (state) and ``in_main_guard`` (structure).
"""
from __future__ import annotations

import ast
import re
from typing import Dict, Optional, Tuple

from concurlint.analysis.facts import Call, Value
from concurlint.analysis.state import LOCK_TYPES


class CallCollector:
    """Calls and the context they are made in (a mixin of ``Extractor``)."""

    def _init_calls(self) -> None:
        self.in_try = 0
        self.nb_try = 0
        self.in_handler = 0
        self.in_finally = 0
        self.tolerant = 0  # try blocks that catch TypeError or RuntimeError, and tests of the Python version, we are in
        self.use: Dict[int, Tuple[str, Optional[str]]] = {}
        self.awaited: set = set()

    def visit_Call(self, node: ast.Call) -> None:
        target, method, receiver = self._call_target(node)
        fn = self.function
        use, assigned = self.use.pop(id(node), ("arg", None))
        call = Call(
            line=node.lineno,
            col=node.col_offset,
            end_line=getattr(node, "end_lineno", node.lineno) or node.lineno,
            end_col=getattr(node, "end_col_offset", 0) or 0,
            function=fn.qualname if fn else None,
            target=self.kb.canonical(target) if target else None,
            text=self.segment(node.func, 60),
            method=method if method else (node.func.attr if isinstance(node.func, ast.Attribute) else None),
            receiver=receiver,
            args=[self.describe(a) for a in node.args],
            kwargs=self.keyword_values(node),
            star_args=any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords),
            loop=self.loop_stack[-1] if self.loop_stack else -1,
            awaited=id(node) in self.awaited,
            use=use,
            assigned_to=assigned,
            locks=tuple(self.locks),
            in_main_guard=self.in_main_guard,
            in_async=bool(fn and fn.is_async),
            in_try=self.in_try > 0,
            nonblocking_try=self.nb_try > 0,
            in_handler=self.in_handler > 0,
            in_finally=self.in_finally > 0,
            on_input=self._on_input(node),
            platform=self.platform,
            version_tolerant=self.tolerant > 0,
        )
        idx = len(self.facts.calls)
        self.facts.calls.append(call)
        if fn is not None:
            fn.calls.append(idx)
        if isinstance(node.func, ast.Attribute):
            key = self._method_access(node)  # d.append(x) on a shared d: a mutation (state)
            if not (isinstance(node.func.value, ast.Name) and key):
                self.visit(node.func.value)
        elif not isinstance(node.func, ast.Name):
            self.visit(node.func)
        for a in node.args:
            self.visit(a)
        for k in node.keywords:
            self.visit(k.value)

    def _on_input(self, node: ast.Call) -> Tuple[str, ...]:
        """The arguments of a call in loops over the input (``LoopCollector.loop_items``) that
        are those loops' items or the parameter they iterate: ``("0",)`` for ``json.loads(line)``
        in ``for line in lines``; none for ``re.match(pattern, url)`` in a loop over a table of
        patterns (the url is the same every turn) or in a loop over the object's state."""
        names: set = set()
        for items in self.loop_items:
            names |= items
        if not names:
            return ()
        out = []

        def on(expr: ast.AST) -> bool:
            return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(expr))

        for i, a in enumerate(node.args):
            if on(a):
                out.append(str(i))
        out.extend(k.arg for k in node.keywords if k.arg and on(k.value))
        if isinstance(node.func, ast.Attribute) and on(node.func.value):
            out.append("self")
        return tuple(out)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            self.use[id(node.value)] = ("discard", None)
        elif isinstance(node.value, ast.Await) and isinstance(node.value.value, ast.Call):
            self.use[id(node.value.value)] = ("await", None)
        self.visit(node.value)
        self._explicit_lock(node.value)

    def _explicit_lock(self, call) -> None:
        """``self.lock.acquire()`` as a statement holds the lock for the statements after it, to
        the ``self.lock.release()`` statement (the lock list is the function's own: one left
        held ends with the function)."""
        if self.function is None or not isinstance(call, ast.Call) or call.args or call.keywords \
                or not isinstance(call.func, ast.Attribute) or call.func.attr not in ("acquire", "release"):
            return
        v = self.value_of(call.func.value)
        if v is None or v.kind != "instance" or v.qualname not in LOCK_TYPES:
            return
        name = self.segment(call.func.value, 40)
        if call.func.attr == "acquire":
            self.locks.append(name)
        elif name in self.locks:
            del self.locks[len(self.locks) - 1 - self.locks[::-1].index(name)]

    def visit_Return(self, node: ast.Return) -> None:
        if isinstance(node.value, ast.Call):
            self.use[id(node.value)] = ("return", None)
        elif isinstance(node.value, ast.Name) and self.function is not None:
            self.function.returned_names.append(node.value.id)
        if self.function is not None and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            made = self.value_of(node.value) if isinstance(node.value, (ast.Call, ast.Name)) else None
            known = made is not None and made.kind in ("instance", "call") and made.qualname
            # an untyped return is kept too (kind "other"): the function's type is then unknown
            self.function.returns.append(Value(made.kind, made.qualname) if known else Value("other", None))
        if node.value is not None:
            self.visit(node.value)

    def visit_Raise(self, node: ast.Raise) -> None:
        if isinstance(node.exc, ast.Call):
            self.use[id(node.exc)] = ("raise", None)  # `raise make_error(...)`: built only on failure
        self.generic_visit(node)

    def visit_Yield(self, node) -> None:
        if self.function is not None:
            self.function.is_generator = True
        if node.value is not None:
            if isinstance(node.value, ast.Call):
                self.use[id(node.value)] = ("return", None)
            self.visit(node.value)

    visit_YieldFrom = visit_Yield  # type: ignore[assignment]

    def result_use(self, name: ast.AST, how: str) -> None:
        """``resp.status`` / ``resp[0]`` / ``for x in resp`` where ``resp`` is a local name bound
        to the result of a call of the project's own (same top-level package), and ``await resp``
        of any name: ``Function.result_uses``, read by CCL507 (a coroutine used as if it were its
        result, never awaited)."""
        fn = self.function
        if fn is None or not isinstance(name, ast.Name) or name.id in ("self", "cls"):
            return
        made = ""
        if how != "await":
            v = self.lookup(name.id)
            if v is None or v.kind != "call" or not v.qualname \
                    or v.qualname.partition(".")[0] != self.module.partition(".")[0]:
                return
            made = v.qualname
        fn.result_uses.append((name.id, how, name.lineno, made))

    def visit_Await(self, node: ast.Await) -> None:
        if self.function is not None:
            self.function.awaits.append((node.lineno, node.col_offset))
            self.result_use(node.value, "await")
            if isinstance(node.value, (ast.Name, ast.Attribute)):
                self.function.awaited_names.append((self.segment(node.value, 60), node.lineno))
        if isinstance(node.value, ast.Call):
            self.awaited.add(id(node.value))
            self.use.setdefault(id(node.value), ("await", None))
        self.visit(node.value)

    def visit_Try(self, node) -> None:
        released = []
        for s in node.finalbody:
            for sub in ast.walk(s):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "release":
                    v = self.value_of(sub.func.value)
                    if v is not None and v.kind == "instance" and v.qualname in LOCK_TYPES:
                        released.append(self.segment(sub.func.value, 40))
        self.locks.extend(released)
        self.in_try += 1
        nb = int(_catches_blocking_io(node))
        self.nb_try += nb
        tolerant = int(_catches_api_change(node))
        self.tolerant += tolerant
        for s in node.body:
            self.visit(s)
        self.tolerant -= tolerant
        self.nb_try -= nb
        self.in_try -= 1
        if released:
            del self.locks[-len(released):]
        self.in_handler += 1
        for h in node.handlers:
            # `except AttributeError: asyncio.Task.current_task()`: the old API, where the new one
            # is missing (not a catch-all handler: that is error handling, not a shim)
            shim = int(bool(_names_caught(h) & {"TypeError", "AttributeError"}))
            self.tolerant += shim
            self.visit(h)
            self.tolerant -= shim
        self.in_handler -= 1
        for s in node.orelse:
            self.visit(s)
        self.in_finally += 1
        for s in node.finalbody:
            self.visit(s)
        self.in_finally -= 1

    visit_TryStar = visit_Try  # type: ignore[assignment]


def _catches_api_change(node: ast.AST) -> bool:
    """Does this try statement handle TypeError, RuntimeError or AttributeError (a bare
    ``except:``, ``Exception`` too): the body may be an attempt some Pythons reject
    (``asyncio.Queue(loop=loop)`` before 3.10's, ``asyncio.get_event_loop()`` with no loop set since
    3.14, ``asyncio.Task.all_tasks()`` since 3.9)."""
    return any(h.type is None or _names_caught(h) & {"TypeError", "RuntimeError", "AttributeError", "Exception",
                                                     "BaseException"}
               for h in getattr(node, "handlers", ()))


def _names_caught(handler: ast.ExceptHandler) -> set:
    """The exception names an ``except`` clause names (``except (TypeError, AttributeError):``)."""
    if handler.type is None:
        return set()
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return {t.id if isinstance(t, ast.Name) else t.attr for t in types if isinstance(t, (ast.Name, ast.Attribute))}


def version_test(test: ast.AST) -> bool:
    """Does an ``if`` test the Python version (``sys.version_info >= (3, 10)``, ``PY310``,
    ``PY_VERSION < (3, 8)``, ``sys.hexversion``), or what asyncio has (``hasattr(asyncio,
    "all_tasks")``)?"""
    for sub in ast.walk(test):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "hasattr" and sub.args \
                and isinstance(sub.args[0], (ast.Name, ast.Attribute)) \
                and ast.unparse(sub.args[0]).startswith("asyncio"):
            return True
        if isinstance(sub, ast.Attribute) and sub.attr in ("version_info", "hexversion", "python_version"):
            return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "python_version_tuple":
            return True
        name = sub.id if isinstance(sub, ast.Name) else None
        if name and _VERSION_NAME.search(name):
            return True
    return False


_VERSION_NAME = re.compile(r"^_*(PY(THON)?_?(VERSION|VER|\d{1,3}|3\d*)\w*|IS_PY\w*|version_info|PYVER\w*)$", re.I)


def _catches_blocking_io(node: ast.AST) -> bool:
    """Does this try statement handle BlockingIOError (the mark of a non-blocking IO attempt)?"""
    for h in getattr(node, "handlers", ()):
        types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        for t in types:
            name = t.id if isinstance(t, ast.Name) else (t.attr if isinstance(t, ast.Attribute) else None)
            if name in ("BlockingIOError", "SSLWantReadError", "SSLWantWriteError"):
                return True
    return False

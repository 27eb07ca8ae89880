"""What a function's body does, read from its statements (for ``ScopeCollector``): whether it
handles every error itself, hands the error on, only raises NotImplementedError, answers from a
memo it fills, or opens by warning that it is deprecated.
"""
from __future__ import annotations

import ast
from typing import Callable, List, Optional, Tuple


_DEPRECATIONS = frozenset({"DeprecationWarning", "PendingDeprecationWarning"})


def documented_deprecated(node) -> bool:
    """The docstring opens with a Sphinx ``.. deprecated::`` directive (right after its summary
    line: ``Store offloaded content in S3. .. deprecated:: Use strands.storage.S3Storage``): the
    function or class itself is on its way out. A directive further down, among the parameters,
    usually deprecates one argument, not the object."""
    doc = ast.get_docstring(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None
    lines = [line.strip() for line in (doc or "").splitlines()][:5]
    return any(line.startswith(".. deprecated::") for line in lines)


def warns_deprecated(node, resolve: Callable[[ast.AST], Optional[str]]) -> bool:
    """The body opens (after its docstring) with ``warnings.warn("...", DeprecationWarning)``:
    every call of it is told that it is on its way out; or its docstring opens with a
    ``.. deprecated::`` directive (``documented_deprecated``)."""
    if documented_deprecated(node):
        return True
    body = node.body if isinstance(getattr(node, "body", None), list) else []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    for stmt in body[:2]:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not isinstance(call, ast.Call) or (resolve(call.func) or "") != "warnings.warn":
            continue
        for arg in call.args[1:2] + [k.value for k in call.keywords if k.arg == "category"]:
            if isinstance(arg, (ast.Name, ast.Attribute)) and \
                    (resolve(arg) or "").rsplit(".", 1)[-1] in _DEPRECATIONS:
                return True
    return False


_CATCH_ALL = frozenset({"Exception", "BaseException"})


def _catch_all_handlers(t: ast.Try) -> List[ast.ExceptHandler]:
    return [h for h in t.handlers if h.type is None or (
        h.type.attr if isinstance(h.type, ast.Attribute) else getattr(h.type, "id", None)) in _CATCH_ALL]


def handles_errors(body: List[ast.stmt]) -> bool:
    """A top-level ``try`` with a handler for every exception: the author decided what happens to
    an error there (logs it and re-raises, hands it to a future, drops it on purpose)."""
    for s in body:
        # `with progress_bar: try: ... except Exception: log.exception(...)`, `if
        # self._lock.acquire(): try: ... except Exception: ... finally: self._lock.release()`
        while isinstance(s, (ast.With, ast.AsyncWith)) and len(s.body) == 1 or \
                isinstance(s, ast.If) and len(s.body) == 1 and not s.orelse:
            s = s.body[0]
        if isinstance(s, ast.Try) and _catch_all_handlers(s):
            return True
        # a service loop whose every turn runs in such a try (`while running: try: ... except
        # Exception: log.exception(...)`)
        if isinstance(s, (ast.While, ast.For)) and any(isinstance(b, ast.Try) and _catch_all_handlers(b) for b in s.body):
            return True
    return False


def _work(body: List[ast.stmt]) -> List[ast.stmt]:
    """The statements that do something: not a docstring, nor a ``global``/``nonlocal``
    declaration (metacycle's ``global pycycling_input`` above its service loop)."""
    return [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
            and not isinstance(s, (ast.Global, ast.Nonlocal))]


def guards_errors(body: List[ast.stmt]) -> bool:
    """The work is one ``try`` whose handlers, of whatever exceptions, all end it without raising
    again (``try: fetch and save except requests.RequestException: log except OSError: log``): the
    author decided which failures the work can meet and what each does. A docstring may stand
    before it; the work may be several such tries, or loops whose every turn is such tries (a
    service loop, the items of a batch)."""
    work = _work(body)
    # a service loop whose every turn is such a try (lona's channel workers); or steps that are
    # each such a try, or a loop over items whose every turn is one (mopidy-youtube's video
    # lookup: the API call in one try, then each video's fields set in another)
    return bool(work) and all(_guarded(s) or (
        isinstance(s, (ast.For, ast.While)) and not s.orelse and s.body and all(_guarded(b) for b in s.body))
        for s in work)


def _guarded(s: ast.stmt) -> bool:
    """A ``try`` whose handlers all end it without raising again."""
    return isinstance(s, ast.Try) and bool(s.handlers) and \
        not any(isinstance(n, ast.Raise) for h in s.handlers for b in h.body for n in ast.walk(b))


def only_not_implemented(body: List[ast.stmt]) -> bool:
    """``raise NotImplementedError`` (or ``NotImplementedError(...)``), after a docstring: the
    body of a method its subclasses implement."""
    stmts = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(stmts) != 1 or not isinstance(stmts[0], ast.Raise) or stmts[0].exc is None:
        return False
    exc = stmts[0].exc
    if isinstance(exc, ast.Call):
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _suppresses_all(s: ast.stmt) -> bool:
    """``with suppress(Exception):`` (``contextlib.suppress``, ``BaseException`` too): every
    exception raised in its body ends there."""
    if not isinstance(s, ast.With) or not s.items:
        return False
    for item in s.items:
        call = item.context_expr
        if not (isinstance(call, ast.Call) and len(call.args) == 1 and not call.keywords):
            return False
        func, arg = call.func, call.args[0]
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        caught = arg.attr if isinstance(arg, ast.Attribute) else getattr(arg, "id", None)
        if name != "suppress" or caught not in _CATCH_ALL:
            return False
    return True


def _plain_test(test: ast.AST) -> bool:
    """A loop test that cannot fail: a name, an attribute, ``not`` of one, or a call of an
    event's ``is_set()`` (``while not self._stop.is_set():``)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test = test.operand
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "is_set" \
            and not test.args:
        test = test.func.value
    while isinstance(test, ast.Attribute):
        test = test.value
    return isinstance(test, (ast.Name, ast.Constant))


def catches_all(body: List[ast.stmt]) -> bool:
    """A top-level ``try`` with a handler for every exception holds the work: nothing outside
    it loops or enters a context (a docstring, an assignment, a log call may stand beside it).
    So does a ``with suppress(Exception):``, and a service loop whose test cannot fail and whose
    every turn runs inside one of those (``while not stop.is_set(): with suppress(Exception):
    ...``)."""
    work = _work(body)
    if len(work) == 1 and isinstance(work[0], ast.While) and not work[0].orelse and _plain_test(work[0].test):
        work = work[0].body
    if work and all(_suppresses_all(s) or (isinstance(s, ast.Try) and _swallows_all(s)) for s in work):
        return True
    tries = [s for s in body if isinstance(s, ast.Try)]
    if not tries:
        return False
    if any(isinstance(s, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Raise)) for s in body):
        return False
    return any(_swallows_all(t) for t in tries)


def _swallows_all(t: ast.Try) -> bool:
    """A handler for every exception that does not raise again."""
    return any(not any(isinstance(n, ast.Raise) for b in h.body for n in ast.walk(b))
               for h in _catch_all_handlers(t))


def forwards_exc_info(body: List[ast.stmt]) -> bool:
    """``try: self._do_upload(event) finally: queue.put(Done(event, exc=sys.exc_info()[1]))``: the
    work's exception, if any, is handed on to whoever reads the queue; nobody needs the future."""
    for t in body:
        if isinstance(t, ast.Try) and t.finalbody:
            for n in ast.walk(ast.Module(body=t.finalbody, type_ignores=[])):
                if isinstance(n, ast.Call) and any(
                        isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute) and a.func.attr == "exc_info"
                        and isinstance(a.func.value, ast.Name) and a.func.value.id == "sys"
                        for arg in list(n.args) + [k.value for k in n.keywords] for a in ast.walk(arg)):
                    return True
    return False


def memo_line(body: List[ast.stmt]) -> int:
    """The line of ``if <cache> ...: return <cache>`` when the function also assigns ``<cache>``
    (a global it declares, or ``self.<attr>``): a hand-written memo (``config_options =
    _config_options; if config_options and not force_reparse: return config_options``, then the
    parse fills ``_config_options``); or of ``if <cache> ...: return`` when it fills ``<cache>``
    and never sets it back to a false constant. Top level and inside a top-level ``with``; 0 when
    none."""
    stmts = []
    for s in body:
        stmts.extend(s.body if isinstance(s, (ast.With, ast.AsyncWith)) else [s])
    tests = [s for s in stmts if isinstance(s, ast.If) and len(s.body) == 1 and isinstance(s.body[0], ast.Return)
             and (s.body[0].value is None or _cache_key(s.body[0].value))]
    if not tests:
        return 0  # most functions: no early return of a name, no walk
    declared = {n for s in body if isinstance(s, ast.Global) for n in s.names}
    alias = {s.targets[0].id: _cache_key(s.value) for s in stmts
             if isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)}
    stores = [(t, n.value) for n in ast.walk(ast.Module(body=body, type_ignores=[]))
              if isinstance(n, (ast.Assign, ast.AnnAssign)) for t in (n.targets if isinstance(n, ast.Assign) else [n.target])]
    filled = {_cache_key(t) for t, _ in stores}
    # set back to nothing somewhere (`self.busy = False` after the work): a re-entrancy guard
    reset = {_cache_key(t) for t, v in stores if isinstance(v, ast.Constant) and not v.value}
    for s in tests:
        if s.body[0].value is None:
            # `if self._password is not None: return` ... `self._password = typed`: the work
            # after the guard runs until it fills the value (once per object)
            key = next((k for k in map(_cache_key, ast.walk(s.test)) if k and k in filled and k not in reset
                        and (k.startswith("self.") or k in declared)), None)
            if key is not None:
                return s.lineno
            continue
        returned = _cache_key(s.body[0].value)
        key = alias.get(returned, returned) if returned.isidentifier() and returned not in declared else returned
        if key and key in filled and (key.startswith("self.") or key in declared) and any(
                _cache_key(n) in (key, returned) for n in ast.walk(s.test)):
            return s.lineno
    return 0


def _cache_key(node) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return f"self.{node.attr}"
    return None


def local_names(body: List[ast.stmt]) -> Tuple[str, ...]:
    """The names a function body binds in its own scope (``parser = Parser()``, ``for alt in
    ...``, ``with open(p) as f``, ``except E as e``, ``import x``), minus those it declares
    ``global`` or ``nonlocal``; nested functions, classes, lambdas and comprehensions are their
    own scopes."""
    out, declared = set(), set()
    todo = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
            continue
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".", 1)[0] for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return tuple(sorted(out - declared))

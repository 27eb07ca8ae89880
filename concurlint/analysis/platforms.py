"""Which platform a branch of code runs on: ``if sys.platform == "win32":``, ``if os.name != "nt":``,
``if platform.system() == "Windows":``, ``if "pyodide" in sys.modules:`` -- and the project's own
names for those tests (``IS_WINDOWS = sys.platform.startswith("win")``, ``def is_unix_system():
return platform.system() != "Windows"``).

A call made only on Windows cannot meet a ``fork`` (there is none there): a thread that a
Windows-only branch starts is never running when a POSIX ``os.fork()`` runs. Code only run in a
browser (Pyodide/Emscripten) has no threads to move blocking work to and an in-memory filesystem.

A platform is one of ``WINDOWS``, ``POSIX``, ``WASM`` or ``""`` (any). A test the module cannot
decide alone (a name imported from another module) is kept as ``"?" + qualname`` (its body runs
where the name is true) or ``"!" + qualname`` (where it is false), decided by ``Project.platform_of``
from every module's ``platform_names``.
"""
from __future__ import annotations

import ast
from typing import Callable, Dict, Optional, Tuple

WINDOWS = "windows"
POSIX = "posix"
WASM = "wasm"

# sys.platform values (or prefixes, with startswith) that say which side a test is on
_SYS_PLATFORM = {"win32": WINDOWS, "win": WINDOWS, "linux": POSIX, "darwin": POSIX, "freebsd": POSIX,
                 "openbsd": POSIX, "netbsd": POSIX, "aix": POSIX, "sunos": POSIX, "emscripten": WASM,
                 "wasi": WASM}
_OS_NAME = {"nt": WINDOWS, "posix": POSIX}
_SYSTEM = {"windows": WINDOWS, "linux": POSIX, "darwin": POSIX, "freebsd": POSIX, "emscripten": WASM}
# the other side of a test that names the whole of one side: `os.name != "nt"` is every POSIX
# system, but `sys.platform != "darwin"` may still be Windows
_WHOLE = {("os.name", "nt"), ("os.name", "posix"), ("sys.platform", "win32"), ("sys.platform", "win"),
          ("platform.system", "windows")}
_OTHER = {WINDOWS: POSIX, POSIX: WINDOWS}

Sides = Tuple[str, str]  # (platform of the body, platform of the else branch)
Resolver = Callable[[ast.AST], Optional[str]]


def sides(test: ast.AST, resolve: Resolver, depth: int = 0) -> Sides:
    """The platform each branch of ``if test:`` runs on (``""`` where the test does not say)."""
    if depth > 4:
        return "", ""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        body, orelse = sides(test.operand, resolve, depth + 1)
        return orelse, body
    if isinstance(test, ast.BoolOp):
        parts = [sides(v, resolve, depth + 1) for v in test.values]
        if isinstance(test.op, ast.And):  # the body needs every conjunct
            return next((b for b, _ in parts if b), ""), ""
        bodies = {b for b, _ in parts}
        return (bodies.pop() if len(bodies) == 1 else ""), ""
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        return _compare(test, resolve)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr == "startswith" \
            and len(test.args) == 1:
        subject = _subject(test.func.value, resolve)
        prefixes = _strings(test.args[0])
        if subject == "sys.platform" and prefixes:
            found = {_SYS_PLATFORM.get(p) for p in prefixes}
            if len(found) == 1 and None not in found:
                side = found.pop()
                return side, _OTHER.get(side, "") if all(p.startswith("win") for p in prefixes) else ""
        return "", ""
    q = _reference(test, resolve)
    if q:
        return "?" + q, "!" + q
    return "", ""


def _compare(test: ast.Compare, resolve: Resolver) -> Sides:
    op, left, right = test.ops[0], test.left, test.comparators[0]
    # "pyodide" in sys.modules
    if isinstance(op, (ast.In, ast.NotIn)) and isinstance(left, ast.Constant) \
            and left.value in ("pyodide", "js", "pyodide_js") and resolve(right) == "sys.modules":
        return (WASM, "") if isinstance(op, ast.In) else ("", WASM)
    if isinstance(left, ast.Constant):
        left, right = right, left
    subject = _subject(left, resolve)
    table = {"sys.platform": _SYS_PLATFORM, "os.name": _OS_NAME, "platform.system": _SYSTEM}.get(subject or "")
    values = _strings(right)
    if table is None or not values:
        return "", ""
    found = {table.get(v.lower() if subject == "platform.system" else v) for v in values}
    if len(found) != 1 or None in found:
        return "", ""
    side = found.pop()
    other = _OTHER.get(side, "") if all((subject, v.lower()) in _WHOLE for v in values) else ""
    if isinstance(op, (ast.Eq, ast.Is, ast.In)):
        return side, other
    if isinstance(op, (ast.NotEq, ast.IsNot, ast.NotIn)):
        return other, side
    return "", ""


def _subject(node: ast.AST, resolve: Resolver) -> Optional[str]:
    """``sys.platform``, ``os.name``, or ``platform.system`` for ``platform.system()`` (with an
    optional ``.lower()``)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "lower" \
            and not node.args:
        node = node.func.value
    if isinstance(node, ast.Call) and not node.args:
        return "platform.system" if resolve(node.func) == "platform.system" else None
    q = resolve(node)
    return q if q in ("sys.platform", "os.name") else None


def _strings(node: ast.AST) -> Tuple[str, ...]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and node.elts and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return tuple(e.value for e in node.elts)
    return ()


def _reference(test: ast.AST, resolve: Resolver) -> Optional[str]:
    """A name (``IS_WINDOWS``, ``compat.WIN``) or a call without arguments (``is_unix_system()``)
    that another module may define as a platform test."""
    if isinstance(test, ast.Call) and not test.args and not test.keywords:
        test = test.func
    if isinstance(test, (ast.Name, ast.Attribute)):
        return resolve(test)
    return None


def module_names(body, qual: Callable[[str], str], resolve: Resolver) -> Dict[str, Sides]:
    """The platform tests a module gives names to: ``WINDOWS = os.name == "nt"`` and functions
    whose body returns one (``def is_unix_system(): return platform.system() != "Windows"``)."""
    out: Dict[str, Sides] = {}
    for stmt in body:
        value = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            name, value = stmt.target.id, stmt.value
        elif isinstance(stmt, ast.FunctionDef) and not stmt.args.args:
            body_stmts = stmt.body[1:] if ast.get_docstring(stmt) is not None else stmt.body
            if len(body_stmts) == 1 and isinstance(body_stmts[0], ast.Return) and body_stmts[0].value is not None:
                name, value = stmt.name, body_stmts[0].value
        elif isinstance(stmt, ast.ClassDef):
            out.update(_attribute_names(stmt, qual(stmt.name), resolve))
        if value is None:
            continue
        found = sides(value, resolve)
        if any(s and s[0] not in "?!" for s in found):
            out[qual(name)] = found
    return out


def _attribute_names(cls: ast.ClassDef, cls_qual: str, resolve: Resolver) -> Dict[str, Sides]:
    """``self._is_windows = sys.platform == "win32"`` in a method, the only kind of value the
    class ever gives that attribute: ``if self._is_windows:`` is a platform test."""
    found: Dict[str, Optional[Sides]] = {}
    for fn in cls.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not fn.args.args:
            continue
        me = fn.args.args[0].arg
        for node in ast.walk(fn):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == me:
                    value = getattr(node, "value", None)
                    here = sides(value, resolve) if value is not None and not isinstance(node, ast.AugAssign) else None
                    if here is None or not any(x and x[0] not in "?!" for x in here):
                        found[t.attr] = None
                    elif found.setdefault(t.attr, here) != here:
                        found[t.attr] = None
    return {f"{cls_qual}.{attr}": s for attr, s in found.items() if s is not None}


def nest(outer: str, inner: str) -> str:
    """The platform of code under an inner ``if`` inside an outer one: a decided test wins over a
    reference (``if IS_WINDOWS:`` then ``if self.proc.stdout:``, a name that may or may not be a
    platform test); two references are both kept, outer first (``REFERENCES`` apart), and the
    first one the project defines decides (``Project.platform_of``)."""
    if not inner:
        return outer
    if not outer or inner[0] not in "?!":
        return inner
    if outer[0] not in "?!":
        return outer
    return outer + REFERENCES + inner


REFERENCES = "\x00"  # between the references of nested tests


def decide(platform: str, names: Dict[str, Sides]) -> str:
    """A call's platform with the project's named tests looked up."""
    if not platform or platform[0] not in "?!":
        return platform
    found = names.get(platform[1:])
    if found is None:
        return ""
    side = found[0] if platform[0] == "?" else found[1]
    return "" if side[:1] in ("?", "!") else side

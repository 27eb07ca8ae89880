"""The imports a fix needs: how the file refers to a module, whether a name is free where the fix
writes it, adding ``import X`` where LibCST's codemod helper would, and dropping an import whose
last use the fix replaced. Everything is answered from the file's scopes, computed once per file
(``FixSource.scopes``); LibCST's codemod visitors, which analyse the module again for each fix,
are not run."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import libcst as cst

from concurlint.fixes.base import FixSource


def import_binding(source: FixSource, module_name: str) -> Tuple[Optional[str], bool]:
    """How the file refers to module ``module_name`` at module level: (name, needs_import).

    ``import asyncio`` -> ("asyncio", False); ``import asyncio as aio`` -> ("aio", False); not
    imported and the name free -> ("asyncio", True); the name bound to something else -> (None, _).
    """
    scope = source.scopes.get(source.module)
    if scope is None:
        return None, False
    for stmt in source.module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not isinstance(small, cst.Import):
                continue
            for alias in small.names:
                if _dotted(alias.name) != module_name:
                    continue
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    return alias.asname.name.value, False
                if "." not in module_name:
                    return module_name, False
    if any(a.name == module_name.split(".")[0] for a in scope.assignments):
        return None, False  # the name means something else here
    return module_name, True


def _dotted(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return f"{_dotted(expr.value)}.{expr.attr.value}"
    return ""


def name_free_in(source: FixSource, node: cst.CSTNode, name: str) -> bool:
    """True when ``name`` at ``node`` would mean the module-level binding (no local shadows it)."""
    scope = source.scopes.get(node)
    while scope is not None and scope is not scope.globals:
        if any(a.name == name for a in scope.assignments):
            return False
        scope = scope.parent
    return True


def add_import(module: cst.Module, module_name: str) -> cst.Module:
    """``import module_name`` where LibCST's codemod helper (AddImportsVisitor) puts a module it
    adds: after the leading one-import lines (a docstring or ``__strict__`` flag first stays first),
    with an empty line before the next statement when it has none. Built here, not by running the
    helper, which costs ~25 ms a fix (a matcher transformer and a pass over the module) where this
    costs one parsed line; the callers add a module only when no top-level ``import`` of it exists
    (``import_binding``), the one case where the helper adds it. tests/test_fix_imports.py checks
    that both give the same module."""
    body = list(module.body)
    at = 1 if body and _docstring_or_strict_flag(body[0]) else 0
    while at < len(body) and isinstance(body[at], cst.SimpleStatementLine) and len(body[at].body) == 1 \
            and isinstance(body[at].body[0], (cst.Import, cst.ImportFrom)):
        at += 1
    after = body[at:]
    if after:
        lines = after[0].leading_lines
        if not lines or lines[0].comment is not None:
            after[0] = after[0].with_changes(leading_lines=(cst.EmptyLine(), *lines))
    line = cst.parse_statement(f"import {module_name}", config=module.config_for_parsing)
    return module.with_changes(body=(*body[:at], line, *after))


def _docstring_or_strict_flag(stmt: cst.CSTNode) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if isinstance(small, cst.Expr):
        return isinstance(small.value, cst.SimpleString)
    return isinstance(small, cst.Assign) and len(small.targets) == 1 \
        and isinstance(small.targets[0].target, cst.Name) and small.targets[0].target.value == "__strict__"


def remove_unused_import(source: FixSource, module: cst.Module, gone: Sequence[cst.CSTNode],
                         module_name: str, obj: Optional[str] = None) -> cst.Module:
    """``module`` (the fixed file) without the top-level ``import module_name`` (or ``from
    module_name import obj``) when every use of the name it binds was inside ``gone``, the nodes
    of the original file that the fix replaced. The uses are the original file's (its scopes are
    already known), so nothing is analysed again. Kept as it is when the import shares its line
    with another statement (``import time; x = 1``), when the line carries a comment, or when the
    fixed module no longer holds that line."""
    gone_ids = {id(n) for n in gone}
    for stmt in source.module.body:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            continue
        small = stmt.body[0]
        alias = _imported_alias(small, module_name, obj)
        if alias is None:
            continue
        if not _only_used_inside(source, small, alias, gone_ids):
            return module
        if any(line.comment is not None for line in stmt.leading_lines) or stmt.trailing_whitespace.comment:
            return module
        rest = [a for a in small.names if a is not alias]
        if rest and alias is small.names[-1]:
            rest[-1] = rest[-1].with_changes(comma=alias.comma)  # `import os, time` -> `import os`
        body = []
        found = False
        for new_stmt in module.body:
            if new_stmt is stmt:
                found = True
                if rest:
                    body.append(stmt.with_changes(body=[small.with_changes(names=rest)]))
                continue
            body.append(new_stmt)
        return module.with_changes(body=body) if found else module
    return module


def _imported_alias(small: cst.CSTNode, module_name: str, obj: Optional[str]) -> Optional[cst.ImportAlias]:
    if obj is None and isinstance(small, cst.Import):
        return next((a for a in small.names if _dotted(a.name) == module_name and a.asname is None), None)
    if obj is not None and isinstance(small, cst.ImportFrom) and not small.relative \
            and small.module is not None and _dotted(small.module) == module_name \
            and not isinstance(small.names, cst.ImportStar):
        return next((a for a in small.names if _dotted(a.name) == obj and a.asname is None), None)
    return None


def _only_used_inside(source: FixSource, small: cst.CSTNode, alias: cst.ImportAlias, gone_ids: set) -> bool:
    """Whether every reference to the name ``alias`` binds lies inside one of the ``gone`` nodes
    (False when the binding itself is not found: nothing is removed on a guess)."""
    scope = source.scopes.get(small)
    name = _dotted(alias.name)
    if scope is None or "." in name:
        return False
    found = False
    for assignment in scope.assignments[name]:
        if getattr(assignment, "node", None) is not small:
            continue
        found = True
        for access in assignment.references:
            if not any(id(a) in gone_ids for a in (access.node, *source.ancestors(access.node))):
                return False
    return found

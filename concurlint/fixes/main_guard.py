"""CCL303 missing-main-guard: move the module's script statements under the main guard (safe).

The script is the top-level statements from the first one that launches workers to the end of the
module, leaving out definitions (``def``, ``class``, imports) and docstrings. They move, in their
order and with their comments, into one ``if __name__ == "__main__":`` at the end of the module
(ahead of the body of a guard the module already has). A spawn/forkserver child then imports the
module without re-running them.

The fix is made only when it keeps the program's meaning: no function, class or other module-level
code outside the script reads a name the script binds (a worker would no longer find it), and no
definition the script passes over rebinds one of those names. Otherwise the finding says which name
is in the way and nothing changes.
"""
from __future__ import annotations

from typing import List, Optional, Set

import libcst as cst
from libcst.metadata import GlobalScope

from concurlint.fixes.base import SAFE, FixSource, Outcome, Proposal, Unfixable

_DEFINITIONS = (cst.FunctionDef, cst.ClassDef)


def propose(source: FixSource, finding) -> Outcome:
    body = list(source.module.body)
    # every CCL303 of the file gets the same fix: the script starts at the first launch
    starts = [_statement_index(source, body, f) for f in source.findings if f.code == finding.code]
    start = min((i for i in starts if i is not None), default=None)
    if start is None or _statement_index(source, body, finding) is None:
        return None
    guard_index = _existing_guard(body)
    script = [s for i, s in enumerate(body) if i >= start and i != guard_index and _is_script(s)]
    if not script:
        return None
    reason = _in_the_way(source, script, body[guard_index] if guard_index is not None else None)
    if reason:
        return Unfixable(reason)
    moved = set(map(id, script))
    guard: Optional[cst.If] = body[guard_index] if guard_index is not None else None
    inner_before = [s for s in script if guard_index is None or body.index(s) < guard_index]
    inner_after = [s for s in script if guard_index is not None and body.index(s) > guard_index]
    old_guard_body = list(guard.body.body) if guard is not None else []
    stmts = [*map(_unindented_blanks, inner_before), *old_guard_body, *map(_unindented_blanks, inner_after)]
    stmts[0] = stmts[0].with_changes(leading_lines=_trim_blank(stmts[0].leading_lines))
    if guard is not None:
        new_guard = guard.with_changes(body=guard.body.with_changes(body=stmts))
    else:
        new_guard = cst.If(test=cst.Comparison(left=cst.Name("__name__"), comparisons=[
            cst.ComparisonTarget(cst.Equal(), cst.SimpleString('"__main__"'))]),
            body=cst.IndentedBlock(body=stmts),
            leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    rest = [s for i, s in enumerate(body) if id(s) not in moved and i != guard_index]
    if not rest:
        return Unfixable("the module is all script; nothing would be left to import")
    new_guard = new_guard.with_changes(leading_lines=_guard_leading(guard, script))
    module = source.module.with_changes(body=[*rest, new_guard])
    return Proposal(module, SAFE, 'move the script statements under `if __name__ == "__main__":`')


def _statement_index(source: FixSource, body: list, finding) -> Optional[int]:
    found = source.nodes_at(finding.line, finding.col, (cst.CSTNode,))
    top = source.top_statement(found[0]) if found else None
    return body.index(top) if top is not None else None


def _unindented_blanks(stmt: cst.BaseStatement) -> cst.BaseStatement:
    """Blank lines of a statement moved into a block carry no indentation (no trailing spaces)."""
    lines = [ln.with_changes(indent=False) if ln.comment is None else ln for ln in stmt.leading_lines]
    return stmt.with_changes(leading_lines=lines)


def _existing_guard(body: List[cst.BaseStatement]) -> Optional[int]:
    for i, s in enumerate(body):
        if isinstance(s, cst.If) and s.orelse is None and _is_main_test(s.test):
            return i
    return None


def _is_main_test(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    c = test.comparisons[0]
    if not isinstance(c.operator, cst.Equal):
        return False
    sides = [test.left, c.comparator]
    names = [s for s in sides if isinstance(s, cst.Name) and s.value == "__name__"]
    strings = [s for s in sides if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__"]
    return len(names) == 1 and len(strings) == 1


def _is_script(stmt: cst.BaseStatement) -> bool:
    if isinstance(stmt, _DEFINITIONS):
        return False
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)):
                return False
            if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
                return False
    return True


def _in_the_way(source: FixSource, script: list, guard) -> Optional[str]:
    """Why moving ``script`` would change what the rest of the module sees (None: it would not)."""
    scope = source.scopes.get(source.module)
    if not isinstance(scope, GlobalScope):
        return "the module's names cannot be resolved"
    inside = set(map(id, script))
    if guard is not None:
        inside.add(id(guard))

    def within(node) -> bool:
        top = source.top_statement(node)
        return top is not None and id(top) in inside

    bound: Set[str] = set()
    for a in scope.assignments:
        node = getattr(a, "node", None)
        if node is not None and within(node):
            bound.add(a.name)
    for a in scope.assignments:
        node = getattr(a, "node", None)
        if a.name not in bound or node is None:
            continue
        if not within(node):
            return f"`{a.name}` is also bound outside the script; moving the script would change which binding wins"
        for ref in a.references:
            if ref.node is not None and not within(ref.node):
                where = ("module-level code" if source.scopes.get(ref.node) is scope
                         else "a function or class")
                return (f"{where} outside the script reads `{a.name}`, which would then be set only "
                        f"when the module runs as a script")
    return None


def _trim_blank(lines) -> list:
    lines = list(lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return lines


def _guard_leading(guard, script) -> list:
    if guard is not None:
        return list(guard.leading_lines) or [cst.EmptyLine(), cst.EmptyLine()]
    return [cst.EmptyLine(), cst.EmptyLine()]

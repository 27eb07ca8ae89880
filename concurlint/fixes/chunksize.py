"""CCL105 map-without-chunksize: pass ``chunksize=`` to batch many tiny tasks (safe).

``pool.map(f, range(1_000_000))`` on a ``ProcessPoolExecutor`` (or ``Pool.imap`` /
``imap_unordered``) -> ``pool.map(f, range(1_000_000), chunksize=2048)``. The results and their
order are the same; the tasks travel to the workers in batches instead of one round trip each.

The size follows ``Pool.map``'s own rule (about four chunks per worker) for up to 64 workers:
the largest power of two not above ``n / 256``, at least 1. It needs the number of tasks as a
constant: ``range()`` of integer literals, arithmetic on them, or a module-level constant.
"""
from __future__ import annotations

from typing import Dict, Optional

import libcst as cst

from concurlint.fixes.base import SAFE, FixSource, Outcome, Proposal, Unfixable

WORKERS_PER_CHUNK_RULE = 256  # 4 chunks per worker x 64 workers


def chunk_size(n: int) -> int:
    target = max(1, n // WORKERS_PER_CHUNK_RULE)
    size = 1
    while size * 2 <= target:
        size *= 2
    return size


def propose(source: FixSource, finding) -> Outcome:
    calls = source.nodes_at(finding.line, finding.col, (cst.Call,))
    if not calls:
        return None
    call = calls[-1]
    if any(a.keyword is not None and a.keyword.value == "chunksize" for a in call.args):
        return Unfixable("the call already passes chunksize")
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if len(positional) < 2:
        return None
    n = _count(source, positional[1].value)
    if n is None:
        return Unfixable("the number of tasks is not a constant here; pass chunksize= by hand")
    size = chunk_size(n)
    args = list(call.args)
    last = args[-1]
    if last.comma is not cst.MaybeSentinel.DEFAULT and isinstance(last.comma, cst.Comma):
        # a trailing comma (one argument per line): keep the layout, add one more line
        new = cst.Arg(keyword=cst.Name("chunksize"), value=cst.Integer(str(size)),
                      equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
                      comma=last.comma)
        args.append(new)
    else:
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args.append(cst.Arg(keyword=cst.Name("chunksize"), value=cst.Integer(str(size)),
                            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
    module = source.replace(call, call.with_changes(args=args))
    return Proposal(module, SAFE, f"send the {n:,} tasks in chunks of {size}")


def _count(source: FixSource, expr: cst.BaseExpression) -> Optional[int]:
    if not (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "range"
            and "builtins.range" in source.qualified_names(expr.func)):
        return None
    values = [_value(source, a.value, 0) for a in expr.args if a.keyword is None and not a.star]
    if len(values) != len(expr.args) or not values or any(v is None for v in values):
        return None
    try:
        return len(range(*values))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


_OPS = {cst.Add: lambda a, b: a + b, cst.Subtract: lambda a, b: a - b, cst.Multiply: lambda a, b: a * b,
        cst.FloorDivide: lambda a, b: a // b if b else None,
        cst.Power: lambda a, b: a ** b if 0 <= b <= 64 and abs(a) < 2 ** 32 else None}


def _value(source: FixSource, expr: cst.BaseExpression, depth: int) -> Optional[int]:
    """An integer constant expression's value (literals, + - * // **, module-level constants)."""
    if depth > 8:
        return None
    if isinstance(expr, cst.Integer):
        v = expr.evaluated_value
        return v if isinstance(v, int) else None
    if isinstance(expr, cst.BinaryOperation):
        op = _OPS.get(type(expr.operator))
        a = _value(source, expr.left, depth + 1)
        b = _value(source, expr.right, depth + 1)
        return op(a, b) if op is not None and a is not None and b is not None else None
    if isinstance(expr, cst.Name):
        return _constant(source, depth).get(expr.value) if _is_global(source, expr) else None
    return None


def _is_global(source: FixSource, name: cst.Name) -> bool:
    scope = source.scopes.get(name)
    if scope is None:
        return False
    refs = scope[name.value]
    return bool(refs) and all(r.scope is scope.globals for r in refs)


def _constant(source: FixSource, depth: int) -> Dict[str, int]:
    """Module-level names assigned exactly once, to an integer constant expression."""
    counts: Dict[str, int] = {}
    values: Dict[str, cst.BaseExpression] = {}
    scope = source.scopes.get(source.module)
    for a in scope.assignments if scope is not None else ():
        counts[a.name] = counts.get(a.name, 0) + 1
    for stmt in source.module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                    values[small.targets[0].target.value] = small.value
    out = {}
    for name, expr in values.items():
        if counts.get(name) == 1:
            v = _value(source, expr, depth + 1)
            if v is not None:
                out[name] = v
    return out

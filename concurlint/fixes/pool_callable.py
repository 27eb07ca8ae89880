"""CCL401 lambda / CCL402 nested function sent to a process pool: make it a module-level function.

pickle sends a function by its qualified name, so a worker can only run what it can import:
- a lambda that captures nothing becomes ``def _<name>_task(<params>): return <body>`` before the
  top-level statement that holds it, and the lambda is replaced by that name (safe);
- a nested ``def`` that captures nothing moves to module level under its own name (safe);
- one that captures values from the enclosing function gets them as leading parameters, bound with
  ``functools.partial(func, captured...)`` where the function was (unsafe: the values are bound
  when the partial is made, and they must be picklable themselves; a closure saw later changes).

Not fixed: decorated functions, ``nonlocal``, defaults or annotations that use local names,
recursion together with captured values, a name defined twice in the enclosing function.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import libcst as cst
from libcst.metadata import BuiltinScope, GlobalScope

from concurlint.fixes.base import SAFE, UNSAFE, FixSource, Outcome, Proposal, Unfixable, attr, fresh_name
from concurlint.fixes.imports import add_import, import_binding, name_free_in


def propose(source: FixSource, finding) -> Outcome:
    kind = cst.Lambda if finding.code == "CCL401" else cst.Name
    found = []
    # `functools.partial(<callable>, ...)`: the finding points at the partial
    for call in source.nodes_at(finding.line, finding.col, (cst.Call,)):
        if call.args and isinstance(call.args[0].value, kind) and _is_partial(source, call):
            found = [call.args[0].value]
            break
    found = found or source.nodes_at(finding.line, finding.col, (kind,))
    if not found:
        return None
    return _lambda(source, found[0]) if kind is cst.Lambda else _nested(source, found[0])


def _is_partial(source: FixSource, call: cst.Call) -> bool:
    return "functools.partial" in source.qualified_names(call.func)


# ---------------------------------------------------------------- free variables
def _inside(scope, own) -> bool:
    while scope is not None:
        if scope is own:
            return True
        if scope is scope.parent:
            return False
        scope = scope.parent
    return False


def _free_names(source: FixSource, node: cst.CSTNode, own) -> Tuple[List[str], bool]:
    """(names ``node`` reads from enclosing function scopes, in order; whether any is unresolved)."""
    out: List[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        stack.extend(reversed(n.children))
        if not isinstance(n, cst.Name):
            continue
        scope = source.scopes.get(n)
        if scope is None:
            continue
        for access in scope.accesses[n]:
            if access.node is not n:
                continue
            for ref in access.referents:
                s = ref.scope
                if isinstance(s, (GlobalScope, BuiltinScope)) or _inside(s, own):
                    continue
                if n.value not in out:
                    out.append(n.value)
    return out, False


# ---------------------------------------------------------------- lambda
def _lambda(source: FixSource, lam: cst.Lambda) -> Outcome:
    own = source.scopes.get(lam.body)
    if own is None:
        return None
    defaults = [p.default for p in _all_params(lam.params) if p.default is not None]
    for d in defaults:
        if _free_names(source, d, own)[0]:
            return Unfixable("a default value of the lambda uses a local name")
    captured, _ = _free_names(source, lam.body, own)
    top = source.top_statement(lam)
    if top is None:
        return None
    base = _callee_name(lam.body) or _enclosing_name(source, lam)
    name = fresh_name(source.all_names(), f"_{base}_task".replace("__", "_"))
    params = _with_leading(lam.params, captured)
    fdef = cst.FunctionDef(
        name=cst.Name(name), params=_clean_params(params),
        body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Return(value=lam.body)])]),
    )
    replacement, module, applicability = _reference(source, lam, name, captured)
    if replacement is None:
        return Unfixable("the name `functools` means something else in this file")
    module = source.replace(lam, replacement.with_changes(lpar=lam.lpar, rpar=lam.rpar) if captured else
                                 cst.Name(name, lpar=lam.lpar, rpar=lam.rpar))
    module = _insert_before(module, source.module.body.index(top), fdef)
    if captured:
        module = _ensure_functools(source, module)
    what = "a module-level function" + (" bound with functools.partial" if captured else "")
    return Proposal(module, applicability, f"turn the lambda into {what}", frozenset([name]))


def _callee_name(body: cst.BaseExpression) -> Optional[str]:
    if isinstance(body, cst.Call):
        f = body.func
        if isinstance(f, cst.Name):
            return f.value
        if isinstance(f, cst.Attribute):
            return f.attr.value
    return None


def _enclosing_name(source: FixSource, node) -> str:
    for anc in source.ancestors(node):
        if isinstance(anc, cst.FunctionDef):
            return anc.name.value
    return "worker"


def _all_params(params: cst.Parameters) -> List[cst.Param]:
    out = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    if isinstance(params.star_arg, cst.Param):
        out.append(params.star_arg)
    if params.star_kwarg is not None:
        out.append(params.star_kwarg)
    return out


def _with_leading(params: cst.Parameters, names: List[str]) -> cst.Parameters:
    if not names:
        return params
    lead = [cst.Param(cst.Name(n)) for n in names]
    if params.posonly_params:
        return params.with_changes(posonly_params=[*lead, *params.posonly_params])
    return params.with_changes(params=[*lead, *params.params])


def _clean_params(params: cst.Parameters) -> cst.Parameters:
    """Lambda parameters as ``def`` parameters: commas re-made by LibCST, no stray spacing."""
    def clean(p):
        return p.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_star=cst.SimpleWhitespace(""),
                              whitespace_after_param=cst.SimpleWhitespace(""))

    star = params.star_arg
    return params.with_changes(
        posonly_params=[clean(p) for p in params.posonly_params],
        params=[clean(p) for p in params.params],
        kwonly_params=[clean(p) for p in params.kwonly_params],
        star_arg=clean(star) if isinstance(star, cst.Param) else star,
        star_kwarg=clean(params.star_kwarg) if params.star_kwarg is not None else None,
    )


def _reference(source: FixSource, node, name: str, captured: List[str]):
    """What replaces the callable where it was passed, the module so far, the applicability."""
    if not captured:
        return cst.Name(name), source.module, SAFE
    func = _partial_name(source, node)
    if func is None:
        return None, source.module, UNSAFE
    call = cst.Call(func=func, args=[cst.Arg(cst.Name(name))] + [cst.Arg(cst.Name(c)) for c in captured])
    return call, source.module, UNSAFE


def _from_import(source: FixSource, module_name: str, obj: str) -> Optional[str]:
    """The name ``from module_name import obj [as name]`` binds at module level, if the file has it."""
    for stmt in source.module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (isinstance(small, cst.ImportFrom) and not small.relative and small.module is not None
                        and _dotted_name(small.module) == module_name and not isinstance(small.names, cst.ImportStar)):
                    for alias in small.names:
                        if isinstance(alias.name, cst.Name) and alias.name.value == obj:
                            asname = alias.asname.name if alias.asname is not None else None
                            return asname.value if isinstance(asname, cst.Name) else obj
    return None


def _dotted_name(expr) -> str:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return f"{_dotted_name(expr.value)}.{expr.attr.value}"
    return ""


def _partial_name(source: FixSource, node) -> Optional[cst.BaseExpression]:
    bound = _from_import(source, "functools", "partial")
    if bound is not None and name_free_in(source, node, bound):
        return cst.Name(bound)
    ft, _needs = import_binding(source, "functools")
    if ft is None or not name_free_in(source, node, ft):
        return None
    return attr(ft, "partial")


def _ensure_functools(source: FixSource, module: cst.Module) -> cst.Module:
    if _from_import(source, "functools", "partial") is not None:
        return module
    ft, needs = import_binding(source, "functools")
    return add_import(module, "functools") if needs else module


def _insert_before(module: cst.Module, index: int, fdef: cst.FunctionDef) -> cst.Module:
    """Put ``fdef`` before the top-level statement at ``index``, spaced like that statement (two
    blank lines when it had none); that statement's comments stay with it."""
    body = list(module.body)
    target = body[index]
    lines = list(target.leading_lines)
    blanks = []
    while lines and lines[0].comment is None:
        blanks.append(lines.pop(0))
    if not blanks and index:
        blanks = [cst.EmptyLine(), cst.EmptyLine()]
    fdef = fdef.with_changes(leading_lines=[*fdef.leading_lines] if not index else [*blanks, *fdef.leading_lines])
    body[index] = target.with_changes(leading_lines=[*(blanks or [cst.EmptyLine(), cst.EmptyLine()]), *lines])
    body.insert(index, fdef)
    return module.with_changes(body=body)


# ---------------------------------------------------------------- nested def
def _nested(source: FixSource, ref: cst.Name) -> Outcome:
    scope = source.scopes.get(ref)
    if scope is None:
        return None
    defs = [a.node for a in scope[ref.value] if isinstance(getattr(a, "node", None), cst.FunctionDef)]
    if len(defs) != 1:
        return None
    fdef: cst.FunctionDef = defs[0]
    outer = source.enclosing_function(fdef)
    if not isinstance(outer, cst.FunctionDef):
        return None
    if len(scope[ref.value]) != 1:
        return Unfixable(f"`{ref.value}` is bound more than once in {outer.name.value}()")
    if fdef.decorators:
        return Unfixable("the nested function is decorated; its decorators would run at import time")
    own = source.scopes.get(fdef.body.body[0]) if fdef.body.body else None
    if own is None:
        return None
    if _has_nonlocal(fdef):
        return Unfixable("the nested function uses `nonlocal`")
    for p in _all_params(fdef.params):
        for part in (p.default, p.annotation):
            if part is not None and _free_names(source, part, own)[0]:
                return Unfixable("a default or annotation of the nested function uses a local name")
    if fdef.returns is not None and _free_names(source, fdef.returns, own)[0]:
        return Unfixable("the return annotation of the nested function uses a local name")
    captured, _ = _free_names(source, fdef.body, own)
    recursive = fdef.name.value in captured
    captured = [c for c in captured if c != fdef.name.value]
    if recursive and captured:
        return Unfixable("the nested function calls itself and captures local values")
    top = source.top_statement(outer)
    index = source.module.body.index(top)
    module_names = source.module_names()
    keep = not captured and fdef.name.value not in module_names
    name = fdef.name.value if keep else fresh_name(source.all_names(), f"_{fdef.name.value}")
    if recursive and name != fdef.name.value:
        return Unfixable(f"the module already has a `{fdef.name.value}` and the nested function calls itself")
    moved = fdef.with_changes(name=cst.Name(name), params=_with_leading(fdef.params, captured))
    comments = [ln for ln in fdef.leading_lines if ln.comment is not None]
    moved = moved.with_changes(leading_lines=comments)
    if not captured and name == fdef.name.value:
        rest = [st for st in outer.body.body if st is not fdef]
        if outer.body.body[0] is fdef and rest:
            rest[0] = rest[0].with_changes(leading_lines=[ln for ln in rest[0].leading_lines if ln.comment is not None])
        module = source.replace(outer.body, outer.body.with_changes(body=rest))
        applicability, what = SAFE, f"move {name}() to module level"
    else:
        value, _, applicability = _reference(source, fdef, name, captured)
        if value is None:
            return Unfixable("the name `functools` means something else in this file")
        blanks = [ln for ln in fdef.leading_lines if ln.comment is None]
        stmt = cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(fdef.name.value))], value=value)],
                                       leading_lines=blanks)
        module = source.replace(fdef, stmt)
        what = f"move {fdef.name.value}() to module level" + (" and bind its captured values with functools.partial" if captured else "")
    module = _insert_before(module, index, moved)
    if captured:
        module = _ensure_functools(source, module)
    return Proposal(module, applicability, what, frozenset([name]))


def _has_nonlocal(fdef: cst.FunctionDef) -> bool:
    stack = [fdef.body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Nonlocal):
            return True
        stack.extend(n.children)
    return False

"""Build an :mod:`ast` tree from LibCST, for source the running interpreter cannot parse.

concurlint analyses :mod:`ast` trees, but :func:`ast.parse` only knows the syntax of the
Python that runs concurlint: under 3.9-3.11 a file using ``match``, PEP 701 f-strings,
``type X = ...``, ``def f[T]()`` or ``except*`` is rejected. LibCST parses every Python 3
syntax on any interpreter, so :func:`parse_with_libcst` parses with LibCST and converts the
result to the tree the running interpreter's :func:`ast.parse` would give:

* Every statement and expression becomes the same ``ast`` class with the same fields
  (``ctx`` included) and the same ``lineno``/``col_offset``/``end_lineno``/
  ``end_col_offset``; columns are UTF-8 byte offsets as in ``ast``. Where the running
  interpreter's own parser accepts the source, ``ast.dump(..., include_attributes=True)``
  of both trees is identical, including the interpreter-specific placement of the parts
  of f-strings (before 3.12 every part of a ``JoinedStr`` carries the position of the
  whole string; from 3.12 on each part has its own).
* Literals are evaluated with :func:`ast.literal_eval` on the token text; implicitly
  concatenated strings become one ``Constant`` or one ``JoinedStr`` as in ``ast``.
* Known differences from ``ast.parse``: under Python 3.9, an expression on a later
  line of a multi-line f-string gets its real column (3.9's parser adds the column where
  the string starts); a statement whose line starts with a form feed gets columns that
  do not count it. LibCST rejects a parenthesised annotated name (``(x): int``), so
  such a file raises ``SyntaxError``.

Syntax newer than the running interpreter has no ``ast`` class of its own; it becomes the
closest tree the analysis can still walk, with real positions:

* ``match`` without ``ast.Match`` (3.9): an ``ast.Expr`` holding the subject, followed by
  an ``ast.If`` chain with one branch per ``case``. A branch's test is the case's guard,
  or ``Constant(True)`` (placed on the pattern) when it has none. Patterns themselves
  are dropped, so the names they bind are not seen.
* ``try``/``except*`` without ``ast.TryStar`` (3.9, 3.10): an ``ast.Try``.
* ``type X[T] = ...`` without ``ast.TypeAlias`` (before 3.12): ``ast.Assign`` of the
  value to ``Name('X', Store())``.
* Type parameters (``def f[T]()``, ``class C[T]``) before 3.12: dropped, as the
  ``FunctionDef``/``ClassDef`` classes have no field for them; defaults of type
  parameters (PEP 696) before 3.13: dropped likewise.
* Template strings (``t"..."``, 3.14) become ``ast.JoinedStr``, laid out as an f-string.
* ``lazy import`` / ``lazy from ... import`` become ``ast.Import`` / ``ast.ImportFrom``.

Anything LibCST rejects, and constructs this module does not know, raise ``SyntaxError``.
"""

from __future__ import annotations

import ast
import re
import sys
import unicodedata
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

__all__ = ["parse_with_libcst"]

_NEWLINE_RE = re.compile(r"\r\n?|\n")
# Before 3.12 the parts of an f-string carry the position of the whole string.
_FSTRING_PART_POSITIONS = sys.version_info >= (3, 12)

_Pos = Tuple[int, int]  # (line, character column), as LibCST counts them

_BINOPS: Dict[type, Type[ast.operator]] = {
    cst.Add: ast.Add,
    cst.Subtract: ast.Sub,
    cst.Multiply: ast.Mult,
    cst.Divide: ast.Div,
    cst.FloorDivide: ast.FloorDiv,
    cst.Modulo: ast.Mod,
    cst.Power: ast.Pow,
    cst.LeftShift: ast.LShift,
    cst.RightShift: ast.RShift,
    cst.BitOr: ast.BitOr,
    cst.BitXor: ast.BitXor,
    cst.BitAnd: ast.BitAnd,
    cst.MatrixMultiply: ast.MatMult,
}
_AUGOPS: Dict[type, Type[ast.operator]] = {
    cst.AddAssign: ast.Add,
    cst.SubtractAssign: ast.Sub,
    cst.MultiplyAssign: ast.Mult,
    cst.DivideAssign: ast.Div,
    cst.FloorDivideAssign: ast.FloorDiv,
    cst.ModuloAssign: ast.Mod,
    cst.PowerAssign: ast.Pow,
    cst.LeftShiftAssign: ast.LShift,
    cst.RightShiftAssign: ast.RShift,
    cst.BitOrAssign: ast.BitOr,
    cst.BitXorAssign: ast.BitXor,
    cst.BitAndAssign: ast.BitAnd,
    cst.MatrixMultiplyAssign: ast.MatMult,
}
_UNARYOPS: Dict[type, Type[ast.unaryop]] = {
    cst.Plus: ast.UAdd,
    cst.Minus: ast.USub,
    cst.BitInvert: ast.Invert,
    cst.Not: ast.Not,
}
_BOOLOPS: Dict[type, Type[ast.boolop]] = {cst.And: ast.And, cst.Or: ast.Or}
_CMPOPS: Dict[type, Type[ast.cmpop]] = {
    cst.Equal: ast.Eq,
    cst.NotEqual: ast.NotEq,
    cst.LessThan: ast.Lt,
    cst.LessThanEqual: ast.LtE,
    cst.GreaterThan: ast.Gt,
    cst.GreaterThanEqual: ast.GtE,
    cst.Is: ast.Is,
    cst.IsNot: ast.IsNot,
    cst.In: ast.In,
    cst.NotIn: ast.NotIn,
}
_SINGLETONS = {"None": None, "True": True, "False": False}
# Text inside f-strings, and inside t-strings with a LibCST that knows them.
_TEXT_PARTS = tuple(
    getattr(cst, name) for name in ("FormattedStringText", "TemplatedStringText") if hasattr(cst, name)
)
# See parse_with_libcst.
_DEEP_RECURSION_LIMIT = 20_000


def parse_with_libcst(source: str, filename: str = "<unknown>") -> ast.Module:
    """Parse `source` with LibCST and return an equivalent `ast.Module` (positions set), for
    source the running interpreter's `ast.parse` rejects. Raises SyntaxError if LibCST rejects it too."""
    try:
        return _parse(source, filename)
    except RecursionError:
        pass
    # LibCST and this converter recurse once per nesting level, and implicitly
    # concatenated strings nest one level per string: a long concatenation (thousands of
    # lines in pydoc_data/topics.py) needs more than the default limit. The limit is
    # process-wide, so it is raised only for such a file, and only while it is parsed.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _DEEP_RECURSION_LIMIT))
    try:
        return _parse(source, filename)
    except RecursionError:
        raise SyntaxError("too deeply nested for LibCST", (filename, 1, 1, None)) from None
    finally:
        sys.setrecursionlimit(limit)



def _parse(source: str, filename: str) -> ast.Module:
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise SyntaxError(exc.message, (filename, exc.raw_line, exc.raw_column + 1, None)) from None
    except UnicodeEncodeError as exc:  # LibCST's parser needs text encodable as UTF-8
        raise SyntaxError(f"source is not valid Unicode: {exc}", (filename, 1, 1, None)) from None
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return _Converter(source, filename, module, positions).module(module)


class _Converter:
    def __init__(
        self,
        source: str,
        filename: str,
        module: cst.Module,
        positions: Any,
    ) -> None:
        self._filename = filename
        self._module = module
        self._positions = positions
        self._lines = _NEWLINE_RE.split(source)
        self._ascii = [line.isascii() for line in self._lines]
        # The range of the f-string being converted (before 3.12 its parts carry it).
        self._fstring_range: Optional[Tuple[_Pos, _Pos]] = None

    # -- errors and positions -------------------------------------------------------

    def _error(self, message: str, node: Optional[cst.CSTNode] = None) -> SyntaxError:
        line, col = self._start(node) if node is not None else (1, 0)
        text = self._lines[line - 1] if line - 1 < len(self._lines) else None
        return SyntaxError(message, (self._filename, line, col + 1, text))

    def _range(self, node: cst.CSTNode) -> Tuple[_Pos, _Pos]:
        rng: CodeRange = self._positions[node]
        return (rng.start.line, rng.start.column), (rng.end.line, rng.end.column)

    def _start(self, node: cst.CSTNode) -> _Pos:
        return self._range(node)[0]

    def _end(self, node: cst.CSTNode) -> _Pos:
        return self._range(node)[1]

    def _outer(self, node: cst.CSTNode) -> Tuple[_Pos, _Pos]:
        """Range of `node` including all parentheses around it."""
        lpar = getattr(node, "lpar", ())
        if lpar:
            return self._start(lpar[0]), self._end(node.rpar[-1])
        return self._range(node)

    def _own_parens(self, node: cst.CSTNode) -> Tuple[_Pos, _Pos]:
        """Range of `node` with its innermost pair of parentheses (tuples, generators)."""
        return self._start(node.lpar[-1]), self._end(node.rpar[0])

    def _byte_col(self, line: int, col: int) -> int:
        index = line - 1
        if index >= len(self._lines) or self._ascii[index]:
            return col
        return len(self._lines[index][:col].encode("utf-8", "surrogatepass"))

    def _at(self, node: ast.AST, start: _Pos, end: _Pos) -> Any:
        node.lineno = start[0]
        node.col_offset = self._byte_col(*start)
        node.end_lineno = end[0]
        node.end_col_offset = self._byte_col(*end)
        return node

    def _copy_pos(self, node: ast.AST, start_from: ast.AST, end_from: ast.AST) -> Any:
        node.lineno = start_from.lineno
        node.col_offset = start_from.col_offset
        node.end_lineno = end_from.end_lineno
        node.end_col_offset = end_from.end_col_offset
        return node

    def _scan_to(self, pos: _Pos, chars: str) -> Tuple[_Pos, _Pos]:
        """Find the one-character token (one of `chars`) at or after `pos`, skipping
        whitespace, line continuations, newlines and comments; return its range."""
        line, col = pos
        while line - 1 < len(self._lines):
            text = self._lines[line - 1]
            while col < len(text) and text[col] in " \t\f\\":
                col += 1
            if col < len(text) and text[col] != "#":
                if text[col] not in chars:
                    break
                return (line, col), (line, col + 1)
            line, col = line + 1, 0
        raise self._error(f"expected one of {chars!r}")

    @staticmethod
    def _make(cls: type, **fields: Any) -> Any:
        """Instantiate an ast class with those of `fields` it has (fields such as
        ``type_params`` exist only on newer interpreters)."""
        return cls(**{name: value for name, value in fields.items() if name in cls._fields})

    @staticmethod
    def _identifier(name: str) -> str:
        # The tokenizer NFKC-normalises identifiers.
        return name if name.isascii() else unicodedata.normalize("NFKC", name)

    def _code(self, node: cst.CSTNode) -> str:
        return self._module.code_for_node(node)

    # -- module and statements ------------------------------------------------------

    def module(self, node: cst.Module) -> ast.Module:
        return ast.Module(body=self._statements(node.body), type_ignores=[])

    def _statements(self, nodes: Sequence[cst.CSTNode]) -> List[ast.stmt]:
        out: List[ast.stmt] = []
        for node in nodes:
            if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                out.extend(self._small_statement(small) for small in node.body)
            else:
                out.extend(self._compound_statement(node))
        return out

    def _suite(self, suite: cst.BaseSuite) -> List[ast.stmt]:
        if isinstance(suite, cst.SimpleStatementSuite):
            return [self._small_statement(small) for small in suite.body]
        return self._statements(suite.body)

    def _small_statement(self, node: cst.BaseSmallStatement) -> ast.stmt:
        method: Optional[Callable[[Any], ast.stmt]] = getattr(
            self, "_stmt_" + type(node).__name__, None
        )
        if method is None:
            raise self._error(f"unsupported statement {type(node).__name__}", node)
        return self._at(method(node), *self._range(node))

    def _stmt_Expr(self, node: cst.Expr) -> ast.stmt:
        return ast.Expr(value=self.expr(node.value))

    def _stmt_Pass(self, node: cst.Pass) -> ast.stmt:
        return ast.Pass()

    def _stmt_Break(self, node: cst.Break) -> ast.stmt:
        return ast.Break()

    def _stmt_Continue(self, node: cst.Continue) -> ast.stmt:
        return ast.Continue()

    def _stmt_Return(self, node: cst.Return) -> ast.stmt:
        return ast.Return(value=self._optional(node.value))

    def _stmt_Assign(self, node: cst.Assign) -> ast.stmt:
        targets = [self.expr(target.target, ast.Store) for target in node.targets]
        return self._make(ast.Assign, targets=targets, value=self.expr(node.value), type_comment=None)

    def _stmt_AnnAssign(self, node: cst.AnnAssign) -> ast.stmt:
        target = node.target
        simple = int(isinstance(target, cst.Name) and not target.lpar)
        return ast.AnnAssign(
            target=self.expr(target, ast.Store),
            annotation=self.expr(node.annotation.annotation),
            value=self._optional(node.value),
            simple=simple,
        )

    def _stmt_AugAssign(self, node: cst.AugAssign) -> ast.stmt:
        return ast.AugAssign(
            target=self.expr(node.target, ast.Store),
            op=_AUGOPS[type(node.operator)](),
            value=self.expr(node.value),
        )

    def _stmt_Del(self, node: cst.Del) -> ast.stmt:
        target = node.target
        if isinstance(target, cst.Tuple) and not target.lpar:
            targets = [self.expr(element.value, ast.Del) for element in target.elements]
        else:
            targets = [self.expr(target, ast.Del)]
        return ast.Delete(targets=targets)

    def _stmt_Raise(self, node: cst.Raise) -> ast.stmt:
        cause = node.cause.item if node.cause is not None else None
        return ast.Raise(exc=self._optional(node.exc), cause=self._optional(cause))

    def _stmt_Assert(self, node: cst.Assert) -> ast.stmt:
        return ast.Assert(test=self.expr(node.test), msg=self._optional(node.msg))

    def _stmt_Global(self, node: cst.Global) -> ast.stmt:
        return ast.Global(names=[self._identifier(item.name.value) for item in node.names])

    def _stmt_Nonlocal(self, node: cst.Nonlocal) -> ast.stmt:
        return ast.Nonlocal(names=[self._identifier(item.name.value) for item in node.names])

    def _stmt_Import(self, node: Union[cst.Import, cst.LazyImport]) -> ast.stmt:
        return ast.Import(names=[self._alias(alias) for alias in node.names])

    _stmt_LazyImport = _stmt_Import

    def _stmt_ImportFrom(self, node: Union[cst.ImportFrom, cst.LazyImportFrom]) -> ast.stmt:
        if isinstance(node.names, cst.ImportStar):
            names = [self._at(ast.alias(name="*", asname=None), *self._range(node.names))]
        else:
            names = [self._alias(alias) for alias in node.names]
        module = self._dotted_name(node.module) if node.module is not None else None
        return ast.ImportFrom(module=module, names=names, level=len(node.relative))

    _stmt_LazyImportFrom = _stmt_ImportFrom

    def _alias(self, node: cst.ImportAlias) -> ast.alias:
        asname = self._identifier(node.asname.name.value) if node.asname is not None else None
        alias = ast.alias(name=self._dotted_name(node.name), asname=asname)
        if "lineno" in ast.alias._attributes:
            end = self._end(node.asname.name) if node.asname is not None else self._end(node.name)
            self._at(alias, self._start(node.name), end)
        return alias

    def _dotted_name(self, node: cst.BaseExpression) -> str:
        if isinstance(node, cst.Attribute):
            return f"{self._dotted_name(node.value)}.{self._identifier(node.attr.value)}"
        if isinstance(node, cst.Name):
            return self._identifier(node.value)
        raise self._error("invalid dotted name", node)

    def _stmt_TypeAlias(self, node: cst.TypeAlias) -> ast.stmt:
        name = self._at(ast.Name(id=self._identifier(node.name.value), ctx=ast.Store()), *self._range(node.name))
        value = self.expr(node.value)
        if hasattr(ast, "TypeAlias"):
            return ast.TypeAlias(name=name, type_params=self._type_params(node.type_parameters), value=value)
        return self._make(ast.Assign, targets=[name], value=value, type_comment=None)

    # compound statements: start at their keyword (after decorators), end with their
    # last statement.

    def _compound_statement(self, node: cst.BaseCompoundStatement) -> List[ast.stmt]:
        if isinstance(node, cst.Match) and not hasattr(ast, "Match"):
            return self._match_as_if(node)
        method = getattr(self, "_compound_" + type(node).__name__, None)
        if method is None:
            raise self._error(f"unsupported statement {type(node).__name__}", node)
        return [self._at(method(node), self._start(node), self._suite_end(_last_suite(node)))]

    def _suite_end(self, suite: cst.BaseSuite) -> _Pos:
        """Where a block ends for ast: its last token, a trailing semicolon included."""
        if isinstance(suite, cst.SimpleStatementSuite):
            return self._small_statement_end(suite.body[-1])
        last = suite.body[-1]
        if isinstance(last, cst.SimpleStatementLine):
            return self._small_statement_end(last.body[-1])
        return self._suite_end(_last_suite(last))

    def _small_statement_end(self, node: cst.BaseSmallStatement) -> _Pos:
        end = self._end(node)
        if isinstance(node.semicolon, cst.Semicolon):
            return self._scan_to(end, ";")[1]
        return end

    def _else(self, node: Optional[cst.Else]) -> List[ast.stmt]:
        return self._suite(node.body) if node is not None else []

    def _compound_If(self, node: cst.If) -> ast.stmt:
        body = self._suite(node.body)
        if isinstance(node.orelse, cst.If):
            orelse = self._compound_statement(node.orelse)
        else:
            orelse = self._else(node.orelse)
        return ast.If(test=self.expr(node.test), body=body, orelse=orelse)

    def _compound_While(self, node: cst.While) -> ast.stmt:
        body = self._suite(node.body)
        orelse = self._else(node.orelse)
        return ast.While(test=self.expr(node.test), body=body, orelse=orelse)

    def _compound_For(self, node: cst.For) -> ast.stmt:
        cls = ast.AsyncFor if node.asynchronous is not None else ast.For
        body = self._suite(node.body)
        orelse = self._else(node.orelse)
        result = self._make(
            cls,
            target=self.expr(node.target, ast.Store),
            iter=self.expr(node.iter),
            body=body,
            orelse=orelse,
            type_comment=None,
        )
        return result

    def _compound_With(self, node: cst.With) -> ast.stmt:
        cls = ast.AsyncWith if node.asynchronous is not None else ast.With
        items = [
            ast.withitem(
                context_expr=self.expr(item.item),
                optional_vars=self.expr(item.asname.name, ast.Store) if item.asname is not None else None,
            )
            for item in node.items
        ]
        body = self._suite(node.body)
        return self._make(cls, items=items, body=body, type_comment=None)

    def _compound_Try(self, node: Union[cst.Try, cst.TryStar]) -> ast.stmt:
        body = self._suite(node.body)
        handlers = [self._handler(handler) for handler in node.handlers]
        orelse = self._else(node.orelse)
        finalbody = self._suite(node.finalbody.body) if node.finalbody is not None else []
        cls = ast.Try
        if isinstance(node, cst.TryStar) and hasattr(ast, "TryStar"):
            cls = ast.TryStar
        result = cls(body=body, handlers=handlers, orelse=orelse, finalbody=finalbody)
        return result

    _compound_TryStar = _compound_Try

    def _handler(self, node: Union[cst.ExceptHandler, cst.ExceptStarHandler]) -> ast.excepthandler:
        name = self._identifier(node.name.name.value) if node.name is not None else None
        body = self._suite(node.body)
        handler = ast.ExceptHandler(type=self._optional(node.type), name=name, body=body)
        return self._at(handler, self._start(node), self._suite_end(node.body))

    def _compound_FunctionDef(self, node: cst.FunctionDef) -> ast.stmt:
        cls = ast.AsyncFunctionDef if node.asynchronous is not None else ast.FunctionDef
        body = self._suite(node.body)
        result = self._make(
            cls,
            name=self._identifier(node.name.value),
            args=self._arguments(node.params),
            body=body,
            decorator_list=[self.expr(decorator.decorator) for decorator in node.decorators],
            returns=self.expr(node.returns.annotation) if node.returns is not None else None,
            type_comment=None,
            type_params=self._type_params(node.type_parameters),
        )
        return result

    def _compound_ClassDef(self, node: cst.ClassDef) -> ast.stmt:
        bases, keywords = self._call_arguments(list(node.bases) + list(node.keywords))
        body = self._suite(node.body)
        result = self._make(
            ast.ClassDef,
            name=self._identifier(node.name.value),
            bases=bases,
            keywords=keywords,
            body=body,
            decorator_list=[self.expr(decorator.decorator) for decorator in node.decorators],
            type_params=self._type_params(node.type_parameters),
        )
        return result

    def _type_params(self, node: Optional[cst.TypeParameters]) -> List[ast.AST]:
        if node is None or not hasattr(ast, "TypeVar"):
            return []
        out = []
        for type_param in node.params:
            param = type_param.param
            name = self._identifier(param.name.value)
            default = None
            if type_param.default is not None:
                default = self.expr(type_param.default)
                if type_param.star:  # `*Ts = *tuple[int]`
                    equal = self._scan_to(self._end(param), "=")[1]
                    star = self._scan_to(equal, "*")[0]
                    default = self._at(ast.Starred(value=default, ctx=ast.Load()), star, self._outer(type_param.default)[1])
            if isinstance(param, cst.TypeVar):
                bound = self.expr(param.bound) if param.bound is not None else None
                result = self._make(ast.TypeVar, name=name, bound=bound, default_value=default)
            elif isinstance(param, cst.TypeVarTuple):
                result = self._make(ast.TypeVarTuple, name=name, default_value=default)
            else:
                result = self._make(ast.ParamSpec, name=name, default_value=default)
            if default is not None and "default_value" in type(result)._fields:
                end = self._outer(type_param.default)[1]
            elif isinstance(param, cst.TypeVar) and param.bound is not None:
                end = self._outer(param.bound)[1]
            else:
                end = self._end(param)
            out.append(self._at(result, self._start(param), end))
        return out

    # match statements

    def _compound_Match(self, node: cst.Match) -> ast.stmt:
        cases = []
        for case in node.cases:
            body = self._suite(case.body)
            cases.append(
                ast.match_case(pattern=self._pattern(case.pattern), guard=self._optional(case.guard), body=body)
            )
        return ast.Match(subject=self.expr(node.subject), cases=cases)

    def _match_as_if(self, node: cst.Match) -> List[ast.stmt]:
        """`match` for interpreters without ast.Match: see the module docstring."""
        subject = self.expr(node.subject)
        end = self._suite_end(node.cases[-1].body)  # like `elif`, every branch ends there
        chain: List[ast.stmt] = []
        for case in reversed(node.cases):
            if case.guard is not None:
                test = self.expr(case.guard)
            else:
                test = self._at(ast.Constant(value=True, kind=None), *self._outer(case.pattern))
            body = self._suite(case.body)
            branch = ast.If(test=test, body=body, orelse=chain)
            chain = [self._at(branch, self._start(case), end)]
        return [self._copy_pos(ast.Expr(value=subject), subject, subject)] + chain

    def _pattern(self, node: cst.MatchPattern) -> ast.pattern:
        method = getattr(self, "_pattern_" + type(node).__name__, None)
        if method is None:
            raise self._error(f"unsupported pattern {type(node).__name__}", node)
        return method(node)

    def _pattern_MatchValue(self, node: cst.MatchValue) -> ast.pattern:
        value = self.expr(node.value)
        return self._copy_pos(ast.MatchValue(value=value), value, value)

    def _pattern_MatchSingleton(self, node: cst.MatchSingleton) -> ast.pattern:
        return self._at(ast.MatchSingleton(value=_SINGLETONS[node.value.value]), *self._range(node))

    def _sequence_patterns(self, elements: Sequence[Any]) -> List[ast.pattern]:
        out = []
        for element in elements:
            if isinstance(element, cst.MatchStar):
                start = self._start(element)
                if element.name is not None:
                    name: Optional[str] = self._identifier(element.name.value)
                    end = self._end(element.name)
                else:  # `*_`
                    name, end = None, self._scan_to((start[0], start[1] + 1), "_")[1]
                out.append(self._at(ast.MatchStar(name=name), start, end))
            else:
                out.append(self._pattern(element.value))
        return out

    def _pattern_MatchList(self, node: cst.MatchList) -> ast.pattern:
        return self._at(ast.MatchSequence(patterns=self._sequence_patterns(node.patterns)), *self._range(node))

    def _pattern_MatchTuple(self, node: cst.MatchTuple) -> ast.pattern:
        result = ast.MatchSequence(patterns=self._sequence_patterns(node.patterns))
        if node.lpar:
            return self._at(result, *self._own_parens(node))
        return self._at(result, *self._sequence_range(node.patterns, lambda e: self._start(e)))

    def _pattern_MatchMapping(self, node: cst.MatchMapping) -> ast.pattern:
        keys = [self.expr(element.key) for element in node.elements]
        patterns = [self._pattern(element.pattern) for element in node.elements]
        rest = self._identifier(node.rest.value) if node.rest is not None else None
        return self._at(ast.MatchMapping(keys=keys, patterns=patterns, rest=rest), *self._range(node))

    def _pattern_MatchClass(self, node: cst.MatchClass) -> ast.pattern:
        result = ast.MatchClass(
            cls=self.expr(node.cls),
            patterns=[self._pattern(element.value) for element in node.patterns],
            kwd_attrs=[self._identifier(element.key.value) for element in node.kwds],
            kwd_patterns=[self._pattern(element.pattern) for element in node.kwds],
        )
        return self._at(result, *self._range(node))

    def _pattern_MatchAs(self, node: cst.MatchAs) -> ast.pattern:
        pattern = self._optional_pattern(node.pattern)
        name = self._identifier(node.name.value) if node.name is not None else None
        return self._at(ast.MatchAs(pattern=pattern, name=name), *self._range(node))

    def _optional_pattern(self, node: Optional[cst.MatchPattern]) -> Optional[ast.pattern]:
        return self._pattern(node) if node is not None else None

    def _pattern_MatchOr(self, node: cst.MatchOr) -> ast.pattern:
        patterns = [self._pattern(element.pattern) for element in node.patterns]
        return self._at(ast.MatchOr(patterns=patterns), *self._range(node))

    # -- expressions ----------------------------------------------------------------

    def _optional(self, node: Optional[cst.BaseExpression]) -> Optional[ast.expr]:
        return self.expr(node) if node is not None else None

    def expr(self, node: cst.BaseExpression, ctx: type = ast.Load) -> ast.expr:
        method = getattr(self, "_expr_" + type(node).__name__, None)
        if method is None:
            raise self._error(f"unsupported expression {type(node).__name__}", node)
        if ctx is not ast.Load and not isinstance(
            node, (cst.Name, cst.Attribute, cst.Subscript, cst.Tuple, cst.List, cst.StarredElement)
        ):
            verb = "delete" if ctx is ast.Del else "assign to"
            raise self._error(f"cannot {verb} {type(node).__name__}", node)
        return method(node, ctx)

    def _expr_Name(self, node: cst.Name, ctx: type) -> ast.expr:
        if node.value in _SINGLETONS:
            if ctx is not ast.Load:
                raise self._error(f"cannot assign to {node.value}", node)
            result: ast.expr = ast.Constant(value=_SINGLETONS[node.value], kind=None)
        else:
            result = ast.Name(id=self._identifier(node.value), ctx=ctx())
        return self._at(result, *self._range(node))

    def _literal(self, text: str, node: cst.CSTNode) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.literal_eval(text)
        except (SyntaxError, ValueError) as exc:
            raise self._error(f"invalid literal {text!r}: {exc}", node) from None

    def _number(self, node: Union[cst.Integer, cst.Float, cst.Imaginary], ctx: type) -> ast.expr:
        return self._at(ast.Constant(value=self._literal(node.value, node), kind=None), *self._range(node))

    _expr_Integer = _number
    _expr_Float = _number
    _expr_Imaginary = _number

    def _expr_Ellipsis(self, node: cst.Ellipsis, ctx: type) -> ast.expr:
        return self._at(ast.Constant(value=..., kind=None), *self._range(node))

    def _expr_Attribute(self, node: cst.Attribute, ctx: type) -> ast.expr:
        result = ast.Attribute(value=self.expr(node.value), attr=self._identifier(node.attr.value), ctx=ctx())
        return self._at(result, *self._range(node))

    def _expr_Subscript(self, node: cst.Subscript, ctx: type) -> ast.expr:
        elements = node.slice
        first = elements[0].slice
        single = len(elements) == 1 and not isinstance(elements[0].comma, cst.Comma)
        if single and not (isinstance(first, cst.Index) and first.star is not None):
            index = self._slice(first)
        else:
            index = ast.Tuple(elts=[self._slice(element.slice) for element in elements], ctx=ast.Load())
            self._at(index, *self._sequence_range(elements, lambda e: self._start(e.slice)))
        result = ast.Subscript(value=self.expr(node.value), slice=index, ctx=ctx())
        return self._at(result, *self._range(node))

    def _slice(self, node: cst.BaseSlice) -> ast.expr:
        if isinstance(node, cst.Index):
            if node.star is not None:
                value = self.expr(node.value)
                return self._at(ast.Starred(value=value, ctx=ast.Load()), self._start(node), self._outer(node.value)[1])
            return self.expr(node.value)
        result = ast.Slice(
            lower=self._optional(node.lower), upper=self._optional(node.upper), step=self._optional(node.step)
        )
        return self._at(result, *self._range(node))

    def _sequence_range(self, elements: Sequence[Any], start_of: Callable[[Any], _Pos]) -> Tuple[_Pos, _Pos]:
        """Range of an unparenthesised comma-separated sequence, trailing comma included."""
        last = elements[-1]
        end = self._end(last)
        if isinstance(getattr(last, "comma", None), cst.Comma):
            end = self._scan_to(end, ",")[1]
        return start_of(elements[0]), end

    def _expr_Call(self, node: cst.Call, ctx: type) -> ast.expr:
        args, keywords = self._call_arguments(node.args)
        if len(node.args) == 1 and isinstance(node.args[0].value, cst.GeneratorExp) and not node.args[0].value.lpar:
            # A lone generator argument shares the call's parentheses.
            genexp = args[0]
            self._at(genexp, self._scan_to(self._outer(node.func)[1], "(")[0], self._end(node))
        result = ast.Call(func=self.expr(node.func), args=args, keywords=keywords)
        return self._at(result, *self._range(node))

    def _call_arguments(self, nodes: Sequence[cst.Arg]) -> Tuple[List[ast.expr], List[ast.keyword]]:
        args: List[ast.expr] = []
        keywords: List[ast.keyword] = []
        for arg in nodes:
            value = self.expr(arg.value)
            end = self._outer(arg.value)[1]
            if arg.keyword is not None:
                keyword = ast.keyword(arg=self._identifier(arg.keyword.value), value=value)
                keywords.append(self._at(keyword, self._start(arg.keyword), end))
            elif arg.star == "**":
                keywords.append(self._at(ast.keyword(arg=None, value=value), self._start(arg), end))
            elif arg.star == "*":
                args.append(self._at(ast.Starred(value=value, ctx=ast.Load()), self._start(arg), end))
            else:
                args.append(value)
        return args, keywords

    def _expr_BinaryOperation(self, node: cst.BinaryOperation, ctx: type) -> ast.expr:
        result = ast.BinOp(left=self.expr(node.left), op=_BINOPS[type(node.operator)](), right=self.expr(node.right))
        return self._at(result, *self._range(node))

    def _expr_UnaryOperation(self, node: cst.UnaryOperation, ctx: type) -> ast.expr:
        result = ast.UnaryOp(op=_UNARYOPS[type(node.operator)](), operand=self.expr(node.expression))
        return self._at(result, *self._range(node))

    def _expr_BooleanOperation(self, node: cst.BooleanOperation, ctx: type) -> ast.expr:
        # `a or b or c` is one BoolOp; LibCST nests it to the left.
        op = type(node.operator)
        operands = [node.right]
        left = node.left
        while isinstance(left, cst.BooleanOperation) and type(left.operator) is op and not left.lpar:
            operands.append(left.right)
            left = left.left
        operands.append(left)
        values = [self.expr(operand) for operand in reversed(operands)]
        return self._at(ast.BoolOp(op=_BOOLOPS[op](), values=values), *self._range(node))

    def _expr_Comparison(self, node: cst.Comparison, ctx: type) -> ast.expr:
        result = ast.Compare(
            left=self.expr(node.left),
            ops=[_CMPOPS[type(target.operator)]() for target in node.comparisons],
            comparators=[self.expr(target.comparator) for target in node.comparisons],
        )
        return self._at(result, *self._range(node))

    def _expr_IfExp(self, node: cst.IfExp, ctx: type) -> ast.expr:
        result = ast.IfExp(test=self.expr(node.test), body=self.expr(node.body), orelse=self.expr(node.orelse))
        return self._at(result, *self._range(node))

    def _expr_Lambda(self, node: cst.Lambda, ctx: type) -> ast.expr:
        result = ast.Lambda(args=self._arguments(node.params), body=self.expr(node.body))
        return self._at(result, *self._range(node))

    def _expr_Await(self, node: cst.Await, ctx: type) -> ast.expr:
        return self._at(ast.Await(value=self.expr(node.expression)), *self._range(node))

    def _expr_Yield(self, node: cst.Yield, ctx: type) -> ast.expr:
        if isinstance(node.value, cst.From):
            result: ast.expr = ast.YieldFrom(value=self.expr(node.value.item))
        else:
            result = ast.Yield(value=self._optional(node.value))
        return self._at(result, *self._range(node))

    def _expr_NamedExpr(self, node: cst.NamedExpr, ctx: type) -> ast.expr:
        result = ast.NamedExpr(target=self.expr(node.target, ast.Store), value=self.expr(node.value))
        return self._at(result, *self._range(node))

    def _expr_StarredElement(self, node: cst.StarredElement, ctx: type) -> ast.expr:
        result = ast.Starred(value=self.expr(node.value, ctx), ctx=ctx())
        return self._at(result, *self._range(node))

    def _elements(self, elements: Sequence[cst.BaseElement], ctx: type) -> List[ast.expr]:
        return [self.expr(element if isinstance(element, cst.StarredElement) else element.value, ctx) for element in elements]

    def _expr_Tuple(self, node: cst.Tuple, ctx: type) -> ast.expr:
        result = ast.Tuple(elts=self._elements(node.elements, ctx), ctx=ctx())
        if node.lpar:
            return self._at(result, *self._own_parens(node))
        return self._at(result, *self._sequence_range(node.elements, lambda e: self._outer(e)[0]))

    def _expr_List(self, node: cst.List, ctx: type) -> ast.expr:
        return self._at(ast.List(elts=self._elements(node.elements, ctx), ctx=ctx()), *self._range(node))

    def _expr_Set(self, node: cst.Set, ctx: type) -> ast.expr:
        return self._at(ast.Set(elts=self._elements(node.elements, ast.Load)), *self._range(node))

    def _expr_Dict(self, node: cst.Dict, ctx: type) -> ast.expr:
        keys: List[Optional[ast.expr]] = []
        values: List[ast.expr] = []
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                keys.append(None)
            else:
                keys.append(self.expr(element.key))
            values.append(self.expr(element.value))
        return self._at(ast.Dict(keys=keys, values=values), *self._range(node))

    def _generators(self, node: cst.CompFor) -> List[ast.comprehension]:
        out = []
        comp_for: Optional[cst.CompFor] = node
        while comp_for is not None:
            out.append(
                ast.comprehension(
                    target=self.expr(comp_for.target, ast.Store),
                    iter=self.expr(comp_for.iter),
                    ifs=[self.expr(comp_if.test) for comp_if in comp_for.ifs],
                    is_async=int(comp_for.asynchronous is not None),
                )
            )
            comp_for = comp_for.inner_for_in
        return out

    def _expr_ListComp(self, node: cst.ListComp, ctx: type) -> ast.expr:
        result = ast.ListComp(elt=self.expr(node.elt), generators=self._generators(node.for_in))
        return self._at(result, *self._range(node))

    def _expr_SetComp(self, node: cst.SetComp, ctx: type) -> ast.expr:
        result = ast.SetComp(elt=self.expr(node.elt), generators=self._generators(node.for_in))
        return self._at(result, *self._range(node))

    def _expr_DictComp(self, node: cst.DictComp, ctx: type) -> ast.expr:
        result = ast.DictComp(
            key=self.expr(node.key), value=self.expr(node.value), generators=self._generators(node.for_in)
        )
        return self._at(result, *self._range(node))

    def _expr_GeneratorExp(self, node: cst.GeneratorExp, ctx: type) -> ast.expr:
        result = ast.GeneratorExp(elt=self.expr(node.elt), generators=self._generators(node.for_in))
        # Without parentheses of its own it is a call's lone argument: _expr_Call places it.
        return self._at(result, *(self._own_parens(node) if node.lpar else self._range(node)))

    # parameters

    def _arguments(self, node: cst.Parameters) -> ast.arguments:
        positional = list(node.posonly_params) + list(node.params)
        star_arg = node.star_arg
        return ast.arguments(
            posonlyargs=[self._arg(param) for param in node.posonly_params],
            args=[self._arg(param) for param in node.params],
            vararg=self._arg(star_arg) if isinstance(star_arg, cst.Param) else None,
            kwonlyargs=[self._arg(param) for param in node.kwonly_params],
            kw_defaults=[self._optional(param.default) for param in node.kwonly_params],
            kwarg=self._arg(node.star_kwarg) if node.star_kwarg is not None else None,
            defaults=[self.expr(param.default) for param in positional if param.default is not None],
        )

    def _arg(self, node: cst.Param) -> ast.arg:
        annotation = node.annotation.annotation if node.annotation is not None else None
        result = self._make(
            ast.arg, arg=self._identifier(node.name.value), annotation=self._optional(annotation), type_comment=None
        )
        end = self._outer(annotation)[1] if annotation is not None else self._end(node.name)
        return self._at(result, self._start(node.name), end)

    # strings

    def _expr_SimpleString(self, node: cst.BaseString, ctx: type) -> ast.expr:
        return self._string(node)

    _expr_ConcatenatedString = _expr_SimpleString
    _expr_FormattedString = _expr_SimpleString
    _expr_TemplatedString = _expr_SimpleString

    def _string(self, node: cst.BaseString) -> ast.expr:
        parts: List[cst.BaseString] = []
        self._flatten_string(node, parts)
        start, end = self._range(node)
        if all(isinstance(part, cst.SimpleString) for part in parts):
            values = [self._literal(part.value, part) for part in parts]
            if len({type(value) for value in values}) > 1:
                raise self._error("cannot mix bytes and nonbytes literals", node)
            kind = "u" if "u" in parts[0].prefix.lower() else None
            value = b"".join(values) if isinstance(values[0], bytes) else "".join(values)
            return self._at(ast.Constant(value=value, kind=kind), start, end)
        outer = self._fstring_range
        self._fstring_range = (start, end)
        try:
            pieces: List[_Piece] = []
            for part in parts:
                if isinstance(part, cst.SimpleString):
                    value = self._literal(part.value, part)
                    if isinstance(value, bytes):
                        raise self._error("cannot mix bytes and nonbytes literals", part)
                    kind = "u" if "u" in part.prefix.lower() else None
                    pieces.append(_Piece(value, kind, *self._range(part)))
                else:
                    pieces.extend(self._fstring_pieces(part.parts, part))
            if not _FSTRING_PART_POSITIONS:
                # Before 3.12 the first string's `u` prefix marks every text part.
                for piece in pieces:
                    piece.kind = pieces[0].kind
            values = self._join(pieces)
        finally:
            self._fstring_range = outer
        return self._at(ast.JoinedStr(values=values), start, end)

    def _flatten_string(self, node: cst.BaseString, parts: List[cst.BaseString]) -> None:
        if isinstance(node, cst.ConcatenatedString):
            self._flatten_string(node.left, parts)
            self._flatten_string(node.right, parts)
        else:
            parts.append(node)

    def _join(self, pieces: Sequence[_Piece], token_range: Optional[Tuple[_Pos, _Pos]] = None) -> List[ast.expr]:
        """The values of a JoinedStr: runs of text joined into one Constant, empty text
        dropped. `token_range` is given for a format spec: the range of the f-string
        token holding it."""
        values: List[ast.expr] = []
        run: List[_Piece] = []

        def flush(last: bool) -> None:
            text = "".join(piece.value for piece in run)
            if text:
                constant = ast.Constant(value=text, kind=run[0].kind)
                if _FSTRING_PART_POSITIONS:
                    self._at(constant, run[0].start, run[-1].end)
                elif last and token_range is not None:
                    # Before 3.12, text ending a format spec has the position of the
                    # f-string token holding it, other text that of the whole string.
                    self._at(constant, *token_range)
                else:
                    self._at(constant, *self._fstring_range)
                values.append(constant)
            run.clear()

        for piece in pieces:
            if isinstance(piece.value, str):
                run.append(piece)
            else:
                flush(False)
                values.append(piece.value)
        flush(True)
        return values

    def _fstring_pieces(self, contents: Sequence[Any], string: Union[cst.FormattedString, cst.TemplatedString]) -> List[_Piece]:
        prefix = string.prefix.lower().replace("f", "").replace("t", "")
        pieces: List[_Piece] = []
        for content in contents:
            start, end = self._range(content)
            if isinstance(content, _TEXT_PARTS):
                pieces.append(_Piece(self._fstring_text(content.value, prefix, string.end, content), None, start, end))
                continue
            conversion = ord(content.conversion) if content.conversion is not None else -1
            if content.equal is not None:
                debug = (
                    self._code(content.whitespace_before_expression)
                    + self._code(content.expression)
                    + self._code(content.whitespace_after_expression)
                    + self._code(content.equal)
                )
                equal_end = self._scan_to(self._outer(content.expression)[1], "=")[1]
                debug_end = self._scan_to(equal_end, "!:}")[0]
                pieces.append(_Piece(debug, None, (start[0], start[1] + 1), debug_end))
                if content.conversion is None and content.format_spec is None:
                    conversion = ord("r")
            expression = self.expr(content.expression)
            if not _FSTRING_PART_POSITIONS and isinstance(content.expression, cst.Tuple) and not content.expression.lpar:
                # Before 3.12 the field is parsed as "(" + text + ")", the parentheses
                # standing on the "{" and on the character that ends the expression.
                close = self._scan_to(self._end(content.expression), "!:=}")[1]
                self._at(expression, start, close)
            format_spec = None
            if content.format_spec is not None:
                format_spec = self._format_spec(content, string)
            value = ast.FormattedValue(value=expression, conversion=conversion, format_spec=format_spec)
            if _FSTRING_PART_POSITIONS:
                self._at(value, start, end)
            else:
                self._at(value, *self._fstring_range)
            pieces.append(_Piece(value, None, start, end))
        return pieces

    def _format_spec(self, content: Any, string: Union[cst.FormattedString, cst.TemplatedString]) -> ast.expr:
        pieces = self._fstring_pieces(content.format_spec, string)
        if not _FSTRING_PART_POSITIONS:
            token_range = self._range(string)
            return self._at(ast.JoinedStr(values=self._join(pieces, token_range)), *token_range)
        # From 3.12 the spec runs from its ":" to the "}" closing the field.
        field_start, field_end = self._range(content)
        end = (field_end[0], field_end[1] - 1)
        colon = (pieces[0].start[0], pieces[0].start[1] - 1) if pieces else (end[0], end[1] - 1)
        values = self._join(pieces)
        if sys.version_info[:2] == (3, 12) and values and isinstance(values[-1], ast.FormattedValue):
            # 3.12 ends such a spec with an empty Constant.
            values.append(self._at(ast.Constant(value="", kind=None), end, end))
        return self._at(ast.JoinedStr(values=values), colon, end)

    def _fstring_text(self, raw: str, prefix: str, quote: str, node: cst.CSTNode) -> str:
        text = raw.replace("{{", "{").replace("}}", "}")
        # A sentinel keeps a trailing quote or backslash from closing the literal early.
        value = self._literal(f"{prefix}{quote[0] * 3}{text}X{quote[0] * 3}", node)
        return value[:-1]


class _Piece:
    """Part of an f-string being assembled: text (str) or a FormattedValue, with its
    range in the source."""

    __slots__ = ("value", "kind", "start", "end")

    def __init__(self, value: Any, kind: Optional[str], start: _Pos, end: _Pos) -> None:
        self.value = value
        self.kind = kind
        self.start = start
        self.end = end

def _last_suite(node: cst.BaseCompoundStatement) -> cst.BaseSuite:
    """The block a compound statement ends with."""
    if isinstance(node, cst.If):
        if isinstance(node.orelse, cst.If):
            return _last_suite(node.orelse)
        return node.orelse.body if node.orelse is not None else node.body
    if isinstance(node, (cst.For, cst.While)):
        return node.orelse.body if node.orelse is not None else node.body
    if isinstance(node, (cst.Try, cst.TryStar)):
        if node.finalbody is not None:
            return node.finalbody.body
        if node.orelse is not None:
            return node.orelse.body
        return node.handlers[-1].body if node.handlers else node.body
    if isinstance(node, cst.Match):
        return node.cases[-1].body
    return node.body

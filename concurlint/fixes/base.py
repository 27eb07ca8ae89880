"""What every fix shares: one file parsed with LibCST, the node a finding points at, the edits.

A fixer (one module per rule under ``concurlint/fixes/``) gets a :class:`FixSource` and a finding
and returns the whole new module (``Proposal``) or says why it cannot fix it (``Unfixable``). The
edits reported in JSON/SARIF and applied by ``concurlint fix`` are computed here from the old and
new text, so what is shown is exactly what is written. Every proposal is checked before it is
offered: the new text parses, keeps every comment of the old one, and actually differs.
"""
from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, ScopeProvider
from libcst.metadata.position_provider import PositionProvidingCodegenState

SAFE = "safe"
_NEWLINE = re.compile(r"\r\n?|\n")  # how LibCST's positions count lines
UNSAFE = "unsafe"


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, col) to (end_line, end_col) by ``content``; lines 1-based,
    columns 0-based characters; a range that starts and ends at one point is an insertion."""

    line: int
    col: int
    end_line: int
    end_col: int
    content: str

    def overlaps(self, other: "Edit") -> bool:
        if self == other:
            return False  # the same edit proposed twice (one import for two fixes) is applied once
        a0, a1 = (self.line, self.col), (self.end_line, self.end_col)
        b0, b1 = (other.line, other.col), (other.end_line, other.end_col)
        if a0 == a1 and b0 == b1:
            return a0 == b0  # two different insertions at one point: their order would matter
        return a0 < b1 and b0 < a1 or a0 == b0

    def to_json(self, path: str) -> dict:
        return {"path": path, "line": self.line, "col": self.col, "end_line": self.end_line,
                "end_col": self.end_col, "content": self.content}


@dataclass
class Fix:
    code: str
    applicability: str  # safe | unsafe
    message: str
    edits: List[Edit] = field(default_factory=list)
    introduces: frozenset = frozenset()  # module-level names the fix invents (two fixes must not both)
    fallback: Optional["Fix"] = None  # a safe fix applied instead when unsafe fixes are not wanted

    def default(self, unsafe: bool) -> Optional["Fix"]:
        """The fix ``concurlint fix`` applies (with ``--unsafe-fixes`` when ``unsafe``), if any."""
        if self.applicability == SAFE or unsafe:
            return self
        return self.fallback

    def to_json(self, path: str) -> dict:
        return {"applicability": self.applicability, "message": self.message,
                "edits": [e.to_json(path) for e in self.edits]}


@dataclass
class Proposal:
    """What a fixer returns: the new module and how safe the change is."""

    module: cst.Module
    applicability: str
    message: str
    introduces: frozenset = frozenset()
    fallback: Optional["Proposal"] = None  # an unsafe proposal's safe alternative (see Fix.fallback)


@dataclass
class Unfixable:
    """A fixer's reason for leaving the code alone (shown with the finding)."""

    reason: str


Outcome = Union[Proposal, Unfixable, None]


class FixSource:
    """One file's text, parsed once with LibCST, with the metadata the fixers use."""

    def __init__(self, text: str, findings: Sequence = (), target: Optional[Tuple[int, int]] = None):
        self.text = text
        self.findings = list(findings)  # every finding being fixed in this file
        self.target = target  # the configured target Python as (major, minor), None when unset
        self.lines = text.splitlines(keepends=True)
        self.wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self._meta: Dict[type, object] = {}
        self._by_start: Optional[Dict[Tuple[int, int], List[cst.CSTNode]]] = None
        self._old_comments: Optional[Counter] = None
        self.old_tokenizes = False  # known once old_comments() has counted them
        self.region_comments: Dict[Tuple[int, int], Counter] = {}  # (start, end) -> its comments
        # filled with the positions: node -> (line, col, end_line, end_col) of all the text it
        # renders (whitespace and comments included), and the indentation it is rendered in
        self.spans: Dict[cst.CSTNode, tuple] = {}
        self.indents: Dict[cst.CSTNode, tuple] = {}
        self._line_starts: Optional[List[int]] = None
        self._line_index: Optional[Dict[str, List[int]]] = None
        self._split_starts: Optional[List[int]] = None

    def meta(self, provider) -> dict:
        if provider not in self._meta:
            if provider in (PositionProvider, ParentNodeProvider):
                self._positions_and_parents()
            else:
                self._meta[provider] = self.wrapper.resolve(provider)
        return self._meta[provider]  # type: ignore[return-value]

    def _positions_and_parents(self) -> None:
        """PositionProvider's positions and every node's parent, from one rendering of the module
        (the wrapper would render it once for the positions and walk it again for the parents)."""
        try:
            provider = PositionProvider()
            state = _PositionsAndParents(default_indent=self.module.default_indent,
                                         default_newline=self.module.default_newline, provider=provider)
            self.module._codegen(state)
            positions, parents = provider._computed, state.parents
            self.spans, self.indents = state.spans, state.indents
        except Exception:  # LibCST's internals moved: ask the wrapper as usual (and render
            # each fixed module whole: see splice.py)
            positions = self.wrapper.resolve(PositionProvider)
            parents = self.wrapper.resolve(ParentNodeProvider)
            self.spans, self.indents = {}, {}
        self._meta[PositionProvider] = positions
        self._meta[ParentNodeProvider] = parents

    @property
    def positions(self):
        return self.meta(PositionProvider)

    @property
    def parents(self):
        return self.meta(ParentNodeProvider)

    @property
    def scopes(self):
        return self.meta(ScopeProvider)

    def qualified_names(self, node: cst.CSTNode) -> set:
        # what QualifiedNameProvider gives a node, without its walk over the whole module
        scope = self.scopes.get(node)
        if not scope:
            return set()
        return {q.name for q in scope.get_qualified_names_for(node)}

    def offset(self, line: int, col: int) -> int:
        """A LibCST (line, column) as an index into the text (lines end as LibCST counts them)."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in _NEWLINE.finditer(self.text)]
        return self._line_starts[line - 1] + col

    def line_starts_split(self) -> List[int]:
        """Where each of ``self.lines`` starts in the text, then the text's length."""
        if self._split_starts is None:
            starts = [0]
            for line in self.lines:
                starts.append(starts[-1] + len(line))
            self._split_starts = starts
        return self._split_starts

    def line_index(self) -> Dict[str, List[int]]:
        """Each line of the text (as ``splitlines(keepends=True)`` cuts it) -> where it occurs."""
        if self._line_index is None:
            index: Dict[str, List[int]] = {}
            for i, line in enumerate(self.lines):
                index.setdefault(line, []).append(i)
            self._line_index = index
        return self._line_index

    def old_comments(self) -> Counter:
        """The comments of the file's text (counted once for every fix of the file)."""
        if self._old_comments is None:
            self._old_comments, self.old_tokenizes = _comments(self.text)
        return self._old_comments

    def char_col(self, line: int, byte_col: int) -> int:
        """The analysis reports ast's UTF-8 byte offsets; LibCST counts characters."""
        if not 1 <= line <= len(self.lines):
            return byte_col
        raw = self.lines[line - 1].encode("utf-8", "surrogatepass")
        return len(raw[:byte_col].decode("utf-8", "ignore"))

    def nodes_at(self, line: int, byte_col: int, kinds: Tuple[type, ...]) -> List[cst.CSTNode]:
        """Nodes of the given kinds whose code starts at the finding's position (outermost first)."""
        if self._by_start is None:
            index: Dict[Tuple[int, int], List[cst.CSTNode]] = {}
            for node, rng in self.positions.items():
                index.setdefault((rng.start.line, rng.start.column), []).append(node)
            self._by_start = index
        found = self._by_start.get((line, self.char_col(line, byte_col)), [])
        return [n for n in found if isinstance(n, kinds)]

    def ancestors(self, node: cst.CSTNode) -> Iterable[cst.CSTNode]:
        parents = self.parents
        while node in parents:
            node = parents[node]
            yield node

    def top_statement(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        """The statement of the module's body that contains ``node``."""
        last = node
        for anc in self.ancestors(node):
            if isinstance(anc, cst.Module):
                return last
            last = anc
        return None

    def enclosing_function(self, node: cst.CSTNode) -> Optional[cst.CSTNode]:
        """The innermost def or lambda around ``node`` (None at module or class level)."""
        for anc in self.ancestors(node):
            if isinstance(anc, (cst.FunctionDef, cst.Lambda)):
                return anc
        return None

    def replace(self, old: cst.CSTNode, new) -> cst.Module:
        """The module with ``old`` (a node of this file's tree) replaced by ``new`` (a node, a
        ``FlattenSentinel`` or ``RemoveFromParent()``); only the path down to it is visited."""
        path = {id(a) for a in self.ancestors(old)}
        return self.module.visit(_PathReplace(path, old, new))

    def module_names(self) -> set:
        """Every name bound at module level (imports, assignments, defs, classes)."""
        scope = self.scopes.get(self.module)
        if scope is None:
            return set()
        return {a.name for a in scope.assignments}

    def all_names(self) -> set:
        """Every identifier written anywhere in the file (to invent names that collide with none)."""
        return {n.value for n in _walk_names(self.module)}


class _PositionsAndParents(PositionProvidingCodegenState):
    """LibCST's position-recording rendering, noting on the way each node's parent (a node's
    children are exactly the nodes its rendering renders), the whole span of text it renders and
    the indentation it is rendered in (what ``splice`` needs to render a replacement alone)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parents: Dict[cst.CSTNode, cst.CSTNode] = {}
        self.spans: Dict[cst.CSTNode, tuple] = {}
        self.indents: Dict[cst.CSTNode, tuple] = {}
        self._nodes: List[cst.CSTNode] = []
        self._indent: tuple = ()

    def increase_indent(self, value: str) -> None:
        super().increase_indent(value)
        self._indent = tuple(self.indent_tokens)

    def decrease_indent(self) -> None:
        super().decrease_indent()
        self._indent = tuple(self.indent_tokens)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if self._nodes:
            self.parents[node] = self._nodes[-1]
        self._nodes.append(node)
        self.indents[node] = self._indent
        super().before_codegen(node)

    def after_codegen(self, node: cst.CSTNode) -> None:
        self._nodes.pop()
        start = self._stack[-1]
        self.spans[node] = (start.line, start.column, self.line, self.column)
        super().after_codegen(node)


class _PathReplace(cst.CSTTransformer):
    def __init__(self, path: set, old: cst.CSTNode, new):
        super().__init__()
        self.path, self.old, self.new = path, old, new

    def on_visit(self, node: cst.CSTNode) -> bool:
        return id(node) in self.path

    def on_leave(self, original_node, updated_node):
        return self.new if original_node is self.old else updated_node


def walk(node: cst.CSTNode):
    """Every node of the tree under ``node`` (``node`` included), in no particular order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def _walk_names(node: cst.CSTNode):
    return (n for n in walk(node) if isinstance(n, cst.Name))


def nested_scope(source: FixSource, node: cst.CSTNode, stop: cst.CSTNode) -> bool:
    """Is ``node`` inside a function, class or lambda that is itself inside ``stop``?"""
    for anc in source.ancestors(node):
        if anc is stop:
            return False
        if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return True
    return False


def fresh_name(taken: set, base: str) -> str:
    if base not in taken:
        return base
    i = 2
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def attr(name: str, *attrs: str) -> cst.BaseExpression:
    expr: cst.BaseExpression = cst.Name(name)
    for a in attrs:
        expr = cst.Attribute(value=expr, attr=cst.Name(a))
    return expr


# ---------------------------------------------------------------- checks and edits
def comments(text: str) -> Counter:
    return _comments(text)[0]


def _comments(text: str) -> Tuple[Counter, bool]:
    """(the comments of ``text``, whether the whole text tokenized)."""
    out: Counter = Counter()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.string.strip()] += 1
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return out, False
    return out, True


def check_new_text(old: str, new: str, old_comments: Optional[Counter] = None) -> Optional[str]:
    """Why ``new`` cannot replace ``old`` (None when it can); ``old_comments``: ``comments(old)``
    when already counted."""
    if new == old:
        return "the fix would change nothing"
    try:
        ast.parse(new)
    except SyntaxError as exc:
        return f"the fixed code would not parse ({exc.msg})"
    missing = (comments(old) if old_comments is None else old_comments) - comments(new)
    if missing:
        return "the fix would lose a comment"
    return None


def edits_between(old: str, new: str) -> List[Edit]:
    """Whole-line edits that turn ``old`` into ``new`` (the changed lines only)."""
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        out.append(Edit(i1 + 1, 0, i2 + 1, 0, "".join(b[j1:j2])))
    return out


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (identical duplicates once)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for ln in lines:
        starts.append(starts[-1] + len(ln))

    def offset(line: int, col: int) -> int:
        if line - 1 >= len(lines):
            return len(text)
        return starts[line - 1] + col

    out = text
    for e in sorted(set(edits), key=lambda e: (e.line, e.col, e.end_line, e.end_col), reverse=True):
        out = out[:offset(e.line, e.col)] + e.content + out[offset(e.end_line, e.end_col):]
    return out

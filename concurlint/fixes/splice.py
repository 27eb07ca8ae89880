"""The text of a fixed module without rendering the whole module, and its check on that part only.

A fixer returns a whole new module, built from the file's tree: what it did not change is the
very same node objects. ``new_text`` compares the two trees by identity down to the nodes that
changed, renders only those (each in the indentation it had in the file) and puts that text in
place of theirs: the result is what ``module.code`` renders, at a cost that follows the size of
the change, not of the file. Where it cannot tell (a node rendered differently by its parent, a
file without a final newline, a LibCST whose internals moved), it returns None and the module is
rendered whole, as before.

``check`` is ``base.check_new_text`` on the top-level statements the change touches: the parse of
Python source is local to them (a statement of the module starts and ends at a line boundary
outside any bracket, so the tokens after it do not depend on what it contains), and the text
around them is the same before and after, so the fix parses, keeps its comments and changes
something exactly when those statements do.
"""
from __future__ import annotations

import ast
import bisect
import dataclasses
import difflib
import inspect
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState

from concurlint.fixes.base import Edit, FixSource, check_new_text, comments, edits_between

# sequences whose items the parent renders one after the other, with nothing between them and
# nothing passed to them: a run of them can be replaced by another run
_RUNS = {"body", "header", "footer", "leading_lines", "lines_after_decorators"}
# the owners of statement runs that render each statement with no argument
_BLOCKS = (cst.Module, cst.IndentedBlock)

Splice = Tuple[int, int, str]  # replace text[start:end] by the string

_context_free: Dict[type, bool] = {}


def _renders_alone(node) -> bool:
    """Does the node render the same whatever its parent (no argument such as a default comma)?"""
    kind = type(node)
    if kind not in _context_free:
        try:
            params = inspect.signature(kind._codegen_impl).parameters
            _context_free[kind] = len(params) == 2 and kind is not cst.Module
        except (TypeError, ValueError, AttributeError):
            _context_free[kind] = False
    return _context_free[kind]


class _Unsure(Exception):
    """The change cannot be placed in the text node by node: render the module whole."""


def new_text(source: FixSource, module: cst.Module) -> Optional[str]:
    """``module.code`` for a module made from ``source.module``, or None when it must be rendered whole."""
    found = splices_of(source, module)
    return apply(source.text, found) if found is not None else None


def splices_of(source: FixSource, module: cst.Module) -> Optional[List[Splice]]:
    """The splices that turn the file's text into ``module.code`` (None: render it whole)."""
    old = source.module
    if module is old:
        return []
    if not source.spans or not old.has_trailing_newline or type(module) is not cst.Module:
        return None
    try:
        return sorted(_fields(source, old, module), key=lambda s: (s[0], s[1]))
    except (_Unsure, RecursionError):
        return None


def apply(text: str, splices: Sequence[Splice]) -> str:
    out, at = [], 0
    for start, end, content in sorted(splices, key=lambda s: (s[0], s[1])):
        if start < at:
            raise _Unsure  # never made by _fields; a guard all the same
        out.append(text[at:start])
        out.append(content)
        at = end
    out.append(text[at:])
    return "".join(out)


def _span(source: FixSource, node) -> Tuple[int, int]:
    span = source.spans.get(node)
    if span is None:
        raise _Unsure
    line, col, end_line, end_col = span
    return source.offset(line, col), source.offset(end_line, end_col)


def _render(source: FixSource, nodes: Sequence, context, plain: bool = False) -> str:
    """The code of ``nodes`` rendered one after the other where ``context`` (a node of the file)
    was rendered (``plain``: they are statements of a block, which renders each without
    arguments, as here, so any kind of node will do)."""
    indent = source.indents.get(context)
    if indent is None:
        raise _Unsure
    state = CodegenState(default_indent=source.module.default_indent,
                         default_newline=source.module.default_newline, indent_tokens=list(indent))
    for node in nodes:
        if not plain and not _renders_alone(node):
            raise _Unsure
        node._codegen(state)
    return "".join(state.tokens)


def _node(source: FixSource, old, new, plain: bool = False) -> List[Splice]:
    if old is new:
        return []
    try:
        return _fields(source, old, new)
    except _Unsure:
        if not plain and not (_renders_alone(old) and _renders_alone(new)):
            raise
    start, end = _span(source, old)
    return [(start, end, _render(source, [new], old, plain))]


def _fields(source: FixSource, old, new) -> List[Splice]:
    if type(old) is not type(new) or not dataclasses.is_dataclass(old):
        raise _Unsure
    out: List[Splice] = []
    for f in dataclasses.fields(old):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a is b:
            continue
        if isinstance(a, cst.CSTNode) and isinstance(b, cst.CSTNode):
            out.extend(_node(source, a, b))
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            if not all(isinstance(x, cst.CSTNode) for x in (*a, *b)):
                if list(a) != list(b):
                    raise _Unsure
            elif f.name in _RUNS:
                out.extend(_run(source, a, b, plain=isinstance(old, _BLOCKS)))
            elif len(a) == len(b):
                for x, y in zip(a, b):
                    out.extend(_node(source, x, y))
            else:
                raise _Unsure
        elif isinstance(a, cst.CSTNode) or isinstance(b, cst.CSTNode) or a != b:
            raise _Unsure
    return out


def _run(source: FixSource, a: Sequence, b: Sequence, plain: bool) -> List[Splice]:
    """Splices turning the items ``a`` into ``b``: the items found in both (the same objects, in
    the same order) stay; between two of them, the items are compared one to one, or re-rendered
    together where their numbers differ (``plain``: the statements of a block, see _render)."""
    where = {id(x): i for i, x in enumerate(a)}
    anchors = [(where[id(y)], j) for j, y in enumerate(b) if id(y) in where]
    if any(i1 <= i0 for (i0, _), (i1, _) in zip(anchors, anchors[1:])):
        anchors = []  # items moved around: one gap from the first change to the last
    out: List[Splice] = []
    prev_i, prev_j = -1, -1
    for i, j in [*anchors, (len(a), len(b))]:
        old_gap, new_gap = a[prev_i + 1:i], b[prev_j + 1:j]
        if len(old_gap) == len(new_gap):
            for x, y in zip(old_gap, new_gap):
                out.extend(_node(source, x, y, plain))
        elif old_gap:
            start, end = _span(source, old_gap[0])[0], _span(source, old_gap[-1])[1]
            out.append((start, end, _render(source, new_gap, old_gap[0], plain)))
        elif i < len(a):
            start = _span(source, a[i])[0]
            out.append((start, start, _render(source, new_gap, a[i], plain)))
        elif a:
            end = _span(source, a[-1])[1]
            out.append((end, end, _render(source, new_gap, a[-1], plain)))
        else:
            raise _Unsure
        prev_i, prev_j = i, j
    return out


# ---------------------------------------------------------------- the check
def check(source: FixSource, module: cst.Module, new: str) -> Optional[str]:
    """``check_new_text(source.text, new)``, reading only the top-level statements that differ."""
    old = source.text
    if new == old:
        return "the fix would change nothing"
    region = _changed_statements(source, new)
    source.old_comments()
    if region is None or not source.old_tokenizes:
        return check_new_text(old, new, source.old_comments())
    start, end = region
    delta = len(new) - len(old)
    old_part, new_part = old[start:end], new[start:end + delta]
    try:
        ast.parse(new_part)
    except SyntaxError:
        return check_new_text(old, new, source.old_comments())  # the same verdict, its message
    except (ValueError, RecursionError, MemoryError):
        return check_new_text(old, new, source.old_comments())
    key = (start, end)
    if key not in source.region_comments:
        source.region_comments[key] = comments(old_part)
    if source.region_comments[key] - comments(new_part):
        return "the fix would lose a comment"
    return None


def _changed_statements(source: FixSource, new: str) -> Optional[Tuple[int, int]]:
    """[start, end) in the old text of the top-level statements around every changed character,
    or None (the change is outside them, or the spans are unknown)."""
    old = source.text
    if not source.spans or not source.module.has_trailing_newline or not source.module.body:
        return None
    # the changed characters: the common prefix and suffix of the two texts are unchanged
    limit = min(len(old), len(new))
    lo = _common_prefix(old, new, limit)
    hi = _common_suffix(old, new, limit - lo)
    first, last = lo, len(old) - hi  # old[first:last] became new[first:len(new) - hi]
    spans = []
    for stmt in source.module.body:
        span = source.spans.get(stmt)
        if span is None:
            return None
        spans.append((source.offset(span[0], span[1]), source.offset(span[2], span[3])))
    touched = [(s, e) for s, e in spans if s <= last and first <= e]
    if not touched:
        return None
    start, end = touched[0][0], touched[-1][1]
    if start > first or end < last:
        return None  # part of the change is in the module's header or footer
    return start, end


def _common_prefix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:  # the longest equal prefix, compared in halves (C speed, not char by char)
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    la, lb = len(a), len(b)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


# ---------------------------------------------------------------- the edits
def edits(source: FixSource, new: str, splices: Optional[Sequence[Splice]] = None) -> List[Edit]:
    """``base.edits_between(source.text, new)``, comparing only the lines that changed when that
    gives the same edits (``splices``: how ``new`` was made from the text, None when unknown).

    difflib takes the longest run of lines equal in both texts, then the longest on each side of
    it, and so on. The lines a fix leaves alone form zones, equal in both texts, between hunks of
    changed lines. A zone is the longest run in a stretch of lines when every run through a changed
    line there is shorter: a run inside one zone or across two zones is no longer than the zones,
    and loses the tie to the earlier one. When that holds at every step, difflib takes the zones
    one by one and is left with each hunk alone, which it compares as it would on its own;
    otherwise the whole files are compared."""
    b = new.splitlines(keepends=True)
    plan = None
    if splices is not None and splices:
        try:
            plan = _zones(source, new, b, splices)
        except (IndexError, ValueError):
            plan = None
    if plan is None:
        return edits_between(source.text, new)
    zones, hunks = plan
    if not _zones_win(source, b, zones, hunks, 0, len(zones), 0, len(source.lines), 0, len(b)):
        return edits_between(source.text, new)
    a = source.lines
    out: List[Edit] = []
    for x0, x1, y0, y1 in hunks:
        x, y = a[x0:x1], b[y0:y1]
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, x, y, autojunk=False).get_opcodes():
            if tag != "equal":
                out.append(Edit(x0 + i1 + 1, 0, x0 + i2 + 1, 0, "".join(y[j1:j2])))
    return out


def _zones(source: FixSource, new: str, b: List[str], splices: Sequence[Splice]):
    """(zones, hunks): the runs of lines the splices leave alone, as (a0, a1, b0) with a = the
    old lines and b = the new ones, each as long as it can be, and the changed lines between them
    as (a0, a1, b0, b1); None when the lines do not line up so (a line break changed, ...)."""
    a = source.lines
    starts = source.line_starts_split()
    la, lb = len(a), len(b)
    hunks: List[List[int]] = []  # [a0, a1, chars added] per hunk of whole old lines
    for start, end, content in splices:
        x0 = bisect.bisect_right(starts, start) - 1
        x1 = bisect.bisect_right(starts, end - 1) if end > start else x0
        if x1 == x0 and starts[x0] != start:
            x1 = x0 + 1  # inserted in the middle of a line: that line changes
        if not content.endswith(("\n", "\r")):
            x1 = max(x1, bisect.bisect_right(starts, end) if end < starts[-1] else la)  # the line goes on
        x1 = min(max(x1, x0), la)
        grow = len(content) - (end - start)
        if hunks and x0 <= hunks[-1][1]:
            hunks[-1][1] = max(hunks[-1][1], x1)
            hunks[-1][2] += grow
        else:
            hunks.append([x0, x1, grow])
    raw = []
    shift_chars, shift_lines = 0, 0  # after a hunk, new = old shifted by these
    for x0, x1, grow in hunks:
        new_part = new[starts[x0] + shift_chars:starts[x1] + shift_chars + grow]
        n_new = len(new_part.splitlines(keepends=True))
        y0 = x0 + shift_lines
        raw.append([x0, x1, y0, y0 + n_new])
        shift_chars += grow
        shift_lines += n_new - (x1 - x0)
    if la + shift_lines != lb:
        return None
    out_hunks, zones = [], []
    at, at_b = 0, 0
    for x0, x1, y0, y1 in raw:  # lines re-rendered as they were are no change
        while x0 < x1 and y0 < y1 and a[x0] == b[y0]:
            x0, y0 = x0 + 1, y0 + 1
        while x0 < x1 and y0 < y1 and a[x1 - 1] == b[y1 - 1]:
            x1, y1 = x1 - 1, y1 - 1
        if x0 == x1 and y0 == y1:
            continue
        if y0 - at_b != x0 - at:
            return None
        if x0 > at:
            zones.append((at, x0, at_b))
        out_hunks.append((x0, x1, y0, y1))
        at, at_b = x1, y1
    if at < la:
        zones.append((at, la, at_b))
    for a0, a1, b0 in zones:  # the zones are the same lines in both
        if a[a0:a1] != b[b0:b0 + a1 - a0]:
            return None
        if a0 > 0 and b0 > 0 and a[a0 - 1] == b[b0 - 1]:
            return None  # the run goes on into the hunk: not a zone of its own
        if a1 < la and b0 + a1 - a0 < lb and a[a1] == b[b0 + a1 - a0]:
            return None
    return zones, out_hunks


def _zones_win(source: FixSource, b: List[str], zones, hunks, zl: int, zr: int,
               alo: int, ahi: int, blo: int, bhi: int) -> bool:
    """Does difflib, on a[alo:ahi] and b[blo:bhi] (zones[zl:zr] and the hunks between), take the
    zones whole, one by one?"""
    if zl >= zr:
        return True
    best = max(range(zl, zr), key=lambda k: (zones[k][1] - zones[k][0], -k))
    a0, a1, b0 = zones[best]
    size = a1 - a0
    if _longest_changed_run(source, b, zones, hunks, alo, ahi, blo, bhi, size) >= size:
        return False
    return (_zones_win(source, b, zones, hunks, zl, best, alo, a0, blo, b0)
            and _zones_win(source, b, zones, hunks, best + 1, zr, a1, ahi, b0 + size, bhi))


def _longest_changed_run(source: FixSource, b: List[str], zones, hunks, alo: int, ahi: int,
                         blo: int, bhi: int, limit: int) -> int:
    """The longest run of lines equal in a[alo:ahi] and b[blo:bhi] through a changed line (or
    across the place where lines were only removed or only added), counted up to ``limit``."""
    a = source.lines
    where = source.line_index()
    zone_starts = [z[0] for z in zones]

    def in_b(line: str):  # where ``line`` is in b: in a zone (as in a, shifted), or in a hunk
        for i in where.get(line, ()):
            k = bisect.bisect_right(zone_starts, i) - 1
            if k >= 0 and i < zones[k][1]:
                yield zones[k][2] + i - zones[k][0]
        for _x0, _x1, y0, y1 in hunks:
            for j in range(y0, y1):
                if b[j] == line:
                    yield j

    def run(i: int, j: int) -> int:
        n, k = 1, 1
        while n < limit and i - k >= alo and j - k >= blo and a[i - k] == b[j - k]:
            n, k = n + 1, k + 1
        k = 1
        while n < limit and i + k < ahi and j + k < bhi and a[i + k] == b[j + k]:
            n, k = n + 1, k + 1
        return n

    best = 0
    for x0, x1, y0, y1 in hunks:
        for j in range(max(y0, blo), min(y1, bhi)):  # through a changed line of b
            for i in where.get(b[j], ()):
                if alo <= i < ahi:
                    best = max(best, run(i, j))
                    if best >= limit:
                        return best
        for i in range(max(x0, alo), min(x1, ahi)):  # through a changed line of a
            for j in in_b(a[i]):
                if blo <= j < bhi:
                    best = max(best, run(i, j))
                    if best >= limit:
                        return best
        # across the place where lines were only added (or only removed): a run there goes on
        # from the line before it to the line after it
        if x0 == x1 and alo < x0 < ahi:
            for j in in_b(a[x0]):
                if blo < j < bhi and a[x0 - 1] == b[j - 1]:
                    best = max(best, run(x0, j))
                    if best >= limit:
                        return best
        if y0 == y1 and blo < y0 < bhi:
            for i in where.get(b[y0], ()):
                if alo < i < ahi and a[i - 1] == b[y0 - 1]:
                    best = max(best, run(i, y0))
                    if best >= limit:
                        return best
    return best

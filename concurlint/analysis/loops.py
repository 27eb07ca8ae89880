"""Loops and work weight: how much each function's loops multiply the work in their bodies.

Collects ``Function.loops``: one ``Loop`` per ``for`` / ``while`` / comprehension generator inside
a function, with its description, its multiplier (a ``range(10**6)`` weighs more than a loop over
a 3-element tuple), its parent loop and how much work its own body does per iteration
(``has_ops``). Loops at module level are walked but not recorded.

It owns ``loop_stack`` (the indices of the enclosing loops, read by ``calls`` for ``Call.loop``).
It needs ``function`` and ``segment``, ``bind`` for loop targets and ``enter_comprehension`` /
``leave_comprehension`` (a comprehension's own scope) (scopes), ``use`` (calls:
a ``for`` iterable is marked "iter"), ``_write_target`` and ``in_test`` (state).
"""
from __future__ import annotations

import ast
from typing import Callable, List, Optional, Sequence, Tuple

from concurlint.analysis.facts import Loop
from concurlint.analysis.while_shapes import (
    _add_chain, _can_end, _constant_operand, _counts_and_exits, _cursor_step, _formatting, _halves, _polled, _size_step,
    _steps_through, _text, has_data, spin,
)

_LOOP_NODES = (ast.For, ast.AsyncFor, ast.While)
_OP_NODES = (ast.BinOp, ast.AugAssign, ast.JoinedStr, ast.Subscript)


class LoopCollector:
    """Loops, comprehensions and their weight (a mixin of ``Extractor``)."""

    def _init_loops(self) -> None:
        self.loop_stack: List[int] = []
        self.loop_items: List[frozenset] = []  # beside loop_stack: the names holding each loop's items

    def _loop(self, node: ast.AST, desc: str, mult: int, body: List[ast.AST], test: Optional[ast.AST] = None) -> None:
        fn = self.function
        if fn is None:
            for b in body:
                self.visit(b)
            return
        parent = self.loop_stack[-1] if self.loop_stack else -1
        idx = len(fn.loops)
        items = _item_names(node.target, body) if isinstance(node, (ast.For, ast.AsyncFor)) else None
        if items is not None and _is_range(node) and isinstance(node.target, ast.Name) \
                and node.target.id.startswith("_"):
            items = None  # `for _ in range(SAMPLES)`: the same work repeated, on what each turn computes
        over_input = self._over_input(getattr(node, "iter", None))
        fn.loops.append(Loop(node.lineno, desc, mult, parent,
                             has_ops=_has_ops(body + ([test] if test is not None else []),
                                              numeric=_is_range(node) and self._sized_by_input(node.iter),
                                              items=items, text=self._text_name),
                             over_input=over_input))
        self.loop_stack.append(idx)
        iterable = getattr(node, "iter", None)
        self.loop_items.append(_input_names(items, iterable, self.function) if over_input else frozenset())
        try:
            for b in body:
                self.visit(b)
        finally:
            self.loop_stack.pop()
            self.loop_items.pop()

    def _weigh(self, iterable: ast.AST) -> Tuple[int, str]:
        """A ``for`` loop's or a comprehension's multiplier and description: ``_loop_weight``, with
        the numbers the code fixes by name, and x1 over a handful of items written in the code
        (``paths = [cert, key, ca]``, ``for shock in SHOCKS`` with four at module level)."""
        mult, desc = _loop_weight(iterable, self.segment(iterable, 40), self.const_int)
        few = self.items_in(iterable) if isinstance(iterable, (ast.Name, ast.Call)) else None
        if few is not None and few < 100:
            mult = 1
        return mult, desc

    def _over_input(self, iterable: Optional[ast.AST]) -> bool:
        """The loop iterates over what the function is handed (a parameter other than self/cls:
        ``for b in blob``, ``range(len(b))``) or over an item of a loop around it that does
        (``for word in line.split()`` inside ``for line in lines``), not over the object's state
        or a global (``for task in self.running: for r in task.resources``)."""
        if iterable is None or self.function is None:
            return False
        names = _names_in(iterable)
        params = set(self.function.params) - {"self", "cls"}
        return bool(names & params) or bool(self.loop_items and names & self.loop_items[-1])

    def _sized_by_input(self, rng: ast.AST) -> bool:
        """``range(n)``, ``range(len(data))``, ``range(0, end, 4)``: a stop the function is handed,
        measures or computes. ``range(self.window)``, ``range(3, self.max_files)``,
        ``range(RETRIES)`` count a setting of the object or the module (a window of seconds, a
        limit of file descriptors, a number of attempts), not data."""
        args = list(getattr(rng, "args", ()))
        stop = args[1] if len(args) > 1 else (args[0] if args else None)
        if stop is None or self.function is None:
            return False
        for sub in ast.walk(stop):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "len":
                return True
            if isinstance(sub, ast.Name) and sub.id not in ("self", "cls") and self._local_name(sub.id):
                return True
        return False

    def _local_name(self, name: str) -> bool:
        """A parameter or a local of the function (or of a function around it), not a global."""
        for sc in reversed(self.scopes):
            if sc.function is None:
                return False
            if name in sc.globals:
                return False
            if name in sc.values:
                return True
        return False

    def _text_name(self, name: str) -> bool:
        """A name bound to a str or bytes literal (``output = ""``): ``output += value`` builds text."""
        v = self.lookup(name)
        return v is not None and v.kind == "literal" and v.meta.get("type") in ("builtins.str", "builtins.bytes")

    def note_has_data(self, node) -> None:
        """Record the body of ``while not q.empty():`` / ``if pipe.poll():`` as a span where a
        read of that receiver returns at once (``Function.has_data``), and the end of a guard
        ``if not pipe.poll(): continue`` after which it does (``Function.ready``)."""
        got = has_data(node.test)
        if got is not None and self.function is not None and node.body:
            last = max(getattr(b, "end_lineno", b.lineno) or b.lineno for b in node.body)
            self.function.has_data.append((self.segment(got, 60), node.body[0].lineno, last))
        polled = _polled(node.test) if isinstance(node, ast.If) else None
        if polled is not None and self.function is not None and len(node.body) == 1 and not node.orelse \
                and isinstance(node.body[0], (ast.Continue, ast.Break, ast.Return, ast.Raise)):
            # `if not pipe.poll(): continue` then `pipe.recv()`: past the guard, the data is there
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            self.function.ready.append((self.segment(polled, 60), end))

    def visit_For(self, node: ast.For) -> None:
        self.use[id(node.iter)] = ("iter", None)
        if not isinstance(node, ast.AsyncFor):
            self.result_use(node.iter, "for")
        self.visit(node.iter)
        self.bind(node.target, self.chunk_of(node.iter), node)  # `for block in iter(lambda: f.read(N), b"")`
        self._write_target(node.target, "write", "for-loop target")
        mult, desc = self._weigh(node.iter)
        kind = "async for loop" if isinstance(node, ast.AsyncFor) else "for loop"  # awaits every step
        self._loop(node, f"{kind} over {desc}", mult, list(node.body))
        for s in node.orelse:
            self.visit(s)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_While(self, node: ast.While) -> None:
        spun = spin(node) if self.function is not None else None
        if spun is not None:
            how, what = spun
            self.function.spins += ((node.lineno, node.col_offset, self.segment(what, 60), how),)
        polled = _polled(node.test)
        if polled is not None and self.function is not None:
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            self.function.ready.append((self.segment(polled, 60), end))
        self.note_has_data(node)
        self.in_test += 1
        self.visit(node.test)
        self.in_test -= 1
        idx = len(self.function.loops) if self.function is not None else -1
        self._loop(node, "while loop", 10, list(node.body), test=node.test)  # the test runs every turn
        if idx >= 0 and (_halves(node) or _steps_through(node)):
            loop = self.function.loops[idx]
            loop.has_ops = min(loop.has_ops, 1)
        if idx >= 0 and _counts_and_exits(node):
            self.function.loops[idx].bounded = True
        if idx >= 0 and (_can_end(node) or self.in_try):
            # a way out of its own, or inside a `try`: it ends by an exception the function
            # expects (`while True: conn = sock.accept()` until the socket is closed: OSError)
            self.function.loops[idx].ends = True
        for s in node.orelse:
            self.visit(s)

    def _comprehension(self, node: ast.AST, kind: str) -> None:
        gens = node.generators  # type: ignore[attr-defined]
        if not gens[0].is_async:  # (only the first iterable is evaluated in the enclosing scope)
            self.result_use(gens[0].iter, "for")
        self.visit(gens[0].iter)
        fn = self.function
        if fn is None:
            for g in gens:
                for cond in g.ifs:
                    self.visit(cond)
            for part in _comp_parts(node):
                self.visit(part)
            return
        self.enter_comprehension()
        try:
            self._generators(node, kind, gens, fn)
        finally:
            self.leave_comprehension()

    def _generators(self, node: ast.AST, kind: str, gens, fn) -> None:
        pushed = 0
        for i, g in enumerate(gens):
            if i:
                self.visit(g.iter)
            self.bind(g.target, None, node)
            mult, desc = self._weigh(g.iter)
            parent = self.loop_stack[-1] if self.loop_stack else -1
            items = _item_names(g.target, ())
            over_input = self._over_input(g.iter)
            fn.loops.append(Loop(node.lineno, f"{kind} over {desc}", mult, parent,
                                 has_ops=_has_ops(_comp_parts(node) + list(g.ifs),
                                                  numeric=_is_range(g) and self._sized_by_input(g.iter),
                                                  items=items, text=self._text_name),
                                 over_input=over_input))
            self.loop_stack.append(len(fn.loops) - 1)
            self.loop_items.append(_input_names(items, g.iter, fn) if over_input else frozenset())
            pushed += 1
            self.in_test += 1  # `[s for s in quotes if s not in self._seen]`: a test, like an `if`
            for cond in g.ifs:
                self.visit(cond)
            self.in_test -= 1
        for part in _comp_parts(node):
            self.visit(part)
        for _ in range(pushed):
            self.loop_stack.pop()
            self.loop_items.pop()

    def visit_ListComp(self, node):
        self._comprehension(node, "list comprehension")

    def visit_SetComp(self, node):
        self._comprehension(node, "set comprehension")

    def visit_DictComp(self, node):
        self._comprehension(node, "dict comprehension")

    def visit_GeneratorExp(self, node):
        self._comprehension(node, "generator expression")


def _offset(node: ast.AST) -> bool:
    """``len(p) + 3``, ``protocol + "://"``: adding a constant offset or affix, not arithmetic."""
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub))):
        return False
    const, other = (node.left, node.right) if isinstance(node.left, ast.Constant) else (node.right, node.left)
    # x * 1.2 + 3 is arithmetic: only a plain value (a name, an attribute, a call, an item) moved
    return (isinstance(const, ast.Constant) and isinstance(const.value, (int, str))
            and isinstance(other, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)))


def _appends_text(node: ast.AST, text: Callable[[str], bool]) -> bool:
    """``out += value`` / ``arg = arg + c`` onto a name the function bound to a str or bytes literal."""
    if isinstance(node, ast.AugAssign):
        return isinstance(node.op, ast.Add) and isinstance(node.target, ast.Name) and text(node.target.id)
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        v = node.value
        return (isinstance(v, ast.BinOp) and isinstance(v.op, ast.Add) and isinstance(v.left, ast.Name)
                and v.left.id == node.targets[0].id and text(v.left.id))
    return False


def _format_parts(node: ast.AST) -> List[ast.AST]:
    """What a piece of text building is built from: the values formatted or appended (their
    computation may be work), not the concatenations themselves."""
    if isinstance(node, ast.AugAssign):
        return [p for p in _add_chain(node.value) if not _text(p)]
    if isinstance(node, ast.Assign):
        node = node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return list(node.right.elts) if isinstance(node.right, ast.Tuple) else [node.right]
    if isinstance(node, ast.BinOp):
        return [p for p in _add_chain(node) if not _text(p)]
    return list(ast.iter_child_nodes(node))


def _is_range(node: ast.AST) -> bool:
    """A loop (or comprehension generator) over range(): numeric iteration."""
    it = getattr(node, "iter", None)
    return isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"


def _comp_parts(node: ast.AST) -> List[ast.AST]:
    if isinstance(node, ast.DictComp):
        return [node.key, node.value]
    return [node.elt]  # type: ignore[attr-defined]


def _loop_weight(iter_node: ast.AST, text: str,
                 const_int: Callable[[Optional[ast.AST]], Optional[int]] = lambda _n: None) -> Tuple[int, str]:
    """How much a loop over ``iter_node`` multiplies its body's work, and how to say it.
    ``const_int`` reads a range's stop where the code fixes it as an expression or a name (``range(PATHS)`` with
    ``PATHS = 200_000`` at module level, ``range(RETRIES)`` with ``RETRIES = 3``)."""
    if isinstance(iter_node, ast.Call) and isinstance(iter_node.func, ast.Name) and iter_node.func.id == "range":
        bound = iter_node.args[1] if len(iter_node.args) > 1 else (iter_node.args[0] if iter_node.args else None)
        n = bound.value if isinstance(bound, ast.Constant) and isinstance(bound.value, int) else None
        if n is None and bound is not None:
            n = const_int(bound)  # `range(10 ** 6)`, `range(PATHS)`
        if n is not None:
            if n < 100:
                return 1, text
            if n < 100_000:
                return 10, text
            return 100, text
        return 10, text
    if isinstance(iter_node, (ast.List, ast.Tuple, ast.Set)) and len(iter_node.elts) < 100:
        return 1, text
    return 10, text


def _input_names(items: Optional[frozenset], iterable: Optional[ast.AST], fn) -> frozenset:
    """What a loop over the input works on each turn: its items and the names derived from them,
    and the parameter it iterates (``deepcopy(pairs)`` for each pair of ``pairs``: the whole
    input again every turn)."""
    own = _names_in(iterable) & (set(fn.params) - {"self", "cls"}) if iterable is not None else set()
    return frozenset(items or ()) | frozenset(own)


def _names_in(node: ast.AST) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _item_names(target: ast.AST, body: Sequence[ast.AST]) -> frozenset:
    """The names that hold a loop's items: its target's names, and the names its body assigns
    from them (``parts = line.split()``), in two passes (enough for ``a = f(item); b = a[1]``)."""
    items = _names_in(target)
    assigns = [n for b in body for n in ast.walk(b) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign))]
    for _ in range(2):
        for a in assigns:
            value = a.value
            if value is not None and _names_in(value) & items:
                for t in (a.targets if isinstance(a, ast.Assign) else [a.target]):
                    if not isinstance(a, ast.AugAssign):  # total += x: an accumulator, not an item
                        items |= _names_in(t)
    return frozenset(items)


def _has_ops(body: Sequence[ast.AST], numeric: bool = False, items: Optional[frozenset] = None,
             text: Optional[Callable[[str], bool]] = None) -> int:
    """How much work this block (not counting nested loops' bodies) does per iteration:
    2 = real arithmetic (two or more operations, or one in a loop over a range() that counts
    data: ``numeric``, see ``LoopCollector._sized_by_input``),
    1 = light work (a counter increment, indexing, comparisons, f-strings), 0 = none.
    With ``items`` (the names holding a for loop's items), only arithmetic on the items is real:
    ``total = total * 31 + b`` over bytes is, ``n - last_print_n`` or ``now - start`` beside each
    item (a progress counter, a clock) is bookkeeping. Building text is no work (``text``: whether
    a name holds a str or bytes literal, so ``out += value`` onto ``out = ""`` appends text)."""
    stack = list(body)
    level = 0
    ops = 1 if numeric else 0
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Raise, ast.Assert)):
            continue  # building an error message is not the loop's work
        if isinstance(node, ast.BinOp) and _constant_operand(node.left) and _constant_operand(node.right):
            continue  # _MAXLINE + 1: a constant, whatever the loop does
        if _cursor_step(node) or _size_step(node):
            level = max(level, 1)  # i = i + 1, k += 3, offset += len(buf): a cursor moving on
            continue
        if isinstance(node, ast.Slice):
            level = max(level, 1)  # data[i:i + size]: the bounds of a slice are positions
            continue
        if _formatting(node) or (text is not None and _appends_text(node, text)):
            # "%s@%s" % (k, t), "  " + line, out += value onto out = "": building text is not work
            # (what the parts are computed from still is)
            stack.extend(_format_parts(node))
            continue
        if _offset(node):
            level = max(level, 1)  # len(p) + 3: an offset
            stack.extend(ast.iter_child_nodes(node))
            continue
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and items is not None and not (_names_in(node) & items):
            level = max(level, 1)  # arithmetic on counters and clocks beside the items
            stack.extend(ast.iter_child_nodes(node))
            continue
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            ops += 1
            if ops >= 2:
                return 2
            level = 1
        if isinstance(node, _OP_NODES):
            level = 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, _LOOP_NODES):
            continue
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Lt, ast.Gt, ast.LtE, ast.GtE)) for op in node.ops):
            level = 1
        stack.extend(ast.iter_child_nodes(node))
    return level


_AGGREGATES = frozenset({"sum", "max", "min"})
# arithmetic; ``|``/``&`` on what recursive calls return are mostly set unions (paths found)
_NUMERIC_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult)


def _self_call(node: ast.AST, own: frozenset) -> bool:
    """A call of the function itself, written ``name(...)``, ``self.name(...)`` or ``cls.name(...)``
    (by its text: the project pass checks that it resolves to the function)."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Name):
        return f.id in own
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f"{f.value.id}.{f.attr}" in own


def _holds_self_call(node: ast.AST, own: frozenset) -> bool:
    stack = [node]
    while stack:
        sub = stack.pop()
        if _self_call(sub, own):
            return True
        if not isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(sub))
    return False


def combines_self(body: Sequence[ast.AST], name: str) -> bool:
    """Whether the results of calls of the function itself are combined by arithmetic: an operand
    of a binary operation or an augmented assignment, or summed/maxed (``fib(n - 1) + fib(n - 2)``,
    ``total += walk(child)``, ``sum(size(c) for c in node.children)``). A recursion that maps
    itself over the items of a container (``[strip(p) for p in paths]``) or merges nested dicts
    (``update(old[k], v)``) walks a structure: no arithmetic on what the calls return."""
    own = frozenset({name, "self." + name, "cls." + name})
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, _NUMERIC_OPS) and not _offset(node):
            if _holds_self_call(node.left, own) or _holds_self_call(node.right, own):
                return True
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, _NUMERIC_OPS) and _holds_self_call(node.value, own):
            return True
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _AGGREGATES
              and any(_holds_self_call(a, own) for a in node.args)):
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False

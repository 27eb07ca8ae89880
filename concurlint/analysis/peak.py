"""The heaviest single strand of nested CPU work below a function (``Peak``): loops multiply
what they contain, callees count with the loops around the call, siblings do not add up. CCL502
weighs the helpers a coroutine calls with it, and the model advice asks it whether the CPU
evidence is more than loops over data of unknown size (``WRITTEN_SIZE``) before advising a change.
"""
from __future__ import annotations

from typing import Dict

from concurlint.analysis.facts import Function

HEAVY = 100.0  # CPU weight (see analysis.classify) that freezes a loop: nested loops, loops of CPU calls
# a helper runs on inputs the coroutine cannot see; real protocol code (header parsers, cookie
# jars) nests two loops over small collections all the time, so a helper must nest three levels
# of work (or two around a CPU-heavy library call) on one strand to count as CPU-heavy
HEAVY_CALLEE = 1000.0
MAX_DEPTH = 25  # how deep the CPU-weight walk follows helpers


class Peak:
    """The heaviest single strand of nested work in a sync function: loops multiply what they
    contain, callees count with the loops around the call, but siblings do not add up. Protocol
    code doing many small loops over headers or cookies stays light; a triple loop does not."""

    def __init__(self, project, max_depth: int = MAX_DEPTH, input_only: bool = False):
        self.p = project
        self.max_depth = max_depth
        # a strand of light loops (indexing, comparing, storing), or of loops calling a project
        # helper, none of which walks what the function is handed (Loop.over_input) weighs one
        # turn: feeds per channel per network is the program's own state, however deep it nests
        self.input_only = input_only
        self.memo: Dict[object, float] = {}
        self.why: Dict[object, str] = {}  # the work at the end of the heaviest strand
        self.leaf: Dict[object, float] = {}  # its weight within its own function
        # the biggest single multiplier on that strand: a loop whose size the code writes
        # (range(10**6)) or a CPU-heavy library call, rather than loops over data of unknown size
        self.wide: Dict[object, float] = {}
        self.sized: Dict[object, str] = {}  # what that multiplier is (`range(PATHS)` at file:line)
        self.active: set = set()

    def of(self, q: str, depth: int = 0) -> float:
        # a shallow walk's answer depends on where it starts: memoise it per depth
        key = q if self.max_depth == MAX_DEPTH else (q, depth)
        if key in self.memo:
            return self.memo[key]
        if q in self.active or depth > self.max_depth:
            return 0.0
        fn = self.p.functions[q]
        self.active.add(q)

        def mult(i: int) -> float:
            m = 1.0
            while i >= 0:
                if not is_cursor_loop(fn.loops[i]):
                    m *= fn.loops[i].mult
                i = fn.loops[i].parent
            return m

        def own(i: int) -> float:
            """The weight of loop ``i``'s own work, with the loops around it."""
            if self.input_only and fn.loops[i].has_ops < 2 and not _walks_input(fn, i):
                return 1.0
            return mult(i)

        def around(i: int) -> float:
            """What the loops around a call of a project helper multiply its weight by."""
            if self.input_only and not _walks_input(fn, i):
                return 1.0
            return mult(i)

        best, why, leaf, wide, sized = 0.0, "", 0.0, 0.0, ""
        path = self.p.function_module[q].path if q in self.p.function_module else ""
        try:
            for i, loop in enumerate(fn.loops):
                if loop.has_ops and not is_cursor_loop(loop) and own(i) > best:
                    best, leaf, wide = own(i), own(i), widest_loop(fn, i)
                    sized = _sized_loop(fn, i, path)
                    why = f"{'nested ' if loop.parent >= 0 else ''}{loop.desc.split(' over ')[0]} x{int(own(i))} at {path}:{loop.line}"
            for call in self.p.calls_of(fn):
                target = self.p.call_target(call)
                if target is None:
                    continue
                callee = self.p.functions.get(target)
                if callee is not None:
                    # constructors normalise headers, cookies, options: summed over real
                    # protocol code they look heavy and never are; heavy work lives in calls
                    if not callee.is_async and target != q and callee.name != "__init__":
                        w = self.of(target, depth + 1) * around(call.loop)
                        if w > best:
                            ckey = target if self.max_depth == MAX_DEPTH else (target, depth + 1)
                            best, why, leaf = w, self.why.get(ckey, ""), self.leaf.get(ckey, 0.0)
                            wide = max(self.wide.get(ckey, 0.0), widest_loop(fn, call.loop))
                            sized = self.sized.get(ckey, "") or _sized_loop(fn, call.loop, path)
                    continue
                cat = self.p.kb.category(target)
                if cat is not None and cat[0] in ("cpu", "releases-gil"):
                    w = self.p.kb.cpu_weight(target, cat[0]) * mult(call.loop)
                    if w > best:
                        looped = " in a loop" if call.loop >= 0 else ""
                        best, leaf, why = w, w, f"{target.replace('.<locals>', '').rsplit('.', 1)[-1]}(){looped} at {path}:{call.line}"
                        # a library call heavy on its own is not a guess; a light one (re.match,
                        # json.loads, a hash of a few bytes) is heavy only through the loops around
                        # it, and those are as much a guess as any loop over data of unknown size
                        alone = self.p.kb.cpu_weight(target, cat[0])
                        wide = float("inf") if alone >= HEAVY else widest_loop(fn, call.loop)
                        sized = why if alone >= HEAVY else _sized_loop(fn, call.loop, path)
        finally:
            self.active.discard(q)
        self.memo[key] = best
        self.why[key] = why
        self.leaf[key] = leaf
        self.wide[key] = wide
        self.sized[key] = sized
        return best


# A loop's weight is a guess unless the code writes its size: an iterable of unknown size counts
# x10 per loop level (analysis.loops), `range(100_000)` or more x100. On 168 real packages no
# CCL502 found through loops over data of unknown size was a real hazard (0 of ~90 reviewed,
# docs/precision.md), so those are low; a written range that big, or a CPU-heavy library call,
# keeps its confidence.
WRITTEN_SIZE = 100


def widest_loop(fn: Function, i: int) -> float:
    """The biggest multiplier among the loops around position ``i`` (cursor loops aside)."""
    m = 0.0
    while 0 <= i < len(fn.loops):
        if not is_cursor_loop(fn.loops[i]):
            m = max(m, fn.loops[i].mult)
        i = fn.loops[i].parent
    return m


def _sized_loop(fn: Function, i: int, path: str) -> str:
    """The loop around position ``i`` whose size the code writes big enough to count
    (``for _ in range(PATHS)`` at file:line), or ""."""
    while 0 <= i < len(fn.loops):
        loop = fn.loops[i]
        if loop.mult >= WRITTEN_SIZE and not is_cursor_loop(loop):
            return f"{loop.desc} at {path}:{loop.line}"
        i = loop.parent
    return ""


def _walks_input(fn: Function, i: int) -> bool:
    """A loop around position ``i`` walks the data the function is handed, or has a written size."""
    while 0 <= i < len(fn.loops):
        if fn.loops[i].over_input or fn.loops[i].mult >= WRITTEN_SIZE:
            return True
        i = fn.loops[i].parent
    return False


def is_cursor_loop(loop) -> bool:
    """A ``while`` loop that only indexes and compares: a cursor stepping through one small
    structure (a tokenizer over a header, a retry): how often it runs is unknown, so neither its
    own work nor the calls in it count as heavy (as in the classification)."""
    return loop.has_ops < 2 and loop.desc.startswith("while")


def peak(ctx) -> Peak:
    return Peak(ctx.project)


def near_peak(ctx) -> Peak:
    """The heaviest strand within the helper and the functions it calls directly: heavy work
    found only further down is usually bounded by the helpers in between (a serializer capped at
    ten items, reached through an exception formatter), so it is reported at medium."""
    return Peak(ctx.project, max_depth=1)


def input_peak(ctx) -> Peak:
    """The heaviest strand, where nested light loops (indexing, comparing, storing) weigh more
    than one turn only when one of them walks the data the function is handed."""
    return Peak(ctx.project, input_only=True)

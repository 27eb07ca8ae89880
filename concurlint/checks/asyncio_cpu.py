"""CCL502: CPU-heavy work on an asyncio event loop.

A coroutine's own loops doing arithmetic or string work without awaiting, a call to a project
function the classification calls CPU-bound (weighed by ``Peak``: the heaviest single strand of
nested work, so many small loops side by side do not add up), and a CPU-heavy library call in a
loop. The shared vocabulary (coroutines, their calls) is in ``asyncio_rules``.
"""
from __future__ import annotations

from typing import Iterator, Optional

from concurlint.analysis.facts import Call, Function, ModuleFacts
from concurlint.analysis.hints import first_lifecycle, is_cli_code, is_test_code
from concurlint.analysis.peak import HEAVY, HEAVY_CALLEE, WRITTEN_SIZE, Peak, near_peak, peak, widest_loop
from concurlint.checks.asyncio_rules import _calls, _coroutines, _Pos
from concurlint.registry import Finding, Rule


# ---------------------------------------------------------------- CCL502
def cpu_confidence(ctx, module: ModuleFacts, fn: Function, callee: Optional[str] = None,
                   call: Optional[Call] = None) -> str:
    """high: a module-level coroutine (or one calling a module-level helper) doing heavy work on
    data it was given; medium: a method of a long-lived object, whose loops usually walk that
    object's own state (workers, headers, handlers) and whose work could not move to a process
    pool anyway; low: test helpers, start-up or shut-down code, and error paths (an ``except``
    block formatting or reporting the exception: it runs when something failed, and what it
    works on, a traceback, cannot be sent to a process pool), and a command-line program's own
    modules."""
    if is_test_code(module.module, fn.qualname) or first_lifecycle((fn.qualname,) + ((callee,) if callee else ())):
        return "low"
    if is_cli_code(module.module):
        return "low"  # a command-line program's coroutine: usually the program's only task
    if call is not None and call.in_handler:
        return "low"
    if fn.cls is not None:
        return "medium"
    target = ctx.project.functions.get(callee) if callee else None
    if target is not None and target.cls is not None:
        return "medium"
    return "high"


def _advice(releases_gil: Optional[bool]) -> str:
    if releases_gil:
        return "it releases the GIL: await asyncio.to_thread(...)"
    return "await loop.run_in_executor(process_pool, ...)"


class CpuBoundWorkInAsyncFunction(Rule):
    code = "CCL502"

    def check(self, ctx, module: ModuleFacts) -> Iterator[Finding]:
        project = ctx.project
        kb = project.kb
        weights: Peak = ctx.shared(peak)
        for fn in _coroutines(module):
            calls = list(_calls(module, fn))
            # a loop that awaits (or does IO) hands the loop back every iteration: the work that
            # freezes the loop is what runs between two awaits
            # an `async for` awaits its iterator at every step
            yields = [loop.desc.startswith("async for") for loop in fn.loops]
            for call in calls:
                target = project.call_target(call)
                waits = call.awaited
                if not waits and target is not None:
                    cat = kb.category(target)
                    waits = cat is not None and cat[0] in ("io", "async-io")
                if waits:
                    i = call.loop
                    while i >= 0 and not yields[i]:
                        yields[i] = True
                        i = fn.loops[i].parent

            def mult(i: int) -> float:
                m = 1.0
                while i >= 0 and not yields[i]:
                    m *= fn.loops[i].mult
                    i = fn.loops[i].parent
                return m

            # report each outermost loop that runs without yielding and whose (nested) arithmetic
            # or string work weighs HEAVY
            for i, loop in enumerate(fn.loops):
                if yields[i] or (loop.parent >= 0 and not yields[loop.parent]):
                    continue
                heaviest, where, widest = 0.0, None, 0
                for j, inner in enumerate(fn.loops):
                    if inner.has_ops < 2 or yields[j]:  # indexing and compares alone are bookkeeping
                        continue
                    w, k, big = 1.0, j, 0
                    while k >= 0 and k != i and not yields[k]:
                        w *= fn.loops[k].mult
                        big = max(big, fn.loops[k].mult)
                        k = fn.loops[k].parent
                    if k == i:
                        w *= loop.mult
                        if w > heaviest:
                            heaviest, where, widest = w, inner, max(big, loop.mult)
                if where is None or heaviest < HEAVY:
                    continue
                nested = "" if where is loop else f" with a nested {where.desc.split(' over ')[0]}"
                conf = cpu_confidence(ctx, module, fn)
                if widest < WRITTEN_SIZE:
                    conf = "low"  # loops over data of unknown size: the weight is a guess
                yield ctx.report(self.code, module, _Pos(loop.line, 0), function=fn.qualname,
                                 what=f"{loop.desc}{nested} doing arithmetic/string work (x{int(heaviest)})",
                                 advice=_advice(False), confidence=conf)
            for call in calls:
                target = project.call_target(call)
                if target is None or call.awaited:
                    continue
                m = mult(call.loop)
                callee = project.functions.get(target)
                if callee is not None:
                    if callee.is_async or (callee.is_generator and call.use != "iter"):
                        continue
                    s = ctx.summaries.get(target)
                    # heavy on its own: a light helper called in the coroutine's loop is not
                    # reported (error paths and bookkeeping dominate such calls in real code)
                    if s is None or s.kind != "cpu" or callee.name == "__init__" or weights.of(target) < HEAVY_CALLEE:
                        continue
                    cited = [e for e in s.evidence if not e.endswith("(unknown)")]
                    if not cited:
                        continue  # a callee of unknown kind is never evidence of CPU work
                    # cite what decided it: the heaviest strand of work below the call
                    ev = f"heaviest: {weights.why[target]}" if weights.why.get(target) else cited[0].split(" ", 1)[-1]
                    conf = cpu_confidence(ctx, module, fn, target, call)
                    if conf != "low" and ctx.shared(near_peak).of(target) < HEAVY_CALLEE:
                        # the heavy work lies more than one call down: medium when it is heavy
                        # in its own function (nested loops there); low when it only adds up
                        # from loops at several levels, each over something small (a registry,
                        # a header list): a maintainer would not call that heavy
                        conf = "medium" if weights.leaf.get(target, 0.0) >= HEAVY else "low"
                    if weights.wide.get(target, 0.0) < WRITTEN_SIZE:
                        conf = "low"  # loops over data of unknown size: the weight is a guess
                    yield ctx.report(self.code, module, call, function=fn.qualname,
                                     what=f"CPU-bound {call.text}() ({ev})",
                                     advice=_advice(s.releases_gil), confidence=conf)
                    continue
                cat = kb.category(target)
                declared = kb.declared(target) is not None
                if cat is None or cat[0] not in ("cpu", "releases-gil") or (call.loop < 0 and not declared):
                    continue
                w = m * kb.cpu_weight(target, cat[0])
                if w < HEAVY:
                    continue
                where = f"called in a loop (x{int(m)})" if call.loop >= 0 else "declared CPU-heavy in [tool.concurlint.knowledge]"
                conf = cpu_confidence(ctx, module, fn, call=call)
                if not declared and kb.cpu_weight(target, cat[0]) < HEAVY and widest_loop(fn, call.loop) < WRITTEN_SIZE:
                    # a light call (re.match) made heavy only by loops whose sizes are not
                    # written: over the object's own settings (its prefixes, its commands) a
                    # guess (low); over data the coroutine was handed, a guess about how much
                    # data comes in (medium: in no real package reviewed was it heavy)
                    conf = "medium" if call.on_input and conf != "low" else "low"
                yield ctx.report(self.code, module, call, function=fn.qualname,
                                 what=f"{call.text}() {where}",
                                 advice=_advice(cat[0] == "releases-gil"), confidence=conf)

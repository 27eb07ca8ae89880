"""How much the evidence of CPU work weighs (for ``classify``): the loops around it, and what a
callee's work is worth to its caller.

A single loop over data of unknown size counts x10: a guess. Two guesses multiplied (nested loops,
or a helper's pass called in a loop over the input) are evidence; one is the helper's own verdict
and is *held* when a caller calls it once (``pass_work``). A library call in a loop counts every
turn only when it works on the loop's input (``works_on_input``); a ``while`` loop that only
indexes and compares is a cursor through one small structure (``is_cursor``).
"""
from __future__ import annotations

from typing import List, Tuple

from concurlint.analysis.facts import Call

LIGHT_LOOP_FACTOR = 0.34  # a loop that only indexes and compares is bookkeeping until nested
LIGHT_NESTING = 1000.0  # ... over the input, or three deep over state: small x small is common there
CAP = 1e9
# pure-Python CPU weight that is more than one guess: two nested loops over data of unknown size
# (34 when they only index and compare), several heavy calls on every item of a pass, a written
# range of 100,000 turns; below it, a helper's work passes to callers that call it in a loop only
STRONG = 30.0


def pass_work(s, ev_cpu: List[Tuple[float, str]], callee, settled: bool, m: float,
              where: str, own_component: bool = False, on_input: bool = True) -> None:
    """A callee's CPU work, into its caller (``m``: the loops around the call). GIL-releasing
    library work (NumPy, compression, a key derivation) always passes. Pure-Python work passes
    whole when it is more than one guess (``STRONG``: two nested loops over data, several heavy
    calls on every item of a pass) or when the call is in a loop; otherwise it is held: one call
    of a helper that walks one header, one table or one key is a small pass, and the caller is not
    CPU-bound on it. Held work passes on to callers that call it in a loop over their input
    (``on_input``: an argument or the receiver is an item of it). Within a recursive component
    only settled work passes (held work would count itself again)."""
    py = callee.py if settled else 0.0
    gil = callee.gil if settled else 0.0
    held = 0.0 if own_component else callee.held
    if m > 1:
        passed = (py + (held if on_input else 0.0)) * m
    elif py >= STRONG:
        passed = py
        s.held = min(CAP, s.held + held)
    else:
        passed = 0.0
        s.held = min(CAP, s.held + py + held)
    s.py = min(CAP, s.py + passed)
    s.gil = min(CAP, s.gil + gil * m)
    if passed + gil * m >= 1:
        note = ": a pass over data, every turn" if held and on_input and m > 1 and passed > py * m else ""
        ev_cpu.append((passed + gil * m, f"{where} ({callee.kind}{note})"))


def works_on_input(kb, target: str, call: Call) -> bool:
    """Whether a call in a loop works on the loop's input every turn: its input argument (the
    string of ``re.match(p, string)``, the first argument otherwise) is an item of a loop over the
    input or the parameter it iterates (``Call.on_input``)."""
    if not call.on_input:
        return False
    position, keywords = kb.stdlib.input_argument(target) if kb.stdlib.kind(target) is not None else (0, ())
    if any(k in call.on_input for k in keywords):
        return True
    if "self" in call.on_input and not call.args:
        return True  # item.method() on each item
    return str(position) in call.on_input


def is_cursor(loop) -> bool:
    """A ``while`` loop that only indexes and compares: a cursor stepping through one small
    structure (a tokenizer over one header, a retry, a state machine). How often it runs is
    unknown, so it multiplies neither its own work nor the work of the loops inside it (a scan
    for the end of a quoted parameter inside a tokenizer over one header)."""
    return loop.has_ops < 2 and loop.desc.startswith("while")


def add_loop_work(s, ev_cpu: List[Tuple[float, str]], path: str, loop, mult: float) -> None:
    """A loop that does not wait: its work, weighted by the loops around it. A ``while`` loop that
    only indexes and compares is a cursor stepping through a small structure (a tokenizer over
    one header, a retry, a state machine): how often it runs is unknown, so it is no evidence."""
    if is_cursor(loop):
        return
    w = mult * (1.0 if loop.has_ops >= 2 else LIGHT_LOOP_FACTOR)
    if w < 3 or (loop.has_ops < 2 and (loop.parent < 0 or (mult < LIGHT_NESTING and not loop.over_input))):
        return  # a single pass that only indexes and compares (filtering a list) is no evidence,
        # nor, until three deep, lookups nested over the object's state or globals (each running
        # task's few resources, each collector's metric names); over the input (the words of each
        # line, the columns of a second string) they are
    s.py = min(CAP, s.py + w)
    nested = " nested" if loop.parent >= 0 else ""
    work = "arithmetic" if loop.has_ops >= 2 else "indexing/comparisons"
    ev_cpu.append((w, f"{path}:{loop.line}{nested} {loop.desc} doing {work} (x{int(mult)})"))

"""Classify every function as cpu, io, mixed or unknown, through the project's call graph.

Each function gets three weights:
- ``io``: calls that wait (network, disk, processes, sleep), multiplied by the loops around them;
- ``py``: CPU work done holding the GIL: loops and comprehensions doing arithmetic or string work
  (a loop that also waits on IO is an IO loop: its arithmetic is bookkeeping; a single loop that
  only indexes and compares is a filter, not work), branching self-recursion doing arithmetic
  (not mutual recursion, not constructors or reprs of callees), and
  CPU-heavy library calls (json, re, sorted ...), one unit each, multiplied by enclosing loops;
- ``gil``: CPU work done by code that releases the GIL (NumPy, hashlib, zlib ...), ten units a call.
The standard library's cost model (rules/knowledge/stdlib.toml) applies where the code fixes the
size of a call's input (``knowledge.sized_cost``): hashlib on an 8-byte key holds the GIL (``py``),
on a 1 MiB chunk releases it (``gil``); a ``cpu-per-size`` call weighs by its input.
Unresolved method calls on untyped receivers wait when calls.toml's duck-typed [protocols] say so.
Callees' weights flow into callers (multiplied by the loops around the call site); pure-Python
work under ``STRONG`` (one pass over data of unknown size) is held when called once: it decides
the helper's kind, not the caller's, and passes on to callers that call it in a loop. Cycles are
solved per strongly connected component. Then:
- cpu when ``py + gil >= CPU_THRESHOLD`` and there is no IO;
- mixed when there is IO and ``py + gil >= MIXED_THRESHOLD``;
- io when there is IO;
- unknown otherwise (nothing heavy either way).
``releases_gil`` is true for cpu/mixed work when the GIL-releasing part dominates.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from concurlint.analysis.evidence import (CAP, LIGHT_LOOP_FACTOR, add_loop_work, is_cursor, pass_work,
                                          works_on_input)
from concurlint.analysis.facts import Call, Function, Value
from concurlint.analysis.hints import fills_once, is_memoised
from concurlint.analysis.peak import WRITTEN_SIZE
from concurlint.analysis.project import Project
from concurlint.analysis.receivers import Receivers, made_by, protocol_note, receiver_text
from concurlint.analysis.shell import backgrounded
from concurlint.analysis.sizes import byte_size
from concurlint.analysis.walk import strongly_connected
from concurlint.knowledge import Matcher

if TYPE_CHECKING:
    from concurlint.analysis.summary_store import Stored

CPU_THRESHOLD = 10.0
# methods whose CPU weight is never evidence for their callers: constructors normalise their
# arguments, and representations format them; neither is the work a caller exists to do
NOT_WORK = frozenset({"__init__", "__new__", "__post_init__", "__repr__", "__str__", "__format__",
                      "__hash__", "__eq__", "__init_subclass__"})
# builtins that compare their arguments when given two or more (a scan of an iterable given one)
SCALAR_FORMS = frozenset({"builtins.min", "builtins.max"})
MIXED_THRESHOLD = 100.0
# a function that also calls methods of objects we cannot see into (``self.fs.copy()``,
# ``client.get_object()``) is cpu only when its visible work is heavy: those calls may be the
# real work, or wait
OPAQUE_BAR = 100.0
# methods of str, bytes, list, dict, set and tuple: on an object we cannot type they are still no
# wait and no hidden work
PLAIN_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "join", "encode",
    "decode", "startswith", "endswith", "replace", "format", "find", "rfind", "index", "rindex", "count",
    "partition", "rpartition", "isdigit", "isalpha", "isalnum", "isspace", "title", "capitalize", "casefold",
    "zfill", "ljust", "rjust", "center", "expandtabs", "translate", "hex", "fromhex", "to_bytes", "from_bytes",
    "append", "extend", "insert", "pop", "remove", "clear", "copy", "sort", "reverse", "get", "items", "keys",
    "values", "update", "setdefault", "popitem", "add", "discard", "union", "intersection", "difference",
    "issubset", "issuperset", "symmetric_difference", "most_common", "appendleft", "popleft", "group",
    "groups", "groupdict", "span", "start", "end", "bit_length", "conjugate", "is_integer", "as_integer_ratio",
    "hexdigest", "digest", "tolist", "tobytes", "astype", "reshape", "sum", "mean", "std",
})
# a sleep in an `except` block is a back-off on an error path (retry when the file is not there
# yet), not a wait the work is made of (advice.reachable_io leaves it out too)
BACKOFFS = frozenset({"time.sleep"})
GIL_CALL_WEIGHT = 10.0
MAX_EVIDENCE = 8


@dataclass
class Summary:
    qualname: str
    kind: str = "unknown"
    releases_gil: Optional[bool] = None
    io: float = 0.0
    py: float = 0.0
    gil: float = 0.0
    async_io: bool = False
    evidence: List[str] = field(default_factory=list)
    # first blocking (synchronous IO) call reachable without leaving synchronous code:
    # (chain of function qualnames from this one, description of the call, path, line)
    blocking: Optional[Tuple[Tuple[str, ...], str, str, int]] = None
    recursive: bool = False
    # pure-Python work of helpers called once, each under STRONG (one pass over data of unknown
    # size): not evidence for this function's kind, but passed on to callers that call it in a loop
    held: float = 0.0
    # reaches a method whose body only raises NotImplementedError: a subclass does that work (or
    # waits), and the analysis cannot see it (like a call on an object it cannot type)
    abstract: bool = False
    # every wait it makes fills a memo (``if _found is None: _found = shutil.which(...)``, an
    # ``lru_cache`` without arguments): it waits the first time only, so its callers do not
    once: bool = False


class Classifier:
    def __init__(self, project: Project):
        self.p = project
        self.summaries: Dict[str, Summary] = {}
        self.edges: Dict[str, List[Tuple[Call, str]]] = {}
        self.cold = Matcher(project.kb.table("calls").get("cold-paths", []))
        self.protocols = project.kb.protocols
        self._class_receivers: Dict[str, Dict[str, set]] = {}
        self._methods_of: Optional[Dict[str, List[Function]]] = None

    def run(self, stored: Optional["Stored"] = None) -> Dict[str, Summary]:
        """``stored``: the summaries of the last run, each reused when what it was computed from
        is unchanged (``module_reads``, ``function_reads``, ``callee_reads`` below; see
        ``analysis/summary_store.py``): the summaries are the same either way."""
        p = self.p
        self.edges = p.edges()
        graph: Dict[str, List[str]] = {q: [t for _, t in out] for q, out in self.edges.items()}
        if stored is not None:
            stored.begin(self)
        for comp in strongly_connected(graph):
            members = set(comp)
            recursive = len(comp) > 1 or any(t == comp[0] for t in graph.get(comp[0], []))
            if stored is not None and stored.reuse(comp, recursive, graph, self.summaries):
                continue
            for q in comp:
                self.summaries[q] = Summary(q, recursive=recursive)
            for _ in range(2 if recursive else 1):
                for q in comp:
                    self.summaries[q] = self._summarise(p.functions[q], members, recursive)
            if stored is not None:
                stored.computed(comp, recursive, self.summaries)
        if stored is not None and stored.reused and os.environ.get("CONCURLINT_CHECK_REUSE"):
            cold = Classifier(p).run()  # the tests' guard: reused summaries are the computed ones
            wrong = sorted(q for q in cold if cold[q] != self.summaries.get(q))
            if wrong or len(cold) != len(self.summaries):
                raise RuntimeError(f"reused classification differs from a cold one: {wrong[:3]}")
        return self.summaries

    # What ``_summarise`` reads, besides the configuration and the knowledge base (the stored
    # summaries' key) and its callees' summaries (``Stored.changed``). THE LIST TO KEEP COMPLETE:
    # a read added to ``_summarise`` (or to what it calls) and not covered here makes a run after
    # an edit differ from a cold one (tests/test_incremental_project.py, bench/exact_edits.py).
    def module_reads(self, mod, key: str) -> tuple:
        """Per module: its facts (its per-file cache key ``key``: each function's calls, loops,
        parameters and flags, and, for a method, every method of its class, whose calls give the
        duck-typed receivers of ``_class_receiver_methods``: a class's methods are in its module,
        ``Stored.begin`` excludes the modules where they are not), its path as the evidence
        quotes it, and the target of every call (``Project.call_target``: resolution reads other
        modules; a target that stopped being a project function is ``Stored.removed``)."""
        call_target = self.p.call_target
        return (key, mod.path, [call_target(c) for c in mod.calls])

    @staticmethod
    def function_reads(comp: List[str], recursive: bool) -> tuple:
        """Per function, beyond its module: its strongly connected component, in order (the
        passes over it, ``_computes``), and whether it is recursive."""
        return (tuple(comp) if len(comp) > 1 else None, recursive)

    @staticmethod
    def callee_reads(fn: Function) -> tuple:
        """What a caller reads of a project callee besides its summary: its facts' ``is_async``,
        ``name`` and ``abstract``."""
        return (fn.is_async, fn.name, fn.abstract)

    def _summarise(self, fn: Function, component: set, recursive: bool) -> Summary:
        p = self.p
        mod = p.function_module[fn.qualname]
        path = mod.path
        s = Summary(fn.qualname, recursive=recursive)
        ev_io: List[Tuple[float, str]] = []
        ev_cpu: List[Tuple[float, str]] = []
        loop_io = [False] * len(fn.loops)
        opaque = 0

        def mult_of(loop: int, inner: bool = False) -> float:
            """The loops' multiplier; for the work of a loop (``inner``), a cursor around it
            (a while loop stepping through one small structure) runs a few turns: x1."""
            m = 1.0
            while loop >= 0:
                if not (inner and is_cursor(fn.loops[loop])):
                    m *= fn.loops[loop].mult
                loop = fn.loops[loop].parent
            return m

        def mark_io(loop: int) -> None:
            while loop >= 0 and not loop_io[loop]:
                loop_io[loop] = True
                loop = fn.loops[loop].parent

        receivers: Optional[Receivers] = None  # receiver text -> methods used on it, when asked
        io_lines = set()  # the lines of the calls that wait (are they all memo fills?)
        for call in p.calls_of(fn):
            target = p.call_target(call)
            m = mult_of(call.loop)
            if fn.is_async and call.awaited and (target is None or (target not in p.functions and p.kb.category(target) is None)):
                # a coroutine awaiting something we cannot see into is waiting, not computing
                s.io = min(CAP, s.io + m)
                s.async_io = True
                ev_io.append((m * 0.5, f"{path}:{call.line} awaits {target or call.text} (a wait)"))
                continue
            if target is None:
                if receivers is None:
                    receivers = self._receivers(fn)
                protocol = self._protocol_wait(call, receivers)
                if protocol is not None:  # recv() on an untyped self._sock, fetchall() on conn.cursor()
                    s.io = min(CAP, s.io + m)
                    io_lines.add(call.line)
                    mark_io(call.loop)
                    ev_io.append((m, f"{path}:{call.line} {call.text}() waits ({protocol})"))
                elif call.method is not None and call.method not in PLAIN_METHODS:
                    opaque += 1  # self.fs.copy(), client.get_object(): it may wait, we cannot see
                continue
            if target in p.functions:
                if self.cold.match(target):
                    continue  # diagnostics-only code (warnings, tracebacks) is not the work
                callee = self.summaries.get(target)
                if callee is None or target == fn.qualname:
                    continue
                callee_fn = p.functions[target]
                if callee_fn.is_async and not call.awaited and not fn.is_async:
                    continue  # creating a coroutine object runs nothing
                if (callee.io > 0 and not callee.once) or callee.async_io:
                    s.io = min(CAP, s.io + max(callee.io, 1.0) * m)
                    io_lines.add(call.line)
                    s.async_io = s.async_io or (callee.async_io and call.awaited)
                    mark_io(call.loop)
                    ev_io.append((callee.io * m, f"{path}:{call.line} calls {target} ({callee.kind})"))
                if call.awaited and not callee_fn.is_async and fn.is_async:
                    # a plain function returning a future or an awaitable: awaiting it waits
                    s.io = min(CAP, s.io + m)
                    s.async_io = True
                    ev_io.append((m * 0.5, f"{path}:{call.line} awaits what {target} returns (a wait)"))
                settled = callee.kind in ("cpu", "mixed")
                if callee_fn.name in NOT_WORK or call.in_handler or not (settled or callee.held):
                    pass  # building or printing an object, an error path (an `except` block runs
                    # when something failed), work too small to name, or the bookkeeping of a
                    # callee that waits (io: its CPU part is below the mixed bar), is no evidence
                else:
                    pass_work(s, ev_cpu, callee, settled, m, f"{path}:{call.line} calls {target}",
                              own_component=target in component, on_input=bool(call.on_input))
                if callee_fn.abstract or callee.abstract:
                    s.abstract = True  # it reaches a method a subclass implements: hidden work
                if callee.blocking is not None and not callee_fn.is_async and s.blocking is None:
                    chain, desc, bpath, bline = callee.blocking
                    s.blocking = ((fn.qualname,) + chain, desc, bpath, bline)
                continue
            cat = p.kb.category(target)
            if cat is None:
                continue
            category = cat[0]
            where = f"{path}:{call.line}"
            if category == "io":
                if target == "time.sleep" and call.args and call.args[0].kind == "literal" and call.args[0].text in ("0", "0.0"):
                    continue  # sleep(0) yields the GIL, it does not wait
                if target in BACKOFFS and call.in_handler:
                    continue  # a back-off in an `except` block (retry until the file is there): an error path
                if backgrounded(call, target):
                    continue  # os.system("nohup recorder &"): the shell starts it and returns
                s.io = min(CAP, s.io + m)
                io_lines.add(call.line)
                mark_io(call.loop)
                ev_io.append((m, f"{where} calls {target} (io)"))
                if s.blocking is None:
                    s.blocking = ((fn.qualname,), f"{call.text}() ({target})", path, call.line)
            elif category == "async-io":
                if call.awaited or call.use in ("with", "await"):
                    s.io = min(CAP, s.io + m)
                    s.async_io = True
                    mark_io(call.loop)
                    ev_io.append((m, f"{where} awaits {target} (async io)"))
            elif category in ("cpu", "releases-gil"):
                if call.in_handler:
                    continue  # an `except` block: an error path (a fuzzy match for a typo), not the work
                if category == "cpu" and target in SCALAR_FORMS and len(call.args) >= 2 and not call.star_args:
                    continue  # min(a, b), max(lo, x): a comparison, not a pass over data
                size, value = _input_size(p.kb, target, call, category == "releases-gil")
                if size == 0 and category == "releases-gil":
                    continue  # hashlib.sha256() with nothing to hash yet: update() does the work
                handed_in = value is not None and value.kind in ("name", "instance") and value.text in fn.params
                category, unit, what = p.kb.sized_cost(target, category, size, handed_in)
                w = unit * m
                in_loop = ", in a loop" if m > 1 else ""
                if m > 1 and size is None and not works_on_input(p.kb, target, call) \
                        and not p.kb.declared(target) and not _repeats(fn, call):
                    # re.match(pattern, url) for each pattern of a table, sorted(app.tables) for
                    # each app, deepcopy(cmd) for each batch: the loop is not over the input, so
                    # its turns are a handful (a table, the object's parts), one call's work
                    w = unit
                    in_loop = ", in a loop not over the input"
                elif category == "cpu" and m > 1 and p.kb.stdlib.kind(target) is not None \
                        and p.kb.stdlib.kind(target)[0] == "cpu" and not p.kb.declared(target):
                    w = unit * m * LIGHT_LOOP_FACTOR  # struct.pack, math.isnan per item: a step, like indexing
                if category == "cpu":
                    s.py = min(CAP, s.py + w)
                    ev_cpu.append((w, f"{where} calls {target} ({what}{_declared_note(p.kb, target)}{in_loop})"))
                else:
                    s.gil = min(CAP, s.gil + w)
                    ev_cpu.append((w, f"{where} calls {target} ({what})"))
        _declared_work(s, p.kb, fn, path, ev_io, ev_cpu)
        for i, loop in enumerate(fn.loops):
            if not loop_io[i] and loop.has_ops:
                add_loop_work(s, ev_cpu, path, loop, mult_of(i, inner=True))
        if recursive and s.io == 0 and self._computes(fn, component, p.calls_of(fn)):
            s.py = min(CAP, s.py + CPU_THRESHOLD)
            ev_cpu.append((CPU_THRESHOLD, f"{path}:{fn.line} recursive"))
        s.once = s.io > 0 and not s.async_io and _fills_memo(fn, io_lines)
        self._decide(s)
        if s.kind == "cpu" and (opaque or s.abstract) and s.py + s.gil < OPAQUE_BAR:
            s.kind, s.releases_gil = "unknown", None  # light work beside calls we cannot see into
        s.evidence = _strongest(s.kind, ev_io, ev_cpu)
        return s

    def _protocol_wait(self, call: Call, receivers: "Receivers") -> Optional[str]:
        """How an unresolved method call waits through a duck-typed protocol (calls.toml's
        [protocols]): "socket-like object", "db-api-like object: execute with commit on conn,
        medium confidence"; None when it does not (or only at low confidence)."""
        method = call.method  # set for attribute calls only (obj.recv(), not recv())
        if method is None:
            return None
        positional = bool(call.args) or call.star_args
        for proto in self.protocols:
            if method in proto.waits or (method in proto.bare_waits and not positional):
                return protocol_note(proto.name, proto.confidence)
        recv = receiver_text(call)
        for proto in self.protocols:
            if method not in proto.ambiguous or (method in proto.no_positional and positional):
                continue
            if proto.lower == "low":
                continue
            if recv is not None:
                others = sorted((receivers.get(recv, set()) & proto.confirmed_by) - {method})
                if others:
                    why = f"{method} with {others[0]} on {recv}"
                    return protocol_note(proto.name, proto.lower, why)
            maker = made_by(call)
            if maker and maker in proto.made_by:
                return protocol_note(proto.name, proto.lower, f"{method} on what {maker}() returned")
        return None

    def _receivers(self, fn: Function) -> "Receivers":
        """The methods called on each receiver in ``fn``; for ``self.x``, in every method of the
        class (``self._conn.execute`` in one method, ``self._conn.commit()`` in another)."""
        return Receivers(self, fn)

    def _class_receiver_methods(self, cls: str) -> Dict[str, set]:
        memo = self._class_receivers.get(cls)
        if memo is not None:
            return memo
        if self._methods_of is None:
            self._methods_of = {}
            for other in self.p.functions.values():
                if other.cls is not None:
                    self._methods_of.setdefault(other.cls, []).append(other)
        memo = {}
        for other in self._methods_of.get(cls, ()):
            for call in self.p.calls_of(other):
                recv = receiver_text(call)
                if recv is not None and recv.startswith("self."):
                    memo.setdefault(recv, set()).add(call.method)
        self._class_receivers[cls] = memo
        return memo

    def _computes(self, fn: Function, component: set, calls) -> bool:
        """Recursion is CPU evidence only for a function that calls itself, combines what the
        calls return by arithmetic, and branches: it calls itself from two places or from a loop
        (``fib(n - 1) + fib(n - 2)``, a tree walk summing values over children). A recursion that
        maps itself over a container's items or merges nested dicts walks a structure (the size
        of a config or a path list). Mutual recursion through several
        functions is how parsers, visitors and retries are built; a single self-call handles one
        more case (``normalise(str(path))``) and is a step, not a search, as is a self-call whose
        result is returned as is (``return self.dispatch(cls)`` after loading a registry)."""
        if len(component) != 1 or not fn.self_arith:
            return False  # no arithmetic on what the self-calls return: a walk over a structure
        selves = [c for c in calls if self.p.call_target(c) == fn.qualname and c.use != "return"]
        return len(selves) >= 2 or any(c.loop >= 0 for c in selves)

    @staticmethod
    def _decide(s: Summary) -> None:
        cpu = s.py + s.gil
        if s.io > 0 or s.async_io:
            # mixed needs heavy CPU work that also outweighs the waits, unit for unit: a wait
            # (a round trip, a read) lasts far longer than a unit of CPU work (one call into C,
            # one turn of a loop), so protocol bookkeeping around many waits is still io
            if cpu >= MIXED_THRESHOLD and cpu >= s.io:
                s.kind = "mixed"
            else:
                s.kind = "io"
        elif cpu >= CPU_THRESHOLD:
            s.kind = "cpu"
        else:
            s.kind = "unknown"
        if s.kind in ("cpu", "mixed"):
            s.releases_gil = s.gil > s.py
        else:
            s.releases_gil = None


def _input_size(kb, target: str, call: Call, hashing: bool) -> Tuple[Optional[int], Optional[Value]]:
    """The size in bytes of the input of a standard-library call whose cost or GIL release
    depends on it (the knowledge base's [input-argument]), when the code fixes it; for a hashing
    or compressing call (``hashing``), 0 when it has no input at all (``hashlib.sha256()``); None
    when it is not known (a name, a parameter, the state of the object a method is called on).
    Also the input's value, when the call has one."""
    if kb.stdlib.kind(target) is None:
        return None, None  # only the standard library's entries record a cost model
    position, keywords = kb.stdlib.input_argument(target)
    value = next((call.kwargs[k] for k in keywords if k in call.kwargs), None)
    if value is None:
        if call.star_args:
            return None, None
        if len(call.args) <= position:
            return (0 if hashing else None), None
        value = call.args[position]
    return byte_size(value), value


def _declared_note(kb, name: str) -> str:
    return ", declared in [tool.concurlint.knowledge]" if kb.declared(name) is not None else ""


def _declared_work(s: Summary, kb, fn: Function, path: str, ev_io: List[Tuple[float, str]],
                   ev_cpu: List[Tuple[float, str]]) -> None:
    """A project function the user's [tool.concurlint.knowledge] names does what the user says,
    whatever its body shows (it calls a driver or an extension we cannot see into)."""
    declared = kb.declared(fn.qualname)
    if declared is None:
        return
    category = declared[0]
    where = f"{path}:{fn.line} {fn.qualname} is declared {category} in [tool.concurlint.knowledge]"
    if category in ("io", "async-io"):
        s.io = min(CAP, s.io + 1.0)
        s.async_io = s.async_io or category == "async-io"
        ev_io.append((1.0, where))
        if category == "io" and not fn.is_async and s.blocking is None:
            s.blocking = ((fn.qualname,), f"{fn.name}() ({fn.qualname})", path, fn.line)
    else:
        w = kb.cpu_weight(fn.qualname, category)
        if category == "cpu":
            s.py = min(CAP, s.py + w)
        else:
            s.gil = min(CAP, s.gil + w)
        ev_cpu.append((w, where))


def _strongest(kind: str, ev_io: List[Tuple[float, str]], ev_cpu: List[Tuple[float, str]]) -> List[str]:
    """The evidence that decided the kind, heaviest first (both sides for mixed/unknown)."""
    ev_io.sort(key=lambda e: -e[0])
    ev_cpu.sort(key=lambda e: -e[0])
    if kind == "io":
        return [e for _, e in ev_io[:MAX_EVIDENCE]]
    if kind == "cpu":
        return [e for _, e in ev_cpu[:MAX_EVIDENCE]]
    half = MAX_EVIDENCE // 2
    return [e for _, e in ev_cpu[:half]] + [e for _, e in ev_io[:half]]


def classify(project: Project, stored: Optional["Stored"] = None) -> Dict[str, Summary]:
    return Classifier(project).run(stored)


def _repeats(fn: Function, call: Call) -> bool:
    """The call sits in ``for _ in range(rounds)`` with ``rounds`` a parameter, or in a loop whose
    size the code writes big (``range(SAMPLES)``, ``SAMPLES = 1_000_000``): the same work done as
    many times as asked, every turn counts (not a handful of table entries)."""
    loop = fn.loops[call.loop] if 0 <= call.loop < len(fn.loops) else None
    if loop is not None and loop.over_input and loop.desc.startswith("for loop over range("):
        return True
    i = call.loop
    while 0 <= i < len(fn.loops):
        if fn.loops[i].mult >= WRITTEN_SIZE:
            return True
        i = fn.loops[i].parent
    return False


def _fills_memo(fn: Function, lines: set) -> bool:
    """Every wait on ``lines`` fills a memo the function answers from afterwards: a memoising
    decorator on a function without arguments, the fill of an attribute or a global tested
    ``is None`` (``hints.fills_once``), or code after ``if _cache: return _cache`` (``memo_from``)."""
    if is_memoised(fn.decorators) and not [q for q in fn.params if q not in ("self", "cls")]:
        return True
    return bool(lines) and all((fn.memo_from and line > fn.memo_from) or fills_once(fn, {line}) for line in lines)

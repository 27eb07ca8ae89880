"""Candidate calls per test, kept across runs (issue #16 item 10).

Many whole-project analyses scan every call of the project (~60k on the standard library) and
keep only the few that pass a test on the call and its target: a fork, a dispatch API, a loop
runner, a task factory, a wait, a call of a project function... ``project.index.calls(name)``
gives the calls that pass the test ``name``, in the order of ``Project.all_calls`` (the analysis
still applies its own, finer conditions to them; ``owned(name)`` groups them by the function
that makes them). The tests are all here, in ``TESTS``, THE ONE PLACE TO KEEP IN STEP with the
analyses that use them: a test must pass every call its analysis could act on (it may pass
more), and its answer for a call may read nothing but

- the call's own fields (its facts: target text, receiver, arguments, loop, function...),
- the target ``Project.call_target`` gives it (a string, or None), and whether that target is a
  project function (``target in project.functions``),
- the knowledge base and the configuration (``project.kb``),

never another call, another function's or class's facts, nor another analysis's result.

Then, for a module whose facts and call targets are the ones of the last run of the same
configuration (``Stored.same``, ``analysis/summary_store.py``) and none of whose targets is a
function added or removed since, the answers are the stored ones: only the positions of the calls
that passed are stored (with the classification summaries, keyed like them), and only those
calls are visited; a changed module's calls are tested again.

Two guards (``CONCURLINT_CHECK_INDEX``, set by the test suite): every answer built from stored
positions is compared with testing every call again (a test that reads more than it may), and
``engine.project_pass`` runs the pass a second time with every call passing every test and
compares the reports (an analysis that acts on a call its test does not pass).
"""
from __future__ import annotations

import os
from bisect import bisect_left
from typing import TYPE_CHECKING, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from concurlint.analysis.facts import Call, ModuleFacts

if TYPE_CHECKING:
    from concurlint.analysis.project import Project

# A test answers for every call of one module at once: given the module's calls and their
# targets (``targets[i]`` is ``Project.call_target(calls[i])``), the positions ``i`` that pass.
# Each answer may read only ``calls[i]``, ``targets[i]`` and what the module docstring allows.
Test = Callable[["Project", List[Call], List[Optional[str]]], Iterable[int]]
Positions = Tuple[int, ...]

TESTS: Dict[str, Test] = {}


def _test(name: str):
    def register(fn: Test) -> Test:
        TESTS[name] = fn
        return fn
    return register


def _in(targets: List[Optional[str]], names) -> Iterator[int]:
    """The positions whose target is one of ``names``."""
    return (i for i, t in enumerate(targets) if t in names)


# ------------------------------------------------------------------ the tests
@_test("project-call")
def _project_call(p, calls, targets):
    """A call of a project function (call graphs, callers)."""
    return _in(targets, p.functions)


@_test("self-method")
def _self_method(p, calls, targets):
    """``self.m()`` in a function: a mixin's override of ``m`` may run (``threads._callers``)."""
    return (i for i, c in enumerate(calls) if c.method and c.receiver is not None and c.receiver.kind == "instance"
            and c.function is not None)


@_test("set-start-method")
def _set_start_method(p, calls, targets):
    from concurlint.analysis.processes import SET_START_METHOD

    return _in(targets, SET_START_METHOD)


@_test("fork-point")
def _fork_point(p, calls, targets):
    from concurlint.analysis.processes import OS_FORKS, POOL_CTORS, PPE_LAUNCH, PROCESS_START

    return _in(targets, frozenset(OS_FORKS).union(POOL_CTORS, PPE_LAUNCH, (PROCESS_START,)))


@_test("after-fork")
def _after_fork(p, calls, targets):
    from concurlint.analysis.threads import AFTER_FORK, AFTER_FORK_NAMES

    functions = p.functions
    return (i for i, t in enumerate(targets) if t in AFTER_FORK or (
        t in functions and t.rsplit(".", 1)[-1] in AFTER_FORK_NAMES))


@_test("dispatch")
def _dispatch(p, calls, targets):
    """A dispatch API, or ``x.start()`` / ``f.remote()`` (``dispatch.find_sites``; a call of a
    ``@dask.delayed`` function is found through ``project-call``)."""
    sites = p.kb.table("dispatch").get("sites", {})
    return (i for i, t in enumerate(targets) if t is not None and (
        t in sites or calls[i].method in ("start", "remote")))


@_test("coroutine-handed")
def _coroutine_handed(p, calls, targets):
    """A coroutine call handed to a loop runner, a project function (a loop facade) or an
    unresolved method (a facade's name) in a function (``own_loops.private_loops``)."""
    from concurlint.checks.own_loops import LOOP_RUNNERS

    functions = p.functions
    return (i for i, (c, t) in enumerate(zip(calls, targets)) if c.args and c.args[0].kind == "call"
            and c.function is not None and (t is None or t in LOOP_RUNNERS or t in functions))


@_test("facade-run")
def _facade_run(p, calls, targets):
    """A loop runner given an argument (``own_loops._loop_facades``)."""
    from concurlint.checks.own_loops import runs_to_end

    return (i for i, (c, t) in enumerate(zip(calls, targets)) if c.args and runs_to_end(c, t))


@_test("loop-runner")
def _loop_runner(p, calls, targets):
    from concurlint.checks.own_loops import FUNCTION_RUNNERS, LOOP_RUNNERS

    return _in(targets, LOOP_RUNNERS.keys() | FUNCTION_RUNNERS)


@_test("async-to-sync")
def _async_to_sync(p, calls, targets):
    """asgiref's bridges between sync and async code (``own_loops._bridged``)."""
    from concurlint.checks.own_loops import ASYNC_TO_SYNC, SYNC_TO_ASYNC

    return _in(targets, ASYNC_TO_SYNC | SYNC_TO_ASYNC)


@_test("removed-loop-argument")
def _removed_loop_argument(p, calls, targets):
    from concurlint.checks.version_changes import REMOVED_IN_310

    return (i for i, t in enumerate(targets) if t in REMOVED_IN_310 and "loop" in calls[i].kwargs)


@_test("block-slot")
def _block_slot(p, calls, targets):
    from concurlint.checks.block_slot import SLOTS

    return (i for i, t in enumerate(targets) if t in SLOTS and len(calls[i].args) == SLOTS[t][0] + 1)


@_test("sets-event-loop")
def _sets_event_loop(p, calls, targets):
    from concurlint.checks.version_changes import SETS_A_LOOP

    return _in(targets, SETS_A_LOOP)


@_test("task-factory")
def _task_factory(p, calls, targets):
    from concurlint.checks.own_loops import TASK_FACTORIES

    functions = p.functions
    return (i for i, t in enumerate(targets) if t in TASK_FACTORIES or (
        t in functions and t.rsplit(".", 1)[-1] in ("create_task", "ensure_future")))


@_test("waits")
def _waits(p, calls, targets):
    """What ``blocking_calls.blocking_desc`` may name: a consumer of lazy IO, a call the
    knowledge base says does IO, or one it says is slow by design (password hashing)."""
    from concurlint.checks.blocking_calls import CONSUMERS

    category = p.kb.category
    io = {}  # target -> does IO (the same targets come back again and again)
    out = []
    for i, t in enumerate(targets):
        if t is None:
            continue
        hit = io.get(t)
        if hit is None:
            cat = category(t)
            hit = io[t] = t in CONSUMERS or (cat is not None and cat[0] == "io") or p.kb.slow(t)
        if hit:
            out.append(i)
    return out


@_test("sets-nonblocking")
def _sets_nonblocking(p, calls, targets):
    from concurlint.checks.returns_at_once import SERIAL_PORTS

    return (i for i, c in enumerate(calls) if c.method == "setblocking"
            or ((targets[i] in SERIAL_PORTS or c.text == "super().__init__") and "timeout" in c.kwargs))


@_test("signal-handler")
def _signal_handler(p, calls, targets):
    from concurlint.checks.library import SIGNAL_CALLS

    return (i for i, (c, t) in enumerate(zip(calls, targets)) if len(c.args) >= 2 and (
        t in SIGNAL_CALLS or (t is None and c.method == "add_signal_handler")))


@_test("initializer")
def _initializer(p, calls, targets):
    """A pool handed an initializer: by keyword, or in its place (``multiprocessing.Pool(n, init,
    initargs)``, ``ProcessPoolExecutor(n, ctx, init)``)."""
    from concurlint.analysis.values import INITIALIZER_AT

    return (i for i, (c, t) in enumerate(zip(calls, targets)) if "initializer" in c.kwargs or (
        t is not None and len(c.args) > INITIALIZER_AT.get(t, len(c.args))))


@_test("pickled")
def _pickled(p, calls, targets):
    """Sent to a queue, or a pool constructor (``pickling._all_problems``)."""
    from concurlint.checks.pickling import POOL_CONSTRUCTORS, QUEUE_SENDS

    return (i for i, t in enumerate(targets) if t is not None and (
        t in QUEUE_SENDS or t in POOL_CONSTRUCTORS or t.endswith("BaseContext.Pool")))


@_test("flow")
def _flow(p, calls, targets):
    """What ``pickling.Flow`` keeps besides the project calls: an element added to a container,
    a call of ``functools.wraps``."""
    from concurlint.checks.pickling import ADDERS, WRAPS

    return (i for i, (c, t) in enumerate(zip(calls, targets)) if t in WRAPS or (
        c.method in ADDERS and c.receiver is not None and c.receiver.kind == "container"))


# ------------------------------------------------------------------ the index
def checking() -> bool:
    return bool(os.environ.get("CONCURLINT_CHECK_INDEX"))


class IndexDisagrees(RuntimeError):
    """A guard of the index failed: the run stops (a rule's error would be a CCL999 finding)."""


class CallIndex:
    """The calls of ``project`` that pass each test. ``kept``: the stored positions of the
    modules whose answers hold (path -> test -> positions), set by ``Stored.begin``; ``entries``:
    this run's, stored after the pass. ``exhaustive``: every call passes every test (the guard)."""

    def __init__(self, project: "Project", exhaustive: bool = False):
        self.p = project
        self.exhaustive = exhaustive
        self.kept: Dict[int, Dict[str, Positions]] = {}  # id(module) -> the stored entry that holds
        self.entries: Dict[str, Dict[str, Positions]] = {}  # path -> test -> positions, this run
        self.storable: Optional[set] = None  # paths whose entries are stored (None: none)
        self._positions: Dict[str, List[Positions]] = {}
        self._targets: Dict[int, List[Optional[str]]] = {}
        self._calls: Dict[Tuple[str, ...], List[Tuple[ModuleFacts, Call]]] = {}
        self._owned: Dict[Tuple[str, ...], Dict[str, List[Call]]] = {}

    def keep(self, module: ModuleFacts, entry: Dict[str, Positions]) -> None:
        """``entry`` (the last run's positions of ``module``) holds for this run."""
        self.kept[id(module)] = entry
        self.entries[module.path] = dict(entry)

    def positions(self, name: str) -> List[Positions]:
        """Per module (in the project's order), the positions of its calls passing test ``name``."""
        got = self._positions.get(name)
        if got is not None:
            return got
        test = TESTS[name]
        p = self.p
        got = []
        check = checking()
        for m in p.modules:
            if self.exhaustive:
                got.append(tuple(range(len(m.calls))))
                continue
            entry = self.kept.get(id(m))
            pos = entry.get(name) if entry is not None else None
            if pos is None or check:
                fresh = tuple(test(p, m.calls, self.targets(m)))
                if pos is not None and pos != fresh:
                    raise IndexDisagrees(f"call index: the stored answers of test {name!r} for {m.path} are "
                                         f"not this run's: the test reads more than the call and its target")
                pos = fresh
                if self.storable is not None and m.path in self.storable:
                    self.entries.setdefault(m.path, {})[name] = pos
            got.append(pos)
        self._positions[name] = got
        return got

    def seed(self, module: ModuleFacts, targets: List[Optional[str]]) -> None:
        self._targets[id(module)] = targets

    def targets(self, module: ModuleFacts) -> List[Optional[str]]:
        """``Project.call_target`` of each call of ``module`` (made once per module)."""
        got = self._targets.get(id(module))
        if got is None:
            call_target = self.p.call_target
            got = self._targets[id(module)] = [call_target(c) for c in module.calls]
        return got

    def calls(self, *names: str) -> List[Tuple[ModuleFacts, Call]]:
        """(module, call) of every call passing any of the tests ``names``, in the order of
        ``Project.all_calls``."""
        got = self._calls.get(names)
        if got is None:
            got = self._calls[names] = [(m, m.calls[i]) for m, pos in zip(self.p.modules, self._union(names))
                                        for i in pos]
        return got

    def owned(self, *names: str) -> Dict[str, List[Call]]:
        """function qualname -> its calls (those ``Project.calls_of`` gives) passing any of the
        tests ``names``, in order."""
        got = self._owned.get(names)
        if got is not None:
            return got
        p = self.p
        got = {}
        for m, pos in zip(p.modules, self._union(names)):
            for i in pos:
                c = m.calls[i]
                q = c.function
                if q is None or p.function_module.get(q) is not m:
                    continue
                own = p.functions[q].calls  # increasing: a call's position is appended as it is made
                k = bisect_left(own, i)  # (a function defined twice under one name keeps its last)
                if k < len(own) and own[k] == i:
                    got.setdefault(q, []).append(c)
        self._owned[names] = got
        return got

    def _union(self, names: Tuple[str, ...]) -> List[Positions]:
        if len(names) == 1:
            return self.positions(names[0])
        per = [self.positions(n) for n in names]
        return [tuple(sorted(set().union(*row))) if any(row) else () for row in zip(*per)]

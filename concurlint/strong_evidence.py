"""The gate between the decision table and a change of model: is the evidence strong enough?

``strong_evidence`` says why a change the kind of work points to (threads -> processes for CPU work,
processes -> threads for waits) is not advised: CPU work too light or also waiting, work through
objects whose calls are not known, a process whose waits are one external program, the pipes that
feed it or its own set-up, and so on (docs/models.md, "The evidence is strong");
``sizes_guessed`` keeps CPU work in threads whose weight is only loops over data of a size the code
does not show, and ``sized_by`` names what sizes it where it does. ``reachable_io`` lists the
library waits a project function reaches, which the work's kind and these gates read.
``concurlint.advice`` applies them to every dispatch site.
"""
from __future__ import annotations

import re
from typing import List, Optional

from concurlint.analysis.classify import BACKOFFS, NOT_WORK
from concurlint.analysis.hints import is_lifecycle, loops_within, named_for_logging
from concurlint.analysis.peak import HEAVY, WRITTEN_SIZE, input_peak, peak
from concurlint.analysis.shell import backgrounded
from concurlint.checks.blocking_calls import wait_weight
from concurlint.decision_table import HEAVY_CPU, Work, _name
from concurlint.movable import _reached_calls

def _local_io(ctx):
    from concurlint.knowledge import Matcher

    return Matcher(ctx.project.kb.table("dispatch").get("local_io", {}).get("calls", []))


def _io_index(ctx) -> dict:
    return {}


def reachable_io(ctx, qualname: str) -> List[str]:
    """The library IO calls (knowledge-base category ``io``) reachable from a project function
    through synchronous calls, in the order a depth-first walk meets them, memoised per run.
    Iterative: a chain of thousands of helpers must not exhaust the interpreter's stack."""
    memo = ctx.shared(_io_index) if hasattr(ctx, "shared") else {}
    if qualname in memo:
        return memo[qualname]
    project = ctx.project
    out: List[str] = []
    present: set = set()
    seen = {qualname}
    fn = project.functions.get(qualname)
    stack = [iter(project.calls_of(fn))] if fn is not None else []
    while stack:
        call = next(stack[-1], None)
        if call is None:
            stack.pop()
            continue
        t = project.call_target(call)
        if t is None:
            continue
        if t in project.functions and not _declared_io(project, t):
            if project.functions[t].is_async and not call.awaited:
                continue
            if t in memo:
                found = memo[t]
            elif t in seen:
                continue
            else:
                seen.add(t)
                stack.append(iter(project.calls_of(project.functions[t])))
                continue
        else:
            cat = project.kb.category(t)
            found = [t] if cat is not None and cat[0] == "io" and not (t in BACKOFFS and call.in_handler) \
                and not backgrounded(call, t) else []
        for c in found:
            if c not in present:
                present.add(c)
                out.append(c)
    if _declared_io(project, qualname) and qualname not in present:
        out.insert(0, qualname)
    memo[qualname] = out
    return out


SUBPROCESS = ("subprocess.", "os.system", "os.popen", "os.wait")
# why a pool whose tasks each run an external program keeps its processes
OWN_PROCESS = "a process of its own whatever the pool is made of; a worker process costs nothing beside it"


def _work_waits(ctx, qualname: Optional[str]) -> List[str]:
    """The library IO calls a work function reaches (``reachable_io``), leaving out what it
    reaches through its set-up: the project functions it calls that are named for start-up
    (``self._init_qlib(conf)``, ``setup_logging()``... ``hints.is_lifecycle``)."""
    project = ctx.project
    fn = project.functions.get(qualname or "")
    if fn is None or _declared_io(project, qualname):
        return reachable_io(ctx, qualname) if fn is not None else []
    out: List[str] = []
    for call in project.calls_of(fn):
        t = project.call_target(call)
        if t is None or t == qualname:
            continue
        if t in project.functions:
            if not is_lifecycle(t) and not (project.functions[t].is_async and not call.awaited):
                out.extend(reachable_io(ctx, t))
        elif (cat := project.kb.category(t)) is not None and cat[0] == "io":
            out.append(t)
    return out


def _works_on_output(ctx, qualname: Optional[str]) -> bool:
    """The work does more than wait for its program: it loops, or hands what it got to a
    project function (``read_hmmalign_output(stdout, ...)``); a ``ping`` whose return code is
    the result does not."""
    fn = ctx.project.functions.get(qualname) if qualname else None
    return fn is not None and (bool(fn.loops) or any(
        ctx.project.call_target(c) in ctx.project.functions for c in ctx.project.calls_of(fn)))


# waits for a result other code computes (a future of an executor, a thread joined): what the
# wait is made of is that code's work
DELEGATED_WAITS = frozenset({"concurrent.futures.Future.result", "concurrent.futures.Future.exception",
                             "concurrent.futures.wait", "concurrent.futures.as_completed",
                             "threading.Thread.join", "multiprocessing.pool.AsyncResult.get",
                             "multiprocessing.pool.AsyncResult.wait"})


# waits on pipes, selectors and multiprocessing channels: how a worker process is handed its items
# and hands back its results, not work of its own
FEED_WAITS = frozenset({"os.read", "os.write", "os.readv", "os.writev", "select.select", "select.poll.poll",
                        "select.epoll.poll", "selectors.DefaultSelector.select", "selectors.BaseSelector.select",
                        "selectors.SelectSelector.select", "selectors.PollSelector.select",
                        "selectors.EpollSelector.select", "multiprocessing.Queue.get", "multiprocessing.Queue.put",
                        "multiprocessing.queues.Queue.get", "multiprocessing.queues.Queue.put",
                        "multiprocessing.SimpleQueue.get", "multiprocessing.SimpleQueue.put",
                        "multiprocessing.JoinableQueue.get", "multiprocessing.JoinableQueue.put",
                        "multiprocessing.connection.Connection.recv", "multiprocessing.connection.Connection.send",
                        "multiprocessing.connection.Connection.recv_bytes",
                        "multiprocessing.connection.Connection.send_bytes",
                        "multiprocessing.connection.Connection.poll", "multiprocessing.connection.wait"})


def _declared_io(project, qualname: str) -> bool:
    """A project function the user's knowledge declares ``io``: it is the IO call itself."""
    declared = project.kb.declared(qualname)
    return declared is not None and declared[0] == "io"




# ---------------------------------------------------------------- can the work move? how sure?
# CPU weight (classify's units) from which a change of model is advised at all: nested loops over
# the data, or CPU-heavy library calls in a loop. One loop over data of unknown size is not
# evidence enough to tell a maintainer to restructure their code.
STRONG_CPU = HEAVY_CPU
def strong_evidence(ctx, work: Work, current: str, rec: str) -> Optional[str]:
    """Why the evidence is too weak to advise ``current`` -> ``rec`` (None when it is strong)."""
    summary = ctx.summaries.get(work.function) if work.function else None
    if rec in ("processes", "interpreters") and work.kind in ("cpu", "mixed"):
        if summary is None:
            return None  # a library callable the knowledge base calls CPU-heavy
        if summary.py + summary.gil < STRONG_CPU and not summary.recursive:
            return "its CPU work is one loop over data of unknown size"
        if work.function in ctx.project.functions and not summary.recursive \
                and ctx.project.kb.category(work.function) is None \
                and ctx.shared(input_peak).of(work.function) < HEAVY:
            # the weight comes from light loops over the program's own state (feeds per channel
            # per network, tasks per worker), not over the data handed to the work: it does not
            # grow with the work, and a process pool would not speed it up
            return "its nested loops only index and store, over the program's own state, not the data it is handed"
        if work.kind == "mixed":
            return "it also waits on IO"
        client = _client_parameter(ctx.project, work.function) or _library_object(ctx.project, work.function)
        if client is not None:
            # `run_hallucination_check(entry, llm_client, web_searcher)`: a string screen, then
            # the LLM and a web search through objects handed in, whose calls are not resolved:
            # the waits are not seen, and threads may be right for them (academic-refchecker)
            return f"it also works through {client}, an object whose calls are not known here"
        if current == "threads" and summary.gil > 0:
            # a loop that calls NumPy (or another GIL-releasing library) beside the calls read as
            # pure Python: those may be the project's own compiled code, which the analysis cannot
            # see into (blosc2's decompression and numexpr behind a helper that slices operands)
            return "part of its CPU work releases the GIL, and whether the rest outweighs it is not known"
        return None
    if rec == "threads" and current in ("processes", "interpreters", "distributed") and work.kind == "io":
        if not work.io_calls and summary is not None:
            return "no library IO call was found"
        if work.function and work.function.startswith(SUBPROCESS) and work.function not in ctx.project.functions:
            # `executor.map(subprocess.check_call, cmds)`: each task is one run of an external
            # program (openmim's grid search, srun training jobs of hours); threads would wait on
            # it the same way, and a worker process is nothing beside the program it waits on
            # (rev95c's wrong model change)
            return f"each task is one run of an external program ({work.function}()), which is {OWN_PROCESS}"
        if work.io_calls and all(c in BACKOFFS for c in work.io_calls):
            # `while not self.is_stopped(): batch = generator.next(); self._wait_for_rate()`: the
            # sleeps pace the work, they are not the work; what runs between them (avalon's fake
            # data made in pure Python, the CPU work it forks processes for) is not known here
            return (f"its only waits are pauses ({work.io_calls[0]}()) that set its pace; what it does "
                    f"between them is the work, and its kind is not known here")
        if work.io_calls and all(c.startswith(SUBPROCESS) for c in work.io_calls) and _works_on_output(ctx, work.function):
            # `proc.communicate()` of hmmalign, then the alignment masked in Python: each worker
            # waits on its own program, and what it does with the output holds the GIL, by a
            # weight not known here (gtdbtk); keeping processes costs one fork per worker
            return (f"its waits are on the programs it runs ({work.io_calls[0]}()), and what it does "
                    f"with their output holds the GIL")
        program = _one_program(ctx, work)
        if program is not None:
            # `pro = subprocess.Popen(cmd, stdout=log); pro.wait()` in a project function, once per
            # task: the same as handing subprocess.check_call to the pool (buildingspy's Modelica
            # simulations of minutes, pyiron's job wrappers: rev96b's wrong model change)
            return f"each task runs one external program and waits for it ({program}()), {OWN_PROCESS}"
        if work.io_calls and all(c in FEED_WAITS for c in work.io_calls):
            # `sel.select(1)`, `os.read(in_fd, size)` ... `os.write(out_fd, block)`: a pipeline
            # stage whose only waits are on the pipes its caller hands it; what it does with each
            # chunk (a compressor chosen by name) is the work (gaterpc's incremental compression,
            # rev162a's two wrong model changes)
            return (f"its only waits are on the channels that feed it work and take its results "
                    f"({work.io_calls[0]}()); what it does with each item is the work, and its kind is not known here")
        if work.io_calls and all(c in DELEGATED_WAITS for c in work.io_calls):
            # `future = thread_pool.submit(wrapped); return future.result()` in a generic step
            # runner: what is waited for is work handed to a thread, whose kind is not known
            # (unstructured-ingest's partition step, CPU-heavy, runs that way)
            return f"its only waits are for work it hands to threads ({work.io_calls[0]}()), whose kind is not known"
        if work.io_calls and work.function in ctx.project.functions \
                and not any(wait_weight(c) >= 3 for c in _work_waits(ctx, work.function)):
            # open(), write(), os.path.isfile(), Popen(): local files, short and served from the
            # page cache, or a program started without waiting for it -- or long waits only in the
            # worker's set-up (`self._init_qlib(conf)`, which mounts a share once per process);
            # what the worker does with the data is what processes were chosen for (scribe-data's
            # SAX parse of a dump partition, pyqlib's feature computation, pile's conversion)
            return (f"its waits are on local files, programs it does not wait for, or its own set-up "
                    f"({work.io_calls[0]}()), short beside what it does with the data")
        hook = _parameter_called(ctx.project, work.function)
        if hook is not None:
            # `ds = self.open_dataset(url); ds = preprocess(ds, **opts)`: the caller's function
            # runs in each task, and a user who picked processes may have picked them for it
            # (argopy's open_mfdataset(method="process", preprocess=...))
            return f"it also runs {hook}(), a function its caller hands in, whose work is not known here"
        if summary is not None and summary.py >= CPU_EVIDENCE:
            return "it also does CPU work"
        if summary is not None and summary.gil >= CPU_EVIDENCE:
            # `wav = torchaudio.load(path)`, then a model run on `cuda:{rank}` for every item:
            # one process per GPU computing, the file reads are the small part (f5-tts's
            # evaluation pools, rev103a's wrong model changes)
            what = _gil_call(ctx.project, work.function)
            return (f"it also computes in a library that releases the GIL{f' ({what}())' if what else ''}, "
                    f"whose weight beside its waits is not known here")
        nested = _nested_loop(ctx, work.function)
        if nested is not None:
            # one clone, then every commit walked in Python, each author and committer filed in
            # dicts and sets (gitfive's get_repo, documented as meant for a process pool): what
            # the loops do with the data holds the GIL, by a weight not known here
            return f"it also loops over its data in Python (nested loops {nested})"
        busy = _reached_cpu(ctx, work.function)
        if busy is not None:
            # `processUrl` fetches a page, then `getResponseLinks` runs regexes over the body:
            # the helper's kind is unknown (its evidence is under the bar), but what it does holds
            # the GIL, and a process pool was chosen for it (xnLinkFinder)
            return f"it also does CPU work in {busy}"
        return None
    return None


def _one_program(ctx, work: Work) -> Optional[str]:
    """The process wait of a work function that runs one external program per task: its waits
    are that program's and local files' only, the calls that start or wait for it are in the
    function itself, outside any loop and outside error handlers, no loop of the function works
    on data (a listing of files printed on failure is not work) and it hands nothing to a project
    function. None otherwise."""
    project = ctx.project
    fn = project.functions.get(work.function or "")
    if fn is None or not work.io_calls or any(c in BACKOFFS for c in work.io_calls):
        return None
    local = ctx.shared(_local_io)
    if not all(c.startswith(SUBPROCESS) or local.match(c) for c in work.io_calls):
        return None
    calls = [(c, project.call_target(c)) for c in project.calls_of(fn)]
    runs = [(c, t) for c, t in calls if t is not None and t.startswith(SUBPROCESS) and not c.in_handler]
    if not runs:
        return _helper_program(project, fn)
    # programs run one after another over a list (`for msh_idx in bins: check_call(["mash", "dist",
    # ...])`) are still the task's only work, when the loop only builds their command lines
    # (phylophlan's mash, diamond and RAxML stages, rev131d's eight wrong model changes); a loop
    # with arithmetic works on data, and a project function called after them (outside an error
    # handler, other than a logging helper) may work on their output
    if any(c.loop >= 0 and c.loop < len(fn.loops) and fn.loops[c.loop].has_ops >= 2 for c, _ in runs) \
            or any(loop.has_ops >= 2 for loop in fn.loops) \
            or any(t in project.functions and not c.in_handler and not _logs(t) and c.line > runs[0][0].line
                   for c, t in calls):
        return None  # work on data, or on what the programs return (a helper that builds their
        # command line before them, `cmd = compose_command(params, ...)`, does not)
    waits = [t for _, t in runs if t != "subprocess.Popen"]
    return waits[-1] if waits else None


def _logs(qualname: str) -> bool:
    """A project helper named for logging (``info(...)``, ``log_step(...)``, ``_warn(...)``):
    it reports progress, it does not work on the programs' output."""
    name = qualname.rsplit(".", 1)[-1]
    return named_for_logging(name) or name.lstrip("_").startswith("print")


def _helper_program(project, fn, depth: int = 0) -> Optional[str]:
    """The program wait of a work function that hands each task to a project helper which runs
    one external program and waits for it (``run_command_returncode(args)`` -> ``run_command``'s
    ``subprocess.check_call``: kneaddata's trimmomatic and bowtie2 runs; ``refine_hit`` ->
    ``get_best_hit``'s ``os.system(phmmer)``: eggnog-mapper, rev120c's two wrong changes): the
    helpers are called outside loops, and no program is started in a loop. What the helper then
    does with the program's output (a few lines read back) is the caller's business, as with
    gtdbtk's. None otherwise."""
    found = None
    for c in project.calls_of(fn):
        if c.in_handler:
            continue
        t = project.call_target(c)
        if t is not None and t.startswith(SUBPROCESS):
            if c.loop >= 0:
                return None  # programs one after another: the work is the loop around them
            if t != "subprocess.Popen":
                found = t
        elif t in project.functions and t != fn.qualname and not is_lifecycle(t):
            # (a set-up helper's program, `self._init_share(conf)` mounting a share once per
            # process, is not the task's: strong_evidence names it as set-up)
            if c.loop >= 0:
                if any((u or "").startswith(SUBPROCESS) for _q, _c, u in _reached_calls(project, t, REACH_DEPTH)):
                    return None  # a helper polled in a loop runs its programs again and again (solox's adb)
                continue
            inner = _helper_program(project, project.functions[t], depth + 1) if depth < 2 else None
            if inner is not None:
                found = inner
    return found


def _gil_call(project, qualname: Optional[str]) -> Optional[str]:
    """The work function's first call into a library that computes with the GIL released
    (knowledge-base category ``releases-gil``: ``torch.*``, ``numpy.*``), one in a loop first."""
    fn = project.functions.get(qualname or "")
    found = []
    for c in project.calls_of(fn) if fn is not None else ():
        t = project.call_target(c)
        cat = project.kb.category(t) if t else None
        if cat is not None and cat[0] == "releases-gil":
            found.append((c.loop < 0, c.line, t))  # a call in a loop first: that is the work
    return min(found)[2] if found else None


def _nested_loop(ctx, qualname: Optional[str]) -> Optional[str]:
    """Where the work function first has a loop holding another loop that does work in its own
    body (indexing, comparisons, arithmetic) and waits on nothing: Python work for every item of
    every outer item -- or, failing that, a project function it calls (``REACH_DEPTH`` levels, error paths and set-up
    left out) whose inner loop of that kind runs over data of unknown size and waits on nothing
    (``upsert_parquet`` hands each partition to ``_upsert_parquet``, which unboxes every value of
    every row of every chunk: dbhop; a regex per pattern per message with a user lookup inside,
    or seven fields of each line of /proc/stat, are not that). The line, with the callee's name."""
    project = ctx.project
    fn = project.functions.get(qualname or "")
    if fn is None:
        return None
    for i, loop in enumerate(fn.loops):
        if loop.parent >= 0 and loop.has_ops and not _waits_in_loop(ctx, fn, i):
            return f"from line {fn.loops[loop.parent].line}"
    seen = {qualname}
    for _q, _c, t in _reached_calls(project, qualname, REACH_DEPTH, handlers=False):
        if t in seen or t not in project.functions or is_lifecycle(t):
            continue
        seen.add(t)
        callee = project.functions[t]
        for i, loop in enumerate(callee.loops):
            if loop.parent >= 0 and loop.has_ops and loop.mult > 1 and not _waits_in_loop(ctx, callee, i):
                return f"in {_name(t)} from line {callee.loops[loop.parent].line}"
    return None


def _waits_in_loop(ctx, fn, index: int) -> bool:
    """A call in loop ``index`` of ``fn`` (or in a loop inside it) waits: a library IO call, or
    a project function classified io or mixed."""
    inside = loops_within(fn, index)
    for c in ctx.project.calls_of(fn):
        if c.loop not in inside:
            continue
        t = ctx.project.call_target(c)
        if t is None:
            continue
        summary = ctx.summaries.get(t)
        if summary is not None and summary.kind in ("io", "mixed"):
            return True
        cat = ctx.project.kb.category(t)
        if cat is not None and cat[0] in ("io", "async-io"):
            return True
    return False


# a parameter named for a client of a service (`llm_client`, `session`, `web_searcher`, `conn`, a
# translation `provider`: tepub's segments, rev116a)
_CLIENT_PARAM = re.compile(r"(^|_)(client|session|conn|connection|searcher|driver|api|fetcher|downloader"
                           r"|requester|provider|service|llm)s?($|_)")


def _client_parameter(project, qualname: Optional[str]) -> Optional[str]:
    """A parameter of the work function named for a client of a service that the function uses
    (calls a method of, or hands to a call), whose type the analysis does not know: the work may
    wait on that service through it."""
    fn = project.functions.get(qualname or "")
    if fn is None:
        return None
    names = [p for p in fn.params if p not in ("self", "cls") and _CLIENT_PARAM.search(p.lower())]
    for c in project.calls_of(fn):
        for name in names:
            if c.text.startswith(name + ".") or any(a.text == name for a in c.args) \
                    or any(v.text == name for v in c.kwargs.values()):
                return name
    return None


def _library_object(project, qualname: Optional[str]) -> Optional[str]:
    """``dz.gw.search(name)`` where the module made ``dz = Deezer()``: the work (or a project
    function it calls, a few levels down) calls a method of a module-level instance of a third-party
    class the knowledge base does not know -- an API client whose waits are not seen (deemon's
    per-artist lookups, the regexes beside them read as the work: rev146d's wrong model change).
    ``"dz (deezer.Deezer)"``, or None."""
    from concurlint.analysis.project import STDLIB_TOPS

    own = {m.module.split(".", 1)[0] for m in project.modules}
    for q in [qualname] + [t for _q, _c, t in _reached_calls(project, qualname, REACH_DEPTH, handlers=False)]:
        fn = project.functions.get(q or "")
        mod = project.function_module.get(q or "")
        if fn is None or mod is None:
            continue
        for c in project.calls_of(fn):
            head = c.text.split(".", 1)[0]
            g = mod.globals.get(head) if "." in c.text and project.call_target(c) is None else None
            v = g.value if g is not None else None
            if v is None or v.kind != "instance" or not v.qualname:
                continue
            top = v.qualname.split(".", 1)[0]
            if top in STDLIB_TOPS or top == "builtins" or top in own or project.kb.category(v.qualname) is not None:
                continue
            return f"{head} ({v.qualname})"
    return None


def _parameter_called(project, qualname: Optional[str]) -> Optional[str]:
    """A parameter of the work function that it calls (``preprocess(ds)``), if any."""
    fn = project.functions.get(qualname or "")
    if fn is None:
        return None
    params = set(fn.params) - {"self", "cls"}
    return next((c.text for c in project.calls_of(fn) if c.text in params), None)


CPU_EVIDENCE = 10.0
REACH_DEPTH = 3  # the work function and the project functions it calls, this many levels


def _reached_cpu(ctx, qualname: Optional[str]) -> Optional[str]:
    """A project function the work calls (a few levels down) whose own CPU work is evidence
    (``getResponseLinks()``: regexes over a response body), whatever its overall kind; None when
    there is none."""
    project, summaries = ctx.project, ctx.summaries
    checked = {qualname}
    for _q, _call, t in _reached_calls(project, qualname, REACH_DEPTH, handlers=False):
        if t in checked or t not in project.functions:
            continue
        checked.add(t)
        callee = summaries.get(t)
        if callee is not None and project.functions[t].name not in NOT_WORK and callee.py + callee.held >= CPU_EVIDENCE:
            what = callee.evidence[0].split(" ", 1)[-1] if callee.evidence else "its loops"
            return f"{_name(t)} ({what})"  # the evidence without its path:line
    return None


def sizes_guessed(ctx, work: Work, current: str, rec: str) -> Optional[str]:
    """Why pure-Python CPU work in threads stays there although the kind of work points to
    processes: its weight comes only from loops over data of a size the code does not show (no
    ``range(100_000)``, no CPU-heavy library call, no recursion), and a process pool pays for its
    start-up and pickling only on large data. On real code every such change was wrong (28 of 28,
    comfyui-open-manager's grouping of a few scan findings per request the last), and CCL101 on the
    same evidence was never worth fixing (its medium ceiling), so the change is not advised; CCL101
    still names the work (``Work.tentative``) and ``concurlint probe`` measures it. None when
    the evidence is stronger than that."""
    if current != "threads" or rec not in ("processes", "interpreters") or work.kind != "cpu":
        return None
    summary = ctx.summaries.get(work.function) if work.function else None
    if summary is None or summary.recursive or work.function not in ctx.project.functions:
        return None  # a library callable the knowledge base calls CPU-heavy, or recursion
    weights = ctx.shared(peak)
    weights.of(work.function)
    if weights.wide.get(work.function, 0.0) >= WRITTEN_SIZE:
        return None
    where = _short_where(weights.why.get(work.function, ""))
    return (f"its CPU work is loops over data whose size the code does not show{f' ({where})' if where else ''}: "
            f"a process pool pays for its start-up and pickling only on large data (`concurlint probe` measures it)")


def sized_by(ctx, work: Work, current: str) -> str:
    """What makes CPU work moved off threads more than a guess, for the reason (``; the code
    sizes it: for loop over range(PATHS) at risk.py:22``), or ""."""
    if current != "threads" or work.kind != "cpu" or work.function not in ctx.project.functions:
        return ""
    weights = ctx.shared(peak)
    weights.of(work.function)
    where = _short_where(weights.sized.get(work.function, ""))
    return f"; the code sizes it: {where}" if where else ""


def _short_where(text: str) -> str:
    """``nested for loop x100 at /a/b/c.py:12`` -> ``nested for loop x100 at c.py:12``."""
    what, sep, where = text.rpartition(" at ")
    return f"{what} at {where.rsplit('/', 1)[-1]}" if sep else text

"""CCL1xx: does the concurrency model fit the work handed to it? (at dispatch sites)

- CCL101 pure-Python CPU work dispatched to threads (GIL build, work that does not release it);
- CCL102 IO-bound work dispatched to a process pool;
- CCL103 a pool or executor created inside a loop, or in a function called from a loop;
- CCL104 large in-memory data pickled and sent with every task to a process pool;
- CCL105 ``ProcessPoolExecutor.map`` / ``Pool.imap`` / ``Pool.imap_unordered`` over many tiny
  tasks with the default ``chunksize`` of 1.
The verdicts on the model come from ``concurlint.advice`` (the decision table of docs/models.md).
"""
from __future__ import annotations

from typing import Iterable, List, Optional, Tuple

from concurlint.advice import ctx_advice, loop_callers
from concurlint.analysis.dispatch import iteration_count, literal_length
from concurlint.analysis.hints import guard_holds, is_cli_code
from concurlint.analysis.facts import Call, ModuleFacts, Value
from concurlint.knowledge import Matcher
from concurlint.registry import Finding, Rule

LARGE_ITEMS = 100_000  # elements / bytes of a literal that is "large" to pickle per task
MANY_TASKS = 1_000  # items of a map that are "many" tiny tasks
# map APIs whose chunksize defaults to 1 (Pool.map/starmap/map_async compute one themselves;
# ThreadPoolExecutor.map ignores it)
CHUNKSIZE_ONE = {
    "ProcessPoolExecutor.map": None,  # keyword-only
    "Pool.imap": 2,  # imap(func, iterable, chunksize=1)
    "Pool.imap_unordered": 2,
    "loky executor.map": None,
}


def _short_evidence(evidence: List[str]) -> str:
    if not evidence:
        return "no GIL-releasing calls found"
    head, sep, rest = evidence[0].partition(" ")
    if sep and ":" in head:
        return f"line {head.rsplit(':', 1)[-1]}: {rest}"
    return evidence[0]


def _fn_label(name: Optional[str]) -> str:
    return f"{name.rsplit('.', 1)[-1]}()" if name else "the work"


class CpuBoundWorkInThreads(Rule):
    code = "CCL101"

    def check(self, ctx, module: ModuleFacts) -> Iterable[Finding]:
        if ctx.config.free_threaded:
            return
        for site in ctx.sites_by_path.get(module.path, []):
            if site.model != "threads":
                continue
            work, rec, _alts, _reason = ctx_advice(ctx, site)
            if work.kind != "cpu" or work.releases_gil is not False or work.is_async or work.light:
                continue
            if rec == site.model and work.tentative is None:
                continue  # the advice keeps threads (a service loop, weak evidence): see its reason
            v = ctx.config.version_tuple()
            use = "a ProcessPoolExecutor"
            if v is not None and v >= (3, 14):
                use += " (or an InterpreterPoolExecutor)"
            if site.style == "joblib":
                use = "joblib's default process backend (loky)"
            conf = "high"
            if work.tentative is not None:
                # its weight is loops over data of a size the code does not show: the advice keeps
                # the threads, and this names the work at low (0 of 18 such findings at medium
                # were worth fixing on real packages it had never seen)
                use += " if the data is large enough to pay for pickling it (`concurlint probe` measures it)"
                conf = "low"
            yield ctx.report(self.code, module, site.call, function=site.call.function,
                             name=_fn_label(work.function), evidence=_short_evidence(work.evidence),
                             api=site.api, use=use, confidence=conf)


class IoBoundWorkInProcessPool(Rule):
    code = "CCL102"

    def check(self, ctx, module: ModuleFacts) -> Iterable[Finding]:
        for site in ctx.sites_by_path.get(module.path, []):
            if site.model != "processes" or site.api == "multiprocessing.Process" or "subclass" in site.api:
                continue  # a dedicated Process may be about isolation; pools are about throughput
            work, rec, _alts, _reason = ctx_advice(ctx, site)
            if work.kind != "io" or work.is_async or not work.network_io:
                continue  # local-file IO only: often page cache + parsing; not worth a warning
            if rec == site.model:
                continue  # the advice keeps processes (isolation, CPU work too): see its reason
            use = "joblib's prefer=\"threads\"" if site.style == "joblib" else "a ThreadPoolExecutor (or asyncio)"
            yield ctx.report(self.code, module, site.call, function=site.call.function,
                             name=_fn_label(work.function), evidence=_short_evidence(work.evidence),
                             api=site.api, use=use)


def _loop_desc(ctx, mod: ModuleFacts, call: Call) -> str:
    fn = ctx.project.functions.get(call.function) if call.function else None
    if fn is not None and 0 <= call.loop < len(fn.loops):
        loop = fn.loops[call.loop]
        return f"{loop.desc} (line {loop.line})"
    return f"a loop (line {call.line})"


WORKERS = {"threads": "worker threads", "processes": "worker processes",
           "interpreters": "worker interpreters", "distributed": "cluster connection and workers"}


class PoolCreatedPerCall(Rule):
    code = "CCL103"

    def check(self, ctx, module: ModuleFacts) -> Iterable[Finding]:
        project = ctx.project
        pools = project.kb.table("dispatch").get("pools", {})
        callers = None
        for call in module.calls:
            if call.function is None:
                continue
            target = project.call_target(call)
            model = pools.get(target) if target else None
            if model is None:
                continue
            pool = target.rsplit(".", 1)[-1] if target else "pool"
            if "BaseContext" in (target or ""):
                pool = "Pool"
            fn = project.functions.get(call.function)
            if call.loop >= 0 and fn is not None and call.loop < len(fn.loops):
                where = f"inside the {_loop_desc(ctx, module, call)}"
                yield ctx.report(self.code, module, call, function=call.function, pool=pool,
                                 where=where, workers=WORKERS.get(model, "workers"),
                                 confidence="low" if is_cli_code(module.module) else _per_call_confidence(model))
                continue
            if call.use != "with":
                continue  # created and kept (lazy init, a factory): not torn down per call
            if callers is None:
                callers = ctx.shared(loop_callers)
            # callers whose arguments let the pool be made (not `workers` left at 1 under `if workers != 1:`)
            sites = [(m, c) for m, c in callers.get(call.function, []) if fn is None or guard_holds(fn, call.line, c)]
            if not sites:
                continue
            cmod, ccall = sites[0]
            # the pool runs a prompt (`run_in_executor(pool, partial(input, prompt))`): each
            # turn of the loop waits for a person typing, next to which one executor costs nothing
            prompt = fn is not None and _prompts(module, fn)
            # in a command-line program's own modules the loop is one command's run, once
            prompt = prompt or is_cli_code(module.module)
            where = (f"on every call of {_fn_label(call.function)}, which runs inside the "
                     f"{_loop_desc(ctx, cmod, ccall)} of {_fn_label(ccall.function)} ({cmod.path}:{ccall.line})")
            related = [{"path": m.path, "line": c.line, "col": c.col,
                        "message": f"{_fn_label(call.function)} called in a loop"} for m, c in sites[:5]]
            yield ctx.report(self.code, module, call, function=call.function, related=related, pool=pool,
                             where=where, workers=WORKERS.get(model, "workers"),
                             confidence="low" if prompt else _per_call_confidence(model))


def _per_call_confidence(model: str) -> str:
    """A process pool (or interpreters, a cluster client) made per call costs a process start
    and an import of the program per worker each time: high. A thread pool costs a thread start
    per worker, microseconds next to the waits it usually runs (on real code such findings were
    true but not worth changing: a pool per batch of cloud deletes, per URL): medium."""
    return "medium" if model == "threads" else "high"


PROMPTS = frozenset({"builtins.input", "getpass.getpass"})


def _prompts(module: ModuleFacts, fn) -> bool:
    """The function hands the console prompt to its pool (``input``, ``getpass.getpass``)."""
    own = {q.rsplit(".", 1)[-1] for q in module.functions} | set(module.globals)
    for name in fn.loaded_names:
        q = module.imports.get(name) or (f"builtins.{name}" if name not in own else None)
        if q in PROMPTS:
            return True
    return False


def _large(project, v: Value, large: Matcher) -> Optional[str]:
    """Why ``v`` is large in-memory data, or None."""
    n = literal_length(v)
    if n is not None and n >= LARGE_ITEMS:
        return f"{v.text} ({n:,} items)"
    q = v.qualname
    if v.kind in ("call", "instance", "container") and q and large.match(project.resolve(q) or q):
        return f"{v.text} (result of {q})"
    return None


def _sent_values(site) -> List[Tuple[Value, str]]:
    """(value, how) for every value pickled along with one task of the site."""
    out: List[Tuple[Value, str]] = []
    fn = site.callable
    if fn is not None and fn.kind == "partial":
        for v in fn.inner[1:]:
            out.append((v, "bound with functools.partial"))
    if site.style != "map":
        for v in site.args:
            out.append((v, "passed as an argument"))
    return out


def _made_in(project, call, name: str, first: int) -> bool:
    """``name`` is assigned a call's result between line ``first`` and ``call`` (the loop's own
    head included: ``while chunk := f.read(n):``)."""
    fn = project.functions.get(call.function) if call.function else None
    if fn is None or not name.isidentifier():
        return False
    calls = project.calls_of(fn)
    return any(c.assigned_to == name and first <= c.line <= call.line for c in calls)


def _loop_head(project, call) -> int:
    """The first line of the innermost loop around ``call`` (0 when it is in none)."""
    fn = project.functions.get(call.function) if call.function else None
    if fn is None or not 0 <= call.loop < len(fn.loops):
        return 0
    return fn.loops[call.loop].line


class LargeDataSentPerTask(Rule):
    code = "CCL104"

    def check(self, ctx, module: ModuleFacts) -> Iterable[Finding]:
        project = ctx.project
        large = ctx.shared(_large_matcher)
        for site in ctx.sites_by_path.get(module.path, []):
            fix = DISTRIBUTED_FIX.get(site.api) if site.model == "distributed" else POOL_FIX
            if fix is None or site.style == "joblib":
                continue  # joblib memory-maps large NumPy arrays for its workers by itself
            if site.api == "multiprocessing.Process" or "subclass" in site.api:
                continue  # sent once per process, not per task
            if site.model == "threads":
                continue  # a thread pool hands its tasks the objects themselves: nothing is pickled
            per_task = site.style == "map" or site.call.loop >= 0
            if not per_task:
                continue
            made_from = _loop_head(project, site.call)
            for v, how in _sent_values(site):
                if v.kind == "partial" or (site.style == "map" and how == "passed as an argument"):
                    continue
                if made_from and _made_in(project, site.call, v.text, made_from):
                    continue  # made afresh on every turn (`while chunk := f.read(n)`): each task's own data
                why = _large(project, v, large)
                if why is None:
                    continue
                every = (f"with every task of {site.api}" if site.style == "map"
                         else f"with every {site.api} call in the loop")
                yield ctx.report(self.code, module, site.call, function=site.call.function,
                                 what=why, how=how, api=site.api, every=every, fix=fix)
                break


POOL_FIX = ("send it once (pool initializer, shared memory, a file path) or send each task only its "
            "chunk")
# distributed engines have their own way to ship data once (not joblib: it memory-maps arrays itself)
DISTRIBUTED_FIX = {
    "dask Client.submit": "scatter it once with client.scatter() and pass the future",
    "dask Client.map": "scatter it once with client.scatter() and pass the future",
    "ray .remote()": "put it in the object store once with ray.put() and pass the reference",
}


def _large_matcher(ctx) -> Matcher:
    return Matcher(ctx.project.kb.table("dispatch").get("large", {}).get("calls", []))


class MapWithoutChunksize(Rule):
    code = "CCL105"

    def check(self, ctx, module: ModuleFacts) -> Iterable[Finding]:
        for site in ctx.sites_by_path.get(module.path, []):
            if site.api not in CHUNKSIZE_ONE:
                continue
            call = site.call
            pos = CHUNKSIZE_ONE[site.api]
            if "chunksize" in call.kwargs or call.star_args or (pos is not None and len(call.args) > pos):
                continue
            n = iteration_count(site.iterable)
            if n is None or n < MANY_TASKS:
                continue
            work, _rec, _alts, _reason = ctx_advice(ctx, site)
            if work.function is None or work.kind != "unknown":
                continue  # heavy tasks amortise the per-task round trip; unknown callables: no claim
            if work.function not in ctx.project.functions:
                continue
            yield ctx.report(self.code, module, call, function=call.function, api=site.api,
                             n=f"{n:,}", name=_fn_label(work.function))

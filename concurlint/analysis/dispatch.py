"""Dispatch sites: every place work is handed to a concurrency model.

A site knows the API used (``ProcessPoolExecutor.submit``), the model it hands work to, the
callable (resolved to a project function where possible), the arguments sent with it, and for
process pools the start method when the code says it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

from concurlint.analysis.facts import Call, ModuleFacts, Value
from concurlint.analysis.project import Project
from concurlint.knowledge import _Matcher

JOBLIB_BACKENDS = {"loky": "processes", "multiprocessing": "processes", "threading": "threads",
                   "dask": "distributed", "ray": "distributed", "sequential": "serial"}


@dataclass
class DispatchSite:
    module: ModuleFacts
    call: Call
    api: str
    model: str
    style: str
    callable: Optional[Value]
    function: Optional[str]  # resolved project function (or external qualname) that runs
    args: List[Value] = field(default_factory=list)  # values sent along with the callable
    iterable: Optional[Value] = None
    executor: Optional[Value] = None
    start_method: Optional[str] = None
    cloudpickle: bool = False
    meta: Dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.module.path


def _arg(call: Call, spec) -> Optional[Value]:
    for s in spec if isinstance(spec, list) else [spec]:
        if isinstance(s, str) and s in call.kwargs:
            return call.kwargs[s]
        if isinstance(s, int) and len(call.args) > s:
            return call.args[s]
    return None


def _extra_args(call: Call, spec) -> List[Value]:
    out: List[Value] = []
    for s in spec if isinstance(spec, list) else [spec]:
        if isinstance(s, str) and s in call.kwargs:
            v = call.kwargs[s]
            return list(v.inner) if v.kind == "container" else [v]
        if isinstance(s, int) and len(call.args) > s:
            if isinstance(spec, list) and any(isinstance(x, str) for x in spec):
                v = call.args[s]  # Thread(None, f, name, (a, b)): one tuple of args
                return list(v.inner) if v.kind == "container" else [v]
            out = list(call.args[s:])
            break
    return out


def find_sites(project: Project) -> List[DispatchSite]:
    table = project.kb.table("dispatch")
    sites_spec = table.get("sites", {})
    cloud = _Matcher(table.get("cloudpickle", {}).get("targets", []))
    out: List[DispatchSite] = []
    for mod, call in project.all_calls():
        target = project.call_target(call)
        if target is None:
            continue
        spec = sites_spec.get(target)
        recv_type = project.value_type(call.receiver) if call.receiver else None
        if spec is None:
            site = _subclass_start(project, mod, call, target, recv_type)
            if site is None:
                site = _ray_remote(project, mod, call)
            if site is not None:
                out.append(site)
            continue
        style = spec.get("style", "call")
        model = spec["model"]
        fn_value = _arg(call, spec.get("fn", [0]))
        args = _extra_args(call, spec["args"]) if "args" in spec else []
        iterable = call.args[spec["iterable"]] if "iterable" in spec and len(call.args) > spec["iterable"] else None
        executor = None
        start_method = None
        meta: Dict[str, str] = {}
        if style == "executor":
            executor = call.args[spec["executor"]] if len(call.args) > spec["executor"] else None
            et = project.value_type(executor) if executor is not None else None
            if et and "ProcessPool" in et.rsplit(".", 1)[-1]:
                model = "processes"
                start_method = executor.meta.get("start_method") if executor else None
            elif et and "InterpreterPool" in et.rsplit(".", 1)[-1]:
                model = "interpreters"
        if style == "joblib":
            backend = call.receiver.meta.get("backend") if call.receiver else None
            model = JOBLIB_BACKENDS.get(backend or "loky", "processes")
            gen = call.args[0] if call.args else None
            fn_value = None
            if gen is not None and gen.inner:
                elt = gen.inner[0]
                if elt.kind == "call" and elt.inner and elt.inner[0].kind == "call" and elt.inner[0].inner:
                    fn_value = elt.inner[0].inner[0]  # delayed(f)(x): f
                    args = elt.inner[1:]
            if backend:
                meta["backend"] = backend
        if model == "processes" and call.receiver is not None and start_method is None:
            start_method = call.receiver.meta.get("start_method")
        if target == "multiprocessing.Process" or target.endswith("BaseContext.Process"):
            pass
        function = project.function_of_value(fn_value) if style != "coroutine" else _coroutine_target(project, fn_value)
        site = DispatchSite(
            module=mod, call=call, api=spec.get("api", target), model=model, style=style,
            callable=fn_value, function=function, args=args, iterable=iterable, executor=executor,
            start_method=start_method, meta=meta,
        )
        site.cloudpickle = bool(cloud.match(target)) or (recv_type is not None and bool(cloud.match(recv_type)))
        if style == "coroutine" and spec.get("all_args"):
            for v in call.args:
                out.append(DispatchSite(module=mod, call=call, api=site.api, model=model, style=style,
                                        callable=v, function=_coroutine_target(project, v)))
            continue
        out.append(site)
    return out


def _coroutine_target(project: Project, v: Optional[Value]) -> Optional[str]:
    if v is None:
        return None
    if v.kind == "call" and v.qualname:
        return project.resolve(v.qualname)
    return None


def _subclass_start(project: Project, mod: ModuleFacts, call: Call, target: str, recv_type: Optional[str]) -> Optional[DispatchSite]:
    """``Worker(...).start()`` where Worker subclasses Thread/Process: its ``run`` is the work."""
    if call.method != "start" or recv_type is None or recv_type not in project.classes:
        return None
    for base, model, api in (("threading.Thread", "threads", "threading.Thread subclass"),
                             ("multiprocessing.Process", "processes", "multiprocessing.Process subclass")):
        if project.is_subclass(recv_type, base):
            run = project.find_method(recv_type, "run")
            if run is None or run not in project.functions:
                return None
            return DispatchSite(module=mod, call=call, api=api, model=model, style="call",
                                callable=call.receiver, function=run)
    return None


def _ray_remote(project: Project, mod: ModuleFacts, call: Call) -> Optional[DispatchSite]:
    """``f.remote(x)`` for a function decorated with ``@ray.remote``."""
    if call.method != "remote" or call.receiver is None or not call.receiver.qualname:
        return None
    fn_name = project.resolve(call.receiver.qualname)
    fn = project.functions.get(fn_name) if fn_name else None
    if fn is None or not any(d.startswith("ray.remote") for d in fn.decorators):
        return None
    return DispatchSite(module=mod, call=call, api="ray .remote()", model="distributed", style="call",
                        callable=call.receiver, function=fn_name, args=list(call.args), cloudpickle=True)

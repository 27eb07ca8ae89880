"""Dispatch sites: every place work is handed to a concurrency model.

A site knows the API used (``ProcessPoolExecutor.submit``), the model it hands work to, the
callable (resolved to a project function where possible), the arguments sent with it, and for
process pools the start method when the code says it.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from concurlint.analysis.facts import Call, ModuleFacts, Value
from concurlint.analysis.project import Project
from concurlint.knowledge import Matcher

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


def _global_start_method(project: Project) -> Optional[str]:
    """The start method a program sets for all of multiprocessing with ``set_start_method``."""
    found = None
    from concurlint.analysis.processes import SET_START_METHOD

    for _mod, call in project.index.calls("set-start-method"):
        if project.call_target(call) in SET_START_METHOD:
            v = _arg(call, ["method", 0])
            if v is not None and v.kind == "literal" and v.meta.get("type") == "builtins.str":
                found = v.text.strip("'\"")
    return found


def _joblib_model(receiver: Optional[Value]) -> Tuple[str, Optional[str]]:
    """(model, backend) of a ``joblib.Parallel`` object: its backend, else ``prefer``/``require``."""
    meta = receiver.meta if receiver is not None else {}
    backend = meta.get("backend")
    if backend:
        return JOBLIB_BACKENDS.get(backend, "processes"), backend
    if meta.get("require") == "sharedmem" or meta.get("prefer") == "threads":
        return "threads", "threading"
    return "processes", None


def find_sites(project: Project) -> List[DispatchSite]:
    table = project.kb.table("dispatch")
    sites_spec = table.get("sites", {})
    cloud = Matcher(table.get("cloudpickle", {}).get("targets", []))
    out: List[DispatchSite] = []
    default_method = _global_start_method(project)
    # a call of a @dask.delayed function is a site too: the project's calls, when it has one
    dask = any(any(d == "dask.delayed" or d.startswith("dask.delayed(") for d in fn.decorators)
               for fn in project.functions.values() if fn.decorators)
    for mod, call in project.index.calls(*(("dispatch", "project-call") if dask else ("dispatch",))):
        target = project.call_target(call)
        if target is None:
            continue
        spec = sites_spec.get(target)
        recv_type = project.value_type(call.receiver) if call.receiver else None
        if spec is None:
            site = _subclass_start(project, mod, call, target, recv_type)
            if site is None:
                site = _ray_remote(project, mod, call)
            if site is None:
                site = _dask_decorated(project, mod, call, target)
            if site is not None:
                out.append(site)
            continue
        style = spec.get("style", "call")
        model = spec["model"]
        fn_value = _arg(call, spec.get("fn", [0]))
        if fn_value is None and spec.get("decorator"):
            continue  # @delayed(pure=True): the decorated function's calls are the sites
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
            model, backend = _joblib_model(call.receiver)
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
        if model == "processes" and start_method is None and default_method and style != "joblib":
            meta["start_method_default"] = default_method  # multiprocessing.set_start_method(...)
        function = project.function_of_value(fn_value) if style != "coroutine" else _coroutine_target(project, fn_value)
        site = DispatchSite(
            module=mod, call=call, api=spec.get("api", target), model=model, style=style,
            callable=fn_value, function=function, args=args, iterable=iterable, executor=executor,
            start_method=start_method, meta=meta,
        )
        site.cloudpickle = bool(cloud.match(target)) or (recv_type is not None and bool(cloud.match(recv_type)))
        if style == "coroutine" and spec.get("all_args"):
            for v in call.args:
                fn_name = _coroutine_target(project, v)
                if fn_name is None and v.kind not in ("call", "container", "generator"):
                    continue  # gather(*tasks): tasks made elsewhere (their create_task is the site)
                out.append(DispatchSite(module=mod, call=call, api=site.api, model=model, style=style,
                                        callable=v, function=fn_name))
            continue
        out.append(site)
    return out


def _coroutine_target(project: Project, v: Optional[Value]) -> Optional[str]:
    if v is None:
        return None
    if v.kind == "call" and v.qualname:
        return project.resolve(v.qualname)
    if v.kind == "container" and v.meta.get("element_call"):  # gather(*[fetch(u) for u in urls])
        return project.resolve(v.meta["element_call"])
    if v.kind == "generator" and v.inner:  # gather(*(fetch(u) for u in urls))
        return _coroutine_target(project, v.inner[0])
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


# ------------------------------------------------------------------ sizes of data sent to workers
_SIZE_LIMIT = 10 ** 12


def _const_eval(node: ast.AST):
    """Value of a constant expression made of numbers, + - * // ** and repetition of a literal
    ``[0] * 10**6`` (as a length). Never evaluates names or calls; None when not constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return ("seq", len(node.value))
    if isinstance(node, (ast.List, ast.Tuple)):
        return ("seq", len(node.elts))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _const_eval(node.operand)
        return -v if isinstance(v, (int, float)) else None
    if isinstance(node, ast.BinOp):
        a, b = _const_eval(node.left), _const_eval(node.right)
        if a is None or b is None:
            return None
        if isinstance(a, tuple) or isinstance(b, tuple):
            if isinstance(node.op, ast.Mult) and isinstance(a, tuple) != isinstance(b, tuple):
                seq, n = (a, b) if isinstance(a, tuple) else (b, a)
                return ("seq", seq[1] * int(n)) if isinstance(n, int) and 0 <= n < _SIZE_LIMIT else None
            return None
        try:
            if isinstance(node.op, ast.Add):
                r = a + b
            elif isinstance(node.op, ast.Sub):
                r = a - b
            elif isinstance(node.op, ast.Mult):
                r = a * b
            elif isinstance(node.op, ast.FloorDiv):
                r = a // b
            elif isinstance(node.op, ast.Pow):
                if abs(b) > 64 or abs(a) > 10 ** 6:
                    return None
                r = a ** b
            else:
                return None
        except (ArithmeticError, ValueError):
            return None
        return r if isinstance(r, (int, float)) and abs(r) < _SIZE_LIMIT else None
    return None


def _eval_text(text: str):
    """Constant-evaluate the source text of a small expression recorded in a ``Value``."""
    if not text or text.endswith("...") or len(text) > 200:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None
    return _const_eval(tree.body)


def literal_length(v: Optional[Value]) -> Optional[int]:
    """Number of elements (or characters/bytes) of a literal value: ``[0] * 10**6``, a long bytes
    literal, ``b"x" * 2**20``. None when not a literal of known size."""
    if v is None:
        return None
    if v.kind in ("literal", "container") and v.size is not None and "value" not in v.meta:
        return v.size  # facts sized it: [0] * 10**6, a long bytes literal (also through a name)
    if v.kind in ("literal", "container", "other"):
        r = _eval_text(v.text)
        if isinstance(r, tuple):
            return r[1]
    return None


def int_value(v: Optional[Value]) -> Optional[int]:
    """The integer a constant expression evaluates to (``10_000``, ``10**6``), else None."""
    if v is None or v.kind not in ("literal", "other"):
        return None
    if v.meta.get("value", "").lstrip("-").isdigit():
        return int(v.meta["value"])  # facts evaluated it (also through a name: range(PIXELS))
    r = _eval_text(v.text)
    return r if isinstance(r, int) else None


def iteration_count(v: Optional[Value]) -> Optional[int]:
    """How many items an iterable yields when the code says it: ``range(10**6)``, ``range(a, b)``
    with constants, a literal list, ``[0] * n``. None when unknown."""
    if v is None:
        return None
    if v.kind == "call" and v.qualname == "builtins.range" and v.inner:
        bounds = [int_value(x) for x in v.inner[:3]]
        if any(b is None for b in bounds):
            return None
        if len(bounds) == 1:
            return max(0, bounds[0])
        step = bounds[2] if len(bounds) > 2 else 1
        if not step:
            return None
        return max(0, -(-(bounds[1] - bounds[0]) // step))
    return literal_length(v)


def _dask_decorated(project: Project, mod: ModuleFacts, call: Call, target: str) -> Optional[DispatchSite]:
    """``f(x)`` for a function decorated with ``@dask.delayed``: builds a task for dask."""
    fn = project.functions.get(target)
    if fn is None or not any(d == "dask.delayed" or d.startswith("dask.delayed(") for d in fn.decorators):
        return None
    return DispatchSite(module=mod, call=call, api="@dask.delayed", model="distributed", style="call",
                        callable=None, function=target, args=list(call.args), cloudpickle=True)

"""Runtime probe: measure a function under each concurrency model.

Python API::

    from concurlint.probe import probe
    report = probe("pkg.mod:crunch", args=[200_000], workers=2, expect="processes")
    report["recommended"], report["modes"]["threads"]["speedup"]

The report is the ``concurlint-probe/1`` dict that ``concurlint probe
--format json`` prints.  Importing this package is cheap: the harness is
loaded on the first call.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Union


def target_name(target: Union[str, Callable[..., Any]]) -> str:
    """``pkg.mod:qualname`` for a function, method or class-level callable."""
    if isinstance(target, str):
        return target
    fn = getattr(target, "__func__", target)
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError(
            "cannot name %r as pkg.mod:func; pass a module-level function or a 'pkg.mod:func' string"
            % (target,)
        )
    return "%s:%s" % (module, qualname)


def module_root(target: Callable[..., Any]) -> Optional[str]:
    """The sys.path entry the target's module was imported from, if it can be found."""
    import os
    import sys

    fn = getattr(target, "__func__", target)
    mod = sys.modules.get(getattr(fn, "__module__", "") or "")
    path = getattr(mod, "__file__", None)
    if not path:
        return None
    root = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path).startswith("__init__."):
        root = os.path.dirname(root)
    for _ in range(mod.__name__.count(".")):
        root = os.path.dirname(root)
    return root


def probe(
    target: Union[str, Callable[..., Any]],
    args: Sequence[Any] = (),
    kwargs: Optional[Dict[str, Any]] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Run one probe in a child process and return its report.

    ``options`` are the fields of :class:`concurlint.probe.harness.ProbeSpec`:
    tasks, workers, modes, repeat, timeout, python, start_method, factory,
    factory_args, factory_kwargs, path, cwd, expect, static.  A target that
    crashes, hangs or raises gives a report with ``ok: false`` and an
    ``error``; bad options raise :class:`ProbeUsageError` (a ValueError).
    """
    from concurlint.probe.harness import ProbeSpec, run_probe

    name = target_name(target)
    path = list(options.pop("path", []) or [])
    if not isinstance(target, str):
        root = module_root(target)
        if root and root not in path:
            path.append(root)
    spec = ProbeSpec(target=name, args=list(args), kwargs=dict(kwargs or {}), path=path, **options)
    return run_probe(spec)


def __getattr__(name: str) -> Any:  # lazy re-exports, keep the import cheap
    if name in ("ProbeSpec", "ProbeUsageError", "run_probe"):
        from concurlint.probe import harness

        return getattr(harness, name)
    raise AttributeError(name)


__all__ = ["probe", "target_name", "ProbeSpec", "ProbeUsageError", "run_probe"]

"""How the probe names the best mode from measured speed-ups (concurlint.probe.harness._pick_best),
on given figures: no measurement, so deterministic."""
import pytest


@pytest.mark.parametrize("is_coro, modes, best", [
    # a plain function in asyncio mode ran in `asyncio.to_thread`: a faster figure there than in
    # threads is noise between two thread pools, and threads are named
    (False, {"threads": 3.0, "asyncio": 4.0}, "threads"),
    (False, {"threads": 3.9, "asyncio": 4.0}, "threads"),
    # without a threads run to name, asyncio is what was measured
    (False, {"asyncio": 4.0, "processes": 2.0}, "asyncio"),
    # a coroutine runs natively on the loop: asyncio first
    (True, {"threads": 4.0, "asyncio": 3.9}, "asyncio"),
    (True, {"threads": 6.0, "asyncio": 3.0}, "threads"),
])
def test_the_best_mode_is_named_by_the_model_that_ran(is_coro, modes, best):
    """The naming step alone, on given speed-ups (no measurement: deterministic)."""
    from concurlint.probe.harness import _pick_best

    entries = {"serial": {"wall_s": 1.0, "speedup": 1.0}}
    entries.update({m: {"wall_s": 1.0 / s, "speedup": s} for m, s in modes.items()})
    got, _speed, tied = _pick_best(entries, is_coro)
    assert got == best and best in tied

"""Names resolve in the scope that binds them, through the real CLI (``report --format json``).

``tests/scoping/relay`` is a small package whose local names are spelt like module names: an
import inside a method (``from relay.reductions import max`` in ``Chunked.max``) binds only in that
method and the functions nested in it, so the builtin ``max`` elsewhere in the file stays the
builtin; a parameter, a ``for`` or comprehension variable, a ``with ... as`` or ``:=`` target
called ``socket`` is the object handed in, not the module ``socket`` imported at the top, and
only inside the function (or comprehension) that binds it; a parameter whose default is the name
it hides (``open_channel=open_channel``, the local-alias idiom) holds what that name means outside.
"""
from __future__ import annotations

import pytest

from conftest import ROOT, report_json

SCOPING = ROOT / "tests" / "scoping"


@pytest.fixture(scope="module")
def functions():
    doc = report_json("relay", "--min-confidence", "low", cwd=SCOPING)
    return {f["qualname"]: f for f in doc["functions"]}


def _cites(fn: dict, text: str) -> bool:
    return any(text in e for e in fn["evidence"])


def test_an_import_in_a_method_binds_there_and_in_its_nested_functions(functions):
    for q in ("relay.arrays.Chunked.max", "relay.arrays.Chunked.max.<locals>.per_block"):
        assert functions[q]["kind"] == "cpu", functions[q]
        assert _cites(functions[q], "calls relay.reductions.max (cpu)"), functions[q]


@pytest.mark.parametrize("qualname", ["relay.arrays.round_to", "relay.arrays.Chunked.rechunk",
                                      "relay.arrays.chunk_limits", "relay.arrays.chunk_limits.<locals>.per_axis"])
def test_the_builtin_stays_the_builtin_everywhere_else(functions, qualname):
    fn = functions[qualname]
    assert fn["kind"] != "cpu", fn
    assert not _cites(fn, "relay.reductions"), fn


@pytest.mark.parametrize("qualname", [
    "relay.transport.Packetizer.read_all",  # a parameter stored on self: self._socket.recv()
    "relay.transport.Packetizer.flush",  # while (socket := ready.pop()) is not None
    "relay.transport.broadcast",  # for socket in peers
    "relay.transport.drain",  # [socket.recv(...) for socket in ready]
    "relay.transport.greet",  # with pool.acquire() as socket
])
def test_a_local_named_like_a_module_is_the_object(functions, qualname):
    fn = functions[qualname]
    assert fn["kind"] == "io", fn
    assert _cites(fn, "waits (socket-like object)"), fn
    assert not _cites(fn, "calls socket."), fn


@pytest.mark.parametrize("qualname", ["relay.transport.open_channel", "relay.transport.reconnect"])
def test_the_module_is_still_the_module_where_nothing_local_hides_it(functions, qualname):
    """``reconnect`` uses the module right after a comprehension whose variable is ``socket``:
    the comprehension's variable does not leak into the function."""
    fn = functions[qualname]
    assert fn["kind"] == "io", fn
    assert _cites(fn, "calls socket.create_connection (io)"), fn


def test_a_parameter_whose_default_is_the_name_it_hides_holds_that(functions):
    """``def reopen_all(peers, open_channel=open_channel)``: callers leave it out, so the call
    runs the module's ``open_channel``."""
    fn = functions["relay.transport.reopen_all"]
    assert fn["kind"] == "io", fn
    assert _cites(fn, "calls relay.transport.open_channel (io)"), fn


def test_one_file_checked_alone_still_reads_the_module_a_function_imports():
    """``report relay/arrays.py`` (as the pre-commit hook checks one changed file) reads the
    project modules the file imports, those imported inside a function too."""
    doc = report_json("relay/arrays.py", "--min-confidence", "low", cwd=SCOPING)
    fn = {f["qualname"]: f for f in doc["functions"]}["relay.arrays.Chunked.max"]
    assert fn["kind"] == "cpu", fn
    assert _cites(fn, "calls relay.reductions.max (cpu)"), fn

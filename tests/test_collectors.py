"""The fact collectors compose into one visitor: each node type is handled in exactly one place."""
import ast

from concurlint.analysis import facts
from concurlint.analysis.extractor import COLLECTORS, Extractor


def test_each_node_type_has_one_handler():
    owners = {}
    for collector in COLLECTORS:
        for name in vars(collector):
            if name.startswith("visit_"):
                assert name not in owners, f"{name} is in both {owners.get(name)} and {collector.__name__}"
                owners[name] = collector.__name__
    assert set(Extractor.__bases__[:-1]) == set(COLLECTORS)
    assert Extractor.__bases__[-1] is ast.NodeVisitor


def test_collectors_keep_their_own_state_apart():
    """Two collectors initialising the same attribute would silently share it."""
    import inspect
    import re

    owners = {}
    for collector in COLLECTORS:
        init = next((f for n, f in vars(collector).items() if n.startswith("_init_")), None)
        if init is None:
            continue
        for attr in re.findall(r"self\.(\w+)(?::[^=]+)? =", inspect.getsource(init)):
            assert attr not in owners, f"{attr} is set up by {owners[attr]} and {collector.__name__}"
            owners[attr] = collector.__name__


def test_facts_api_is_unchanged():
    for name in ("Value", "Call", "Loop", "Access", "Function", "ClassInfo", "GlobalDef", "ModuleFacts", "extract"):
        assert hasattr(facts, name)
        if name != "extract":
            assert getattr(facts, name).__module__ == "concurlint.analysis.facts"  # pickled cache and shards

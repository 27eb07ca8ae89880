"""The one traversal of a module: ``Extractor`` composes the fact collectors into one visitor.

Each collector is a mixin holding the ``visit_*`` methods and helpers of one concern:

- ``scopes``    names, imports, scopes, bindings, functions and lambdas (the shared scope state)
- ``values``    what an expression stands for and what a call calls (no visitors; a memo per expression)
- ``sizes``     how many bytes a buffer holds where the code fixes it (no visitors; for the cost model)
- ``calls``     one ``Call`` per call, with how its result is used and its context
- ``loops``     loops and comprehensions, and how much work they multiply
- ``state``     reads and writes of shared state, assignments, the locks held
- ``structure`` the module body, classes, the main guard

They are composed, not run one after another, because the concerns are not independent: a
binding changes what a name means for the next call resolved, a ``with`` both binds a name and
holds a lock for its body, an ``if`` may be both the main guard and a check-then-act. One visitor
keeps one order of events and ``ast.NodeVisitor``'s single dispatch per node (no per-node loop
over hooks). Each node type has its handler in exactly one collector
(``tests/test_collectors.py`` checks it); a handler asks the other collectors through their
methods. A new collector: a mixin class in its own module with an ``_init_<name>()`` for the
state it owns, added to the bases and ``__init__`` below.
"""
from __future__ import annotations

import ast
from typing import Sequence

from concurlint.analysis.calls import CallCollector
from concurlint.analysis.facts import ModuleFacts
from concurlint.analysis.loops import LoopCollector
from concurlint.analysis.scopes import ScopeCollector
from concurlint.analysis.state import StateCollector
from concurlint.analysis.structure import StructureCollector
from concurlint.analysis.sizes import SizeCollector
from concurlint.analysis.values import ValueCollector
from concurlint.knowledge import Knowledge

COLLECTORS = (ScopeCollector, ValueCollector, SizeCollector, CallCollector, LoopCollector, StateCollector,
              StructureCollector)


class Extractor(ScopeCollector, ValueCollector, SizeCollector, CallCollector, LoopCollector, StateCollector,
                StructureCollector, ast.NodeVisitor):
    """Walks one module once and fills a ``ModuleFacts``."""

    def __init__(self, facts: ModuleFacts, lines: Sequence[str], knowledge: Knowledge, package: str):
        self._init_scopes(facts, lines, knowledge, package)
        self._init_values()
        self._init_calls()
        self._init_loops()
        self._init_state()
        self._init_structure()

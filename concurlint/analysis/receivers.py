"""The receivers of untyped method calls, for recognising waits through duck-typed protocols
(calls.toml's [protocols]): which methods a function (or, for ``self.x``, its class) calls on
each receiver, what made a receiver (``conn.cursor()``), and how a match is described."""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

from concurlint.analysis.facts import Call, Function

if TYPE_CHECKING:
    from concurlint.analysis.classify import Classifier


class Receivers:
    """``Classifier._receivers``: receiver text -> the methods called on it, worked out when
    first asked (most functions never ask). ``self.x`` receivers come from the class's memo
    (every method of the class), the others from the function's own calls: the two never share
    a key, so neither is copied into the other."""

    def __init__(self, classifier: "Classifier", fn: Function):
        self._classifier = classifier
        self._fn = fn
        self._own: Optional[Dict[str, set]] = None

    def get(self, recv: str, default: set) -> set:
        if recv.startswith("self."):
            if self._fn.cls is None:
                return default
            return self._classifier._class_receiver_methods(self._fn.cls).get(recv, default)
        if self._own is None:
            self._own = {}
            for call in self._classifier.p.calls_of(self._fn):
                r = receiver_text(call)
                if r is not None and not r.startswith("self."):
                    self._own.setdefault(r, set()).add(call.method)
        return self._own.get(recv, default)


def receiver_text(call: Call) -> Optional[str]:
    """``cur`` for ``cur.execute(q)``, ``self._conn`` for ``self._conn.commit()``: the receiver of
    a method call written as a name or an attribute chain; None otherwise."""
    if call.method is None or not call.text.endswith("." + call.method):
        return None
    recv = call.text[: -len(call.method) - 1]
    return recv if recv.replace(".", "").replace("_", "").isalnum() else None


def made_by(call: Call) -> str:
    """``cursor`` when the receiver was made by ``conn.cursor()`` / ``db.cursor(factory=F())``:
    the method of the outermost call that made it, "" when it is not a method call."""
    made = call.receiver.text if call.receiver is not None and call.receiver.kind == "call" else ""
    if not made.endswith(")"):
        return ""
    depth = 0
    for i in range(len(made) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(made[i], 0)
        if depth == 0:
            head = made[:i]
            return head.rpartition(".")[2] if "." in head else ""
    return ""


def protocol_note(name: str, confidence: str, why: str = "") -> str:
    if not why and confidence == "high":
        return f"{name}-like object"
    return f"{name}-like object{': ' + why if why else ''}, {confidence} confidence"

"""``--format json``: the ``concurlint-report/1`` document (schema: concurlint/schemas/report.schema.json).

A finding that ``concurlint fix`` can fix carries ``fix`` (applicability, message, edits); one of a
fixable rule that cannot be fixed here carries ``fix_unavailable`` (why).
"""
from __future__ import annotations

import json
from json.encoder import INFINITY, encode_basestring_ascii


def render_json(report) -> str:
    doc = report.to_json()
    baseline = getattr(report, "baseline", None)
    if baseline:  # additive: which baseline was applied and how many findings it suppressed
        doc["baseline"] = baseline
    from concurlint.fixes import report_fixes

    for item, extra in zip(doc["findings"], report_fixes(report)):
        if extra:
            item.update(extra)
    return dumps_indented(doc) + "\n"


class _Unusual(Exception):
    """A value ``dumps_indented`` leaves to ``json.dumps`` (a non-string key, another type)."""


def dumps_indented(doc) -> str:
    """``json.dumps(doc, indent=2)``, byte for byte, about twice as fast: with ``indent`` the
    standard library encodes in Python through a chain of generators (~0.07 s for the standard
    library's report, 15k functions), while this builds one list of pieces, encoding strings with
    the same C function. Anything but dicts with string keys, lists, tuples, strings, ints,
    floats, booleans and None goes to ``json.dumps`` whole (``tests/test_outputs.py`` compares)."""
    out: list = []
    try:
        _encode(doc, "\n", out)
    except (_Unusual, RecursionError):
        return json.dumps(doc, indent=2)
    return "".join(out)


def _encode(o, pad: str, out: list) -> None:
    t = type(o)
    if t is str:
        out.append(encode_basestring_ascii(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif t is int:
        out.append(int.__repr__(o))
    elif t is float:
        out.append(_float(o))
    elif t is dict:
        if not o:
            out.append("{}")
            return
        inner = pad + "  "
        sep = "{" + inner
        for k, v in o.items():
            if type(k) is not str:
                raise _Unusual
            out.append(sep)
            out.append(encode_basestring_ascii(k))
            out.append(": ")
            _encode(v, inner, out)
            sep = "," + inner
        out.append(pad + "}")
    elif t is list or t is tuple:
        if not o:
            out.append("[]")
            return
        inner = pad + "  "
        sep = "[" + inner
        for v in o:
            out.append(sep)
            _encode(v, inner, out)
            sep = "," + inner
        out.append(pad + "]")
    else:
        raise _Unusual


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == INFINITY:
        return "Infinity"
    if o == -INFINITY:
        return "-Infinity"
    return float.__repr__(o)

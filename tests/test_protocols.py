"""Duck-typed protocols (issue #17 item 2): an object whose type the analysis cannot see (an
untyped parameter, ``self._conn``, what ``conn.cursor()`` returns) is recognised by the methods
used on it, from the table in rules/knowledge/calls.toml, at the confidence each deserves.
Through the real CLI on tests/cost_model/shopdb (a DB-API order store, a queue-fed writer thread)
and its lookalikes (a settings mapping, a query plan, a buffer: the same method names, no IO).
"""
from __future__ import annotations

import functools

from conftest import ROOT, report_json

from concurlint import knowledge

PROJECT = ROOT / "tests" / "cost_model"


@functools.lru_cache(maxsize=None)
def _functions() -> dict:
    doc = report_json("shopdb", "--min-confidence", "low", cwd=PROJECT)
    assert doc["findings"] == []  # a protocol wait makes a kind, never a finding on its own
    return {f["qualname"].replace("shopdb.", "", 1): f for f in doc["functions"]}


def evidence(name: str) -> str:
    return " | ".join(_functions()[name]["evidence"])


def test_a_connection_is_recognised_by_execute_and_commit_across_the_class():
    # add() only calls self._conn.execute(); flush() calls self._conn.commit(): together, DB-API
    assert _functions()["repository.OrderRepository.add"]["kind"] == "io"
    assert "db-api-like object: execute with commit on self._conn, medium confidence" in evidence("repository.OrderRepository.add")
    assert _functions()["repository.OrderRepository.flush"]["kind"] == "io"


def test_a_cursor_is_recognised_by_what_made_it():
    assert _functions()["repository.export_month"]["kind"] == "io"
    assert "cur.execute() waits (db-api-like object: execute on what cursor() returned" in evidence("repository.export_month")


def test_a_queue_is_recognised_by_get_with_task_done():
    assert _functions()["repository.drain"]["kind"] == "io"
    assert "jobs.get() waits (queue-like object: get with task_done on jobs, medium confidence)" in evidence("repository.drain")


def test_the_same_method_names_alone_are_no_evidence():
    for name in ("lookalikes.timeout_of", "lookalikes.run_plan", "lookalikes.render", "lookalikes.next_task"):
        assert _functions()[name]["kind"] == "unknown", (name, _functions()[name]["evidence"])


def test_the_table_is_data_with_a_confidence_per_protocol():
    protocols = {p.name: p for p in knowledge.load().protocols}
    assert {"socket", "db-api", "file", "queue", "process", "thread, process or event"} <= set(protocols)
    assert protocols["db-api"].confidence == "high" and "fetchall" in protocols["db-api"].waits
    assert protocols["db-api"].lower == "medium" and "execute" in protocols["db-api"].ambiguous
    assert "get" in protocols["queue"].no_positional and not protocols["queue"].waits
    assert "join" in protocols["thread, process or event"].bare_waits
    for p in protocols.values():
        assert p.confidence in knowledge.CONFIDENCES
        assert not (p.waits & p.ambiguous), p.name  # a method waits alone or needs company, not both

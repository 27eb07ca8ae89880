"""Rule TOML files and rule classes agree; a disagreement is caught."""
from __future__ import annotations

import dataclasses

from concurlint.registry import Rule, all_meta, check_registry, rule_classes


def test_shipped_rules_are_consistent():
    assert check_registry() == []
    codes = set(all_meta())
    assert {"CCL000", "CCL999"} <= codes
    assert {c for c in codes if not all_meta()[c].internal} == set(rule_classes())
    families = {c[:4] for c in codes}
    assert {"CCL1", "CCL2", "CCL3", "CCL4", "CCL5", "CCL6"} <= families


def test_disagreements_are_reported():
    metas = dict(all_meta())
    classes = dict(rule_classes())
    meta = metas["CCL401"]
    metas["CCL401"] = dataclasses.replace(meta, name="Lambda_To_Pool", severity="fatal",
                                          doc={k: v for k, v in meta.doc.items() if k != "why"})
    del classes["CCL402"]

    class Orphan(Rule):
        code = "CCL498"

    classes["CCL498"] = Orphan
    problems = check_registry(metas, classes)
    assert "CCL401: name 'Lambda_To_Pool' is not kebab-case" in problems
    assert any("CCL401: severity 'fatal'" in p for p in problems)
    assert "CCL401: doc section 'why' is missing or empty" in problems
    assert "CCL402: no rule class in concurlint/checks has code = 'CCL402'" in problems
    assert "CCL498: rule class has no rules/CCL498.toml" in problems


def test_a_rules_precision_table_is_checked():
    """Every rule whose record on held-out real code was mostly wrong has a ceiling below high, a
    rule capped at low earned it at medium too, and a malformed [precision] table is named."""
    metas = dict(all_meta())
    for code, meta in metas.items():
        h = meta.held_out
        if h and h["fp"] > 2 * h["tp"]:  # more than two wrong for each one worth fixing
            assert meta.ceiling != "high", f"{code}: {h} at high, yet no ceiling"
    for code, meta in metas.items():
        if meta.ceiling == "low":
            # capped at low only on its record at medium: more wrong than right, fewer than one in
            # five worth fixing, over enough findings to mean something
            m = meta.held_out_medium
            n = sum(m.values())
            assert n >= 15 and m["fp"] > m["tp"] + m["debatable"] and m["tp"] < 0.2 * n, f"{code}: {m} at medium"
    metas["CCL504"] = dataclasses.replace(metas["CCL504"], ceiling="sure", held_out={"tp": 1})
    problems = check_registry(metas, rule_classes())
    assert "CCL504: [precision] ceiling 'sure' is not one of ('high', 'medium', 'low')" in problems
    assert "CCL504: [precision] held_out_high needs tp, fp and debatable" in problems

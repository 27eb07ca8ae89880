"""The bundled examples get exactly the findings their comments promise.

A line of examples/ whose trailing comment starts with codes (``# CCL401: a lambda ...`` or
``# CCL101:low, CCL602: ...``) must get those findings; no other line may get any. A code means the
most confidence its rule reports with (a rule whose findings were mostly wrong on real code reports
at medium or low at most, docs/precision.md), or the confidence after it (``CCL101:low``): `concurlint
report examples/` (the README's first command, default confidence) gets exactly the promises at high,
`--min-confidence medium` those at medium too, `--min-confidence low` all of them."""
from __future__ import annotations

import re

from conftest import ROOT, report_json

LEVEL = r"(?::(?:high|medium|low))?"
PROMISE = re.compile(rf"#\s*(CCL\d{{3}}{LEVEL}(?:\s*,\s*CCL\d{{3}}{LEVEL})*)\b")


def promised():
    from concurlint.registry import CONFIDENCE_RANK, all_meta

    metas = all_meta()
    out = set()
    for path in sorted((ROOT / "examples").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#") or "#" not in line:
                continue  # a comment line explains; only a comment after code promises
            m = PROMISE.search("#" + line.split("#", 1)[1])
            if m:
                for promise in m.group(1).split(","):
                    code, _, conf = promise.strip().partition(":")
                    ceiling = metas[code].ceiling
                    out.add((rel, n, code, min(conf or ceiling, ceiling, key=CONFIDENCE_RANK.__getitem__)))
    return out


def test_examples_get_exactly_the_promised_findings():
    promises = promised()
    assert len(promises) >= 14 and {c for _, _, c, _ in promises} >= {"CCL102", "CCL202", "CCL401", "CCL501", "CCL503"}
    levels = (("high", ("high",)), ("medium", ("high", "medium")), ("low", ("high", "medium", "low")))
    for level, shown in levels:
        want = {(p, n, c) for p, n, c, conf in promises if conf in shown}
        assert level == "low" or 5 <= len(want) < len(promises)  # every run says something
        doc = report_json("examples", "--min-confidence", level, cwd=ROOT)
        got = {(f["path"], f["line"], f["code"]) for f in doc["findings"]}
        assert not want - got, f"{level}: promised but not reported: {sorted(want - got)}"
        assert not got - want, f"{level}: reported but not promised: {sorted(got - want)}"


def test_io_in_the_process_pool_is_reported_for_network_io():
    doc = report_json("examples/newsroom", "--min-confidence", "medium", cwd=ROOT)  # CCL102: medium at most
    [ccl102] = [f for f in doc["findings"] if f["code"] == "CCL102"]
    assert ccl102["function"] == "newsroom.batch.nightly"
    assert "download_report() waits on IO" in ccl102["message"] and "ThreadPoolExecutor" in ccl102["message"]


def test_the_unlocked_counter_is_reported_and_the_locked_one_is_not():
    doc = report_json("examples/probe/race.py", "--min-confidence", "low", cwd=ROOT)  # CCL202: low at most
    assert [(f["code"], f["function"]) for f in doc["findings"]] == [("CCL202", "race.increment")]

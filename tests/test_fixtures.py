"""Every rule's fixtures, through the real `concurlint` command.

A fixture is ``tests/fixtures/CCLnnn[_variant].py``, or a package ``tests/fixtures/CCLnnn_variant/``
whose modules import each other (cross-module cases; every module is marked). A line that must produce findings ends in a
comment naming them (``# CCL401`` or ``# CCL401, CCL405``); every other line must produce nothing.
So one file is both the positive and the negative set. A finding the rule is less sure of carries
its confidence (``# CCL504:medium``, ``# CCL501:low``): it must be reported with exactly that
confidence, so it is in the report at ``--min-confidence medium``/``low`` and not in the default
output; an unmarked code means confidence ``high``, and no mark can be surer than the rule's
ceiling (``[precision]`` in its TOML file: a rule whose findings were mostly wrong on real code
reports at medium at most, so there ``# CCL301`` means medium). A first-line comment
``# concurlint: target-version=3.14`` runs that fixture with a target version, and
``# concurlint: library`` in library mode (``--library``).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, report_json

MARK_RE = re.compile(r"#\s*((?:CCL\d{3}(?::(?:high|medium|low))?[,\s]*)+)\s*$")
CODE_RE = re.compile(r"(CCL\d{3})(?::(high|medium|low))?")
TARGET_RE = re.compile(r"#\s*concurlint:.*?target-version\s*=\s*([^\s,]+)")
LIBRARY_RE = re.compile(r"#\s*concurlint:.*\blibrary\b")

# a fixture is a file, or a package directory (``CCL604_workers/``) whose modules import each
# other: every module of it is marked the same way, and the rule's code starts the directory name
FIXTURE_FILES = sorted(list(FIXTURES.glob("CCL*.py")) + [f for d in FIXTURES.glob("CCL*") if d.is_dir()
                                                         for f in d.rglob("*.py")])


def fixture_name(path: Path) -> str:
    """``CCL604.py`` or ``CCL604_workers`` for ``CCL604_workers/pollers.py``."""
    return path.relative_to(FIXTURES).parts[0]


def expected(path: Path):
    from concurlint.registry import CONFIDENCE_RANK, all_meta

    metas = all_meta()
    library = is_library(path)  # --library: the shared-state rules keep their confidence
    out = set()
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = MARK_RE.search(line)
        if m:
            for code, conf in CODE_RE.findall(m.group(1)):
                conf = conf or "high"
                ceiling = metas[code].ceiling if code in metas and not (library and code.startswith("CCL2")) else "high"
                out.add((i, code, min(conf, ceiling, key=CONFIDENCE_RANK.__getitem__)))
    return out


def target_of(path: Path):
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    m = TARGET_RE.search(first)
    return m.group(1) if m else None


def is_library(path: Path) -> bool:
    return bool(LIBRARY_RE.search(path.read_text(encoding="utf-8").split("\n", 1)[0]))


@pytest.fixture(scope="module")
def fixture_reports():
    """One real CLI run per target version (and library mode) over all fixtures that use it."""
    groups = defaultdict(list)
    for f in FIXTURE_FILES:
        groups[(target_of(f), is_library(f))].append(f)
    found = defaultdict(set)
    for (target, library), files in groups.items():
        args = [str(f.relative_to(ROOT)) for f in files] + ["--min-confidence", "low"]
        if target:
            args += ["--target-version", target]
        if library:
            args.append("--library")
        doc = report_json(*args, cwd=ROOT)
        for finding in doc["findings"]:
            found[finding["path"]].add((finding["line"], finding["code"], finding["confidence"]))
    return found


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=[f.relative_to(FIXTURES).as_posix() for f in FIXTURE_FILES])
def test_fixture(fixture: Path, fixture_reports):
    want = expected(fixture)
    rel = str(fixture.relative_to(ROOT))
    got = fixture_reports.get(rel, set())
    # every code counts: an unmarked line must be clean of every rule, not only this fixture's
    missing = sorted(want - got)
    extra = sorted(got - want)
    assert not missing and not extra, f"{rel}: missing {missing}, unexpected {extra}"


def test_every_rule_has_a_positive_and_a_negative_fixture():
    from concurlint.registry import all_meta

    for code, meta in all_meta().items():
        if meta.internal:
            continue
        files = [f for f in FIXTURE_FILES if fixture_name(f).startswith(code)]
        assert files, f"{code} has no fixture tests/fixtures/{code}*.py"
        positives = sum(1 for f in files for (_, c, conf) in expected(f) if c == code and conf == meta.ceiling)
        assert positives >= 2, f"{code}: fewer than two positive lines (at {meta.ceiling} confidence) in its fixtures"
        marked_lines = {ln for f in files for (ln, _, _) in expected(f)}
        code_lines = [ln for f in files for ln in f.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
        assert len(code_lines) > 2 * len(marked_lines), f"{code}: fixtures need realistic negative code too"

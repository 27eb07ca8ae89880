"""The rule reference cannot drift from the code, and its examples are executed.

- ``scripts/gen_rule_docs.py --check`` passes: docs/rules/*.md are what the TOML files generate.
- ``concurlint explain CODE`` prints exactly the committed page.
- Each rule's ``[doc] example`` run through the real ``concurlint check`` gives that rule's code,
  and its ``use_instead`` gives no finding at all (each in its own directory, so that no other
  example takes part in the project-wide analysis). An example whose first line is
  ``# concurlint: target-version=3.14`` is checked with that target; one whose first line is
  ``# concurlint: library`` is checked in library mode.
"""
from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT, run_cli

DOCS = ROOT / "docs" / "rules"
TARGET_RE = re.compile(r"#\s*concurlint:.*?target-version\s*=\s*([^\s,]+)")
LIBRARY_RE = re.compile(r"#\s*concurlint:.*\blibrary\b")
FINDING_RE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>CCL\d{3}) ", re.M)
# an internal error cannot be provoked on purpose: its example is a comment about such a file
UNTRIGGERABLE = {"CCL999"}


def _metas():
    from concurlint.registry import all_meta

    return all_meta()


CODES = sorted(_metas())


def _target(source: str):
    lines = source.strip("\n").split("\n", 1)
    m = TARGET_RE.search(lines[0]) if lines else None
    return m.group(1) if m else None


def _check(job):
    code, kind, source, directory = job
    directory.mkdir(parents=True)
    path = directory / "example.py"
    path.write_text(source.strip("\n") + "\n", encoding="utf-8")
    # at the most confidence the rule reports with (a rule capped at medium is not in the default output)
    args = ["check", "--no-cache", "--extend-select", code, "--fail-on", "never",
            "--min-confidence", _metas()[code].ceiling]
    target = _target(source)
    if target:
        args += ["--target-version", target]
    if LIBRARY_RE.search(source.strip("\n").split("\n", 1)[0]):
        args.append("--library")
    proc = run_cli(*args, path, cwd=directory)
    return (code, kind), proc


@pytest.fixture(scope="module")
def example_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("rule-examples")
    jobs = []
    for code in CODES:
        doc = _metas()[code].doc
        for kind in ("example", "use_instead"):
            jobs.append((code, kind, str(doc.get(kind, "")), base / code / kind))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(_check, jobs))


def test_generated_docs_are_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_rule_docs.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_mode_reports_drift(tmp_path):
    """--check really compares: a doctored, a stale and a missing page are all named."""
    docs = tmp_path / "rules"
    gen = [sys.executable, str(ROOT / "scripts" / "gen_rule_docs.py"), "--docs-dir", str(docs)]
    assert subprocess.run([*gen, "--check"], capture_output=True, text=True).returncode == 1  # empty
    assert subprocess.run(gen, capture_output=True, text=True).returncode == 0
    assert sorted(p.stem for p in docs.glob("CCL*.md")) == CODES
    assert subprocess.run([*gen, "--check"], capture_output=True, text=True).returncode == 0
    (docs / "CCL401.md").write_text("# edited by hand\n", encoding="utf-8")
    (docs / "CCL000.md").unlink()
    (docs / "CCL998.md").write_text("# a rule that no longer exists\n", encoding="utf-8")
    proc = subprocess.run([*gen, "--check"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "drifted: docs/rules/CCL401.md" in proc.stdout
    assert "missing: docs/rules/CCL000.md" in proc.stdout
    assert "stale: docs/rules/CCL998.md" in proc.stdout
    assert subprocess.run(gen, capture_output=True, text=True).returncode == 0
    assert subprocess.run([*gen, "--check"], capture_output=True, text=True).returncode == 0
    assert not (docs / "CCL998.md").exists()


def test_index_links_every_rule():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"[{code}]({code}.md)" in index, code


@pytest.mark.parametrize("code", CODES)
def test_explain_prints_the_docs_page(code):
    page = DOCS / f"{code}.md"
    assert page.is_file(), f"{page} missing: run scripts/gen_rule_docs.py"
    proc = run_cli("explain", code, check_exit=0)
    assert proc.stdout == page.read_text(encoding="utf-8")
    assert proc.stdout.startswith(f"# {code}: {_metas()[code].name}\n")
    for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
        assert heading in proc.stdout, f"{code}: no '{heading}'"


@pytest.mark.parametrize("code", CODES)
def test_example_gives_the_rule(code, example_runs):
    if code in UNTRIGGERABLE:
        pytest.skip(f"{code} reports a bug in concurlint; no source provokes it on purpose")
    proc = example_runs[(code, "example")]
    assert "Traceback" not in proc.stderr, proc.stderr
    codes = [m.group("code") for m in FINDING_RE.finditer(proc.stdout)]
    assert code in codes, f"{code}: its docs example gives {codes or 'nothing'}\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("code", CODES)
def test_use_instead_gives_nothing(code, example_runs):
    proc = example_runs[(code, "use_instead")]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", f"{code}: its 'use instead' example is flagged:\n{proc.stdout}"

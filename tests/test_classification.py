"""Classification of ~70 labelled functions in a realistic multi-module package, through the real CLI.

Each function in tests/classification/shop/ ends its ``def`` line with ``# kind: cpu|io|mixed|unknown``
(and ``, releases-gil`` where the CPU work releases the GIL).
"""
from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT, report_json, run_cli, script

SHOP = ROOT / "tests" / "classification" / "shop"
LABEL = re.compile(r"def (\w+)\(.*#\s*kind:\s*(cpu|io|mixed|unknown)(,\s*releases-gil)?")


def labelled():
    out = {}
    for path in sorted(SHOP.glob("*.py")):
        cls = None
        for line in path.read_text().splitlines():
            m_cls = re.match(r"class (\w+)", line)
            if m_cls:
                cls = m_cls.group(1)
            elif line and not line[0].isspace():
                cls = None if not line.startswith(("@", "def", "async def")) or line.startswith(("def", "async def")) else cls
            m = LABEL.search(line)
            if m:
                name = m.group(1)
                indented = line.startswith(" ")
                qual = f"shop.{path.stem}.{cls}.{name}" if indented and cls else f"shop.{path.stem}.{name}"
                out[qual] = (m.group(2), bool(m.group(3)))
    return out


@pytest.fixture(scope="module")
def report():
    return report_json(str(SHOP.relative_to(ROOT)), cwd=ROOT)


def test_enough_labels():
    labels = labelled()
    assert len(labels) >= 60
    kinds = {k for k, _ in labels.values()}
    assert {"cpu", "io", "mixed", "unknown"} <= kinds


def test_every_labelled_function_is_classified_right(report):
    functions = {f["qualname"]: f for f in report["functions"]}
    wrong = []
    for qual, (kind, releases) in sorted(labelled().items()):
        got = functions.get(qual)
        assert got is not None, f"{qual} missing from the report"
        if got["kind"] != kind:
            wrong.append(f"{qual}: expected {kind}, got {got['kind']} ({got['evidence'][:2]})")
        elif kind in ("cpu", "mixed") and got["releases_gil"] is not releases:
            wrong.append(f"{qual}: releases_gil expected {releases}, got {got['releases_gil']}")
        elif kind != "unknown" and not got["evidence"]:
            wrong.append(f"{qual}: {kind} without evidence")
    assert not wrong, "\n".join(wrong)


def test_evidence_names_the_chain(report):
    functions = {f["qualname"]: f for f in report["functions"]}
    ev = " | ".join(functions["shop.pipeline.two_deep"]["evidence"])
    assert "shop.pipeline.crunch_twice" in ev
    ev = " | ".join(functions["shop.net.Catalog.product"]["evidence"])
    assert "requests.Session.get" in ev
    assert all(":" in e for e in functions["shop.compute.primes"]["evidence"])


def test_explain_function_prints_kind_and_evidence():
    proc = run_cli("explain", "--function", str(SHOP / "pipeline.py") + ":Importer.run", check_exit=0)
    assert proc.stdout.startswith("shop.pipeline.Importer.run: mixed")
    assert "evidence:" in proc.stdout
    proc = run_cli("explain", "--function", str(SHOP / "pipeline.py") + ":nope")
    assert proc.returncode == 2 and "no function 'nope'" in proc.stderr


def test_knowledge_from_pyproject_teaches_own_code(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.concurlint.knowledge]\nio = ["vendor.db.query"]\nreleases-gil = ["vendor.native.*"]\n')
    (tmp_path / "jobs.py").write_text(
        "from vendor import db, native\n\n"
        "def load(ids):\n    return [db.query(i) for i in ids]\n\n"
        "def render(img):\n    return native.render(img)\n")
    doc = report_json("jobs.py", cwd=tmp_path)
    kinds = {f["qualname"]: (f["kind"], f["releases_gil"]) for f in doc["functions"]}
    assert kinds["jobs.load"] == ("io", None)
    assert kinds["jobs.render"] == ("cpu", True)


def test_flake8_plugin_uses_cached_project_facts(tmp_path):
    """Per-file flake8 still knows a helper two modules away is CPU-bound, from the cache."""
    pkg = tmp_path / "app"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "maths.py").write_text(
        "def crunch(n):\n    t = 0\n    for i in range(n):\n        for j in range(n):\n            t += i * j\n    return t\n")
    (pkg / "jobs.py").write_text(
        "from concurrent.futures import ThreadPoolExecutor\nfrom app.maths import crunch\n\n"
        "def run(ns):\n    with ThreadPoolExecutor() as pool:\n        return list(pool.map(crunch, ns))\n")
    # CCL101 on loops over data of a size the code does not show reports at low (docs/precision.md)
    (tmp_path / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "low"\n')
    cli = run_cli("check", ".", "--select", "CCL1", cwd=tmp_path)
    assert "CCL101" in cli.stdout, cli.stdout + cli.stderr
    flake = subprocess.run([script("flake8"), "--select", "CCL1", "app/jobs.py"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert "CCL101" in flake.stdout, flake.stdout + flake.stderr


def test_weak_evidence_is_named_and_held(report):
    """A library call in a loop over a table says so; a helper's one pass decides its own kind,
    and its callers' only when they call it in a loop over their input (shop/gateway.py)."""
    functions = {f["qualname"]: f for f in report["functions"]}
    route = functions["shop.gateway.route_name"]
    assert route["kind"] == "unknown"
    assert any("re.fullmatch (cpu, in a loop not over the input)" in e for e in route["evidence"])
    assert functions["shop.gateway.checksum"]["kind"] == "cpu"
    assert functions["shop.gateway.etag"]["kind"] == "unknown"
    etags = functions["shop.gateway.etags"]
    assert etags["kind"] == "cpu" and any("calls shop.gateway.checksum (cpu)" in e for e in etags["evidence"])
    assert any("calls shop.compute.Stats.report (unknown: a pass over data, every turn)" in e
               for e in functions["shop.pipeline.summarise_each"]["evidence"])

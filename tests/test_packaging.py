"""The wheel works on its own: built with `python -m build`, installed in a fresh venv, run from /tmp."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile

import pytest

from conftest import ROOT, validate_report


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [whl] = list(out.glob("concurlint-*.whl"))
    return whl


def test_wheel_ships_rules_knowledge_and_schema(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "concurlint/rules/CCL401.toml" in names
    assert "concurlint/rules/knowledge/calls.toml" in names
    assert "concurlint/schemas/report.schema.json" in names
    assert not any(n.startswith(("tests/", "examples/")) for n in names)


def test_wheel_in_fresh_venv_runs_from_tmp(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    pip = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-3000:]
    proc = subprocess.run([str(bindir / "concurlint"), "report", str(ROOT / "examples"), "--format", "json",
                           "--no-cache"], cwd="/tmp", capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    validate_report(doc)
    assert any(f["code"] == "CCL401" for f in doc["findings"])
    rules = subprocess.run([str(bindir / "concurlint"), "rules"], cwd="/tmp", capture_output=True, text=True)
    assert rules.returncode == 0 and "CCL401" in rules.stdout

"""The pytest plugin, run in a real pytest subprocess on a throwaway test file."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "probe_targets"))

from probe_testlib import TARGETS  # noqa: E402

TESTS = '''
import pytest

import pt_work


def test_fixture_passes(concurlint_probe):
    report = concurlint_probe("pt_work:sleepy", args=[0.05], tasks=4, workers=4, repeat=1,
                              modes=["threads"], expect="threads")
    assert report["recommended"] == "threads"


def test_fixture_with_a_function_object(concurlint_probe):
    report = concurlint_probe(pt_work.sleepy, args=[0.05], tasks=4, workers=4, repeat=1,
                              modes=["threads"], expect="threads")
    assert report["target"] == "pt_work:sleepy"


def test_fixture_fails_on_wrong_expectation(concurlint_probe):
    concurlint_probe("pt_work:sleepy", args=[0.05], tasks=4, workers=4, repeat=1,
                     modes=["threads"], expect="serial")


def test_fixture_fails_on_crash(concurlint_probe):
    concurlint_probe("pt_bad:exits", modes=["threads"], repeat=1, tasks=2, workers=2)


@pytest.mark.concurlint_probe("pt_work:sleepy", args=[0.05], tasks=4, workers=4, repeat=1,
                              modes=["threads"], expect="threads")
def test_marker_passes(request):
    assert request.node.concurlint_probe_report["ok"]
'''


@pytest.mark.exclusive  # measurements (conftest.py)
def test_plugin_fixture_and_marker(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent(TESTS))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "-o", "addopts=", str(tmp_path / "test_user.py")],
        cwd=str(TARGETS), capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(TARGETS)},
    )
    out = done.stdout
    assert "2 failed, 3 passed" in out, out + done.stderr
    assert "expected serial, but the measured best model is threads" in out
    assert "the probe child exited with status 3" in out


def test_plugin_import_is_cheap():
    code = ("import sys, pytest; before = set(sys.modules); import concurlint.probe.pytest_plugin; "
            "print(sorted(set(sys.modules) - before))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    added = eval(done.stdout)  # a printed list of module names
    assert set(added) <= {"concurlint", "concurlint.probe", "concurlint.probe.pytest_plugin"}, added

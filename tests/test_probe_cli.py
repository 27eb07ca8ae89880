"""`concurlint probe` end to end through the installed console script: options,
configuration, output formats, other interpreters, methods and coroutines."""

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "probe_targets"))

from probe_testlib import TARGETS, measure_until, probe, python_version, run_cli, validate  # noqa: E402

QUICK = ["--repeat", "1", "--tasks", "2", "--workers", "2"]


def _json(done):
    assert done.returncode in (0, 1), done.stderr
    return validate(json.loads(done.stdout))


@pytest.mark.parametrize("argv, words", [
    (["pt_work:crunch", "--args", "[1,"], "--args is not valid JSON"),
    (["pt_work:crunch", "--args", "{}"], "--args must be a JSON array"),
    (["pt_work:crunch", "--kwargs", "[]"], "--kwargs must be a JSON object"),
    (["pt_work.crunch"], "must look like pkg.mod:func"),
    (["pt_work:crunch", "--modes", "threads,gpu"], "unknown mode 'gpu'"),
    (["pt_work:crunch", "--workers", "0"], "--workers must be at least 1"),
    (["pt_work:crunch", "--python", "/no/such/python"], "is not an executable file"),
    (["pt_work:crunch", "--plot", "chart.pdf"], "must end in .svg or .png"),
])
def test_usage_errors_exit_2_with_one_sentence(argv, words):
    done = run_cli(*argv)
    assert done.returncode == 2
    assert words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_text_table_and_json_of_a_user_function_with_arguments(tmp_path):
    out = tmp_path / "report.json"
    done = run_cli("pt_work:crunch", "--kwargs", '{"n": 20000}', "--modes", "threads,processes,interpreters",
                   *QUICK, "--format", "json", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    r = validate(json.loads(out.read_text()))
    assert r["schema"] == "concurlint-probe/1" and r["target"] == "pt_work:crunch"
    assert r["settings"]["kwargs"] == {"n": 20000}
    assert set(r["modes"]) == {"serial", "threads", "processes", "interpreters"}
    assert r["modes"]["serial"]["speedup"] == 1.0
    assert r["modes"]["processes"]["possible"] is True
    assert r["function"]["qualname"] == "crunch"
    assert r["function"]["sourcefile"] == str(TARGETS / "pt_work.py")
    if sys.version_info < (3, 14):
        assert r["modes"]["interpreters"]["possible"] is False
        assert "3.14" in r["modes"]["interpreters"]["why"]

    text = run_cli("pt_work:crunch", "--args", "[20000]", "--modes", "threads", *QUICK)
    assert text.returncode == 0, text.stderr
    for words in ("mode", "speed-up", "serial", "threads", "measured kind:", "best model:"):
        assert words in text.stdout


def test_static_comparison_is_reported_or_marked_unavailable():
    r = probe("pt_work:crunch", args=[200000], tasks=2, workers=2, modes=["threads"])
    try:
        import concurlint.api as api
        available = hasattr(api, "static_verdict")
    except ImportError:
        available = False
    if available:
        assert r["static"]["available"] is True
        assert r["static_kind"] == "cpu"
        # whether the measurement agrees depends on how busy the machine is (a benchmark matter);
        # what is deterministic is that `agrees` compares the two kinds
        if r["measured_kind"] is None:
            assert r["agrees"] is None
        else:
            assert r["agrees"] is (r["measured_kind"] == r["static_kind"])
        assert r["advice"]["verdict"] in ("confirmed", "contradicted", "inconclusive", "not measured")
    else:
        assert r["static_kind"] is None and r["agrees"] is None
        assert r["static"]["note"] == "static analysis unavailable"


def test_no_static_option():
    r = _json(run_cli("pt_work:crunch", "--args", "[1000]", "--modes", "threads", *QUICK, "--no-static", "--format", "json"))
    assert r["static_kind"] is None and r["agrees"] is None
    assert r["static"]["note"] == "static comparison disabled"


def test_pyproject_entries_run_all_without_target(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.concurlint.probe]]\ntarget = "pt_work:crunch"\nargs = [30000]\ntasks = 2\nworkers = 2\n'
        'repeat = 1\nmodes = ["threads"]\npath = ["%s"]\n\n'
        '[[tool.concurlint.probe]]\ntarget = "pt_work:sleepy"\nargs = [0.01]\ntasks = 2\nworkers = 2\n'
        'repeat = 1\nmodes = "threads,asyncio"\npath = ["%s"]\n' % (TARGETS, TARGETS)
    )
    sub = tmp_path / "deeper"
    sub.mkdir()
    reports = _json(run_cli("--format", "json", cwd=sub))
    assert [r["target"] for r in reports] == ["pt_work:crunch", "pt_work:sleepy"]
    assert reports[0]["settings"]["args"] == [30000]
    assert set(reports[1]["modes"]) == {"serial", "threads", "asyncio"}
    # a TARGET named on the command line takes the entry's arguments, the CLI overrides them
    one = _json(run_cli("pt_work:crunch", "--args", "[10]", "--format", "json", cwd=sub))
    assert one["settings"]["args"] == [10] and one["settings"]["tasks"] == 2


def test_pyproject_unknown_key_is_a_usage_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[[tool.concurlint.probe]]\ntarget = "m:f"\nstart_method = "spawn"\n')
    done = run_cli(cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown key 'start_method'" in done.stderr and "start-method" in done.stderr


def test_no_target_and_no_entries_is_a_usage_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n")
    done = run_cli(cwd=tmp_path)
    assert done.returncode == 2 and "give a TARGET" in done.stderr


def test_method_through_factory_and_through_class():
    r = probe("pt_work:Scorer.score", args=[1000], factory="pt_work:make_scorer", modes=["processes"], tasks=2, workers=2)
    assert r["ok"], r.get("error")
    assert r["result_repr"] == repr(3 * __import__("pt_work").crunch(1000))
    assert r["function"]["qualname"] == "Scorer.score"
    r = probe("pt_work:Scorer.score", args=[1000], modes=["threads"], tasks=2, workers=2)
    assert r["ok"] and r["result_repr"] == repr(__import__("pt_work").crunch(1000))


@pytest.mark.exclusive  # a measurement (conftest.py)
def test_coroutine_function_runs_in_every_mode():
    def run():
        return probe("pt_work:async_sleepy", args=[0.05], modes=["threads", "processes", "asyncio"], tasks=4,
                     workers=4)

    # which mode wins is a measurement: re-measured once, skipped on a busy machine (probe_testlib)
    r = measure_until(run, lambda r: r["modes"]["asyncio"]["speedup"] >= 2.0 and r["recommended"] == "asyncio")
    assert r["function"]["is_coroutine"] is True
    assert r["measured_kind"] == "io"
    assert all(r["modes"][m]["wall_s"] is not None for m in ("threads", "processes", "asyncio"))


def test_spawn_start_method():
    r = probe("pt_work:crunch", args=[1000], modes=["processes"], start_method="spawn", tasks=2, workers=2)
    assert r["ok"], r.get("error")
    assert r["modes"]["processes"]["start_method"] == "spawn"


@pytest.mark.parametrize("version", ["3.13.0", "3.9.18"])
def test_other_interpreter(version):
    exe = python_version(version)
    r = _json(run_cli("pt_work:sleepy", "--args", "[0.02]", "--modes", "threads,processes,asyncio,interpreters",
                      "--python", exe, *QUICK, "--format", "json"))
    assert r["ok"], r.get("error")
    assert r["python"] == version
    assert r["executable"] == exe
    assert r["gil_enabled"] is True  # the pyenv builds here are not free-threaded
    assert r["free_threaded_build"] is False
    assert r["modes"]["processes"]["possible"] is True
    assert r["modes"]["interpreters"]["possible"] is False


def test_plot_svg(tmp_path):
    chart = tmp_path / "chart.svg"
    done = run_cli("pt_work:crunch", "--args", "[20000]", "--modes", "threads,processes", *QUICK, "--plot", str(chart))
    assert done.returncode == 0, done.stderr
    root = ET.parse(chart).getroot()
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for words in ("pt_work:crunch", "serial = 1.0x", "threads", "processes", "speed-up over serial"):
        assert words in texts


@pytest.mark.exclusive  # a measurement (conftest.py)
def test_expect_mismatch_exits_1():
    done = run_cli("pt_work:sleepy", "--args", "[0.05]", "--modes", "threads", "--tasks", "4", "--workers", "4",
                   "--repeat", "1", "--expect", "serial")
    assert done.returncode == 1
    assert "expected serial, but the measured best model is threads" in done.stdout


def test_plot_png_when_a_converter_is_installed(tmp_path):
    from concurlint.probe.plot import _png_converter

    if _png_converter() is None:
        pytest.skip("neither rsvg-convert nor ImageMagick is installed")
    chart = tmp_path / "chart.png"
    done = run_cli("pt_work:sleepy", "--args", "[0.01]", "--modes", "threads", *QUICK, "--plot", str(chart))
    assert done.returncode == 0, done.stderr
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""CCL4 follows values (issue #17): each finding says where the unpicklable value was made and how it
reached the pool, in ``related``. Through the real CLI."""
from __future__ import annotations

import textwrap

import pytest

from conftest import FIXTURES, ROOT, report_json


@pytest.fixture(scope="module")
def findings():
    paths = [str((FIXTURES / n).relative_to(ROOT)) for n in
             ("CCL401_render_farm.py", "CCL402_image_jobs.py", "CCL403_queue_feeder.py")]
    doc = report_json(*paths, "--min-confidence", "low", cwd=ROOT)
    return {(f["path"].rsplit("/", 1)[-1], f["line"]): f for f in doc["findings"] if f["code"].startswith("CCL4")}


def related(f):
    return [(r["line"], r["message"]) for r in f.get("related", [])]


def test_a_lambda_bound_to_names_says_where_it_was_made(findings):
    f = findings[("CCL401_render_farm.py", 27)]
    assert (24, "the lambda is made here") in related(f)


def test_an_appended_lambda_says_where_it_was_added_and_sent(findings):
    f = findings[("CCL401_render_farm.py", 29)]
    assert (29, "it is put into 'shaders' here (shaders.append)") in related(f)
    assert (30, "it is sent to ProcessPoolExecutor.submit here") in related(f)


def test_a_comprehension_of_lambdas(findings):
    f = findings[("CCL401_render_farm.py", 31)]
    assert "made by a list comprehension" in f["message"]
    assert (32, "it is sent to ProcessPoolExecutor.submit here") in related(f)


def test_a_partial_binding_a_lambda_says_where_the_partial_was_made(findings):
    f = findings[("CCL401_render_farm.py", 34)]
    assert "functools.partial wrapping a lambda" in f["message"]
    assert (33, "the functools.partial wrapping a lambda is made here") in related(f)


def test_a_lambda_passed_to_a_helper_that_sends_it(findings):
    f = findings[("CCL401_render_farm.py", 48)]
    assert "run_on_workers()" in f["message"]
    assert (15, "run_on_workers() sends its parameter 'fn' to ProcessPoolExecutor.map here") in related(f)


def test_a_decorator_without_wraps_is_cited(findings):
    f = findings[("CCL402_image_jobs.py", 67)]
    assert f["confidence"] == "medium"
    assert (8, "'timed' replaces 'thumbnail' with 'wrapper', without functools.wraps") in related(f)
    f = findings[("CCL402_image_jobs.py", 68)]
    assert "'retry'" in f["message"] and "'attempt'" in f["message"]


def test_a_function_defined_in_a_block(findings):
    f = findings[("CCL402_image_jobs.py", 66)]
    assert "nested function 'prepare'" in f["message"]
    assert (60, "the nested function 'prepare' is made here") in related(f)


def test_negatives_stay_quiet(findings):
    lines = {line for (name, line) in findings if name == "CCL401_render_farm.py"}
    assert not lines & {36, 42, 43, 52, 57}  # module-level callables, threads, joblib, a picklable send
    lines = {line for (name, line) in findings if name == "CCL402_image_jobs.py"}
    assert not lines & {69, 70}  # functools.wraps, lru_cache


def test_the_value_flows_into_a_function_of_another_module(tmp_path):
    pkg = tmp_path / "etl"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "workers.py").write_text(textwrap.dedent('''\
        from concurrent.futures import ProcessPoolExecutor


        def fan_out(transform, rows):
            with ProcessPoolExecutor() as pool:
                return list(pool.map(transform, rows))
        '''))
    (pkg / "jobs.py").write_text(textwrap.dedent('''\
        from etl.workers import fan_out


        def clean(row):
            return row.strip()


        def nightly(rows, suffix):
            cleaned = fan_out(clean, rows)
            return fan_out(lambda r: r + suffix, cleaned)
        '''))
    # every confidence: CCL402 and CCL408 report at medium at most (docs/precision.md), and none of
    # them may stand beside the lambda's CCL401
    doc = report_json("etl", "--min-confidence", "low", cwd=tmp_path)
    found = [(f["path"], f["line"], f["code"]) for f in doc["findings"] if f["code"].startswith("CCL4")]
    assert found == [("etl/jobs.py", 10, "CCL401")]
    f = next(f for f in doc["findings"] if f["code"] == "CCL401")
    assert [(r["path"], r["line"]) for r in f["related"]] == [("etl/workers.py", 6)]

"""The recommendation engine (concurlint/advice.py) through the real CLI: the JSON
``recommendations`` entries for realistic fixtures of every model, per target version."""
from __future__ import annotations

import functools
import textwrap

import pytest

from conftest import FIXTURES, ROOT, report_json, run_cli


def line_of(path, needle: str, nth: int = 0) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    assert len(hits) > nth, f"{needle!r} not in {path.name}"
    return hits[nth]


@functools.lru_cache(maxsize=None)
def _report(name: str, target=None, *extra: str) -> dict:
    """One real CLI run per (fixture, target); the tests only read the result."""
    args = [str((FIXTURES / name).relative_to(ROOT)), *extra]
    if target:
        args += ["--target-version", target]
    return report_json(*args, cwd=ROOT)


def recs_for(name: str, target=None) -> dict:
    """{line: [recommendation, ...]} for one fixture, through `concurlint report --format json`."""
    args = [str((FIXTURES / name).relative_to(ROOT))]
    doc = _report(name, target)
    out: dict = {}
    for r in doc["recommendations"]:
        assert r["path"] == args[0]
        assert r["current"] != r["recommended"] or r["reason"]
        out.setdefault(r["line"], []).append(r)
    return out


def rec_at(name: str, needle: str, target=None, nth: int = 0) -> dict:
    line = line_of(FIXTURES / name, needle, nth)
    found = recs_for(name, target).get(line)
    assert found, f"no recommendation at {name}:{line} ({needle!r})"
    return found[0]


def project_recs(tmp_path, source: str, target=None):
    (tmp_path / "app.py").write_text(textwrap.dedent(source))
    args = ["app.py"] + (["--target-version", target] if target else [])
    doc = report_json(*args, cwd=tmp_path)
    return doc


# ------------------------------------------------------------------ threads
SIZES = "its CPU work is loops over data whose size the code does not show"


def kept_for_sizes(r: dict) -> None:
    """Pure-Python CPU work in threads whose weight is only loops over data of a size the code does
    not show: the kind of work points to processes, the evidence does not carry a change (28 of 28
    such changes on real code were wrong), so threads are kept at medium and the reason says why."""
    assert (r["current"], r["recommended"], r["kind"], r["confidence"]) == ("threads", "threads", "cpu", "medium"), r
    assert r["reason"].startswith("keep threads: " + SIZES), r["reason"]
    assert "by the kind of work alone it would be processes" in r["reason"] and "concurlint probe" in r["reason"]
    assert "processes" in r["alternatives"]


def test_cpu_in_threads_goes_to_processes_where_the_code_sizes_the_work():
    r = rec_at("CCL101_risk_engine.py", "pool.map(simulate_loss")
    assert (r["current"], r["recommended"], r["kind"], r["confidence"]) == ("threads", "processes", "cpu", "high")
    assert r["function"].endswith(".simulate_loss")
    assert "GIL" in r["reason"] and "calls random.Random.gauss (cpu, in a loop)" in r["reason"]
    assert r["reason"].endswith("the code sizes it: for loop over range(PATHS) at CCL101_risk_engine.py:22")
    assert "interpreters" not in r["alternatives"]  # no target: interpreters are not offered
    assert "free-threading" in r["alternatives"]
    gathered = rec_at("CCL101_risk_engine.py", "asyncio.to_thread(simulate_loss")
    assert (gathered["recommended"], gathered["confidence"]) == ("processes", "high")


def test_cpu_in_threads_over_data_of_unknown_size_keeps_its_threads():
    """`moving_average(values, 5)`: nested loops over the series handed in, of a length the code
    does not show; the advice keeps threads, and CCL101 names the work at low."""
    r = rec_at("CCL101_report_renderer.py", "asyncio.to_thread(moving_average")
    kept_for_sizes(r)
    assert "(nested for loop x100 at CCL101_report_renderer.py:31)" in r["reason"]
    doc = _report("CCL101_report_renderer.py", None, "--min-confidence", "low")
    line = line_of(FIXTURES / "CCL101_report_renderer.py", "asyncio.to_thread(moving_average")
    [found] = [f for f in doc["findings"] if f["code"] == "CCL101" and f["line"] == line]
    assert found["confidence"] == "low" and "if the data is large enough" in found["message"]


def test_loops_over_a_few_written_items_are_light():
    """`range(RETRIES)` with `RETRIES = 3`, `for shock in SHOCKS` (four at module level): the code
    writes how few they are, so the work is light and fits where it is."""
    for needle in ("pool.map(quick_quote", "pool.map(stress_table"):
        r = rec_at("CCL101_risk_engine.py", needle)
        assert (r["current"], r["recommended"], r["confidence"]) == ("threads", "threads", "high"), r
        assert "only light CPU work" in r["reason"], r["reason"]


@pytest.mark.parametrize("needle,fn", [
    ("functools.partial(histogram", "histogram"),
    ("lambda n: fib(n)", "fib"),
    ("run_in_executor(None, histogram", "histogram"),
    ("asyncio.to_thread(moving_average", "moving_average"),
])
def test_every_thread_dispatch_form_is_resolved(needle, fn):
    r = rec_at("CCL101_report_renderer.py", needle)
    assert r["function"].endswith(fn)
    if fn == "fib":  # recursion: CPU work whatever the data
        assert (r["current"], r["recommended"], r["confidence"]) == ("threads", "processes", "high")
    else:
        kept_for_sizes(r)


def test_a_plain_threads_cpu_target_keeps_its_thread():
    """`threading.Thread(target=histogram, ...)` resolves to histogram (CPU work), but a thread's
    target hands nothing back: without IO its result stays in this process's memory, so the
    thread is kept, and the advice says why (python-voiceio's start-up warm-up)."""
    r = rec_at("CCL101_report_renderer.py", "threading.Thread(target=histogram")
    assert r["function"].endswith("histogram") and r["kind"] == "cpu"
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert "a thread's target returns nothing" in r["reason"]


@pytest.mark.parametrize("needle,fn", [
    ("job.start()", "HistogramThread.run"),
    ("pool.map(renderer.render", "Renderer.render"),
])
def test_a_method_is_not_moved_to_processes(needle, fn):
    """CPU work, but bound to an object: a process pool would pickle the object (and whatever it
    holds) with every task, and a Thread subclass keeps its result on self, which a child process
    would keep to itself. The advice keeps threads and says why."""
    r = rec_at("CCL101_report_renderer.py", needle)
    assert r["function"].endswith(fn) and r["kind"] == "cpu"
    assert (r["current"], r["recommended"], r["confidence"]) == ("threads", "threads", "medium")
    assert "is a method: a process pool would pickle its object" in r["reason"]
    assert "processes" in r["alternatives"]


def test_a_lambda_carrying_the_callers_names_is_not_moved_to_processes():
    """`pool.map(lambda series: moving_average(series, window), ...)`: CPU work, but the lambda
    carries the caller's `window` and a process pool cannot pickle it (graphrag's sort_context);
    `lambda n: fib(n)` forwards only its own parameter and stands for fib (moved above)."""
    r = rec_at("CCL101_report_renderer.py", "lambda series: moving_average")
    assert r["function"].endswith(".moving_average") and r["kind"] == "cpu"
    assert (r["current"], r["recommended"], r["confidence"]) == ("threads", "threads", "medium")
    assert "a lambda around moving_average() that uses the caller's window" in r["reason"]
    assert "processes" in r["alternatives"]


def test_a_closure_is_not_moved_to_processes():
    """CPU work in a nested function handed to asyncio.to_thread (crawlee's build_requests): pickle
    finds functions by qualified name, so a process pool cannot take a closure. Keep threads, say
    why, and report no CCL101 for it (its advice would be the move)."""
    r = rec_at("CCL101_report_renderer.py", "asyncio.to_thread(windowed_energy")
    assert r["function"].endswith("handle_window_report.<locals>.windowed_energy") and r["kind"] == "cpu"
    assert (r["current"], r["recommended"], r["confidence"]) == ("threads", "threads", "medium")
    assert "is a nested function" in r["reason"] and "cannot take it" in r["reason"]
    assert "processes" in r["alternatives"]


def test_a_static_method_moves_like_a_function():
    """`@staticmethod` (resolved as builtins.staticmethod) binds no object: nothing to pickle."""
    r = rec_at("CCL101_report_renderer.py", "pool.map(Renderer.smooth")
    assert r["function"].endswith("Renderer.smooth")
    kept_for_sizes(r)  # not "is a method": only the size of its data keeps it


def test_gil_releasing_work_stays_on_threads():
    for needle in ("pool.map(compress_page", "pool.map(fingerprint", "pool.map(smooth_matrix"):
        r = rec_at("CCL101_report_renderer.py", needle)
        assert (r["current"], r["recommended"]) == ("threads", "threads"), r
        assert "releases the GIL" in r["reason"]


def test_io_in_threads_fits():
    r = rec_at("CCL102_link_checker.py", "threads.map(head_status")
    assert (r["current"], r["recommended"], r["kind"]) == ("threads", "threads", "io")
    assert r["reason"].startswith("fits") and "requests.head" in r["reason"]
    assert r["alternatives"] == ["asyncio"]


# ---------------------------------------------------------------- processes
def test_io_in_process_pool_goes_to_threads():
    r = rec_at("CCL102_link_checker.py", "pool.map(head_status")
    assert (r["current"], r["recommended"]) == ("processes", "threads")
    assert "pickling" in r["reason"] and "requests.head" in r["reason"]
    r = rec_at("CCL102_link_checker.py", "run_in_executor(pool, head_status")
    assert (r["current"], r["recommended"]) == ("processes", "threads")


def test_local_file_io_in_processes_is_advice_not_a_finding():
    r = rec_at("CCL102_link_checker.py", "pool.map(line_count")
    assert (r["current"], r["recommended"]) == ("processes", "processes")
    assert r["reason"].startswith("kept") and "local files" in r["reason"]
    assert r["alternatives"] == ["threads"]


def test_work_that_changes_process_wide_state_keeps_its_processes():
    # molecule's scenario workers: each chdir()s and sets its environment, so the process pool is
    # there for isolation; the pool that only downloads is still told to use threads
    r = rec_at("CCL102_scenario_runner.py", "pool.submit(run_scenario")
    assert (r["current"], r["recommended"]) == ("processes", "processes")
    assert "process-wide state" in r["reason"] and "os.chdir() in _prepare()" in r["reason"]
    r = rec_at("CCL102_scenario_runner.py", "pool.map(fetch_artefact")
    assert (r["current"], r["recommended"]) == ("processes", "threads")


def test_a_program_started_in_the_background_is_not_a_wait():
    # solox's screen recorder: `os.system("nohup scrcpy ... &")` returns as soon as the shell has
    # started it, so the task is not IO worth a thread pool (its only other IO is making a
    # folder) and it holds nothing in processes: the pool's samplers, which poll the device, are
    # still told to use threads
    r = rec_at("CCL102_device_sampler.py", "pool.apply_async(start_recorder")
    assert (r["current"], r["recommended"]) == ("processes", "processes")
    assert "os.system" not in r["reason"]
    for needle in ("pool.apply_async(cpu_samples", "pool.apply_async(memory_samples"):
        r = rec_at("CCL102_device_sampler.py", needle)
        assert (r["current"], r["recommended"]) == ("processes", "threads")
        assert "subprocess.run" in r["reason"]


def test_cpu_work_beside_a_library_clients_calls_keeps_its_threads():
    # deemon's per-artist lookups (rev146d's wrong model change): the work also calls a module-level
    # API client of a library the analysis does not know, whose waits are not seen; work on data
    # already in memory is kept only for the size of its data
    r = rec_at("CCL101_music_upgrade.py", "pool.map(track_ids_for")
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert "dz (deezer.Deezer)" in r["reason"]
    kept_for_sizes(rec_at("CCL101_music_upgrade.py", "pool.submit(near_duplicates"))


def test_a_pool_of_external_programs_keeps_its_processes():
    # openmim's grid search: `executor.map(subprocess.check_call, cmds)`, each task an srun job of
    # hours; threads would wait the same way, so no change is advised (and CCL102 stays quiet)
    r = rec_at("CCL102_grid_search.py", "executor.map(subprocess.check_call")
    assert (r["current"], r["recommended"]) == ("processes", "processes")
    assert "external program" in r["reason"]
    r = rec_at("CCL102_grid_search.py", "executor.map(fetch_metrics")
    assert (r["current"], r["recommended"]) == ("processes", "threads")


def test_a_pipeline_stage_fed_through_pipes_keeps_its_processes():
    # gaterpc's incremental compression: a process reads raw chunks from a pipe, compresses them
    # with a compressor chosen by name and writes blocks to another pipe; its waits are its feed
    r = rec_at("CCL102_compress_stage.py", "await loop.run_in_executor(pool, compress_stage")
    assert (r["current"], r["recommended"]) == ("processes", "processes")
    assert "channels that feed it work" in r["reason"]
    r = rec_at("CCL102_compress_stage.py", "pool.map(upload_checksum")
    assert (r["current"], r["recommended"]) == ("processes", "threads")


@pytest.mark.parametrize("needle,nth,words", [
    ("pool.map(simulate_paths, seeds", 0, ["fork start method", "deadlock", "Windows"]),
    ("pool.map(simulate_paths, seeds", 1, ["spawn start method", "__main__ guard"]),
    ("ctx.Process(target=count_primes", 0, ["forkserver start method"]),
    ("pool.apply_async(count_primes", 0, ["forkserver from 3.14"]),
])
def test_cpu_in_processes_fits_with_start_method_advice_for_314(needle, nth, words):
    r = rec_at("CCL101_models_processes.py", needle, target="3.14", nth=nth)
    assert (r["current"], r["recommended"]) == ("processes", "processes")
    assert r["reason"].startswith("fits")
    assert "interpreters" in r["alternatives"]  # 3.14 has InterpreterPoolExecutor
    for w in words:
        assert w in r["reason"], (w, r["reason"])


def test_default_start_method_advice_follows_the_target():
    needle = "pool.apply_async(count_primes"
    r312 = rec_at("CCL101_models_processes.py", needle, target="3.12")
    assert "fork on Linux before 3.14" in r312["reason"] and "interpreters" not in r312["alternatives"]
    r = rec_at("CCL101_models_processes.py", "pool.map(simulate_paths, seeds)", target="3.12")
    assert "DeprecationWarning from 3.12" in r["reason"]
    r311 = rec_at("CCL101_models_processes.py", "pool.map(simulate_paths, seeds)", target="3.11")
    assert "DeprecationWarning" not in r311["reason"]


def test_set_start_method_is_the_default_for_every_pool(tmp_path):
    doc = project_recs(tmp_path, """
        import multiprocessing

        def crunch(n):
            total = 0
            for i in range(n):
                for j in range(n):
                    total += i ^ j
            return total

        if __name__ == "__main__":
            multiprocessing.set_start_method("spawn")
            with multiprocessing.Pool() as pool:
                print(pool.map(crunch, [300, 400]))
        """, target="3.12")
    (r,) = doc["recommendations"]
    assert r["recommended"] == "processes" and "spawn start method" in r["reason"]


# ------------------------------------------------------------------ asyncio
def test_awaited_async_io_fits_asyncio():
    for needle in ("asyncio.gather(*[fetch_price", "asyncio.create_task(poll", "tg.create_task(fetch_price"):
        r = rec_at("CCL101_models_asyncio.py", needle)
        assert (r["current"], r["recommended"], r["kind"]) == ("asyncio", "asyncio", "io"), r
        assert r["reason"].startswith("fits") and "one thread" in r["reason"]
    r = rec_at("CCL101_models_asyncio.py", "asyncio.gather(*[fetch_price")
    assert r["function"].endswith("fetch_price")  # resolved through the list comprehension


def test_cpu_bound_coroutine_stays_on_the_loop_and_offloads_its_cpu_part(tmp_path):
    doc = project_recs(tmp_path, """
        import asyncio

        async def score(rows):
            total = 0
            for row in rows:
                for x in row:
                    total += x * x
            return total

        async def main(batches):
            return await asyncio.gather(*(score(b) for b in batches))
        """)
    (r,) = doc["recommendations"]
    # a coroutine cannot be sent to a process pool: the advice keeps asyncio and names the fix
    assert (r["current"], r["recommended"]) == ("asyncio", "asyncio")
    assert "event loop" in r["reason"] and "run_in_executor" in r["reason"] and "plain function" in r["reason"]
    assert r["confidence"] == "high"


# ------------------------------------------------- joblib / dask / ray / MPI
def test_joblib_backends():
    name = "CCL101_models_distributed.py"
    loky = rec_at(name, "Parallel(n_jobs=-1)")
    assert (loky["current"], loky["recommended"]) == ("processes", "processes")
    assert "start method" not in loky["reason"]  # loky manages its own workers
    threads_io = rec_at(name, 'prefer="threads"')
    assert (threads_io["current"], threads_io["recommended"], threads_io["kind"]) == ("threads", "threads", "io")
    kept_for_sizes(rec_at(name, 'backend="threading"'))


@pytest.mark.parametrize("needle,engine", [
    ("dask.delayed(featurize)", "dask"), ("client.map(featurize", "dask"),
    ("client.submit(featurize", "dask"), ("ray_featurize.remote(d)", "ray"), ("pool.map(featurize", "MPI"),
    ("matrix = similarity(lazy)", "dask"),
])
def test_distributed_engines_fit_cpu_work(needle, engine):
    r = rec_at("CCL101_models_distributed.py", needle)
    assert (r["current"], r["recommended"], r["kind"]) == ("distributed", "distributed", "cpu")
    assert engine in r["reason"] and r["alternatives"] == ["processes"]


def test_loops_over_a_few_fixed_items_are_not_cpu_evidence():
    """`for position in POSITIONS` (four constants), `zip(CHANNELS, ...)`, `enumerate(...)` of
    them: bookkeeping around file reads; the session parser waits on IO, and only the nested
    scoring over the data it is handed is CPU work."""
    parse = rec_at("CCL101_recipe_positions.py", "pool.map(parse_session")
    assert (parse["kind"], parse["current"], parse["recommended"], parse["confidence"]) == ("io", "threads", "threads", "high")
    kept_for_sizes(rec_at("CCL101_recipe_positions.py", "pool.map(alignment_scores"))


def test_a_cluster_is_kept_for_io_work():
    """A distributed engine adds machines; whether the program could run on one is not in the
    code: IO work on a cluster keeps the cluster, and the reason says what threads would give."""
    r = rec_at("CCL101_models_distributed.py", "client.map(download")
    assert (r["current"], r["recommended"], r["kind"]) == ("distributed", "distributed", "io")
    assert r["confidence"] == "medium" and "cluster" in r["reason"] and "threads" in r["alternatives"]


# ---------------------------------------------------- interpreters (3.14)
def test_interpreters_on_314():
    r = rec_at("CCL101_models_interpreters.py", "pool.map(tokenize_counts", target="3.14")
    assert (r["current"], r["recommended"]) == ("interpreters", "interpreters")
    assert "own GIL" in r["reason"] and "pickled" in r["reason"]
    call = rec_at("CCL101_models_interpreters.py", "interp.call(levenshtein", target="3.14")
    assert call["recommended"] == "interpreters" and "calling thread" in call["reason"]
    threads = rec_at("CCL101_models_interpreters.py", "pool.map(tokenize_counts", target="3.14", nth=1)
    kept_for_sizes(threads)
    assert "interpreters" in threads["alternatives"]
    sized = rec_at("CCL101_risk_engine.py", "pool.map(simulate_loss", target="3.14")
    assert (sized["current"], sized["recommended"]) == ("threads", "processes")
    assert sized["alternatives"][0] == "interpreters" and "one GIL each" in sized["reason"]


def test_interpreters_are_never_advised_before_314():
    r = rec_at("CCL101_models_interpreters.py", "pool.map(tokenize_counts", target="3.12")
    assert (r["current"], r["recommended"]) == ("interpreters", "processes")
    assert "needs Python 3.14" in r["reason"] and "3.12" in r["reason"]
    every = recs_for("CCL101_report_renderer.py", target="3.13")
    assert all("interpreters" not in r["alternatives"] and r["recommended"] != "interpreters"
               for rs in every.values() for r in rs)


# --------------------------------------------------- free-threading (3.13t)
def test_free_threading_recommended_only_on_a_free_threaded_target():
    name = "CCL101_models_free_threaded.py"
    ft = rec_at(name, "pool.map(mandelbrot_row", target="3.13t")
    assert (ft["current"], ft["recommended"]) == ("threads", "free-threading")
    assert "3.13t" in ft["reason"] and "locks" in ft["reason"]
    gil = rec_at(name, "pool.map(mandelbrot_row", target="3.13")
    kept_for_sizes(gil)
    assert "free-threading" in gil["alternatives"]
    sized = rec_at("CCL101_risk_engine.py", "pool.map(simulate_loss", target="3.13t")
    assert (sized["current"], sized["recommended"]) == ("threads", "free-threading")
    sized = rec_at("CCL101_risk_engine.py", "pool.map(simulate_loss", target="3.13")
    assert sized["recommended"] == "processes" and "free-threading" in sized["alternatives"]
    for rs in recs_for("CCL101_report_renderer.py", target="3.14").values():
        for r in rs:
            assert r["recommended"] != "free-threading"


def test_free_threaded_target_silences_cpu_in_threads():
    # CCL101 reports at medium at most (its record on real code, docs/precision.md), and at low
    # where the data's size is not in the code
    doc = _report("CCL101_report_renderer.py", "3.14t", "--min-confidence", "low")
    assert not [f for f in doc["findings"] if f["code"] == "CCL101"]
    doc = _report("CCL101_report_renderer.py", "3.14", "--min-confidence", "low")
    assert len([f for f in doc["findings"] if f["code"] == "CCL101"]) >= 5


# ------------------------------------------------------------ text report
def test_text_report_has_a_recommendations_section():
    proc = run_cli("report", str((FIXTURES / "CCL102_link_checker.py").relative_to(ROOT)), "--no-cache", cwd=ROOT)
    assert "Recommendations" in proc.stdout
    line = line_of(FIXTURES / "CCL102_link_checker.py", "pool.map(head_status")
    row = [ln for ln in proc.stdout.splitlines() if f":{line}:" in ln and "head_status" in ln and "->" in ln]
    assert row and "processes -> threads" in row[0]


def test_every_dispatch_site_has_a_recommendation_even_when_it_fits():
    recs = recs_for("CCL101_models_processes.py", target="3.14")
    assert len([r for rs in recs.values() for r in rs]) == 4
    assert all(r["current"] == r["recommended"] for rs in recs.values() for r in rs)


# ------------------------------------------- rows of the table the fixtures above do not reach
@pytest.mark.parametrize("kind,gil,current,version,ft,want,alts", [
    ("io", None, "interpreters", (3, 14), False, "threads", ["asyncio"]),
    ("io", None, "distributed", None, False, "threads", ["asyncio", "distributed"]),
    ("cpu", False, "serial", (3, 12), False, "processes", ["free-threading"]),
    ("cpu", True, "serial", None, False, "threads", ["processes"]),
    ("mixed", False, "threads", (3, 14), False, "processes", ["interpreters", "free-threading"]),
    ("cpu", False, "asyncio", (3, 13), True, "free-threading", ["processes"]),
    ("cpu", True, "asyncio", None, False, "threads", ["processes"]),
    ("unknown", None, "threads", (3, 14), False, "threads", []),
])
def test_decision_table_rows(kind, gil, current, version, ft, want, alts):
    from concurlint.advice import recommend

    rec, got_alts, reason = recommend(kind, gil, current == "asyncio", current, version, ft, function="pkg.job")
    assert (rec, got_alts) == (want, alts)
    assert "job()" in reason


def test_blocking_call_in_a_coroutine_is_named():
    from concurlint.advice import recommend

    rec, alts, reason = recommend("io", None, True, "asyncio", (3, 12), False, function="pkg.handler",
                                  blocking="requests.get() (requests.get)")
    assert rec == "asyncio" and alts == ["threads"]
    assert "requests.get" in reason and "to_thread" in reason


def test_memoised_work_stays_where_its_cache_is():
    # a process pool would fill each child's lru_cache and leave the caller's empty
    r = rec_at("CCL101_memoised_parser.py", "run_in_executor(None, parse_event")
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert "memoised" in r["reason"] and "lru_cache" in r["reason"]
    kept_for_sizes(rec_at("CCL101_memoised_parser.py", "pool.map(rank_tracks"))


def test_threads_are_kept_when_part_of_the_cpu_work_releases_the_gil():
    """NumPy in the batch loop beside a helper read as pure Python (which may reach the project's
    own compiled code): the evidence for processes is not strong; pure-Python work is kept only
    for the size of its data."""
    r = rec_at("CCL101_compiled_segments.py", "pool.map(query_batch")
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert "releases the GIL" in r["reason"]
    kept_for_sizes(rec_at("CCL101_compiled_segments.py", "pool.map(tokenize"))


REFERENCE_CHECKER = '''
from concurrent.futures import ThreadPoolExecutor


def similarity(a: str, b: str) -> float:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
    return 1 - table[-1][-1] / max(len(a), len(b), 1)


def screen(entry: dict, catalogue: list) -> float:
    return max(similarity(entry["title"], known) for known in catalogue)


def check_reference(entry: dict, catalogue: list, llm_client) -> dict:
    score = screen(entry, catalogue)
    if score > 0.9:
        return {"verdict": "ok", "score": score}
    return llm_client.verify(entry["title"], entry["authors"])


def check_reference_offline(entry: dict, catalogue: list) -> dict:
    return {"verdict": "ok" if screen(entry, catalogue) > 0.9 else "unknown"}


def check_all(entries, catalogue, llm_client):
    with ThreadPoolExecutor(max_workers=8) as pool:
        online = [pool.submit(check_reference, e, catalogue, llm_client) for e in entries]
        offline = [pool.submit(check_reference_offline, e, catalogue) for e in entries]
    return [f.result() for f in online + offline]
'''


@pytest.mark.parametrize("param", ["llm_client", "provider", "translation_service"])
def test_work_through_a_client_handed_in_keeps_its_threads(tmp_path, param):
    """A title screen (nested loops: CPU) and then an LLM call through `llm_client`, an object the
    caller hands in whose calls are not resolved (academic-refchecker's hallucination check; tepub's
    translation `provider`, rev116a's wrong change): its waits are not seen, so threads are kept and
    the reason says why; the same screen without the client is kept only for the size of its data."""
    source = REFERENCE_CHECKER.replace("llm_client", param)
    recs = {r["function"].rsplit(".", 1)[-1]: r for r in project_recs(tmp_path, source)["recommendations"]}
    online, offline = recs["check_reference"], recs["check_reference_offline"]
    assert (online["current"], online["recommended"]) == ("threads", "threads"), online
    assert f"it also works through {param}" in online["reason"], online["reason"]
    kept_for_sizes(offline)


def test_one_cpu_task_beside_a_wait_in_the_same_pool_keeps_its_threads():
    # hdl-checker's static check of one file beside the compiler run (rev113c's wrong change):
    # threads already overlap the two; processes help only when several CPU tasks run at once
    r = rec_at("CCL101_lint_server.py", "pool.apply_async(static_scan")
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert "one task here" in r["reason"] and "compile_messages()" in r["reason"]
    kept_for_sizes(rec_at("CCL101_lint_server.py", "pool.map(static_scan"))


def test_one_awaited_thread_call_of_cpu_work_keeps_its_thread():
    # pyprland's palette on each wallpaper change (rev116d's two wrong changes): the thread keeps
    # the loop free; a gather of such calls over a folder runs them at once, and is kept only for
    # the size of its data
    r = rec_at("CCL101_wallpaper_daemon.py", "asyncio.to_thread(dominant_colors, pixels)")
    assert (r["current"], r["recommended"]) == ("threads", "threads")
    assert "one call, awaited where it is made" in r["reason"]
    kept_for_sizes(rec_at("CCL101_wallpaper_daemon.py", "asyncio.to_thread(dominant_colors, px)"))


def test_cpu_work_handed_over_once_keeps_its_thread():
    """Processes speed CPU work up only by running several tasks at once: one photo scored when
    the user opens it, or an index built once on a thread of its own, keeps its thread (27 such
    changes on real code were labelled wrong); the helper a folder import calls once per photo
    hands over a task per photo, and is kept only for the size of its data (a photo's pixels)."""
    r = rec_at("CCL101_photo_library.py", "self.pool.submit(sharpness")
    assert (r["current"], r["recommended"], r["kind"]) == ("threads", "threads", "cpu")
    assert "one task, handed over once" in r["reason"] and "processes" in r["alternatives"]
    kept_for_sizes(rec_at("CCL101_photo_library.py", "return pool.submit(sharpness"))
    r = rec_at("CCL101_photo_library.py", "threading.Thread(target=self._index_all")
    assert (r["current"], r["recommended"]) == ("threads", "threads")


SCREENSHOTTER = '''
import multiprocessing
import os
import subprocess
import time
import urllib.request


def _new_group():
    os.setsid()


def shoot(url, timeout=30):
    """One headless browser per URL, killed with its whole group when it hangs."""
    proc = subprocess.Popen(["chromium", "--headless", "--screenshot", url], preexec_fn=_new_group)
    start = time.monotonic()
    while proc.poll() is None:
        time.sleep(0.1)
        if time.monotonic() - start > timeout:
            os.killpg(os.getpgid(proc.pid), 9)
            return False
    return proc.returncode == 0


def fetch_status(url):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status


def shoot_all(urls):
    with multiprocessing.Pool(8) as pool:
        return pool.map(shoot, urls)


def check_all(urls):
    with multiprocessing.Pool(8) as pool:
        return pool.map(fetch_status, urls)
'''


def test_programs_started_with_preexec_fn_keep_their_processes(tmp_path):
    # webscreenshot's browser per URL in its own process group (rev114c's wrong change): Python's
    # documentation says preexec_fn is not safe with threads; the pool's page fetches still move
    recs = {r["function"].rsplit(".", 1)[-1]: r for r in project_recs(tmp_path, SCREENSHOTTER)["recommendations"]}
    shoot, status = recs["shoot"], recs["fetch_status"]
    assert (shoot["current"], shoot["recommended"]) == ("processes", "processes"), shoot
    assert "preexec_fn" in shoot["reason"] and "_new_group" not in shoot["reason"], shoot["reason"]
    assert (status["current"], status["recommended"]) == ("processes", "threads"), status


POD_WATCH = '''
import re
from concurrent.futures import ThreadPoolExecutor


def tally(events, pattern):
    counts = {}
    for event in events:
        for part in re.split(r"[-.]", event["name"]):
            for other in events:
                if other["name"].startswith(part) and re.match(pattern, other["namespace"]):
                    counts[part] = counts.get(part, 0) + len(other["name"]) * 31 % 7
    return counts


def start_tally(events, pattern):
    pool = ThreadPoolExecutor(max_workers=1)
    return pool.submit(tally, events, pattern)


def tally_all(batches, pattern):
    with ThreadPoolExecutor(max_workers=8) as pool:
        return [f.result() for f in [pool.submit(tally, b, pattern) for b in batches]]
'''


def test_a_pool_of_one_thread_keeps_its_thread(tmp_path):
    # krkn-lib's pod watch handed to ThreadPoolExecutor(max_workers=1) (rev117a's three wrong
    # changes): the worker takes the work off the caller; a pool of one process is no faster
    recs = [r for r in project_recs(tmp_path, POD_WATCH)["recommendations"] if r["function"] == "app.tally"]
    one, many = sorted(recs, key=lambda r: r["line"])
    assert (one["current"], one["recommended"]) == ("threads", "threads"), one
    assert "pool has one worker" in one["reason"], one["reason"]
    kept_for_sizes(many)


READ_CLEANER = '''
import logging
import os
import subprocess
from multiprocessing import Pool

log = logging.getLogger("cleaner")


def is_file_readable(path):
    if not os.path.exists(path) or not os.access(path, os.R_OK):
        raise OSError(f"cannot read {path}")


def run_command(command, infiles, stdout_file=None):
    for path in infiles:
        is_file_readable(path)
    log.info("running %s", " ".join(command))
    if stdout_file:
        with open(stdout_file, "w") as out:
            subprocess.check_call(command, stdout=out)
    else:
        subprocess.check_output(command, stderr=subprocess.STDOUT)


def run_command_returncode(args):
    try:
        run_command(*args)
    except (OSError, subprocess.CalledProcessError):
        return 1
    return 0


def poll_memory(serial):
    readings = []
    while len(readings) < 100:
        readings.append(read_meminfo(serial))
    return readings


def read_meminfo(serial):
    return subprocess.check_output(["adb", "-s", serial, "shell", "cat", "/proc/meminfo"], text=True)


def trim_all(commands):
    with Pool(4) as pool:
        return pool.map(run_command_returncode, commands)


def poll_devices(serials):
    with Pool(4) as pool:
        return pool.map(poll_memory, serials)
'''


def test_a_pool_whose_helper_runs_one_program_keeps_its_processes(tmp_path):
    # kneaddata's trimmomatic/bowtie2 stages and eggnog-mapper's phmmer runs, each handed to a
    # project helper that runs one program and waits (rev120c's two wrong changes); a helper that
    # polls a program in a loop is not one program per task (solox's adb collectors: what it does
    # with the readings decides there)
    recs = {r["function"].rsplit(".", 1)[-1]: r for r in project_recs(tmp_path, READ_CLEANER)["recommendations"]}
    trim, poll = recs["run_command_returncode"], recs["poll_memory"]
    assert (trim["current"], trim["recommended"]) == ("processes", "processes"), trim
    assert "each task runs one external program" in trim["reason"], trim["reason"]
    assert "each task runs one external program" not in poll["reason"], poll["reason"]

"""`concurlint fix` for dropped futures (CCL602, unsafe) and the TaskGroup form of the dropped-task
fix (CCL503, unsafe, target Python 3.11+), through the installed command, and the fixed programs
run: the export job's failure is no longer silent, the link checker waits for its tasks.

Every fix is checked by tests/fixcheck.py: no finding added, no comment lost, the changed file
parses under Python 3.9 and this Python, and a second run changes nothing."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from fixcheck import check_fix, findings, fix, pyenv_python

EXPORT = textwrap.dedent('''\
    """Nightly export: renders every report to HTML and writes it out (run as a script)."""
    import asyncio
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from multiprocessing.pool import ThreadPool
    from pathlib import Path


    def render(name):
        if name.startswith("broken"):
            raise ValueError(f"cannot render {name}")
        return f"<html><h1>{name}</h1></html>"


    def write_report(name, out_dir):
        (Path(out_dir) / f"{name}.html").write_text(render(name), encoding="utf-8")


    def write_index(names, out_dir):
        (Path(out_dir) / "index.html").write_text("\\n".join(names), encoding="utf-8")


    def export(names, out_dir):
        with ThreadPoolExecutor(max_workers=4) as pool:
            # one task per report, and the index once
            for name in names:
                pool.submit(write_report, name, out_dir)  # the pool waits for them on exit
                if name.endswith("-summary"):
                    pool.submit(write_report, name + "-print", out_dir)
            pool.submit(write_index, names, out_dir)
        return len(names)


    def warm_cache(names):
        with ThreadPoolExecutor() as pool:
            pool.map(render, names)  # fills the template cache


    def export_legacy(names, out_dir):
        with ThreadPool(2) as pool:
            for name in names:
                pool.apply_async(write_report, (name, out_dir))
            pool.close()
            pool.join()


    # ---- left alone, and the finding says why -------------------------------------------------
    async def export_async(names, out_dir):
        with ThreadPoolExecutor() as pool:
            for name in names:
                pool.submit(write_report, name, out_dir)  # waiting here would block the event loop
            await asyncio.sleep(0)


    def export_queue(queue, out_dir):
        with ThreadPoolExecutor() as pool:
            while True:
                name = queue.get()
                if name is None:
                    break
                pool.submit(write_report, name, out_dir)  # a service loop: may never end


    def export_until_broken(names, out_dir):
        with ThreadPoolExecutor() as pool:
            for name in names:
                if name.startswith("broken"):
                    return name
                pool.submit(write_report, name, out_dir)
        return None


    if __name__ == "__main__":
        count = export(sys.argv[2:], sys.argv[1])
        print(f"exported {count} reports")
    ''')

LINKS = textwrap.dedent('''\
    """Link checker: every link of a page is checked in a task of its own (run as a script)."""
    import asyncio
    import sys

    CHECKED = {}


    def probe(url):
        # stands in for an HTTP HEAD request, run in a worker thread
        if "broken" in url:
            raise ConnectionError(f"cannot reach {url}")
        return 200


    async def check(url):
        CHECKED[url] = await asyncio.to_thread(probe, url)


    async def check_all(urls):
        for url in urls:
            if url in CHECKED:
                continue  # checked on an earlier page
            asyncio.create_task(check(url))  # one task per link


    async def check_one(url):
        asyncio.create_task(check(url))  # not in a loop: a task of its own
        return url


    async def check_and_log(urls):
        for url in urls:
            asyncio.create_task(check(url))
        print("started", len(urls))  # runs while the checks do: no task group here


    if __name__ == "__main__":
        asyncio.run(check_all(sys.argv[1:]))
        print(" ".join(f"{u}={s}" for u, s in sorted(CHECKED.items())))
    ''')


def _codes(found, code):
    return [f for f in found if f["code"] == code]


def _python_311() -> str:
    """A Python with asyncio.TaskGroup to run the fixed link checker (skip without one)."""
    if sys.version_info >= (3, 11):
        return sys.executable
    for version in ("3.13.0", "3.12.1"):
        p = pyenv_python(version)
        if p is not None:
            return str(p)
    pytest.skip("no Python 3.11+ here to run a TaskGroup")


# ---------------------------------------------------------------- CCL602
def test_dropped_futures_are_collected_and_checked(tmp_path):
    (tmp_path / "export.py").write_text(EXPORT, encoding="utf-8")
    facts = check_fix(tmp_path, "export.py", "--unsafe-fixes")
    text = (tmp_path / "export.py").read_text(encoding="utf-8")
    assert (
        "        # one task per report, and the index once\n"
        "        futures = []\n"
        "        for name in names:\n"
        "            futures.append(pool.submit(write_report, name, out_dir))  # the pool waits for them on exit\n"
        "            if name.endswith(\"-summary\"):\n"
        "                futures.append(pool.submit(write_report, name + \"-print\", out_dir))\n"
        "        for future in futures:\n"
        "            future.result()\n"
        "        future_2 = pool.submit(write_index, names, out_dir)\n"
        "        future_2.result()\n"
        "    return len(names)\n") in text, text
    assert "        for _ in pool.map(render, names):  # fills the template cache\n            pass\n" in text
    assert ("        results = []\n        for name in names:\n"
            "            results.append(pool.apply_async(write_report, (name, out_dir)))\n"
            "        for result in results:\n            result.get()\n        pool.close()\n") in text
    # what cannot be fixed is left as it was, and says why
    left = _codes(facts["after"], "CCL602")
    assert [f["function"].rsplit(".", 1)[-1] for f in left] == ["export_async", "export_queue", "export_until_broken"]
    out = facts["output"]
    assert "[not fixed: waiting for the result in a coroutine would block the event loop" in out
    assert "[not fixed: the task is submitted in a `while` loop, which may never end" in out
    assert "[not fixed: the loop can return from the function, which would skip checking the results]" in out
    assert text.split("# ---- left alone")[1] == EXPORT.split("# ---- left alone")[1]


def test_dropped_future_fix_is_unsafe_only(tmp_path):
    (tmp_path / "export.py").write_text(EXPORT, encoding="utf-8")
    facts = check_fix(tmp_path, "export.py")
    assert (tmp_path / "export.py").read_text(encoding="utf-8") == EXPORT
    assert facts["output"].count("[unsafe fix available: --unsafe-fixes]") == 5
    # two of the five repeat the pattern of the first in their function: listed with it, at medium
    found = findings("export.py", tmp_path, "--min-confidence", "medium")
    fixes = [f["fix"] for f in _codes(found, "CCL602") if "fix" in f]
    assert len(fixes) == 5 and {f["applicability"] for f in fixes} == {"unsafe"}
    assert sum("fix_unavailable" in f for f in _codes(found, "CCL602")) == 3


def test_fixed_export_job_no_longer_fails_silently(tmp_path):
    (tmp_path / "export.py").write_text(EXPORT, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()

    def run():
        return subprocess.run([sys.executable, "export.py", str(out), "q1", "broken-q2", "q3-summary"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    before = run()  # the hazard: a report failed to render, and the job says all went well
    assert before.returncode == 0 and before.stdout.strip() == "exported 3 reports", before.stderr
    assert "broken-q2" not in before.stderr
    fix("export.py", tmp_path, "--unsafe-fixes")
    after = run()
    assert after.returncode == 1, after.stdout + after.stderr
    assert "ValueError: cannot render broken-q2" in after.stderr
    assert "exported" not in after.stdout
    ok = subprocess.run([sys.executable, "export.py", str(out), "q1", "q3-summary"], cwd=tmp_path,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.strip() == "exported 2 reports", ok.stderr
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "q1.html", "q3-summary-print.html",
                                                     "q3-summary.html"]


# ---------------------------------------------------------------- CCL503, TaskGroup
def _project(tmp_path: Path, name: str, source: str, target=None) -> Path:
    """``name`` with ``source`` in a project showing every finding: a task running one of the
    project's own coroutines is a low CCL503 (see rules/CCL503.toml), and these programs'
    tasks are all of that kind."""
    (tmp_path / name).write_text(source, encoding="utf-8")
    config = '[tool.concurlint]\nmin-confidence = "low"\n'
    if target:
        config += f'target-version = "{target}"\n'
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    return tmp_path / name


def _links(tmp_path: Path, target) -> Path:
    return _project(tmp_path, "links.py", LINKS, target)


def test_task_group_when_the_target_has_it_and_the_loop_owns_the_tasks(tmp_path):
    path = _links(tmp_path, "3.12")
    facts = check_fix(tmp_path, "links.py", "--unsafe-fixes")
    assert _codes(facts["before"], "CCL503") and not _codes(facts["after"], "CCL503")
    text = path.read_text(encoding="utf-8")
    assert textwrap.dedent('''\
        async def check_all(urls):
            async with asyncio.TaskGroup() as tg:
                for url in urls:
                    if url in CHECKED:
                        continue  # checked on an earlier page
                    tg.create_task(check(url))  # one task per link
        ''') in text
    # a task of its own, or a loop with work after it: the strong reference
    assert "    task = asyncio.create_task(check(url))  # not in a loop: a task of its own\n" in text
    assert "        task = asyncio.create_task(check(url))\n        _background_tasks.add(task)\n" in text
    assert text.count("TaskGroup") == 1


def test_task_group_is_unsafe_the_strong_reference_is_the_safe_default(tmp_path):
    path = _links(tmp_path, "3.12")
    found = findings("links.py", tmp_path)
    (looped,) = [f for f in _codes(found, "CCL503") if f["function"].endswith("check_all")]
    assert looped["fix"]["applicability"] == "safe" and "_background_tasks" in looped["fix"]["message"]
    assert looped["fix_alternative"]["applicability"] == "unsafe"
    assert "asyncio.TaskGroup" in looped["fix_alternative"]["message"]
    assert any("async with asyncio.TaskGroup() as tg:" in e["content"] for e in looped["fix_alternative"]["edits"])
    others = [f for f in _codes(found, "CCL503") if f is not looped]
    assert others and not any("fix_alternative" in f for f in others)
    proc = run_cli("report", "links.py", "--format", "sarif", "--no-cache", cwd=tmp_path)
    (result,) = [r for r in json.loads(proc.stdout)["runs"][0]["results"]
                 if r["ruleId"] == "CCL503" and r["locations"][0]["physicalLocation"]["region"]["startLine"] == 23]
    assert [f["properties"]["applicability"] for f in result["fixes"]] == ["safe", "unsafe"]
    # without --unsafe-fixes: every task kept in the set, no task group
    facts = check_fix(tmp_path, "links.py")
    text = path.read_text(encoding="utf-8")
    assert "TaskGroup" not in text and text.count("_background_tasks.add(task)") == 3
    assert not _codes(facts["after"], "CCL503")


@pytest.mark.parametrize("target", [None, "3.10"])
def test_no_task_group_below_311_or_without_a_target(tmp_path, target):
    path = _links(tmp_path, target)
    found = findings("links.py", tmp_path)
    assert not any("fix_alternative" in f for f in found)
    check_fix(tmp_path, "links.py", "--unsafe-fixes")
    text = path.read_text(encoding="utf-8")
    assert "TaskGroup" not in text and text.count("_background_tasks.add(task)") == 3


def test_target_version_option_overrides_the_config(tmp_path):
    path = _links(tmp_path, "3.10")
    fix("links.py", tmp_path, "--unsafe-fixes", "--target-version", "3.13")
    assert "async with asyncio.TaskGroup() as tg:" in path.read_text(encoding="utf-8")


def test_tasks_join_an_enclosing_task_group(tmp_path):
    src = textwrap.dedent('''\
        """Thumbnails: one task per image, inside the group of the page."""
        import asyncio


        async def fetch(url):
            reader, writer = await asyncio.open_connection(url, 80)
            writer.close()


        async def page(urls, thumbs):
            async with asyncio.TaskGroup() as group:
                group.create_task(fetch(urls[0]))
                for t in thumbs:
                    asyncio.create_task(fetch(t))  # each thumbnail
        ''')
    _project(tmp_path, "thumbs.py", src)
    check_fix(tmp_path, "thumbs.py", "--unsafe-fixes", "--target-version", "3.11")
    text = (tmp_path / "thumbs.py").read_text(encoding="utf-8")
    assert "            group.create_task(fetch(t))  # each thumbnail\n" in text
    assert text.count("TaskGroup") == 1


def test_fixed_link_checker_waits_for_its_tasks(tmp_path):
    python = _python_311()
    _links(tmp_path, "3.12")
    fix("links.py", tmp_path, "--unsafe-fixes")

    def run(*urls):
        return subprocess.run([python, "links.py", *urls], cwd=tmp_path, capture_output=True, text=True, timeout=120)

    ok = run("a.example", "b.example")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "a.example=200 b.example=200"  # every check finished before the report
    # the semantics a task group brings: a failing task cancels the rest and is raised from the function
    bad = run("a.example", "broken.example")
    assert bad.returncode == 1
    assert "ExceptionGroup" in bad.stderr and "ConnectionError: cannot reach broken.example" in bad.stderr


SHAPES = textwrap.dedent('''\
    """Mirror job: compact code, written by someone who likes one-liners."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor


    def copy(src):
        return len(src)


    def mirror(sources):
        with ThreadPoolExecutor() as pool:
            for src in sources: pool.submit(copy, src)  # one line


    def mirror_pair(a, b):
        with ThreadPoolExecutor() as pool:
            pool.submit(copy, a); pool.submit(copy, b)


    async def push(session, src):
        async with session.post("/mirror", data=src) as r:
            return r.status


    async def push_all(session, sources):
        async with session:
            for src in sources: asyncio.create_task(push(session, src))  # one line too
        return None
    ''')


def test_one_line_shapes(tmp_path):
    _project(tmp_path, "mirror.py", SHAPES)
    facts = check_fix(tmp_path, "mirror.py", "--unsafe-fixes", "--target-version", "3.12")
    text = (tmp_path / "mirror.py").read_text(encoding="utf-8")
    assert ("        futures = []\n        for src in sources: futures.append(pool.submit(copy, src))  # one line\n"
            "        for future in futures:\n            future.result()\n") in text
    # no room for the three statements of a strong reference, but a task group fits
    assert ("        async with asyncio.TaskGroup() as tg:\n"
            "            for src in sources: tg.create_task(push(session, src))  # one line too\n") in text
    assert "        pool.submit(copy, a); pool.submit(copy, b)\n" in text
    assert facts["output"].count("[not fixed: the call shares its line with other statements") == 2
    assert [f["code"] for f in facts["after"]] == ["CCL602", "CCL602"]


def test_one_line_task_without_a_task_group_target_says_why(tmp_path):
    _project(tmp_path, "mirror.py", SHAPES)
    facts = check_fix(tmp_path, "mirror.py", "--select", "CCL503", "--unsafe-fixes")
    assert (tmp_path / "mirror.py").read_text(encoding="utf-8") == SHAPES
    assert "[not fixed: the task is not started by a statement on a line of its own]" in facts["output"]

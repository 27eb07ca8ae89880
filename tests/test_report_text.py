"""The human-facing report through the real `concurlint`: a legend, plurals, a last line that
explains the exit status and names `concurlint explain CODE`; Markdown puts findings first;
plumbing (`gather(to_thread(f))`) is not a recommendation; messages say what to do instead."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from conftest import run_cli

# an image-resizing job: one hazard (a lambda sent to a process pool)
THUMBS = textwrap.dedent('''\
    from concurrent.futures import ProcessPoolExecutor


    def resize(image, size):
        return [row[:size] for row in image[:size]]


    def thumbnails(images):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(lambda im: resize(im, 64), images))
    ''')

# an async web handler that offloads blocking work correctly, through gather/create_task
HANDLER = textwrap.dedent('''\
    import asyncio
    import time


    def render_invoice(order_id):
        time.sleep(0.2)  # a slow template engine, say
        return f"invoice {order_id}"


    async def handle(order_ids):
        loop = asyncio.get_running_loop()
        first = await asyncio.gather(*(asyncio.to_thread(render_invoice, i) for i in order_ids))
        task = asyncio.create_task(asyncio.to_thread(render_invoice, 0))
        late = await asyncio.wait_for(loop.run_in_executor(None, render_invoice, 1), 5)
        return first, await task, late
    ''')

# a coroutine that sleeps synchronously and drops a task: CCL501 and CCL503
POLLER = textwrap.dedent('''\
    import asyncio
    import time

    import aiohttp


    async def refresh(session: aiohttp.ClientSession, feed):
        async with session.get(feed) as resp:
            return await resp.text()


    async def poll(feeds, on_feed):
        async with aiohttp.ClientSession() as session:
            for feed in feeds:
                asyncio.create_task(on_feed(await refresh(session, feed)))
                time.sleep(1)
    ''')


def _project(tmp_path: Path, **files) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n", encoding="utf-8")
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text, encoding="utf-8")
    return tmp_path


def test_text_report_legend_plurals_and_exit_status_line(tmp_path):
    proj = _project(tmp_path, thumbs=THUMBS)
    out = run_cli("report", ".", "--no-cache", cwd=proj, check_exit=1).stdout
    lines = out.splitlines()
    assert lines[1] == "1 file, 2 functions, 1 dispatch site, 1 finding (1 error, 0 warnings, 0 info)"
    assert lines[2].startswith("Legend: error = will crash, deadlock or corrupt data; warning = likely")
    assert "count from 1" in lines[3] and "col counts from 0" in lines[3]
    assert "Findings (path:line:col: CODE [severity] what is wrong; what to do instead)" in lines
    assert "  thumbs.py:10:30: CCL401 [error] lambda cannot be pickled" in out
    assert lines[-1] == ("Exit status 1: 1 finding of warning or error severity (--fail-on warning). "
                         "`concurlint explain CCL401` explains a rule and how to fix it.")
    # the same findings, --fail-on error: still 1; --fail-on never: 0, and the last line says why
    never = run_cli("report", ".", "--no-cache", "--fail-on", "never", cwd=proj, check_exit=0).stdout
    assert never.splitlines()[-1].startswith("Exit status 0: no finding reaches --fail-on never.")
    clean = _project(tmp_path / "clean", resize=THUMBS.split("\n\n\ndef thumbnails")[0] + "\n")
    out = run_cli("report", ".", "--no-cache", cwd=clean, check_exit=0).stdout
    assert out.splitlines()[1].startswith("1 file, 1 function, 0 dispatch sites, 0 findings (0 errors")
    assert out.splitlines()[-1] == "Exit status 0: no findings."


def test_text_and_json_columns_follow_the_documented_conventions(tmp_path):
    proj = _project(tmp_path, thumbs=THUMBS)
    text = run_cli("check", ".", "--no-cache", cwd=proj, check_exit=1).stdout
    doc = json.loads(run_cli("report", ".", "--no-cache", "--format", "json", cwd=proj, check_exit=1).stdout)
    [finding] = doc["findings"]
    source_col = THUMBS.splitlines()[9].index("lambda")  # 0-based offset in the line
    assert finding["col"] == source_col  # JSON: 0-based (SPEC, flake8's col_offset)
    assert text.startswith(f"thumbs.py:10:{source_col + 1}: CCL401")  # text: 1-based, as flake8 prints


def test_markdown_puts_findings_before_recommendations(tmp_path):
    proj = _project(tmp_path, thumbs=THUMBS)
    md = run_cli("report", ".", "--no-cache", "--format", "markdown", cwd=proj, check_exit=1).stdout
    assert md.index("## Findings") < md.index("## Recommendations")
    assert "(1 error, 0 warnings, 0 info)" in md
    assert md.rstrip().splitlines()[-1].startswith("Exit status 1: 1 finding")


def test_plumbing_is_not_a_recommendation(tmp_path):
    proj = _project(tmp_path, handler=HANDLER)
    doc = json.loads(run_cli("report", ".", "--no-cache", "--format", "json", cwd=proj, check_exit=0).stdout)
    # one recommendation per place the work is handed over, all about render_invoice: none for the
    # gather / create_task / wait_for whose "work" is the to_thread or run_in_executor call itself
    recs = [(r["line"], r["api"], r["function"]) for r in doc["recommendations"]]
    assert recs == [(12, "asyncio.to_thread", "handler.render_invoice"),
                    (13, "asyncio.to_thread", "handler.render_invoice"),
                    (14, "loop.run_in_executor", "handler.render_invoice")]
    text = run_cli("report", ".", "--no-cache", cwd=proj, check_exit=0).stdout
    assert "to_thread [" not in text and "run_in_executor [" not in text and "3 dispatch sites" in text


def test_messages_say_what_to_do_instead(tmp_path):
    proj = _project(tmp_path, thumbs=THUMBS, poller=POLLER)
    # CCL503 reports at medium at most (docs/precision.md): shown with --min-confidence medium
    out = run_cli("check", ".", "--no-cache", "--min-confidence", "medium", cwd=proj, check_exit=1).stdout
    by_code = {line.split()[1]: line for line in out.splitlines()}
    assert "use a module-level function" in by_code["CCL401"]
    assert "keep a reference" in by_code["CCL503"] and "TaskGroup" in by_code["CCL503"]
    assert by_code["CCL501"].startswith("poller.py:16:13: CCL501 time.sleep() blocks the event loop")
    assert by_code["CCL501"].endswith("time.sleep() blocks the event loop; use `await asyncio.sleep(...)`")


# what a message may say to tell the user what to do (a placeholder filled with advice counts)
REMEDY = re.compile(r"\b(use|move|keep|hold|pass|create|send|define|return|install|fix|await|report|start|"
                    r"iterate|give)\b|\{(use|fix|advice|instead)\}")


def test_every_rule_message_has_a_remedy_after_the_problem():
    """The part of the message after what is wrong (after the first ';' or ':') says what to do;
    bench/realcode/review.py keys findings by the part before ';', so the remedy comes after it."""
    from concurlint.registry import all_meta

    for code, meta in all_meta().items():
        rest = re.split(r"[;:]", meta.message, maxsplit=1)
        assert len(rest) == 2 and REMEDY.search(rest[1]), f"{code}: no remedy in {meta.message!r}"


# a report job that renders charts in threads: pure-Python CPU work over points of a number the code
# does not show (CCL101 at low)
CHARTS = textwrap.dedent('''\
    from concurrent.futures import ThreadPoolExecutor


    def render(points):
        total = 0
        for x in points:
            for y in points:
                total += x * y
        return total


    def render_all(series):
        with ThreadPoolExecutor() as pool:
            return list(pool.map(render, series))
    ''')


def test_the_findings_left_out_by_confidence_are_counted_with_how_to_see_them(tmp_path):
    proj = _project(tmp_path, charts=CHARTS, thumbs=THUMBS)
    note = ("Not shown: 1 finding at lower confidence (1 low); --min-confidence low shows them "
            "(docs/precision.md).")
    out = run_cli("report", ".", "--no-cache", cwd=proj, check_exit=1).stdout
    assert out.splitlines()[-1] == note and "CCL101" not in out
    md = run_cli("report", ".", "--no-cache", "--format", "markdown", cwd=proj, check_exit=1).stdout
    assert note in md
    check = run_cli("check", ".", "--no-cache", cwd=proj, check_exit=1)
    assert [ln.split()[1] for ln in check.stdout.splitlines()] == ["CCL401"]  # stdout: finding lines only
    assert check.stderr.strip() == f"concurlint: {note}"
    shown = run_cli("report", ".", "--no-cache", "--min-confidence", "low", cwd=proj, check_exit=1)
    assert "CCL101" in shown.stdout and "Not shown" not in shown.stdout
    again = run_cli("report", ".", cwd=proj, check_exit=1).stdout  # a cached report says the same
    assert run_cli("report", ".", cwd=proj, check_exit=1).stdout == again and again.splitlines()[-1] == note
    # one file of the project: only what that file leaves out
    only = run_cli("check", "thumbs.py", "--no-cache", cwd=proj, check_exit=1)
    assert only.stderr == ""

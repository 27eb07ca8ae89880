"""The thread map and the two-sided findings of CCL2xx, through the real CLI."""
from __future__ import annotations

import textwrap

from conftest import report_json

# CCL2 reports at medium at most outside library mode (docs/precision.md): every test looks at every
# finding, so that a finding where none is expected can show
ALL = ("--min-confidence", "low")


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_finding_names_definition_and_thread_start(tmp_path):
    _write(tmp_path, "jobs.py", """
        import threading

        done = 0

        def step():
            global done
            done += 1

        def handle(job):
            step()

        def run(jobs):
            for j in jobs:
                threading.Thread(target=handle, args=(j,), daemon=True).start()
        """)
    doc = report_json(str(tmp_path / "jobs.py"), "--select", "CCL2", *ALL)
    [f] = doc["findings"]
    assert f["code"] == "CCL201" and f["line"] == 8
    assert "handle -> step" in f["message"] and "jobs.py:4" in f["message"]
    lines = sorted(r["line"] for r in f["related"])
    assert lines == [4, 15]  # where 'done' is defined, where the thread is started


def test_lock_held_by_the_caller_protects_the_callee(tmp_path):
    _write(tmp_path, "jobs.py", """
        import threading

        done = 0
        lock = threading.Lock()

        def step():
            global done
            done += 1

        def handle(job):
            with lock:
                step()

        def run(jobs):
            for j in jobs:
                threading.Thread(target=handle, args=(j,), daemon=True).start()
        """)
    assert report_json(str(tmp_path / "jobs.py"), "--select", "CCL2", *ALL)["findings"] == []


def test_one_thread_writing_alone_is_not_a_race(tmp_path):
    _write(tmp_path, "jobs.py", """
        import threading

        status = 0

        def poll():
            global status
            status += 1

        def run():
            t = threading.Thread(target=poll)
            t.start()
            t.join()
            return status
        """)
    assert report_json(str(tmp_path / "jobs.py"), "--select", "CCL2", *ALL)["findings"] == []


def test_free_threaded_target_says_so(tmp_path):
    _write(tmp_path, "jobs.py", """
        from concurrent.futures import ThreadPoolExecutor

        hits = {}
        seen = []

        def count(word):
            seen.append(word)
            hits[word] += 1

        def run(words):
            with ThreadPoolExecutor() as pool:
                return list(pool.map(count, words))
        """)
    plain = report_json(str(tmp_path / "jobs.py"), "--select", "CCL2", *ALL)["findings"]
    ft = report_json(str(tmp_path / "jobs.py"), "--select", "CCL2", *ALL, "--target-version", "3.13t")["findings"]
    assert [f["line"] for f in plain] == [9] and [f["line"] for f in ft] == [9]
    assert "free-threaded" not in plain[0]["message"] and "free-threaded" in ft[0]["message"]

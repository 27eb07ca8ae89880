"""The CI-facing outputs, through the real `concurlint` CLI: SARIF (validated against the official
SARIF 2.1.0 schema), JSON (validated against our report schema), Markdown, baselines that survive
line shifts, --output, and colour/progress only on a terminal."""
from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, run_cli, script, validate_report

SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-2.1.0.json"
ESC = "\x1b["

JOBS = textwrap.dedent('''\
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
    import hashlib


    def digest(blob):
        return hashlib.sha256(blob).hexdigest()


    def digest_all(blobs):
        with ProcessPoolExecutor() as pool:
            return list(pool.map(lambda b: digest(b), blobs))


    def digest_threads(blobs):
        with ThreadPoolExecutor() as pool:
            return list(pool.map(lambda b: digest(b), blobs))
    ''')


def _project(tmp_path: Path, text: str = JOBS, name: str = "jobs.py") -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.concurlint]\n", encoding="utf-8")
    (tmp_path / "pkg").mkdir(exist_ok=True)
    (tmp_path / "pkg" / name).write_text(text, encoding="utf-8")
    return tmp_path


def _sarif(cwd: Path, *args) -> dict:
    proc = run_cli("report", *args, "--format", "sarif", "--no-cache", cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    _validate_sarif(doc)
    return doc


def _validate_sarif(doc: dict) -> None:
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


# ---------------------------------------------------------------- SARIF
def test_sarif_is_valid_and_describes_rules_and_results(tmp_path):
    proj = _project(tmp_path)
    doc = _sarif(proj, "pkg")
    assert doc["version"] == "2.1.0"
    run, = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "concurlint"
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert "CCL401" in ids and len(ids) == len(set(ids))
    rule = rules[ids.index("CCL401")]
    assert rule["name"] == "lambda-sent-to-process-pool"
    assert rule["fullDescription"]["text"] and rule["shortDescription"]["text"]
    assert rule["helpUri"].endswith("docs/rules/CCL401.md")
    assert rule["defaultConfiguration"]["level"] == "error"
    explain = run_cli("explain", "CCL401", check_exit=0).stdout
    assert rule["help"]["markdown"] == explain
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    metas = json.loads(run_cli("rules", "--format", "json", check_exit=0).stdout)
    for m in metas:
        assert levels[m["code"]] == {"error": "error", "warning": "warning", "info": "note"}[m["severity"]]
    # code scanning's precision: "low" for the rules capped at medium by their record on real code
    precision = {r["id"]: r["properties"]["precision"] for r in rules}
    assert {m["code"] for m in metas if precision[m["code"]] == "low"} == {m["code"] for m in metas if m["up_to"] != "high"}
    assert precision["CCL401"] == "high" and precision["CCL301"] == "low"

    # one result: the lambda sent to the process pool; the thread-pool lambda is fine
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["CCL401"]
    res = results[0]
    assert rules[res["ruleIndex"]]["id"] == "CCL401"
    assert res["level"] == "error"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "pkg/jobs.py", "uriBaseId": "%SRCROOT%"}
    line_no = next(i for i, text in enumerate(JOBS.splitlines(), 1) if "lambda" in text)  # in digest_all
    col = JOBS.splitlines()[line_no - 1].index("lambda")
    region = loc["region"]
    assert region["startLine"] == line_no
    assert region["startColumn"] == col + 1  # SARIF columns are 1-based
    assert region["endLine"] == line_no and region["endColumn"] > region["startColumn"]
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base.startswith("file://") and base.endswith("/")
    assert Path(base[len("file://"):]).resolve() == proj.resolve()
    assert res["partialFingerprints"]


def test_sarif_fingerprint_survives_line_shift_but_not_other_code(tmp_path):
    proj = _project(tmp_path)
    before = _sarif(proj, "pkg")["runs"][0]["results"][0]
    src = proj / "pkg" / "jobs.py"
    src.write_text("# a new header comment\n\nimport os\n\n" + JOBS, encoding="utf-8")
    after = _sarif(proj, "pkg")["runs"][0]["results"][0]
    assert after["locations"][0]["physicalLocation"]["region"]["startLine"] == \
        before["locations"][0]["physicalLocation"]["region"]["startLine"] + 4
    assert after["partialFingerprints"] == before["partialFingerprints"]
    src.write_text(JOBS.replace("lambda b: digest(b)", "lambda blob: digest(blob)"), encoding="utf-8")
    changed = _sarif(proj, "pkg")["runs"][0]["results"][0]
    assert changed["partialFingerprints"] != before["partialFingerprints"]


def test_sarif_with_no_findings_and_with_unparsable_file(tmp_path):
    proj = _project(tmp_path, "def ok():\n    return 1\n")
    doc = _sarif(proj, ".")
    assert doc["runs"][0]["results"] == []
    (proj / "pkg" / "broken.py").write_text("def broken(:\n", encoding="utf-8")
    doc = _sarif(proj, ".")
    assert [r["ruleId"] for r in doc["runs"][0]["results"]] == ["CCL000"]


# ---------------------------------------------------------------- JSON
def test_json_report_validates(tmp_path):
    proj = _project(tmp_path)
    proc = run_cli("report", "pkg", "--format", "json", "--no-cache", cwd=proj, check_exit=1)
    doc = json.loads(proc.stdout)
    validate_report(doc)
    assert [f["code"] for f in doc["findings"]] == ["CCL401"]
    assert doc["findings"][0]["function"] == "jobs.digest_all"


def test_json_report_text_is_what_json_dumps_writes(tmp_path):
    """The report is written by a faster encoder than ``json.dumps(indent=2)``: the text the CLI
    prints is exactly what json.dumps makes of the same document (non-ASCII names and messages,
    a fix with edits, related places, empty lists)."""
    text = JOBS + textwrap.dedent('''\

        import asyncio
        import time


        async def résumé_fetch(urls):
            """Télécharge — \\ "quoted" \\t tab."""
            for u in urls:
                time.sleep(1)
            asyncio.create_task(résumé_fetch([]))
        ''')
    proj = _project(tmp_path, text)
    proc = run_cli("report", "pkg", "--format", "json", "--no-cache", "--min-confidence", "low", cwd=proj,
                   check_exit=1)
    doc = json.loads(proc.stdout)
    assert {f["code"] for f in doc["findings"]} >= {"CCL401", "CCL501"}
    assert any("fix" in f for f in doc["findings"])
    assert any("é" in f["qualname"] for f in doc["functions"])
    assert proc.stdout == json.dumps(doc, indent=2) + "\n"


def test_json_encoder_matches_json_dumps_on_unusual_values():
    from concurlint.output.json_report import dumps_indented

    docs = [
        {"a": [], "b": {}, "c": [[], [{}], {"d": [1, 2.5, -0.0, 1e300, True, False, None]}]},
        {"s": "café \u2028 \x00 \"q\" \\ \n\t", "t": (1, (2, 3)), "u": float("nan"), "v": float("inf"),
         "w": -float("inf"), "big": 2 ** 80},
        {1: "an int key", None: "a None key"},  # json.dumps turns these into strings: left to it
        ["plain", 0],
        "just a string", 3, None, [],
    ]
    for doc in docs:
        assert dumps_indented(doc) == json.dumps(doc, indent=2)


# ---------------------------------------------------------------- Markdown
def test_markdown_report(tmp_path):
    proj = _project(tmp_path)
    (proj / "pkg" / "other.py").write_text(textwrap.dedent('''\
        from multiprocessing import Pool


        def square_all(xs):
            with Pool() as pool:
                return pool.map(lambda x: x * x, xs)
        '''), encoding="utf-8")
    proc = run_cli("report", "pkg", "--format", "markdown", "--no-cache", cwd=proj, check_exit=1)
    md = proc.stdout
    assert ESC not in md
    assert "**2 findings** (2 errors, 0 warnings, 0 info)" in md
    assert "| CCL4xx pickling | 2 | 0 | 0 | 2 |" in md
    # recommendations table: one row per dispatch site (both pools, the thread pool)
    header = "| site | function | kind | current -> recommended | why |"
    assert header in md
    rows = md.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    doc = json.loads(run_cli("report", "pkg", "--format", "json", "--no-cache", cwd=proj).stdout)
    assert len(rows) == len(doc["recommendations"]) >= 3
    for rec, row in zip(doc["recommendations"], rows):
        assert f"[{rec['path']}:{rec['line']}]({rec['path']}#L{rec['line']})" in row
        assert rec["current"] in row and rec["recommended"] in row
    # findings grouped by file, with relative line links
    jobs_at = md.index("### `pkg/jobs.py` (1)")
    other_at = md.index("### `pkg/other.py` (1)")
    assert jobs_at < other_at
    assert re.search(r"\[line 11\]\(pkg/jobs\.py#L11\) \*\*CCL401\*\*", md)
    assert re.search(r"\[line 6\]\(pkg/other\.py#L6\) \*\*CCL401\*\*", md)


def test_markdown_without_findings(tmp_path):
    proj = _project(tmp_path, "def ok():\n    return 1\n")
    md = run_cli("report", ".", "--format", "markdown", "--no-cache", cwd=proj, check_exit=0).stdout
    assert "**0 findings**" in md and "No findings." in md


# ---------------------------------------------------------------- baseline
def test_baseline_survives_line_shift_and_reports_new_findings(tmp_path):
    proj = _project(tmp_path)
    baseline = proj / "concurlint-baseline.json"
    run_cli("report", "pkg", "--no-cache", "--write-baseline", baseline, cwd=proj, check_exit=0)
    data = json.loads(baseline.read_text())
    assert data["schema"] == "concurlint-baseline/1" and len(data["findings"]) == 1
    # nothing new: exit 0
    proc = run_cli("report", "pkg", "--no-cache", "--format", "json", "--baseline", baseline, cwd=proj, check_exit=0)
    assert json.loads(proc.stdout)["findings"] == []
    # insert lines above the old finding and add a new hazard below it
    src = proj / "pkg" / "jobs.py"
    shifted = "import logging\n\nlog = logging.getLogger(__name__)\n\n\n" + JOBS + textwrap.dedent('''\


        def digest_later(blobs):
            with ProcessPoolExecutor() as pool:
                return [pool.submit(lambda: digest(b)) for b in blobs]
        ''')
    src.write_text(shifted, encoding="utf-8")
    proc = run_cli("report", "pkg", "--no-cache", "--format", "json", "--baseline", baseline, cwd=proj, check_exit=1)
    doc = json.loads(proc.stdout)
    validate_report(doc)
    assert [(f["code"], f["function"]) for f in doc["findings"]] == [("CCL401", "jobs.digest_later")]
    # without the baseline both are there, the old one 5 lines lower than before
    full = json.loads(run_cli("report", "pkg", "--no-cache", "--format", "json", cwd=proj).stdout)
    assert [f["function"] for f in full["findings"]] == ["jobs.digest_all", "jobs.digest_later"]
    assert full["findings"][0]["line"] == data["findings"][0]["line"] + 5


def test_baseline_is_count_aware(tmp_path):
    one = JOBS
    proj = _project(tmp_path, one)
    baseline = proj / "base.json"
    run_cli("report", "pkg", "--no-cache", "--write-baseline", baseline, cwd=proj, check_exit=0)
    twice = one.replace(
        "        return list(pool.map(lambda b: digest(b), blobs))\n",
        "        first = list(pool.map(lambda b: digest(b), blobs))\n"
        "        return first + list(pool.map(lambda b: digest(b), blobs))\n", 1)
    assert twice != one
    (proj / "pkg" / "jobs.py").write_text(twice, encoding="utf-8")
    full = json.loads(run_cli("report", "pkg", "--no-cache", "--format", "json", cwd=proj).stdout)
    assert len(full["findings"]) == 2
    doc = json.loads(run_cli("report", "pkg", "--no-cache", "--format", "json", "--baseline", baseline,
                             cwd=proj, check_exit=1).stdout)
    assert len(doc["findings"]) == 1  # one entry in the baseline absorbs one finding, not both


@pytest.mark.parametrize("content, words", [
    (None, "does not exist"),
    ("{not json", "not valid JSON"),
    ('{"schema": "something-else", "findings": []}', "not a concurlint baseline"),
])
def test_bad_baseline_is_a_usage_error(tmp_path, content, words):
    proj = _project(tmp_path)
    path = proj / "base.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    proc = run_cli("report", "pkg", "--no-cache", "--baseline", path, cwd=proj, check_exit=2)
    assert words in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- --output, colour, progress
def test_output_file(tmp_path):
    proj = _project(tmp_path)
    out = proj / "out" / "report.sarif"
    out.parent.mkdir()
    proc = run_cli("report", "pkg", "--no-cache", "--format", "sarif", "--output", out, cwd=proj, check_exit=1)
    assert proc.stdout == ""
    _validate_sarif(json.loads(out.read_text(encoding="utf-8")))
    proc = run_cli("report", "pkg", "--no-cache", "--output", proj / "missing" / "r.txt", cwd=proj, check_exit=2)
    assert "cannot write" in proc.stderr


def test_fail_on_threshold(tmp_path):
    proj = _project(tmp_path)
    run_cli("report", "pkg", "--no-cache", "--fail-on", "never", cwd=proj, check_exit=0)
    run_cli("check", "pkg", "--no-cache", "--fail-on", "error", cwd=proj, check_exit=1)


def _run_in_pty(args, cwd, env):
    """Run the real CLI with stdout and stderr on a pseudo-terminal; returns (exit, output)."""
    master, slave = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env)
    proc = subprocess.Popen([script("concurlint"), *map(str, args)], cwd=cwd, env=full_env,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child has closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_colour_only_on_a_terminal_and_no_color_respected(tmp_path):
    proj = _project(tmp_path)
    piped = run_cli("check", "pkg", "--no-cache", cwd=proj, check_exit=1)
    assert "CCL401" in piped.stdout and ESC not in piped.stdout and ESC not in piped.stderr
    rc, tty_out = _run_in_pty(["check", "pkg", "--no-cache"], proj, {})
    assert rc == 1 and "CCL401" in tty_out and ESC in tty_out
    rc, no_color = _run_in_pty(["check", "pkg", "--no-cache"], proj, {"NO_COLOR": "1"})
    assert rc == 1 and "CCL401" in no_color and ESC not in no_color
    rc, report = _run_in_pty(["report", "pkg", "--no-cache"], proj, {"NO_COLOR": "1"})
    assert "CCL401" in report and ESC not in report


def test_progress_bar_only_on_a_terminal(tmp_path):
    import io

    from concurlint.output.progress import Progress

    stream = io.StringIO()
    bar = Progress(stream, min_files=5, delay=0)
    for i in range(1, 11):
        bar(i, 10)
    bar.done()
    text = stream.getvalue()
    assert "10/10 files" in text and text.endswith("\r\x1b[K")  # drawn, then erased
    small = io.StringIO()
    few = Progress(small, min_files=50, delay=0)
    few(1, 3)
    few.done()
    assert small.getvalue() == ""  # short runs draw nothing
    # a long run with stderr piped: nothing but findings on stdout, nothing on stderr
    proj = _project(tmp_path)
    for i in range(60):
        (proj / "pkg" / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n", encoding="utf-8")
    proc = run_cli("check", "pkg", "--no-cache", "-j", "1", cwd=proj, check_exit=1)
    assert proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 1


def test_sarif_over_every_fixture_is_valid():
    """Every rule's findings (with related locations) in one SARIF log, valid and self-consistent:
    at every confidence, for the rules capped at medium (docs/precision.md) and the less sure findings."""
    doc = _sarif(ROOT, "tests/fixtures", "--min-confidence", "low")
    run, = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    json_doc = json.loads(run_cli("report", "tests/fixtures", "--format", "json", "--no-cache", "--min-confidence",
                                  "low", cwd=ROOT).stdout)
    assert len(run["results"]) == len(json_doc["findings"]) > 0
    assert {"high", "medium", "low"} == {f["confidence"] for f in json_doc["findings"]}
    prints = set()
    for res, f in zip(run["results"], json_doc["findings"]):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == f["code"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == f["path"]
        assert loc["region"]["startLine"] == f["line"] and loc["region"]["startColumn"] == f["col"] + 1
        prints.add(res["partialFingerprints"]["concurlintFingerprint/v1"])
    assert len(prints) == len(run["results"])  # identical findings are told apart by occurrence

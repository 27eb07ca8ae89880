"""Bad input never crashes concurlint and never loses the other files' findings."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import report_json, run_cli, script

HAZARD = (
    "from concurrent.futures import ProcessPoolExecutor\n\n"
    "def main(items):\n"
    "    with ProcessPoolExecutor() as pool:\n"
    "        return list(pool.map(lambda x: x * 2, items))\n"
)


def _project(tmp_path, name, content):
    (tmp_path / "good.py").write_text(HAZARD)
    target = tmp_path / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    return target


def _codes_by_file(doc):
    out = {}
    for f in doc["findings"]:
        out.setdefault(os.path.basename(f["path"]), []).append(f["code"])
    return out


CASES = {
    "syntax_error.py": "def broken(:\n    pass\n",
    "python2.py": "print 'hello'\nexec 'x = 1'\n",
    "latin1_undeclared.py": "name = '" .encode() + "café".encode("latin-1") + b"'\n",
    "nul_byte.py": b"x = 1\n\x00\ny = 2\n",
    "bad_declared_codec.py": b"# -*- coding: no-such-codec -*-\nx = 1\n",
    "deep_nesting.py": "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_unreadable_file_is_ccl000_and_others_still_analysed(tmp_path, name):
    _project(tmp_path, name, CASES[name])
    doc = report_json(str(tmp_path))
    by_file = _codes_by_file(doc)
    assert by_file.get(name) == ["CCL000"], by_file
    assert by_file.get("good.py") == ["CCL401"], by_file


@pytest.mark.parametrize(
    "name, content",
    [
        ("empty.py", ""),
        ("bom_crlf.py", "\ufeffimport os\r\n\r\ndef f():\r\n    return os.getcwd()\r\n"),
        ("latin1_declared.py", "# -*- coding: latin-1 -*-\nname = 'café'\n".encode("latin-1")),
        ("only_comments.py", "# nothing here\n# at all\n"),
    ],
)
def test_valid_odd_files_are_clean(tmp_path, name, content):
    _project(tmp_path, name, content)
    doc = report_json(str(tmp_path))
    by_file = _codes_by_file(doc)
    assert name not in by_file, by_file
    assert by_file.get("good.py") == ["CCL401"]


def test_bom_crlf_positions_are_right(tmp_path):
    (tmp_path / "win.py").write_bytes(("\ufeff" + HAZARD).replace("\n", "\r\n").encode("utf-8"))
    doc = report_json(str(tmp_path / "win.py"))
    [finding] = doc["findings"]
    assert (finding["code"], finding["line"], finding["col"]) == ("CCL401", 5, 29)


def test_five_megabyte_generated_file(tmp_path):
    lines = [f"def f{i}(x):\n    return x + {i}\n" for i in range(60000)]
    big = "".join(lines)
    assert len(big) > 1_500_000
    (tmp_path / "generated.py").write_text(big * 3 if len(big) < 5_000_000 else big)
    doc = report_json(str(tmp_path), "-j", "2")
    assert _codes_by_file(doc) == {}
    assert len(doc["functions"]) >= 60000


def test_directory_named_like_a_python_file_is_walked(tmp_path):
    d = tmp_path / "x.py"
    d.mkdir()
    (d / "inner.py").write_text(HAZARD)
    doc = report_json(str(tmp_path))
    assert _codes_by_file(doc) == {"inner.py": ["CCL401"]}


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlink_loop_and_dangling_link(tmp_path):
    (tmp_path / "good.py").write_text(HAZARD)
    os.symlink(tmp_path, tmp_path / "loop")
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")
    doc = report_json(str(tmp_path))
    by_file = _codes_by_file(doc)
    assert by_file["good.py"] == ["CCL401"]
    assert by_file.get("dangling.py") == ["CCL000"]


def test_missing_path_is_exit_2_with_one_sentence(tmp_path):
    proc = run_cli("check", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr


@pytest.mark.parametrize(
    "pyproject, expected",
    [
        ("[tool.concurlint\nselect = [", "is not valid TOML"),
        ("[tool.concurlint]\nselekt = ['CCL4']\n", "unknown key 'selekt'"),
        ("[tool.concurlint]\nselect = ['CCL8']\n", "unknown rule code 'CCL8'"),
        ("[tool.concurlint]\ntarget-version = '2.7'\n", "not a supported target version"),
        ("[tool.concurlint]\nfail-on = 'sometimes'\n", "must be one of"),
        ("[tool.concurlint.knowledge]\nnetwork = ['x.y']\n", "unknown key 'knowledge.network'"),
    ],
)
def test_bad_config_is_exit_2_naming_the_key(tmp_path, pyproject, expected):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "good.py").write_text(HAZARD)
    proc = run_cli("check", str(tmp_path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert expected in proc.stderr
    assert "pyproject.toml" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_cli_usage_is_exit_2(tmp_path):
    for args in (["check", "--select", "XYZ1"], ["report", "--format", "yaml", str(tmp_path)],
                 ["check", "--target-version", "4.0"], ["explain", "CCL777"], ["bogus"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr


def _write_nasty(tmp_path):
    """Inputs that once hung or sank a whole run: a 1,500-function chain from a coroutine and a
    thread, a call chain g()()()... 24 deep, an integer literal past str()'s digit limit, a FIFO
    and /dev/zero named like Python files."""
    proj = tmp_path / "proj"
    proj.mkdir()
    n = 1500
    src = ["import threading", "import time"]
    src += [f"def f{i}():\n    return f{i + 1}()" for i in range(n)]
    src.append(f"def f{n}():\n    time.sleep(1)")
    src.append("async def handler():\n    f0()")
    src.append("def main():\n    t = threading.Thread(target=f0)\n    t.start()\n    t.join()")
    (proj / "deep.py").write_text("\n".join(src) + "\n")
    # a blocking call 1,500 calls down is reported at medium (whether a deep path runs depends on
    # values the analysis does not follow): show medium findings in every front end
    (proj / "pyproject.toml").write_text('[tool.concurlint]\nmin-confidence = "medium"\n')
    (proj / "chained.py").write_text("def g():\n    return g\n\n\nz = g" + "()" * 24 + "\n")
    (proj / "hexint.py").write_text(
        "from concurrent.futures import ProcessPoolExecutor\n\nX = 0x" + "f" * 4000 + "\n\n\n"
        "def f(x):\n    return x\n\n\ndef main():\n    with ProcessPoolExecutor() as p:\n"
        "        return p.submit(f, X).result()\n")
    if hasattr(os, "mkfifo"):
        os.mkfifo(proj / "fifo.py")
        if os.path.exists("/dev/zero"):
            os.symlink("/dev/zero", proj / "zero.py")
    return proj


def test_nasty_inputs_neither_hang_nor_sink_the_run(tmp_path):
    proj = _write_nasty(tmp_path)
    doc = report_json(str(proj), cwd=tmp_path)
    codes = _codes_by_file(doc)
    assert codes.get("deep.py") == ["CCL501"], codes
    [deep] = [f for f in doc["findings"] if f["path"].endswith("deep.py")]
    assert "(1496 more)" in deep["message"] and len(deep["message"]) < 300
    assert "chained.py" not in codes and "hexint.py" not in codes  # analysed, clean
    if hasattr(os, "mkfifo"):
        assert codes["fifo.py"] == ["CCL000"]
        if os.path.exists("/dev/zero"):
            assert codes["zero.py"] == ["CCL000"]
    check = run_cli("check", str(proj), "--no-cache", cwd=tmp_path, check_exit=1)
    assert "Traceback" not in check.stderr and "not a regular file" in check.stdout
    flake8 = subprocess.run([script("flake8"), "--select", "CCL", "deep.py", "hexint.py", "chained.py"],
                            cwd=proj, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in flake8.stderr, flake8.stderr
    assert "deep.py:" in flake8.stdout and "CCL501" in flake8.stdout


def _package_with_broken_modules(root):
    """A small job runner: ``worker`` imports ``transport``, whose py2-era syntax no longer parses;
    ``legacy_compat`` is a leftover in the same syntax that nothing imports."""
    pkg = root / "jobrunner"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""jobrunner."""\n')
    (pkg / "worker.py").write_text("from jobrunner import transport\n\n"
                                   "def run(job):\n    return transport.send(job)\n")
    (pkg / "transport.py").write_text("def send(job):\n    print 'sending', job\n")
    (pkg / "legacy_compat.py").write_text("import asyncio\nensure_future = asyncio.async\n")
    (pkg / "pool.py").write_text(HAZARD)
    return pkg


def test_ccl000_of_a_module_among_its_package_is_medium(tmp_path):
    """A module that does not parse among other analysed modules of its package -- imported or
    not -- is medium: on real packages every such finding at high was true and not worth a
    maintainer's time (Python 2 leftovers, templates, code of another dialect). Checked alone
    (an editor, pre-commit on one file) it is high."""
    pkg = _package_with_broken_modules(tmp_path)
    by_conf = {os.path.basename(f["path"]): (f["code"], f["confidence"])
               for f in report_json(str(tmp_path), "--min-confidence", "low")["findings"]}
    assert by_conf["transport.py"] == ("CCL000", "medium"), by_conf
    assert by_conf["legacy_compat.py"] == ("CCL000", "medium"), by_conf
    assert by_conf["pool.py"] == ("CCL401", "high"), by_conf
    # the default output keeps the hazard and counts the two among the hidden
    proc = run_cli("report", str(tmp_path), "--no-cache")
    assert "pool.py" in proc.stdout and "transport.py" not in proc.stdout, proc.stdout
    assert "2 medium" in proc.stdout, proc.stdout
    for name in ("legacy_compat.py", "transport.py"):
        alone = report_json(str(pkg / name))["findings"]
        assert [(f["code"], f["confidence"]) for f in alone] == [("CCL000", "high")], alone


def test_ccl000_of_a_vendored_file_deep_in_a_package_tree_is_medium(tmp_path):
    """A vendored C library's Python 2 test program three folders without ``__init__.py`` below
    the package (nfstream's libpcap/testprogs/visopts.py): no import reaches it, so its CCL000 is
    medium; a broken top-level script beside the package still matters (high), and so does a file
    that cannot be read (not a syntax error)."""
    pkg = _package_with_broken_modules(tmp_path)
    buried = pkg / "engine" / "dependencies" / "libpcap" / "testprogs"
    buried.mkdir(parents=True)
    (pkg / "engine" / "__init__.py").write_text("")
    (buried / "visopts.py").write_text("import sys\n\nprint 'usage: visopts file'\n")
    (tmp_path / "deploy.py").write_text("print 'deploying'\n")
    by_conf = {os.path.basename(f["path"]): (f["code"], f["confidence"])
               for f in report_json(str(tmp_path), "--min-confidence", "low")["findings"]}
    assert by_conf["visopts.py"] == ("CCL000", "medium"), by_conf
    assert by_conf["deploy.py"] == ("CCL000", "high"), by_conf
    (pkg / "latin.py").write_bytes(b"NAME = '\xff\xfe caf\xe9'\n")  # no coding declaration: not UTF-8
    (pkg / "names.py").write_text("from jobrunner.latin import NAME\n")
    by_conf = {os.path.basename(f["path"]): (f["code"], f["confidence"])
               for f in report_json(str(tmp_path), "--min-confidence", "low")["findings"]}
    assert by_conf["latin.py"] == ("CCL000", "high"), by_conf


def test_two_files_with_one_module_name_are_both_analysed(tmp_path):
    """Migration scripts in directories without __init__.py bear the same module name
    (``mysql/20230111.py``, ``sqlite/20230111.py``): each function keeps its own file's calls."""
    for engine, body in (("mysql", "    c = conn.cursor()\n    c.execute('SELECT id FROM tracks')\n"
                                   "    rows = c.fetchall()\n    c.execute('UPDATE tracks SET id = id')\n"
                                   "    conn.commit()\n    return rows\n"),
                         ("sqlite", "    return conn.execute('SELECT 1')\n")):
        d = tmp_path / "migration" / engine
        d.mkdir(parents=True)
        (d / "20230111.py").write_text(f"def apply(conn):\n{body}")
    (tmp_path / "pool.py").write_text(HAZARD)
    doc = report_json(str(tmp_path), "--min-confidence", "low")
    codes = sorted(f["code"] for f in doc["findings"])
    assert "CCL999" not in codes, doc["findings"]
    assert codes == ["CCL401"], codes

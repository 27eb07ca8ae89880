"""Nothing read from disk can run code or forge results (cache entries, shards), and no file name
can forge output lines. Every front-end is driven for real: `check`, `report` in each format, the
flake8 plugin, and the shard merge."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess

import pytest

from conftest import run_cli, script

APP = '''\
import asyncio

from app.helpers import fetch_all


async def handler(urls):
    return fetch_all(urls)
'''
HELPERS = '''\
import urllib.request


def fetch_all(urls):
    return [urllib.request.urlopen(u).read() for u in urls]
'''


class _Payload:
    """Unpickling this writes the marker file: what a planted cache entry would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _project(tmp_path):
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    (proj / "pyproject.toml").write_text("[tool.concurlint]\n")
    (proj / "app" / "__init__.py").write_text("")
    (proj / "app" / "views.py").write_text(APP)
    (proj / "app" / "helpers.py").write_text(HELPERS)
    return proj


def _plant(cache_dir, marker, sealed_header: bool):
    """Overwrite every cache entry with a payload; with ``sealed_header`` it imitates the sealed
    format (magic + a 32-byte tag the attacker cannot compute)."""
    payload = pickle.dumps(_Payload(marker))
    planted = 0
    for entry in cache_dir.rglob("*.entry"):
        data = payload
        if sealed_header:
            data = b"concurlint-sealed/1\n" + hashlib.sha256(payload).digest() + payload
        entry.write_bytes(data)
        planted += 1
    return planted


def _flake8(proj, *args):
    env = dict(os.environ)
    env.pop("CONCURLINT_CACHE_DIR", None)
    return subprocess.run([script("flake8"), "--select", "CCL", *args], cwd=proj, env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.mark.parametrize("sealed_header", [False, True], ids=["raw-pickle", "forged-tag"])
def test_planted_cache_entries_never_run_and_never_forge(tmp_path, sealed_header):
    proj = _project(tmp_path)
    marker = tmp_path / "marker"
    env = {"CONCURLINT_CACHE_DIR": str(proj / ".concurlint_cache")}  # the project's own cache
    clean = {fmt: run_cli("report", ".", "--format", fmt, "--no-cache", cwd=proj).stdout
             for fmt in ("text", "json", "sarif", "markdown")}
    clean_check = run_cli("check", ".", "--no-cache", cwd=proj, check_exit=1).stdout
    assert "CCL501" in clean_check
    # fill the cache inside the project, then plant in it
    run_cli("check", ".", cwd=proj, env=env, check_exit=1)
    run_cli("report", ".", cwd=proj, env=env, check_exit=1)
    cache = proj / ".concurlint_cache"
    assert _plant(cache, marker, sealed_header) >= 3  # two modules + the whole-report entry

    assert run_cli("check", ".", cwd=proj, env=env, check_exit=1).stdout == clean_check
    _plant(cache, marker, sealed_header)
    for fmt, expected in clean.items():
        proc = run_cli("report", ".", "--format", fmt, cwd=proj, env=env, check_exit=1)
        assert proc.stdout == expected, fmt
        assert "Traceback" not in proc.stderr
        _plant(cache, marker, sealed_header)
    # the flake8 plugin reads the helpers' facts from the same cache: warm, it finds the chain
    run_cli("check", ".", cwd=proj, env=env, check_exit=1)
    proc = _flake8(proj, "app/views.py")
    assert "CCL501" in proc.stdout, proc.stdout + proc.stderr
    _plant(cache, marker, sealed_header)
    proc = _flake8(proj, "app/views.py")
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    assert not marker.exists(), "a planted cache entry ran code"


def test_forged_shard_is_refused_without_running_it(tmp_path):
    proj = _project(tmp_path)
    marker = tmp_path / "marker"
    facts = tmp_path / "facts"
    run_cli("report", "--shard", "1/1", "--facts-dir", facts, ".", "--no-cache", cwd=proj, check_exit=0)
    [shard] = list(facts.iterdir())
    payload = pickle.dumps(_Payload(marker))
    # a correct checksum: only the restricted decoder stands between this and exec()
    shard.write_bytes(b"concurlint-sealed/1\n" + hashlib.sha256(payload).digest() + payload)
    proc = run_cli("report", "--from-facts", facts, ".", cwd=proj, check_exit=2)
    assert "forbidden global" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_file_names_cannot_forge_output_lines(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    hazard = "import time\n\n\nasync def handler():\n    time.sleep(1)\n"
    (proj / "evil\nx.py:1:1: CCL999 forged.py").write_text(hazard)
    (proj / "tab\there\x1b[2J.py").write_text(hazard)
    with open(os.fsencode(proj) + b"/not-utf8-\xff.py", "w") as f:
        f.write(hazard)
    check = run_cli("check", "proj", "--no-cache", cwd=tmp_path, check_exit=1)
    lines = check.stdout.splitlines()
    assert len(lines) == 3, check.stdout
    assert all(line.startswith("proj/") and ": CCL501 " in line for line in lines)
    assert "proj/evil\\x0ax.py:1:1: CCL999 forged.py:5:5: CCL501" in check.stdout
    assert "\x1b" not in check.stdout and "not-utf8-\\xff.py" in check.stdout
    for fmt in ("text", "markdown", "json", "sarif"):
        proc = run_cli("report", "proj", "--format", fmt, "--no-cache", cwd=tmp_path, check_exit=1)
        assert "Traceback" not in proc.stderr, proc.stderr
        if fmt in ("text", "markdown"):
            assert "\x1b" not in proc.stdout and "forged.py\n" not in proc.stdout
            assert not any(line.lstrip("- ").startswith("x.py") for line in proc.stdout.splitlines())
        else:
            json.loads(proc.stdout)
    proc = run_cli("report", "proj", "--write-baseline", tmp_path / "b.json", "--no-cache", cwd=tmp_path)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    again = run_cli("report", "proj", "--baseline", tmp_path / "b.json", "--no-cache", cwd=tmp_path, check_exit=0)
    assert "0 findings" in again.stdout

"""Rules that need a name defined in another module of the project, through the real CLI.

CCL604 (a callable passed where ``group`` goes) on thread and process bodies imported from another
module: the package fixture ``tests/fixtures/CCL604_workers`` is checked whole by test_fixtures;
here it is checked one file at a time, as the pre-commit hook does, and with the body module
missing (then nothing is known about the names, and nothing is reported).
(CCL604's ceiling is medium: its held-out record, docs/precision.md; the runs ask for medium.)
"""
from __future__ import annotations

import shutil

from conftest import FIXTURES, ROOT, run_cli
from test_fixtures import expected

PACKAGE = FIXTURES / "CCL604_workers"


def _lines(out: str, code: str) -> set:
    return {int(ln.split(":")[1]) for ln in out.splitlines() if f" {code} " in ln}


def test_one_changed_file_still_resolves_the_bodies_it_imports():
    pollers = PACKAGE / "pollers.py"
    proc = run_cli("check", pollers.relative_to(ROOT), "--no-cache", "--select", "CCL604", "--min-confidence", "medium", cwd=ROOT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _lines(proc.stdout, "CCL604") == {line for line, code, _ in expected(pollers) if code == "CCL604"}
    assert len(_lines(proc.stdout, "CCL604")) == 5


def test_names_from_a_module_outside_the_project_are_not_guessed(tmp_path):
    """Without jobs.py the imported names could be anything (``THREAD_GROUP`` is ``None``):
    text that looks like a function is not enough."""
    pkg = tmp_path / "CCL604_workers"
    pkg.mkdir()
    shutil.copy(PACKAGE / "__init__.py", pkg / "__init__.py")
    shutil.copy(PACKAGE / "pollers.py", pkg / "pollers.py")
    proc = run_cli("check", "CCL604_workers", "--no-cache", "--select", "CCL604", "--min-confidence", "medium", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    # the same package with its bodies: every marked line
    shutil.copy(PACKAGE / "jobs.py", pkg / "jobs.py")
    proc = run_cli("check", "CCL604_workers", "--no-cache", "--select", "CCL604", "--min-confidence", "medium", cwd=tmp_path)
    assert len(_lines(proc.stdout, "CCL604")) == 5, proc.stdout + proc.stderr


def _source_root_project(root):
    """A monorepo whose worker service keeps its package below a directory without __init__.py
    inside the `apps` package, and imports it by its own name (`from worker.db import ...`), as
    the service does when `apps/worker` is on its path."""
    (root / "pyproject.toml").write_text('[project]\nname = "monorepo"\n', encoding="utf-8")
    pkg = root / "apps" / "worker" / "worker"
    pkg.mkdir(parents=True)
    (root / "apps" / "__init__.py").write_text('"""The services."""\n', encoding="utf-8")
    (pkg / "__init__.py").write_text('"""The worker service."""\n', encoding="utf-8")
    (pkg / "db.py").write_text(
        '"""The worker\'s job table, through a synchronous HTTP API."""\n'
        "import requests\n\n\n"
        "def fetch_job(job_id: str) -> dict:\n"
        "    return requests.get(f\"http://jobs.internal/jobs/{job_id}\", timeout=10).json()\n",
        encoding="utf-8")
    (pkg / "jobs.py").write_text(
        '"""The worker\'s activities: coroutines on the worker\'s event loop."""\n'
        "from worker.db import fetch_job\n\n\n"
        "async def run_job(job_id: str) -> str:\n"
        "    job = fetch_job(job_id)\n"
        "    return job[\"state\"]\n",
        encoding="utf-8")
    return pkg / "jobs.py"


def test_a_package_below_a_directory_without_init_is_imported_by_its_own_name(tmp_path):
    """apps/worker/worker/db.py is named apps.worker.worker.db (a namespace portion of `apps`),
    and `from worker.db import fetch_job` still finds it: whole tree and one file alike."""
    jobs = _source_root_project(tmp_path)
    for target in ("apps", str(jobs.relative_to(tmp_path))):
        proc = run_cli("check", target, "--no-cache", "--select", "CCL501", cwd=tmp_path)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert _lines(proc.stdout, "CCL501") == {6}, proc.stdout
        assert "via run_job -> fetch_job" in proc.stdout


def test_a_module_named_like_a_library_is_not_taken_for_it(tmp_path):
    """One file of a package named alone (pre-commit, flake8): pkg/redis.py wraps the real redis
    library. Its package's __init__.py is not read, so pkg looks like a directory without one,
    but `redis` must still be the library (a sync client in a coroutine), not pkg.redis itself."""
    pkg = tmp_path / "cachebox"
    pkg.mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "cachebox"\n', encoding="utf-8")
    (pkg / "__init__.py").write_text('"""A cache facade."""\n', encoding="utf-8")
    (pkg / "redis.py").write_text(
        '"""The Redis backend of the cache facade."""\n'
        "import redis\n\n\n"
        "class Redis:\n"
        "    def __init__(self, url: str):\n"
        "        self.client = redis.Redis.from_url(url)\n\n"
        "    def get(self, key: str):\n"
        "        return None\n\n\n"
        "async def warm(host: str, keys):\n"
        "    client = redis.Redis(host=host)\n"
        "    return [client.get(k) for k in keys]\n",
        encoding="utf-8")
    proc = run_cli("check", "cachebox/redis.py", "--no-cache", "--select", "CCL501", "--min-confidence", "low",
                   cwd=tmp_path)
    assert _lines(proc.stdout, "CCL501") == {15}, proc.stdout + proc.stderr


def test_scripts_in_a_directory_without_init_import_each_other_by_name(tmp_path):
    """tools/ has no __init__.py inside the `ops` package: its scripts run with tools/ on the path
    and import a sibling by its bare name (`from netutil import fetch_status`)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "ops"\n', encoding="utf-8")
    tools = tmp_path / "ops" / "tools"
    tools.mkdir(parents=True)
    (tmp_path / "ops" / "__init__.py").write_text('"""Operations helpers."""\n', encoding="utf-8")
    (tools / "netutil.py").write_text(
        '"""Shared by the tools."""\nimport requests\n\n\n'
        "def fetch_status(url: str) -> int:\n"
        "    return requests.get(url, timeout=5).status_code\n", encoding="utf-8")
    (tools / "watch.py").write_text(
        '"""Watches a service from its own event loop."""\nimport asyncio\n\n'
        "from netutil import fetch_status\n\n\n"
        "async def watch(url: str) -> None:\n"
        "    while True:\n"
        "        print(fetch_status(url))\n"
        "        await asyncio.sleep(30)\n", encoding="utf-8")
    proc = run_cli("check", "ops", "--no-cache", "--select", "CCL501", cwd=tmp_path)
    assert _lines(proc.stdout, "CCL501") == {9}, proc.stdout + proc.stderr


def test_a_namespace_package_at_the_top_imports_its_modules_by_their_full_names(tmp_path):
    """xmanager-style layout: the top folder `launcher/` has no __init__.py, nor does its
    `docker_tools/` folder, while `local/` is a regular package. The modules are read as
    `local.execution` and `adapter`, but the code imports them as `launcher.local...` and
    `launcher.docker_tools.adapter`: the Docker client's request in the coroutine is still seen."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "launcher"\n', encoding="utf-8")
    tools = tmp_path / "launcher" / "docker_tools"
    local = tmp_path / "launcher" / "local"
    tools.mkdir(parents=True)
    local.mkdir()
    (tools / "adapter.py").write_text(
        '"""One Docker client for the whole program."""\nimport functools\n\nimport docker\n\n\n'
        "@functools.lru_cache()\n"
        "def instance() -> 'DockerAdapter':\n"
        "    return DockerAdapter(docker.from_env())\n\n\n"
        "class DockerAdapter:\n"
        "    def __init__(self, client: docker.DockerClient) -> None:\n"
        "        self._client = client\n\n"
        "    def has_network(self, name: str) -> bool:\n"
        "        return bool(self._client.networks.list([name]))\n", encoding="utf-8")
    (local / "__init__.py").write_text('"""Local execution."""\n', encoding="utf-8")
    (local / "execution.py").write_text(
        '"""Launches jobs as containers, from the experiment\'s event loop."""\n'
        "from launcher.docker_tools import adapter\n\n\n"
        "async def launch(job_name: str) -> None:\n"
        "    if not adapter.instance().has_network('jobs'):\n"
        "        raise RuntimeError(job_name)\n", encoding="utf-8")
    proc = run_cli("check", "launcher", "--no-cache", "--select", "CCL501", cwd=tmp_path)
    assert _lines(proc.stdout, "CCL501") == {6}, proc.stdout + proc.stderr
    assert "networks.list()" in proc.stdout and "via launch -> has_network" in proc.stdout


def _write_tree(root, files: dict) -> None:
    """Each ``{relative path: text}`` under ``root``, folders made as needed."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_global_client_imported_from_another_module_has_its_type(tmp_path):
    """``relay = requests.Session()`` in store.py, ``from .store import relay`` in the handlers:
    ``relay.post(...)`` is a Session's request there too; ``cache.get(key)`` on a dict imported
    the same way is a lookup."""
    _write_tree(tmp_path, {
        "mailer/__init__.py": '"""Welcome mails."""\n',
        "mailer/store.py": "import requests\n\nrelay = requests.Session()\n"
                           "relay.headers['User-Agent'] = 'mailer/1.0'\ncache = {}\n",
        "mailer/handlers.py": "from .store import cache, relay\n\n\n"
                              "async def welcome(request):\n"
                              "    form = await request.json()\n"
                              "    if cache.get(form['email']):\n"
                              "        return {'sent': False}\n"
                              "    relay.post('https://relay.internal/welcome', json={'to': form['email']}, timeout=10)\n"
                              "    return {'sent': True}\n",
    })
    proc = run_cli("check", "mailer", "--no-cache", "--select", "CCL501", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert _lines(proc.stdout, "CCL501") == {8}, proc.stdout
    assert "relay.post() blocks the event loop" in proc.stdout

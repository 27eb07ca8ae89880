"""CCL508/CCL509 (asyncio calls a newer Python rejects) follow the Python the project runs on,
through the real command: the configured target version, else the project's own
`requires-python` upper bound, else the newest Python."""
from __future__ import annotations

import textwrap

import pytest

from conftest import report_json

SERVICE = textwrap.dedent('''\
    """A status daemon written for Python 3.6."""
    import asyncio


    async def poll(queue):
        while True:
            await queue.put("ok")
            await asyncio.sleep(30)


    def main():
        loop = asyncio.get_event_loop()
        queue = asyncio.Queue(loop=loop)
        loop.run_until_complete(poll(queue))
''')


def _codes(tmp_path, pyproject):
    (tmp_path / "statusd.py").write_text(SERVICE, encoding="utf-8")
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(textwrap.dedent(pyproject), encoding="utf-8")
    doc = report_json("statusd.py", "--select", "CCL508,CCL509", cwd=tmp_path)
    return sorted((f["code"], f["line"]) for f in doc["findings"])


@pytest.mark.parametrize("pyproject, expected", [
    (None, [("CCL508", 13), ("CCL509", 12)]),  # nothing said: the newest Python
    ('[project]\nname = "statusd"\nrequires-python = ">=3.8"\n', [("CCL508", 13), ("CCL509", 12)]),
    ('[project]\nname = "statusd"\nrequires-python = ">=3.8,<3.14"\n', [("CCL508", 13)]),
    ('[project]\nname = "statusd"\nrequires-python = ">=3.6,<3.10"\n', []),
    # a target version says more than requires-python
    ('[project]\nname = "statusd"\nrequires-python = ">=3.8,<3.14"\n\n[tool.concurlint]\ntarget-version = "3.14"\n',
     [("CCL508", 13), ("CCL509", 12)]),
    ('[tool.concurlint]\ntarget-version = "3.12"\n', [("CCL508", 13)]),
    ('[tool.concurlint]\ntarget-version = "3.9"\n', []),
])
def test_the_python_the_project_runs_on_decides(tmp_path, pyproject, expected):
    assert _codes(tmp_path, pyproject) == expected

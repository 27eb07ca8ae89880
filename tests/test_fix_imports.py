"""The import a fix adds lands where LibCST's own helper (AddImportsVisitor) would put it, and the
import whose last use a fix replaced goes.

``fixes.imports.add_import`` builds the new module itself (the helper costs ~25 ms a fix); these
tests run both on every fixture's head and on the module shapes the helper treats specially, and
compare the rendered code. ``remove_unused_import`` works from the original file's scopes; the
last test checks it through the real ``concurlint fix``."""
from __future__ import annotations

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from concurlint.fixes.imports import add_import
from conftest import FIXTURES
from fixcheck import fix


def _helper(module: cst.Module, name: str) -> str:
    ctx = CodemodContext()
    AddImportsVisitor.add_needed_import(ctx, name)
    return AddImportsVisitor(ctx).transform_module(module).code


SHAPES = {
    "docstring then imports": '"""Jobs."""\nimport os\nimport sys\n\ndef run():\n    pass\n',
    "docstring then code": '"""Jobs."""\nWORKERS = 4\n',
    "strict flag": '__strict__ = True\nimport os\nx = 1\n',
    "comment before the first statement": 'import os\n# the pool\nPOOL = None\n',
    "empty line before the first statement": 'import os\n\nPOOL = None\n',
    "no imports": 'def main():\n    return 1\n',
    "only imports": 'import os\nfrom typing import List\n',
    "future import": 'from __future__ import annotations\n\nimport os\n\nx: "List" = []\n',
    "compound statement first": 'try:\n    import ujson as json\nexcept ImportError:\n    import json\n',
    "two imports on one line": 'import os; import sys\nx = 1\n',
    "f-string first": 'f"not a docstring"\nimport os\n',
    "concatenated docstring": '"a" "b"\nimport os\n',
    "windows newlines": '"""Doc."""\r\nimport os\r\n\r\nx = 1\r\n',
    "tab indent": 'import os\nif os:\n\tx = 1\n',
    "empty": '',
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shapes_match_the_helper(shape):
    module = cst.parse_module(SHAPES[shape])
    for name in ("asyncio", "functools", "concurrent.futures"):
        assert add_import(module, name).code == _helper(module, name), (shape, name)


def _head(module: cst.Module) -> cst.Module:
    """The module up to its second statement that is not a one-import line: all either way of
    adding an import looks at (the helper takes ~70 ms on a whole fixture, this test would take a
    minute)."""
    others = 0
    for i, stmt in enumerate(module.body):
        one_import = isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 \
            and isinstance(stmt.body[0], (cst.Import, cst.ImportFrom))
        others += not one_import
        if others == 2:
            return module.with_changes(body=module.body[:i + 1])
    return module


def _shape(module: cst.Module) -> tuple:
    """What placing an import depends on: each head statement's kind and its leading lines."""
    out = []
    for stmt in module.body:
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 else None
        kind = type(small.value if isinstance(small, cst.Expr) else small or stmt).__name__
        out.append((kind, tuple(line.comment is not None for line in stmt.leading_lines)))
    return tuple(out)


def test_every_fixture_head_matches_the_helper():
    shapes = {}
    for path in sorted(FIXTURES.rglob("*.py")):
        try:
            module = _head(cst.parse_module(path.read_text(encoding="utf-8")))
        except Exception:
            continue  # the CCL000 fixtures do not parse
        shapes.setdefault(_shape(module), (path.name, module))
    assert len(shapes) >= 10
    for name, module in shapes.values():
        added = next(n for n in ("asyncio", "functools", "multiprocessing") if f"import {n}\n" not in module.code)
        assert add_import(module, added).code == _helper(module, added), name


POLLER = '''\
"""Poll a status endpoint from a coroutine, between other tasks."""
import asyncio
import os, time
{sleep_import}

API = os.environ.get("STATUS_API", "http://localhost:8080/status")


async def wait_until_ready(client, attempts=30):
    for _ in range(attempts):
        response = await client.get(API)
        if response.status == 200:
            return True
        {sleep_call}(2)
    return False
{other_use}'''


@pytest.mark.parametrize("case, sleep_import, sleep_call, other_use, kept, gone", [
    ("time.sleep, its only use", "", "time.sleep", "", ["import os\n"], ["time"]),
    ("time also used elsewhere", "", "time.sleep", "\n\ndef stamp():\n    return time.time()\n",
     ["import os, time\n"], []),
    ("from-import of sleep and monotonic", "from time import sleep, monotonic", "sleep",
     "\n\ndef started():\n    return monotonic()\n", ["from time import monotonic\n"], ["sleep,"]),
    ("from-import of sleep alone", "from time import sleep", "sleep", "", [], ["from time import"]),
    ("an import that carries a comment", "from time import sleep  # the poll interval", "sleep", "",
     ["from time import sleep  # the poll interval\n"], []),
])
def test_the_last_use_of_an_import_takes_the_import_with_it(tmp_path, case, sleep_import, sleep_call,
                                                           other_use, kept, gone):
    (tmp_path / "poller.py").write_text(POLLER.format(sleep_import=sleep_import,
                                                      sleep_call=sleep_call, other_use=other_use))
    fix("poller.py", tmp_path, "--min-confidence", "low")
    text = (tmp_path / "poller.py").read_text()
    assert "await asyncio.sleep(2)" in text, case
    for line in kept:
        assert line in text, (case, text)
    for piece in gone:
        assert piece not in text.split("\n\n\n")[0].replace("import os\n", ""), (case, text)

"""Which platform a branch runs on (analysis/platforms.py), read from the facts of real modules.
The rules that use it are tested through the CLI by the fixtures CCL301_platform_branches and
CCL501_pyodide_static."""
from __future__ import annotations

import ast
import textwrap

import pytest

from concurlint.analysis.facts import extract
from concurlint.analysis.project import Project
from concurlint.knowledge import load

COMPAT = """
import os, platform, sys
IS_WINDOWS = sys.platform.startswith("win")
ON_MAC = sys.platform == "darwin"
def is_unix_system():
    \"\"\"True where fork exists.\"\"\"
    return platform.system() != "Windows"
def helper(x):
    return x
"""


def _platforms(body: str):
    kb = load()
    mods = []
    for name, text in (("compat", COMPAT), ("app", "import os, sys, platform\n"
                                                   "from sys import platform as plat\n"
                                                   "from compat import IS_WINDOWS, ON_MAC, is_unix_system, helper\n"
                                                   "import compat\n" + textwrap.dedent(body))):
        mods.append(extract(ast.parse(text), text, f"{name}.py", name, False, kb))
    project = Project(mods, kb)
    return {c.args[0].text: project.platform_of(c) for c in mods[1].calls if c.text == "mark"}


@pytest.mark.parametrize("test, body, orelse", [
    ('sys.platform == "win32"', "windows", "posix"),
    ('sys.platform != "win32"', "posix", "windows"),
    ('sys.platform.startswith("win")', "windows", "posix"),
    ('sys.platform.startswith("linux")', "posix", ""),
    ('sys.platform == "darwin"', "posix", ""),  # not darwin: Linux or Windows
    ('plat == "linux"', "posix", ""),
    ('os.name == "nt"', "windows", "posix"),
    ('os.name != "posix"', "windows", "posix"),
    ('platform.system() == "Windows"', "windows", "posix"),
    ('platform.system().lower() in ("linux", "darwin")', "posix", ""),
    ('"pyodide" in sys.modules', "wasm", ""),
    ('"pyodide" not in sys.modules', "", "wasm"),
    ('sys.platform == "emscripten"', "wasm", ""),
    ("IS_WINDOWS", "windows", "posix"),
    ("not compat.IS_WINDOWS", "posix", "windows"),
    ("ON_MAC", "posix", ""),
    ("is_unix_system()", "posix", "windows"),
    ("is_unix_system() and timeout", "posix", ""),
    ('os.name == "nt" or sys.platform == "win32"', "windows", ""),
    # no platform in the test: nothing is known
    ("helper(1)", "", ""),
    ('os.environ.get("CI") == "1"', "", ""),
    ('sys.platform == "cygwin"', "", ""),
    ("timeout is None", "", ""),
])
def test_if_branches(test, body, orelse):
    found = _platforms(f"""
        def f(timeout):
            if {test}:
                mark("body")
            else:
                mark("orelse")
    """)
    assert found == {'"body"': body, '"orelse"': orelse}


def test_conditional_expression_and_nesting():
    found = _platforms("""
        def f():
            worker = mark("process") if is_unix_system() else mark("thread")
            if sys.platform == "win32":
                def pump():
                    mark("nested def")
            elif sys.platform == "darwin":
                mark("mac")
            else:
                mark("linux or other")
            mark("after")
    """)
    assert found == {'"process"': "posix", '"thread"': "windows", '"nested def"': "windows",
                     '"mac"': "posix", '"linux or other"': "posix", '"after"': ""}


def test_instance_attribute_set_from_a_platform_test():
    kb = load()
    text = textwrap.dedent("""
        import subprocess, sys

        class Controller:
            def __init__(self):
                self._is_windows = sys.platform == "win32"
                self.verbose = False

            async def terminate(self, pid):
                if self._is_windows:
                    mark("taskkill")
                else:
                    mark("terminate")
                if self.verbose:
                    mark("verbose")

        class Mixed:
            def __init__(self):
                self.win = sys.platform == "win32"

            def force(self):
                self.win = True

            def run(self):
                if self.win:
                    mark("mixed")
    """)
    mod = extract(ast.parse(text), text, "ctl.py", "ctl", False, kb)
    project = Project([mod], kb)
    found = {c.args[0].text: project.platform_of(c) for c in mod.calls if c.text == "mark"}
    assert found == {'"taskkill"': "windows", '"terminate"': "posix", '"verbose"': "", '"mixed"': ""}

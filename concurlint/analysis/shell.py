"""What a shell command line handed to ``os.system`` or ``subprocess`` does with its program.

``backgrounded`` answers whether the call returns as soon as the shell has started the program:
``os.system("nohup scrcpy --record=out.mkv &")``, ``subprocess.call(f"server --port {p} &",
shell=True)``, or Windows' ``start /b recorder.exe`` (``start`` without ``/wait``). The shell
exits at once and the program runs on its own, so the call is not a wait (solox's
``Scrcpy.start_record``: a screen recorder started in the background, read as IO worth a thread
pool). Only where the command's text is known: a string literal, an f-string, or
``"...".format(...)`` / ``"..." % (...)``, written in the call or bound to a name before it
(``Value.meta["source"]``). Only the calls that do not read the program's output: a call that
captures it (``check_output``, ``getoutput``, ``stdout=PIPE``) waits until the background program
closes the pipe it inherited.
"""
from __future__ import annotations

import ast
import re
from typing import Optional

from concurlint.analysis.facts import Call, Value

# calls that run a command line through the shell and return its exit status when the shell ends
SHELL_RUNNERS = frozenset({"os.system", "subprocess.call", "subprocess.check_call", "subprocess.run"})
# keyword arguments that make a subprocess call read the program's output (it waits for EOF)
_READS_OUTPUT = frozenset({"capture_output", "stdout", "stderr"})
_TRAILING_AMPERSAND = re.compile(r"(?<![&|>])&\s*$")  # `cmd &`, not `a && b` or `2>&`
_WINDOWS_START = re.compile(r"^\s*start\s", re.I)  # `start /b prog`: runs prog without waiting
_START_WAIT = re.compile(r"\s/wait\b", re.I)
# the leading string literal of an expression kept shortened (`"nohup {p} &".format( ...`)
_LEADING_STRING = re.compile(r"""\s*[rRuUfF]{0,2}(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""")


def backgrounded(call: Call, target: Optional[str]) -> bool:
    """The call hands the shell a command line that puts its program in the background."""
    if target not in SHELL_RUNNERS or not call.args:
        return False
    if target != "os.system":
        shell = call.kwargs.get("shell")
        if shell is None or shell.kind != "literal" or shell.text != "True":
            return False  # without a shell, `&` is only an argument of the program
        if any(name in call.kwargs for name in _READS_OUTPUT):
            return False
    text = command_text(call.args[0])
    if text is None:
        return False
    text = text.strip()
    if _TRAILING_AMPERSAND.search(text):
        return True
    return bool(_WINDOWS_START.match(text)) and not _START_WAIT.search(text)


def command_text(value: Value) -> Optional[str]:
    """The command line a value spells out, with ``{}`` where a part is filled in at run time;
    None when it is not written in the code."""
    for text in (value.meta.get("source"), value.text):
        if not text:
            continue
        node = _parsed(text.strip())
        if node is None:
            # a long expression is kept shortened (`"nohup {p} &".format( ...`): its leading
            # string literal is still whole
            lead = _LEADING_STRING.match(text)
            node = _parsed(lead.group(0).strip()) if lead else None
        spelt = _spelt(node) if node is not None else None
        if spelt is not None:
            return spelt
    return None



def _parsed(text: str) -> Optional[ast.AST]:
    try:
        return ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        return None


def _spelt(node: ast.AST) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
                       for part in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _spelt(node.func.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _spelt(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _spelt(node.left), _spelt(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else "{}") + (right if right is not None else "{}")
    return None

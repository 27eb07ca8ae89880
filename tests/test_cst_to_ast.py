"""Tests for concurlint.analysis.cst_to_ast.parse_with_libcst.

Where the running interpreter's own ``ast.parse`` accepts a source, the converted tree
must be identical to it, positions included. Syntax newer than the interpreter is checked
by running the converter under Python 3.9 and 3.11 in a subprocess.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any, Optional

import pytest

from concurlint.analysis.cst_to_ast import parse_with_libcst

REPO = Path(__file__).resolve().parents[1]


def _first_difference(got: Any, expected: Any, path: str = "Module") -> Optional[str]:
    """Describe the first place where two ast trees differ, or None."""
    if type(got) is not type(expected):
        return f"{path}: {_show(got)} != {_show(expected)}"
    if isinstance(got, ast.AST):
        for name in got._fields + got._attributes:
            found = _first_difference(getattr(got, name, "<unset>"), getattr(expected, name, "<unset>"), f"{path}.{name}")
            if found:
                if isinstance(getattr(got, name, None), (int, str, type(None))) or name in got._attributes:
                    return f"{found}\n  in got:      {_show(got)}\n  in expected: {_show(expected)}"
                return found
        return None
    if isinstance(got, list):
        if len(got) != len(expected):
            return f"{path}: {len(got)} items != {len(expected)} items\n  got: {_show(got)}\n  expected: {_show(expected)}"
        for index, (left, right) in enumerate(zip(got, expected)):
            found = _first_difference(left, right, f"{path}[{index}]")
            if found:
                return found
        return None
    if got != expected or repr(got) != repr(expected):
        return f"{path}: {got!r} != {expected!r}"
    return None


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    if isinstance(value, ast.AST):
        return ast.dump(value, include_attributes=True)[:400]
    return repr(value)


def assert_same_tree(source: str, filename: str = "<sample>") -> None:
    expected = ast.parse(source, filename)
    got = parse_with_libcst(source, filename)
    if ast.dump(got, include_attributes=True) != ast.dump(expected, include_attributes=True):
        pytest.fail(f"{filename}: converted tree differs from ast.parse:\n{_first_difference(got, expected)}")


# A sample of every construct that Python 3.9 can parse.
SAMPLE_39 = '''\
"""Module docstring."""
from __future__ import annotations
import os, sys as system
import os.path as osp
from . import sibling
from ..pkg.mod import (a as b,
    c,)
from x import *
x = 1; y = 2;
a = b = c = 0x_ff + 0o17 + 0b101 + 1_000 + 1.5e-3 + 3j + .5 + 1.
t = 1,
t2 = (1, 2), (3,)
(a), b = [c, *d] = e
[a, (b, c)] = f
*rest, last = seq
x: int = 5
y: "str"
obj.attr: int
obj.attr += 1; v -= 2; v *= 3; v /= 4; v //= 5; v %= 6; v **= 7
v <<= 1; v >>= 2; v &= 3; v |= 4; v ^= 5; v @= m
del a, (b), c[0], d.e
del (f, g)
assert x, "message"
raise
raise ValueError("bad") from exc
global_value = not a and b or c and not d or e
chain = a < b <= c != d == e > f >= g is h is not i in j not in k
arith = -a + +b * ~c / d // e % f ** -g @ h << 1 >> 2 & 3 | 4 ^ 5
grouped = ((a or b) or c) and (d and e and f)
cond = a if b else c if d else e
lam = lambda: 0
lam2 = lambda a, /, b=1, *args, c, d=2, **kw: (a, b, args, c, d, kw)
lam3 = lambda *, k: k
calls = f(a, *b, c=1, **d)(e)(*f, g)
gen = sum(x * x for x in range(10) if x % 2 if x)
gen2 = list((x for x in y), )
comps = [i for i in a for j in i], {k: v for k, v in d.items()}, {s for s in z}
nested = [[y async for y in z] for z in w]
subs = a[1], a[1:2], a[::3], a[1:2, 3], a[...], a[:, None], a[1,], a[()], a[b:c:d]
empty = (), [], {}, set()
dicts = {1: 2, **extra, "k": [1, 2]}
sets = {1, 2, *others}
strings = "plain", 'single', b"bytes", rb"raw\\d", r"raw\\n", u"unicode", """triple
quoted""", "implicit" 'concatenation', b"by" b"tes"
escapes = "\\n\\t\\x41\\u00e9\\N{BULLET}\\\\", "caf\\u00e9 café ünïcödé ☃", "tab\\there"
fstrings = f"{x}", f"{x!r}", f"{x!s:>10}", f"{x:{width}.{prec}}", f"a{{b}}c", F"{x=}", f"{x = !s}"
fstrings2 = f"{'nested'}" "plain" f'{x}' rf"raw\\{x}", f"{x:%Y-%m-%d}", f"" "", "" f"{y}"
unicode_names = größe + café
walrus = [y for x in data if (y := f(x))]
if (n := len(a)) > 10: pass
star_call = print(*args, sep="", **kw)
yield_expr = None
ellipsis = ...


@decorator
@decorator.with_args(1, k=2)
def function(a, b: int = 1, *args: str, c: "C" = None, **kwargs) -> None:
    """Docstring."""
    global global_value
    value = yield
    value = yield from other()
    value = yield value, 1
    return value


@decorator
class Class(Base, metaclass=Meta, **options):
    attribute: int = 0

    def method(self, /, x, *, y):
        nonlocal_var = 1

        def inner():
            nonlocal nonlocal_var
            nonlocal_var += 1
        return inner

    @property
    async def coroutine(self):
        await self.other()
        async with lock as held, other_lock:
            pass
        async for item in stream():
            yield item
        return [x async for x in aiter() if await x]


class Empty: pass
class WithArgs(object, *bases): ...


for i in range(10):
    if i == 1:
        continue
    elif i == 2:
        break
    elif i == 3:
        pass
    else:
        i += 1
else:
    done = True

for a, (b, c) in items: pass
for x, in pairs:
    pass

while True:
    break
else:
    pass

while (x := next(it)) is not None: x += 1

try:
    risky()
except ValueError:
    pass
except (TypeError, KeyError) as error:
    raise RuntimeError() from error
except:
    raise
else:
    ok = 1
finally:
    cleanup()

try:
    pass
finally:
    pass

with open(path) as f, lock:
    data = f.read()
with a as (b, c), d as e[0]: pass
with (yield):
    pass

if a:
    pass
elif b: pass
else: x = 1;

value = (  # comment
    1 +
    2  # trailing
)
call = func(
    arg,  # first
    *rest,
    key=value,
)
backslash = 1 + \\
    2
s = (
    "a"
    "b"
    f"{c}"
)
'''

# Python 3.9 misplaces expressions on the later lines of a multi-line f-string (it adds
# the column of the string's start); the converter gives their real position.
SAMPLE_310 = '''\
fstrings = f"""multi
{x}
line""", f"""{
    x!r}"""
match command.split():
    case [action]:
        pass
    case [action, obj, *rest] if obj:
        run(action, obj)
    case ("go" | "move") as verb, direction:
        go(direction)
    case Point(x=0, y=0) | Point(1, 2, z=(3)):
        pass
    case {"key": value, 1: [_, *_], **others}:
        pass
    case -1 | 1.5 | 2 + 3j | -4 - 5j | "s" "t" | None | True | False | Color.RED | a.b.c:
        pass
    case [] | () | {}:
        pass
    case (x):
        pass
    case _:
        default()
match x, y:
    case a, b: pass
with (open(a) as f, open(b) as g,):
    pass
with (a, b):
    pass
'''

SAMPLE_311 = '''\
try:
    pass
except* ValueError as group:
    handle(group)
except* (TypeError, KeyError):
    pass
else:
    pass
finally:
    pass
a[*b]
def f(*args: *Ts): pass
'''

SAMPLE_312 = '''\
type Alias = list[int]
type Generic[T, *Ts, **P] = Callable[P, tuple[T, *Ts]]
def first[T: (int, str), U: Base](items: list[T]) -> T:
    return items[0]
class Box[T]:
    value: T
songs = f"{", ".join(items)}" + f'{f'{x!r}'}' + f"{x:{y}}" + f"{'\\n'.join(lines)}"
multi = f"""{
    value  # comment
}"""
'''

SAMPLE_313 = '''\
type WithDefault[T = int, *Ts = *tuple[int], **P = [int]] = T
def g[T: int = bool](): pass
'''


def _samples():
    samples = [("3.9", SAMPLE_39)]
    if sys.version_info >= (3, 10):
        samples.append(("3.10", SAMPLE_310))
    if sys.version_info >= (3, 11):
        samples.append(("3.11", SAMPLE_311))
    if sys.version_info >= (3, 12):
        samples.append(("3.12", SAMPLE_312))
    if sys.version_info >= (3, 13):
        samples.append(("3.13", SAMPLE_313))
    return samples


@pytest.mark.parametrize("version, source", _samples(), ids=[version for version, _ in _samples()])
def test_sample_matches_ast(version: str, source: str) -> None:
    assert_same_tree(source, f"<sample {version}>")


@pytest.mark.parametrize(
    "source",
    [
        "",
        "\n\n",
        "# only a comment",
        "x = 1",  # no trailing newline
        "x = 1\r\ny = 2\r\n",
        "x = 1\ry = 2\r",
        "if x:\n\tpass\n",
        "s = 'é' + f'{é}é{x!r:é>{w}}'\n",
        "x = '☃'; y = (a,\n  b)\n",
        "def f():\n    pass\n    # trailing comment\n\n",
        "f(x\n  for x in y)\n",
        "f (  x  for x in y )\n",
        "x = [\n    1,\n    2,\n]\n",
        "x = a[1 ,]\n",
        "x = 1 ,\n",
        "print(f'{x!r}' f'{y:{z}}' 'tail')\n",
        "x = f'{a}' f'{b:>{c}d}'\n",
        "x = (f'{a:02d}'\n     f'{b:>{w}}' 'q')\n",
        "x = f'{f\"{a}\"}'\n",
        "x = f'{x:}'\n",
        "x = f'{x!r:}'\n",
        "x = f'{ x = }'\n",
        "x = f'{x=:>3}'\n",
        "x = f'''a'{x}'''\n",
        "x = f'\\\\{x}\\\\'\n",
        "x = u'a' f'{x}' 'b'\n",
        "x = 'a' u'b'\n",
        "@a.b\n@c\n\ndef f(): pass\n",
        "if a: pass\nelif b: pass\nelif c:\n  pass\nelse:\n  x = 1\n",
        "class C:\n  def f(self): return 1\n",
        "lambda: (yield)\n",
        "x = not not a\n",
        "x = (a for b in c), (d)\n",
        "ﬁ = 1\n",
    ],
)
def test_small_sources_match_ast(source: str) -> None:
    assert_same_tree(source)


def _stdlib_sample(count: int = 40, step: int = 15):
    """Every `step`-th standard-library file of the running interpreter that its ast
    accepts, up to `count` of them."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(path for path in root.rglob("*.py") if "site-packages" not in path.parts)
    chosen = []
    for path in files[::step]:
        try:
            source = path.read_text(encoding="utf-8")
            ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        chosen.append(path)
        if len(chosen) == count:
            break
    return root, chosen


_STDLIB_ROOT, _STDLIB_FILES = _stdlib_sample()


@pytest.mark.parametrize("path", _STDLIB_FILES, ids=[str(p.relative_to(_STDLIB_ROOT)) for p in _STDLIB_FILES])
def test_stdlib_file_matches_ast(path: Path) -> None:
    assert_same_tree(path.read_text(encoding="utf-8"), str(path))


def test_stdlib_sample_is_large_enough() -> None:
    assert len(_STDLIB_FILES) == 40


@pytest.mark.parametrize(
    "source",
    [
        "def f(:\n",
        "x = (1,\n",
        "x = = 1\n",
        "class\n",
        "if x\n    pass\n",
        "f() = 1\n",
        "del f()\n",
        "True = 1\n",
        "x = b'a' 'b'\n",
        "x = 0777\n",
        "x = '\\N{NO SUCH NAME}'\n",
        "\x00",
        "x = \"\ud800\"\n",
    ],
)
def test_unparsable_input_raises_syntax_error(source: str) -> None:
    with pytest.raises(SyntaxError):
        parse_with_libcst(source, "bad.py")


def test_syntax_error_carries_filename_and_line() -> None:
    with pytest.raises(SyntaxError) as info:
        parse_with_libcst("x = 1\ndef f(:\n", "bad.py")
    assert info.value.filename == "bad.py"
    assert info.value.lineno == 2


# -- syntax newer than the interpreter -------------------------------------------------

NEW_SYNTAX = '''\
import asyncio

def handle(command):
    match command:
        case {"action": "run", "target": target} if target:
            def runner():
                return execute(target)
            return runner()
        case [first, *rest]:
            process(first, rest)
        case _:
            fallback(command)

def greet(names):
    return f"{", ".join(names)}: {f'{len(names)!r}'}"

async def gather_all(tasks):
    try:
        await asyncio.gather(*tasks)
    except* ValueError as group:
        report(group)

def first[T](items: list[T]) -> T:
    return items[0]

type Pair[T] = tuple[T, T]
'''

EXPECTED_DEFS = [
    ["FunctionDef", "handle", 3],
    ["FunctionDef", "runner", 6],
    ["FunctionDef", "greet", 14],
    ["AsyncFunctionDef", "gather_all", 17],
    ["FunctionDef", "first", 23],
]
EXPECTED_CALLS = [
    ["execute", 7],
    ["fallback", 12],
    ["gather", 19],
    ["join", 15],
    ["len", 15],
    ["process", 10],
    ["report", 21],
    ["runner", 8],
]

# Run by the interpreter under test: converts the files named on the command line and
# prints, for each, its function definitions, its calls and its FunctionDef counts.
CONVERT_SCRIPT = '''\
import ast, json, sys
from concurlint.analysis.cst_to_ast import parse_with_libcst

result = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as file:
        tree = parse_with_libcst(file.read(), path)
    compile(tree, path, "exec")
    nodes = list(ast.walk(tree))
    defs = sorted((
        [type(n).__name__, n.name, n.lineno]
        for n in nodes
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ), key=lambda d: d[2])
    calls = sorted(
        [n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id, n.lineno]
        for n in nodes
        if isinstance(n, ast.Call) and isinstance(n.func, (ast.Attribute, ast.Name))
    )
    result[path] = {"defs": defs, "calls": calls}
print(json.dumps(result))
'''

COUNT_SCRIPT = '''\
import ast, json, sys
counts = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), path)
    counts[path] = sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(tree))
print(json.dumps(counts))
'''

# The files of CPython 3.13's standard library that the ast of Python 3.11 rejects
# (PEP 701 f-strings, PEP 695/696 type parameters).
STDLIB_313_NEW_SYNTAX = ["dataclasses.py", "traceback.py", "turtle.py", "typing.py"]


def _pyenv_python(version: str) -> Optional[Path]:
    roots = [os.environ.get("PYENV_ROOT")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        roots.append(subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip())
    roots.append(str(Path.home() / ".pyenv"))
    for root in filter(None, roots):
        candidate = Path(root) / "versions" / version / "bin" / "python"
        if candidate.exists():
            return candidate
    return None


def _python_with_libcst(version: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pyenv interpreter `version`, or a venv of it, that can import libcst.

    Under that very interpreter (the 3.9 suite of .ci/run), this one: it imports libcst already.
    Otherwise the venv with libcst is kept between sessions in the user's cache directory (one
    per interpreter: rebuilt when the interpreter changes or the venv no longer imports libcst),
    so a session does not spend ~10 s creating it and installing libcst again."""
    python = _pyenv_python(version)
    if python is None:
        pytest.skip(f"no Python {version} under pyenv")
    if Path(sys.base_prefix).resolve() == python.parent.parent.resolve():
        return Path(sys.executable)
    if subprocess.run([str(python), "-c", "import libcst"], capture_output=True).returncode == 0:
        return python
    try:
        import fcntl
    except ImportError:  # no file locks: a throwaway venv for this session
        return _venv_with_libcst(python, version, tmp_path_factory.mktemp(f"venv-{version}"))
    stamp = python.resolve().stat()
    key = hashlib.sha256(f"{python.resolve()}|{stamp.st_size}|{stamp.st_mtime_ns}|libcst".encode()).hexdigest()[:12]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "concurlint-tests"
    root.mkdir(parents=True, exist_ok=True)
    venv = root / f"venv-{version}-{key}"
    with open(root / f"venv-{version}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # sessions running at once build it once
        venv_python = venv / "bin" / "python"
        if venv_python.exists() and subprocess.run([str(venv_python), "-c", "import libcst"],
                                                   capture_output=True).returncode == 0:
            return venv_python
        shutil.rmtree(venv, ignore_errors=True)
        return _venv_with_libcst(python, version, venv)


def _venv_with_libcst(python: Path, version: str, venv: Path) -> Path:
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, capture_output=True)
    venv_python = venv / "bin" / "python"
    install = subprocess.run(
        [str(venv_python), "-m", "pip", "install", "--quiet", "libcst"], capture_output=True, text=True
    )
    if install.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        pytest.skip(f"libcst cannot be installed for Python {version}: {install.stderr.strip()[-500:]}")
    return venv_python


@pytest.fixture(scope="session")
def python39(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _python_with_libcst("3.9.18", tmp_path_factory)


def _convert_in_subprocess(python: Path, paths: list) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run(
        [str(python), "-c", CONVERT_SCRIPT, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO),
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def new_syntax_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("new-syntax") / "new_syntax.py"
    path.write_text(NEW_SYNTAX, encoding="utf-8")
    return path


def test_new_syntax_under_python39(python39: Path, new_syntax_file: Path) -> None:
    check = subprocess.run([str(python39), "-c", f"import ast; ast.parse({NEW_SYNTAX!r})"], capture_output=True)
    assert check.returncode != 0, "Python 3.9's ast accepts the sample: it tests nothing"
    found = _convert_in_subprocess(python39, [new_syntax_file])[str(new_syntax_file)]
    assert found == {"defs": EXPECTED_DEFS, "calls": EXPECTED_CALLS}


def test_new_syntax_in_process(new_syntax_file: Path) -> None:
    tree = parse_with_libcst(NEW_SYNTAX, str(new_syntax_file))
    compile(tree, str(new_syntax_file), "exec")
    defs = sorted((
        [type(n).__name__, n.name, n.lineno]
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ), key=lambda d: d[2])
    assert defs == EXPECTED_DEFS


def test_match_becomes_if_chain_without_ast_match(python39: Path, new_syntax_file: Path) -> None:
    script = textwrap.dedent(
        f"""
        import ast
        from concurlint.analysis.cst_to_ast import parse_with_libcst
        handle = parse_with_libcst(open({str(new_syntax_file)!r}).read()).body[1]
        expr, chain = handle.body
        print(ast.dump(expr.value), chain.lineno, chain.end_lineno, ast.dump(chain.test))
        print(chain.orelse[0].lineno, ast.dump(chain.orelse[0].test), chain.orelse[0].orelse[0].lineno)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.run([str(python39), "-c", script], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "Name(id='command', ctx=Load()) 5 12 Name(id='target', ctx=Load())",
        "9 Constant(value=True) 11",
    ]


def _stdlib_313_files() -> list:
    python313 = _pyenv_python("3.13.0")
    if python313 is None:
        pytest.skip("no Python 3.13.0 under pyenv")
    root = python313.parent.parent / "lib" / "python3.13"
    return python313, [root / name for name in STDLIB_313_NEW_SYNTAX]


def _function_counts_313() -> dict:
    python313, paths = _stdlib_313_files()
    run = subprocess.run([str(python313), "-c", COUNT_SCRIPT, *map(str, paths)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_stdlib_313_files_are_new_syntax_for_311() -> None:
    python311 = _pyenv_python("3.11.7")
    if python311 is None:
        pytest.skip("no Python 3.11.7 under pyenv")
    _, paths = _stdlib_313_files()
    for path in paths:
        check = subprocess.run([str(python311), "-c", COUNT_SCRIPT, str(path)], capture_output=True, text=True)
        assert "SyntaxError" in check.stderr, f"Python 3.11 parses {path}"


def test_stdlib_313_files_in_process() -> None:
    expected = _function_counts_313()
    for path, count in expected.items():
        tree = parse_with_libcst(Path(path).read_text(encoding="utf-8"), path)
        found = sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(tree))
        assert found == count, path


def test_stdlib_313_files_under_python39(python39: Path) -> None:
    expected = _function_counts_313()
    converted = _convert_in_subprocess(python39, list(expected))
    for path, count in expected.items():
        assert len(converted[path]["defs"]) == count, path

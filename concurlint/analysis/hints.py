"""Context that decides how much a finding matters, shared by the rules that set confidence.

None of this changes *what* a rule finds; it says how sure a maintainer would be that the finding
is worth acting on (docs/precision.md):
- test helpers shipped with a package (``utils_test.py``, ``testing/``, ``conftest.py``, test
  doubles in ``dummies.py``/``mocks.py``/``fakes.py``) run in test suites, not in production;
- code marked ``@deprecated`` (the function, an enclosing one, or its class) is on its way out;
- start-up and shut-down code (``__init__``, ``start``, ``setup``, ``close``, ``__aexit__`` ...)
  runs once per process or connection, not per request;
- memoised functions (``functools.cache``/``lru_cache``, ``memoize`` decorators) do their work
  once per argument;
- methods of a class run against the state of a long-lived object that the local analysis does
  not see (who holds the task, who else takes the lock, whether the work could move at all);
- request handlers (an ASGI ``(scope, receive, send)`` or ``(receive, send)`` signature, a
  ``request`` parameter) run once per request, whatever object they belong to.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterable, Optional

_TEST_MODULE = re.compile(r"(^|\.)(conftest|utils_test|test_utils|testclient|_testing)(\.|$)"
                          # test helpers shipped in the package (`azure_functions_worker.testutils`)
                          r"|\.(testutils?|testhelpers?|testlib|testsupport|testcases?)(\.|$)"
                          # a product's own pytest support (`redbot.pytest`, `anyio.pytest_plugin`); a
                          # pytest plugin package (`pytest_asyncio`) is itself the product
                          r"|\.(pytest(_[^.]*)?|[^.]*_pytest)(\.|$)"
                          r"|(^|\.)([^.]*_)?(tests?|testing|dummy|dummies|mocks?|fakes?)(_[^.]*)?(\.|$)"
                          # named in camelCase: `testMajordomo`, `brokerTests` (gaterpc's manual test
                          # script shipped in the package, rev162a's high debatable)
                          r"|(^|\.)_?test[A-Z][^.]*(\.|$)|\.[^.]*[a-z0-9]Tests?(\.|$)"
                          # a simulator module inside the package (`pyobs.modules.camera.dummyspectrograph`,
                          # `fakeclock`); not the top-level package (`fakeredis` is the product)
                          r"|\._?(dummy|fake|mock)[a-z0-9_]+(\.|$)")
_LIFECYCLE = re.compile(
    r"^_*(a?init|__init__|__post_init__|__del__|__enter__|__exit__|__aenter__|__aexit__|"
    r"a?close|aclose|shutdown|stop|start|start_unsafe|setup|set_up|setup_\w+|teardown|"
    r"initiali[sz]e\w*|finali[sz]e|cleanup|clean_up|terminate|restart|bootstrap|main|"
    r"startup|on_startup|on_shutdown|create_server|listen|bind)$")
_MEMO = re.compile(r"(^|\.)(cache|lru_cache|cached|cached_property|memoize|memoized|memoise|cache_on_self)$")

# calls that hand out a resource someone must give back or close: a second task's (or
# thread's) overwrite leaks the first one's (`self.conn = await pool.get_connection()`); and tokens: an
# authorisation server that rotates them revokes the first task's when it issues the second
RESOURCE = re.compile(r"acquire|connect|connection|open|create|spawn|start|lease|checkout|session|client|"
                      r"channel|socket|transport|stream|cursor|subscribe|lock|pool|new|token|refresh", re.I)

# a store of a fresh clock reading (`= time.monotonic()`, `= loop.time() + delay`): a later
# writer's time replaces an earlier one's, and nothing read before is carried over
FRESH_CLOCK = re.compile(r"^= (?:[\w.]*\.)?(monotonic|monotonic_ns|time|time_ns|perf_counter|now|utcnow)\(\)")


def is_test_code(module: str, qualname: Optional[str] = None) -> bool:
    """A test helper: its module (or the function's own name) says it is test support."""
    if _TEST_MODULE.search(module or ""):
        return True
    if qualname:
        last = qualname.rsplit(".", 1)[-1]
        return last.startswith(("test_", "assert_", "gen_test", "gen_cluster"))
    return False


def is_pytest_plugin(module: str) -> bool:
    """A module of a pytest plugin package (``pytest_operator.plugin``, ``pytest_asyncio``): its
    fixtures and helpers run in the tests that use them, a coroutine on the test's own loop,
    one step of the test at a time."""
    top = (module or "").split(".", 1)[0]
    return top.startswith("pytest_") and len(top) > len("pytest_")


# a package's examples, demos and tutorials: `pkg.examples.fileserver`, `pkg.widgets_demo`,
# `pkg.demo_app`, `pkg.tutorials.step1`
_EXAMPLE_MODULE = re.compile(r"(^|\.)(examples?|demos?|tutorials?)(\.|$)"
                             r"|(^|\.)([^.]*_(demo|demos|example|examples)|(demo|example)_[^.]*)$")


def is_example_code(module: str) -> bool:
    """An example, a demo or a tutorial shipped with the package (a module or a package named
    so, inside a package or a folder): code to read and run by hand, where a hazard is rarely
    worth a maintainer's change (on the corpus: 2 of 7 such findings at high were worth one)."""
    # inside a package or a folder: a lone `example.py` handed to the tool is the code to check
    return "." in (module or "") and bool(_EXAMPLE_MODULE.search(module))


# (a module of its own named for a command, `pkg.cli_acquire`, `pkg.pool_cli`; not a package so
# named, `aitf_cli`, whose modules may be the server the command starts)
_CLI_MODULE = re.compile(r"(^|\.)(cli|ctl|__main__|commands|cmds|management|benchmarks?)(\.|$)"
                         r"|\.(cli_[a-z0-9_]+|[a-z0-9_]+_cli)$")


def is_cli_code(module: str) -> bool:
    """A command-line program's own code (``pkg.cli.reset``, ``pkg.__main__``, ``pkg.cmds.get``,
    ``pkg.cli_acquire``, ``pkg.pool_cli``, ``pkg.ctl.schema`` of a ``pkgctl`` command, a Django
    ``management.commands`` module, a ``pkg.benchmark`` runner), or a script inside a package that
    no import can reach (``pkg/notebook/private-new.py``: a name that is no identifier; a program
    at the top of a project, ``my-bot.py``, may be a server and is not counted): a coroutine there
    is usually the whole program's one task, so a blocking call in it stalls nothing else."""
    package, _, name = (module or "").rpartition(".")
    if package and all(part.isidentifier() for part in package.split(".")) and not name.isidentifier():
        return True
    return bool(_CLI_MODULE.search(module or ""))


# decorators that make an `async def` a command-line program's command, run with asyncio.run() on
# a loop of its own: fastcore's `@call_parse` (nbdev's commands, often through `from fastcore.script
# import *`, so by its bare name too) and asyncclick's commands
CLI_COMMANDS = frozenset({"fastcore.script.call_parse", "call_parse", "asyncclick.command"})


def is_cli_command(fn) -> bool:
    """A coroutine a command-line decorator runs as the whole program (``@call_parse async def
    release_gh(...)``): its waits stall nothing else."""
    return fn.is_async and any(d in CLI_COMMANDS for d in fn.decorators)


# `lifespan`: an ASGI app's start-up and shut-down handler (FastAPI's and Starlette's `lifespan=`)
_LIFECYCLE_WORDS = frozenset({"startup", "shutdown", "teardown", "setup", "init", "initialize", "initialise",
                              "cleanup", "bootstrap", "close", "exit", "atexit", "finalize", "finalise",
                              "lifespan"})


def is_lifecycle(qualname: Optional[str]) -> bool:
    """Start-up or shut-down code, by the function's own name (``close``, ``_shutdown_executor``,
    ``setup_logging``, ``__aexit__``)."""
    if not qualname:
        return False
    name = qualname.rsplit(".", 1)[-1]
    if _LIFECYCLE.match(name) or _LIFECYCLE.match(_ASYNC_VARIANT.sub("", name)):
        # `terminateAsync`, `close_async`, `start_aio`: the async twin of a start-up or shut-down method
        return True
    words = _CAMEL.sub("_", name).strip("_").lower().split("_")  # `startServer` -> start, server
    return any(word in _LIFECYCLE_WORDS for word in words)


_ASYNC_VARIANT = re.compile(r"(_async|Async|_coro|_impl|_aio|Aio)$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_deprecation(decorator: str) -> bool:
    """``@deprecated(...)`` from typing_extensions, warnings (3.13), the deprecated or
    deprecation packages, or a project's own helper of that name."""
    return decorator.rsplit(".", 1)[-1] == "deprecated"


def in_deprecated_code(project, qualname: Optional[str]) -> bool:
    """The function, a function it is nested in, or its class is marked deprecated (a decorator,
    or a DeprecationWarning the function raises as it starts): code on its way out, where a hazard
    is rarely worth a maintainer's change."""
    seen = 0
    while qualname and seen < 8:
        seen += 1
        fn = project.functions.get(qualname)
        if fn is None:
            return False
        if fn.warns_deprecated or any(is_deprecation(d.split("(", 1)[0]) for d in fn.decorators):
            return True
        cls = project.classes.get(fn.cls) if fn.cls else None
        if cls is not None and cls.deprecated:
            return True
        qualname = fn.parent
    return False


def binds_instance(fn) -> bool:
    """A method called on an instance (``obj.method``): not a static or class method, however
    the decorator is spelled (``staticmethod`` or, resolved, ``builtins.staticmethod``)."""
    plain = {d.rsplit(".", 1)[-1] for d in fn.decorators if d in (
        "staticmethod", "classmethod", "builtins.staticmethod", "builtins.classmethod")}
    return fn.cls is not None and not plain


def is_memoised(decorators: Iterable[str]) -> bool:
    return any(_MEMO.search(d.split("(", 1)[0]) for d in decorators)


def caches_per_key(fn, before: int = 0) -> bool:
    """The function keeps what it makes in a dict it tests first (``if cached :=
    self._clients.get(url): return cached`` ... ``self._clients[url] = client``): what it calls
    after the test runs once per key, not once per call. ``before``: the line of that call, when
    it is in the function itself (``if camera_id in _cache: return _cache[camera_id]`` ... the
    file read ... ``_cache[camera_id] = config``: the test before it, a store after the test)."""
    if before:
        tested = {a.target for a in fn.accesses if a.in_check and a.kind in ("read", "check") and a.line < before}
        if any(a.target in tested and a.kind == "mutate" and a.op.startswith("[...] =") and a.line >= before
               for a in fn.accesses):
            return True
        # the keys not seen yet, picked by a comprehension, may be stored before the call:
        # `missing = [s for s in symbols if s not in self._known]` ... `self._known[s] = []` ...
        # one request for the new keys only
        filters = {lp.line for lp in fn.loops if "comprehension" in lp.desc}
        picked = {a.target: a.line for a in fn.accesses
                  if a.in_check and a.kind in ("read", "check") and a.line < before and a.line in filters}
        return any(a.target in picked and a.kind == "mutate" and a.op.startswith("[...] =") and a.line > picked[a.target]
                   for a in fn.accesses)
    tested = {a.target for a in fn.accesses if a.in_check and a.kind in ("read", "check")
              and (a.op == ".get()" or " in " in a.op)}
    return any(a.target in tested and a.kind == "mutate" and a.op.startswith("[...] =") for a in fn.accesses)


def fills_once(fn, lines, per_process: bool = False) -> bool:
    """The function fills an attribute (or a module global) the first time and answers from it
    afterwards (``if self._metadata is None: self._metadata = fetch(url)`` ... ``return
    self._metadata``; ``if _installed is None: _installed = shutil.which("pdftotext")``), and a
    call on one of ``lines`` makes the value stored: that call runs once per object (or process),
    not once per call of the function. ``per_process``: only a global or an attribute of the
    class itself (``cls._cache``, ``Client._cache``), which every object shares."""
    tested = {a.target for a in fn.accesses if a.kind == "check" and a.target.startswith(("attr:", "global:"))
              and (re.search(r"\bis\s+None\b", a.op) or a.op.lstrip().startswith("not "))}
    return any(a.target in tested and a.kind == "write" and a.line in lines
               and not (per_process and a.via_self) for a in fn.accesses)


def loops_within(fn, index: int) -> set:
    """Loop ``index`` of ``fn`` and the loops nested in it (by index)."""
    inside = {index}
    for i, loop in enumerate(fn.loops):
        if loop.parent in inside:
            inside.add(i)
    return inside


def stored_names(fn, call) -> set:
    """The names ``call``'s result is stored under in ``fn``: ``port = make()``, ``self.port =
    make()``."""
    if call.assigned_to:
        return {call.assigned_to}
    if fn is None:
        return set()
    return {f"self.{a.target.rsplit('.', 1)[-1]}" for a in fn.accesses
            if a.kind == "write" and a.line == call.line and a.via_self and a.target.startswith("attr:")}


def first_lifecycle(chain: Iterable[str]) -> Optional[str]:
    for q in chain:
        if is_lifecycle(q):
            return q
    return None


_HANDLER_PARAMS = frozenset({"request", "req"})


def is_request_handler(params: Iterable[str]) -> bool:
    """Runs once per request: ASGI's ``receive`` and ``send`` callables, or a ``request``."""
    names = set(params)
    return {"receive", "send"} <= names or bool(names & _HANDLER_PARAMS)


def serves_requests(fn) -> bool:
    """A coroutine (or function) that runs once per request or message, many at a time: taking a
    request (``is_request_handler``) or named for it (``handle_report_request``, ``on_message``)."""
    name = fn.name.lower()
    return is_request_handler(fn.params) or name.startswith(("handle", "on_request", "on_message")) \
        or "request" in name or "endpoint" in name


def argument_for(fn, param: str, call):
    """What ``call`` (a call of ``fn``) gives ``param``: the argument's Value, the parameter's
    default as source text when the call leaves it out (``"1"``, ``"None"``), or None when that
    cannot be told (``*args``/``**kwargs`` at the call, a default that is not a constant)."""
    value = call.kwargs.get(param)
    if value is not None:
        return value
    if param not in fn.params:
        return None
    index = fn.params.index(param)
    if fn.cls is not None and "." in call.text and fn.params[:1] in (["self"], ["cls"]):
        index -= 1  # obj.method(...): the instance is the first parameter
    if call.star_args or "**" in call.kwargs:
        return None
    if 0 <= index < len(call.args):
        return call.args[index]
    return dict(fn.defaults).get(param)


def exclusive(fn, a: int, b: int) -> bool:
    """Lines ``a`` and ``b`` sit in the two parts of one ``if``/``else`` (or ``elif``): never in
    one pass."""
    for body_start, body_end, else_start, else_end in getattr(fn, "branches", ()):
        if (body_start <= a <= body_end and else_start <= b <= else_end) or \
                (body_start <= b <= body_end and else_start <= a <= else_end):
            return True
    return False


def guard_holds(fn, line: int, call) -> bool:
    """Can the code at ``line`` of ``fn`` run when ``call`` calls ``fn``? False when an ``if``
    around it tests a parameter against a constant and the call's argument (or the default it
    keeps) is a constant that fails the test (``if workers != 1:`` and ``workers`` left at 1)."""
    for name, op, const, first, last in getattr(fn, "guards", ()):
        if not (first <= line <= last) or name not in fn.params:
            continue
        given = argument_for(fn, name, call)
        text = given if isinstance(given, str) else (given.text if given is not None and given.kind == "literal" else None)
        if text is None:
            continue
        try:
            value, c = ast.literal_eval(text), ast.literal_eval(const)
        except (ValueError, SyntaxError):
            continue
        if not GUARD_TESTS[op](value, c):
            return False
    return True


GUARD_TESTS = {"==": lambda v, c: v == c, "!=": lambda v, c: v != c, "is": lambda v, c: v is c,
                "is not": lambda v, c: v is not c, "truthy": lambda v, c: bool(v), "falsy": lambda v, c: not v}


# how a project's own logging helpers are named (`info(...)`, `log_step(...)`, `_warn(...)`)
LOGGING_PREFIXES = ("log", "info", "debug", "warn", "error")


def named_for_logging(name: str) -> bool:
    """A function or method named for logging: it reports progress, it neither waits nor works on
    data (a polling loop's `self._log_stats(...)`, a worker's `info(f"{out} done")`)."""
    return name.lstrip("_").startswith(LOGGING_PREFIXES)


_LEFTOVER = re.compile(r"(^|[-_. ])(old|legacy|bak|backup|orig|copy|deprecated|unused)([-_. ]|$)", re.I)


def leftover_copy(path: str) -> bool:
    """``websocket_client_aio-old.py``, ``client-legacy.py``, ``server.bak.py``: a module whose name
    no import can spell (a hyphen or a dot in it) and that is named as an old copy -- a leftover
    shipped beside the file that replaced it (bittrex-websocket's two, rev148d: six findings,
    all true and worthless). Its findings are low."""
    stem = Path(path).name[:-3] if path.endswith(".py") else Path(path).name
    return not stem.isidentifier() and bool(_LEFTOVER.search(stem))

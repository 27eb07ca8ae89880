"""Per-module facts: what one traversal of a module's tree yields, and ``extract()``.

Everything the rules and the project-wide analyses need from a file is collected in a single pass
over its ``ast``: functions and classes, every call with its resolved target and a description
of its arguments, loops, accesses to shared state, locks held, imports, the main guard.
The result (``ModuleFacts``) is plain data: it pickles, so it is what the cache stores and what
``--shard`` writes, and the project pass never needs the tree again.

This module holds the data model and the entry point only. The traversal is
``analysis/extractor.py``: one ``ast.NodeVisitor`` composed of one collector per concern
(``scopes``, ``values``, ``calls``, ``loops``, ``state``, ``structure``); see
``docs/architecture.md``.

Names are resolved, not matched: ``from concurrent.futures import ProcessPoolExecutor as PPE``
makes ``PPE`` mean ``concurrent.futures.ProcessPoolExecutor``; ``s = requests.Session()`` makes
``s.get`` mean ``requests.Session.get``; ``self.session.get`` follows the types assigned to
``self`` attributes; ``d.get`` on a dict is ``builtins.dict.get``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field, fields
from typing import Dict, List, Optional, Tuple

from concurlint.knowledge import Knowledge


class Record:
    """A fact pickles as the tuple of its fields' values, in declaration order, and is decoded by
    one generated ``__setstate__`` that assigns them in that order (``_encode_by_fields``). The
    decoded object then has the compact layout of one built by its ``__init__``, whose attributes
    the project pass reads faster, and decoding builds no per-object dictionary of field names
    nor sets attributes one ``setattr`` at a time: on the standard library's 624 files, ~0.45 s →
    ~0.3 s to decode the cached facts. Attributes that are not fields (a memo the project pass
    sets, ``Call._resolved``) are never pickled. The same fields and values either way."""

    __slots__ = ()


# a start method chosen as 'fork' on some platforms and left to the default on others
# (``ctx = get_context('fork') if POSIX else get_context()``)
FORK_SOMETIMES = "fork?"


@dataclass
class Value(Record):
    """What an expression evaluates to, as far as one module can tell.

    kind: lambda | function | class | instance | call | partial | bound-method | generator |
          literal | container | name | ref | other
    """

    kind: str
    qualname: Optional[str] = None  # function/class/type/callee/reference, fully qualified
    text: str = ""
    line: int = 0
    col: int = 0
    local: bool = False  # defined inside a function (nested function, local class)
    inner: List["Value"] = field(default_factory=list)
    attr: Optional[str] = None  # method name of a bound method
    size: Optional[int] = None  # literal length / number of elements
    meta: Dict[str, str] = field(default_factory=dict)  # e.g. start_method


@dataclass
class Call(Record):
    line: int
    col: int
    end_line: int
    end_col: int
    function: Optional[str]  # enclosing function qualname, None at module level
    target: Optional[str]  # resolved callee qualname
    text: str  # source text of the callee expression
    method: Optional[str] = None
    receiver: Optional[Value] = None
    args: List[Value] = field(default_factory=list)
    kwargs: Dict[str, Value] = field(default_factory=dict)
    star_args: bool = False
    loop: int = -1  # index into Function.loops of the innermost enclosing loop, -1 if none
    awaited: bool = False
    use: str = "other"  # discard | assign | await | return | raise | iter | with | arg | other
    assigned_to: Optional[str] = None
    locks: Tuple[str, ...] = ()
    in_main_guard: bool = False
    in_async: bool = False
    in_try: bool = False
    nonblocking_try: bool = False  # in a try that catches BlockingIOError: a non-blocking IO attempt
    in_handler: bool = False  # in an `except` block: runs only when something failed
    in_finally: bool = False  # in a `finally` block: clean-up after the work, whatever happened
    # in a loop over the input, the arguments that are its items or the parameter it iterates:
    # positions ("0", "1"), keyword names, "self" for the receiver (json.loads(line) for each line
    # handed in: ("0",); deepcopy(pairs) for each pair of pairs: ("0",))
    on_input: Tuple[str, ...] = ()
    block_end: int = 0  # for a call used as a `with` context expression: last line of the block
    platform: str = ""  # the platform it runs on, "" for any (analysis/platforms.py)
    # in a try that catches TypeError or RuntimeError (or everything), or under a test of the
    # Python version: written for Pythons that reject it (CCL508, CCL509)
    version_tolerant: bool = False


@dataclass
class Loop(Record):
    line: int
    desc: str
    mult: int  # how much this loop multiplies the work in its body
    parent: int  # enclosing loop index or -1
    has_ops: int = 0  # work per iteration in its own body: 2 arithmetic, 1 light (indexing, compares)
    bounded: bool = False  # a while loop that counts its turns and gives up (raise/break/return)
    over_input: bool = False  # iterates a parameter (not self/cls) or an item of the enclosing loop
    ends: bool = False  # a while loop with a way out: a test that is not constant, a break/return, an enclosing try


@dataclass
class Access(Record):
    """A read or write of state that outlives the call: module globals, class and self attributes."""

    target: str  # "global:pkg.mod.NAME" | "attr:pkg.mod.Cls.NAME" (self.NAME / Cls.NAME)
    kind: str  # read | write | mutate | rmw | check
    op: str  # the operation, for messages: "+=", "[k] = ...", ".append()"
    line: int
    col: int
    locks: Tuple[str, ...] = ()
    in_check: bool = False  # part of an if/while test
    via_self: bool = False  # through the instance (``self.X``), not the class (``Cls.X``, ``cls.X``)
    into: str = ""  # a read assigned whole to a local name (``n = self.count``): that name


@dataclass
class Function(Record):
    qualname: str
    name: str
    line: int
    col: int
    end_line: int
    is_async: bool
    cls: Optional[str] = None  # qualname of the class this is a method of
    parent: Optional[str] = None  # enclosing function
    decorators: List[str] = field(default_factory=list)
    params: List[str] = field(default_factory=list)
    is_generator: bool = False
    is_lambda: bool = False
    warns_deprecated: bool = False  # opens with warnings.warn(..., DeprecationWarning)
    # a decorator called with `thread=True` (Textual's `@work(thread=True)`): the decorated
    # function runs in a worker thread, a coroutine on a loop of that thread's own
    thread_decorated: bool = False
    loops: List[Loop] = field(default_factory=list)
    calls: List[int] = field(default_factory=list)  # indices into ModuleFacts.calls
    accesses: List[Access] = field(default_factory=list)
    globals_declared: List[str] = field(default_factory=list)
    loaded_names: List[str] = field(default_factory=list)
    returned_names: List[str] = field(default_factory=list)  # `return NAME` statements: the names
    # what `return EXPR` statements hand back, where it is an object of a known type or a call
    # (``return boto3.client("s3")``, ``return Session(...)``): the caller's receiver type
    returns: List["Value"] = field(default_factory=list)
    # a local name that took a read of state whole (Access.into) bound again from something that
    # does not use it (``name = cache.get(k)`` ... ``name = await fetch(k)``): (name, line)
    rebinds: List[Tuple[str, int]] = field(default_factory=list)
    ops_outside_loops: int = 0
    # a call of its own name is an operand of arithmetic (``fib(n - 1) + fib(n - 2)``,
    # ``total += walk(child)``, ``sum(size(c) for c in children)``): set for recursive functions only
    self_arith: bool = False
    withs: List["Value"] = field(default_factory=list)  # context managers of plain (sync) `with`
    with_blocks: List[Tuple[str, int, int]] = field(default_factory=list)  # (their text, first line, last line)
    # receivers a `while` loop waits on until they have data (`while not pipe.poll():`,
    # `while q.empty():`), with the loop's last line: after it, pipe.recv() / q.get() return at once
    ready: List[Tuple[str, int]] = field(default_factory=list)
    # bodies that run only while a receiver has data (`while not q.empty():`, `if pipe.poll():`):
    # (receiver text, first line, last line); a read of it there returns at once
    has_data: List[Tuple[str, int, int]] = field(default_factory=list)
    # `if` statements with an `else`/`elif`: (body first line, body last line, else first line,
    # else last line); code in one part never runs in the same pass as code in the other
    branches: List[Tuple[int, int, int, int]] = field(default_factory=list)
    awaits: List[Tuple[int, int]] = field(default_factory=list)  # (line, col) of every `await`
    # parameters whose default is a number, a bool, None or a short string: (name, its source text)
    defaults: Tuple[Tuple[str, str], ...] = ()
    optional: Tuple[str, ...] = ()  # the parameters that have a default, whatever it is
    # `if` bodies run only when a name compares so to a constant (one conjunct of the test):
    # (name, op: "==" "!=" "is" "is not" "truthy" "falsy", the constant's source, first line, last line)
    guards: Tuple[Tuple[str, str, str, int, int], ...] = ()
    # lines where an expression is known to hold a `data:` URL (`if url.startswith("data:"):`, or
    # after `if not url.startswith("data:"): raise ...`): (its source text, first line, last line)
    data_urls: Tuple[Tuple[str, int, int], ...] = ()
    # branches of `if inspect.iscoroutinefunction(f):` (also asyncio's, negated or not): (the
    # tested expression's source, whether it is a coroutine function there, first line, last line)
    coroutine_tests: Tuple[Tuple[str, bool, int, int], ...] = ()
    # `while` loops that spin: an empty body over a test that only reads state (`while not
    # future.done(): pass`), or a non-blocking get whose Empty goes round again with nothing in
    # the loop that waits (`while running: try: q.get_nowait() except Empty: continue`):
    # (line, col, what it spins on, "test" | "get")
    spins: Tuple[Tuple[int, int, str, str], ...] = ()
    # `async with` blocks: (what the context manager is: its type or its text, first line, last line)
    async_withs: List[Tuple[str, int, int]] = field(default_factory=list)
    # its work sits in a `try` that catches every exception (bare, Exception, BaseException) and
    # no loop or `with` runs outside it: a caller can never see an exception from it; or its
    # `finally` hands `sys.exc_info()` on (to a queue, a callback): the error reaches someone anyway
    catches_all: bool = False
    handles_errors: bool = False  # a top-level try has a handler for every exception (it may log and re-raise)
    guards_errors: bool = False  # the work is one try whose handlers (of any exceptions) do not re-raise
    # its body only raises NotImplementedError (after a docstring): a method a subclass implements,
    # whose work (a listing, a download, a computation) cannot be seen here
    abstract: bool = False
    # a memo: `if _cache: return _cache` on this line, and the function fills `_cache` (a global
    # it declares, or an attribute of self) further down: what follows runs once per fill
    memo_from: int = 0
    # names the function binds itself (assignments, loop, with and except targets, imports), not
    # declared global or nonlocal: local variables, whatever module global shares their name
    local_names: Tuple[str, ...] = ()
    # a name bound to what a call of the project's own returned, used as that result: (name, how,
    # line, the callee as resolved in the module), how = ".attr" (read or called), "[]" (indexed),
    # "for" (iterated), "await" (awaited; recorded for any name, callee ""): a coroutine object
    # has none of these but the last (CCL507)
    result_uses: List[Tuple[str, str, int, str]] = field(default_factory=list)
    # names and attributes awaited whole (`await self`, `await fut`, `await self._task`), with the
    # line: afterwards the object is done, and its result() returns at once
    awaited_names: List[Tuple[str, int]] = field(default_factory=list)


@dataclass
class ClassInfo(Record):
    qualname: str
    name: str
    line: int
    bases: List[str]
    methods: Dict[str, str] = field(default_factory=dict)  # name -> function qualname
    attrs: Dict[str, Value] = field(default_factory=dict)  # self.X / class-level X -> value
    local: bool = False
    not_thread_safe: bool = False  # its docstring says instances must not be shared between threads
    deprecated: bool = False  # decorated @deprecated (typing_extensions, warnings, deprecated...)


@dataclass
class GlobalDef(Record):
    name: str
    line: int
    col: int
    value: Value
    in_main_guard: bool = False
    assigned_in_function: bool = False


@dataclass
class ModuleFacts(Record):
    path: str
    module: str
    functions: Dict[str, Function] = field(default_factory=dict)
    classes: Dict[str, ClassInfo] = field(default_factory=dict)
    calls: List[Call] = field(default_factory=list)
    imports: Dict[str, str] = field(default_factory=dict)  # module-level alias -> qualname (not imports in functions)
    import_lines: List[Tuple[str, int, int]] = field(default_factory=list)  # (qualname, line, col)
    # what the imports in an `except` block or under a test of the Python version name (`try: from
    # .py3_raise import r` / `except SyntaxError: from .py2_raise import r`, `if sys.version_info[0]
    # == 3: ... else: from .deps.path2 import path`): for some Pythons only, maybe never loaded
    fallback_imports: List[str] = field(default_factory=list)
    # `with await self._lock:` / `with (yield from lock):` -- the pre-3.9 way to hold an asyncio
    # lock, which Python 3.9 removed: (line, col, text, enclosing function)
    awaited_locks: List[Tuple[int, int, str, Optional[str]]] = field(default_factory=list)
    # `with self._lock and open(path) as f:` -- `and` hands back its last operand, so only that one
    # is entered and the lock before it is never acquired: (line, col, "with" or "async with", the
    # lock's text, what is entered instead, enclosing function)
    anded_locks: List[Tuple[int, int, str, str, str, Optional[str]]] = field(default_factory=list)
    # `with threading.Lock():` -- a lock made by the `with` itself, which no other thread can hold:
    # (line, col, "with" or "async with", the constructor's text, enclosing function)
    fresh_locks: List[Tuple[int, int, str, str, Optional[str]]] = field(default_factory=list)
    globals: Dict[str, GlobalDef] = field(default_factory=dict)
    module_accesses: List[Access] = field(default_factory=list)
    has_main_guard: bool = False
    main_guard_line: int = 0
    noqa: Dict[int, Optional[Tuple[str, ...]]] = field(default_factory=dict)
    lines: int = 0
    # module-level names of platform tests: qualname -> (platform where true, where false)
    platform_names: Dict[str, Tuple[str, str]] = field(default_factory=dict)
    # attributes of imported modules the module assigns (`asyncio.sleep = _sleep`, a shim that
    # patches a library for the whole program): their qualified names
    patches: List[str] = field(default_factory=list)


def _encode_by_fields(cls) -> None:
    """Give the dataclass ``cls`` a ``__getstate__`` returning its fields' values as a tuple and a
    ``__setstate__`` assigning them back in the same order, generated from its fields (as
    ``dataclasses`` generates ``__init__``): one tuple-unpacking assignment, no loop, no names."""
    names = [f.name for f in fields(cls)]
    targets = ", ".join(f"self.{n}" for n in names)
    source = (f"def __getstate__(self):\n    return ({targets},)\n"
              f"def __setstate__(self, state):\n    {targets}, = state\n")
    namespace: Dict[str, object] = {}
    exec(source, {}, namespace)  # noqa: S102 - our own field names, nothing from the input
    cls.__getstate__ = namespace["__getstate__"]
    cls.__setstate__ = namespace["__setstate__"]


for _cls in (Value, Call, Loop, Access, Function, ClassInfo, GlobalDef, ModuleFacts):
    _encode_by_fields(_cls)
del _cls


def extract(tree: ast.Module, text: str, path: str, module: str, is_package: bool, knowledge: Knowledge) -> ModuleFacts:
    # imported here: the collectors import this module's dataclasses
    from concurlint.analysis.extractor import Extractor

    lines = text.splitlines()
    facts = ModuleFacts(path=path, module=module, lines=len(lines))
    package = module if is_package else module.rpartition(".")[0]
    extractor = Extractor(facts, lines, knowledge, package)
    # a module whose text names no platform test has no named ones to collect (analysis/platforms.py)
    extractor.names_platforms = any(word in text for word in ("platform", "os.name", "pyodide", "emscripten"))
    extractor.visit(tree)
    return facts

"""Per-module facts: the one traversal of a module's tree.

Everything the rules and the project-wide analyses need from a file is collected here, in a single
pass over its ``ast``: functions and classes, every call with its resolved target and a description
of its arguments, loops, accesses to shared state, locks held, imports, the main guard.
The result (``ModuleFacts``) is plain data: it pickles, so it is what the cache stores and what
``--shard`` writes, and the project pass never needs the tree again.

Names are resolved, not matched: ``from concurrent.futures import ProcessPoolExecutor as PPE``
makes ``PPE`` mean ``concurrent.futures.ProcessPoolExecutor``; ``s = requests.Session()`` makes
``s.get`` mean ``requests.Session.get``; ``self.session.get`` follows the types assigned to
``self`` attributes; ``d.get`` on a dict is ``builtins.dict.get``.
"""
from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from concurlint.knowledge import Knowledge

BUILTIN_NAMES = frozenset(dir(builtins))
MUTABLE_TYPES = frozenset(
    {"builtins.list", "builtins.dict", "builtins.set", "builtins.bytearray", "collections.deque"}
)
LOCK_TYPES = frozenset(
    {
        "threading.Lock", "threading.RLock", "threading.Condition", "threading.Semaphore",
        "threading.BoundedSemaphore", "multiprocessing.Lock", "asyncio.Lock", "asyncio.Semaphore",
        "asyncio.Condition",
    }
)
MUTATING_METHODS = frozenset(
    {
        "append", "extend", "insert", "pop", "popleft", "appendleft", "remove", "clear", "update",
        "setdefault", "add", "discard", "sort", "reverse", "popitem", "__setitem__", "__delitem__",
    }
)
READING_METHODS = frozenset({"get", "keys", "values", "items", "copy", "index", "count", "__contains__"})


@dataclass
class Value:
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
class Call:
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
    use: str = "other"  # discard | assign | await | return | iter | with | arg | other
    assigned_to: Optional[str] = None
    locks: Tuple[str, ...] = ()
    in_main_guard: bool = False
    in_async: bool = False
    in_try: bool = False
    nonblocking_try: bool = False  # in a try that catches BlockingIOError: a non-blocking IO attempt
    block_end: int = 0  # for a call used as a `with` context expression: last line of the block


@dataclass
class Loop:
    line: int
    desc: str
    mult: int  # how much this loop multiplies the work in its body
    parent: int  # enclosing loop index or -1
    has_ops: int = 0  # work per iteration in its own body: 2 arithmetic, 1 light (indexing, compares)


@dataclass
class Access:
    """A read or write of state that outlives the call: module globals, class and self attributes."""

    target: str  # "global:pkg.mod.NAME" | "attr:pkg.mod.Cls.NAME" (self.NAME / Cls.NAME)
    kind: str  # read | write | mutate | rmw | check
    op: str  # the operation, for messages: "+=", "[k] = ...", ".append()"
    line: int
    col: int
    locks: Tuple[str, ...] = ()
    in_check: bool = False  # part of an if/while test


@dataclass
class Function:
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
    loops: List[Loop] = field(default_factory=list)
    calls: List[int] = field(default_factory=list)  # indices into ModuleFacts.calls
    accesses: List[Access] = field(default_factory=list)
    globals_declared: List[str] = field(default_factory=list)
    loaded_names: List[str] = field(default_factory=list)
    ops_outside_loops: int = 0
    withs: List["Value"] = field(default_factory=list)  # context managers of plain (sync) `with`


@dataclass
class ClassInfo:
    qualname: str
    name: str
    line: int
    bases: List[str]
    methods: Dict[str, str] = field(default_factory=dict)  # name -> function qualname
    attrs: Dict[str, Value] = field(default_factory=dict)  # self.X / class-level X -> value
    local: bool = False


@dataclass
class GlobalDef:
    name: str
    line: int
    col: int
    value: Value
    in_main_guard: bool = False
    assigned_in_function: bool = False


@dataclass
class ModuleFacts:
    path: str
    module: str
    functions: Dict[str, Function] = field(default_factory=dict)
    classes: Dict[str, ClassInfo] = field(default_factory=dict)
    calls: List[Call] = field(default_factory=list)
    imports: Dict[str, str] = field(default_factory=dict)  # local alias -> qualname
    import_lines: List[Tuple[str, int, int]] = field(default_factory=list)  # (qualname, line, col)
    globals: Dict[str, GlobalDef] = field(default_factory=dict)
    module_accesses: List[Access] = field(default_factory=list)
    has_main_guard: bool = False
    main_guard_line: int = 0
    noqa: Dict[int, Optional[Tuple[str, ...]]] = field(default_factory=dict)
    lines: int = 0


class _Scope:
    __slots__ = ("function", "values", "globals", "self_name", "cls", "is_async", "local_defs")

    def __init__(self, function: Optional[Function], cls: Optional[ClassInfo] = None):
        self.function = function
        self.values: Dict[str, Value] = {}
        self.globals: set = set()
        self.self_name: Optional[str] = None
        self.cls = cls
        self.is_async = bool(function and function.is_async)
        self.local_defs: Dict[str, Value] = {}


_LOOP_NODES = (ast.For, ast.AsyncFor, ast.While)
_COMP_NODES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_OP_NODES = (ast.BinOp, ast.AugAssign, ast.JoinedStr, ast.Subscript)


class Extractor(ast.NodeVisitor):
    """Walks one module once and fills a ``ModuleFacts``."""

    def __init__(self, facts: ModuleFacts, lines: Sequence[str], knowledge: Knowledge, package: str):
        self.facts = facts
        self.lines = lines
        self.kb = knowledge
        self.package = package
        self.module = facts.module
        self.scopes: List[_Scope] = [_Scope(None)]
        self.class_stack: List[ClassInfo] = []
        self.loop_stack: List[int] = []
        self.locks: List[str] = []
        self.in_main_guard = False
        self.in_test = 0
        self.in_try = 0
        self.nb_try = 0
        self.use: Dict[int, Tuple[str, Optional[str]]] = {}
        self.awaited: set = set()

    # ----------------------------------------------------------------- helpers
    @property
    def scope(self) -> _Scope:
        return self.scopes[-1]

    @property
    def function(self) -> Optional[Function]:
        return self.scopes[-1].function

    def segment(self, node: ast.AST, limit: int = 80) -> str:
        line = getattr(node, "lineno", 0)
        end_line = getattr(node, "end_lineno", line) or line
        if not line or line > len(self.lines):
            return ""
        col = node.col_offset
        end_col = node.end_col_offset
        if line == end_line:
            text = _slice(self.lines[line - 1], col, end_col)
        else:
            text = _slice(self.lines[line - 1], col, None).rstrip() + " ..."
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def qual(self, name: str) -> str:
        """Qualified name of a definition made in the current scope."""
        fn = self.function
        if fn is not None:
            return f"{fn.qualname}.<locals>.{name}" if not fn.is_lambda else f"{fn.qualname}.{name}"
        if self.class_stack:
            return f"{self.class_stack[-1].qualname}.{name}"
        return f"{self.module}.{name}" if self.module else name

    def lookup(self, name: str) -> Optional[Value]:
        """The value a bare name stands for, searched like Python does (LEGB, no class scope)."""
        for i in range(len(self.scopes) - 1, -1, -1):
            sc = self.scopes[i]
            if i == len(self.scopes) - 1 or sc.function is not None or i == 0:
                if name in sc.globals:
                    break
                v = sc.values.get(name)
                if v is not None:
                    return v
        g = self.scopes[0].values.get(name)
        if g is not None:
            return g
        q = self.facts.imports.get(name)
        if q is not None:
            return Value("ref", self.kb.canonical(q), name)
        if name in BUILTIN_NAMES:
            return Value("ref", "builtins." + name, name)
        return None

    def resolve(self, node: ast.AST) -> Optional[str]:
        """Qualified name of a Name/Attribute chain used as a reference (callee, base class...)."""
        if isinstance(node, ast.Name):
            v = self.lookup(node.id)
            if v is None:
                return None
            if v.kind in ("ref", "function", "class"):
                return v.qualname
            return None
        if isinstance(node, ast.Attribute):
            base = self.value_of(node.value)
            if base is None:
                return None
            if base.kind in ("ref", "class") and base.qualname:
                return self.kb.canonical(f"{base.qualname}.{node.attr}")
            t = self.type_of(base)
            if t:
                return f"{t}.{node.attr}"
        return None

    def type_of(self, v: Value) -> Optional[str]:
        if v.kind == "instance":
            return v.qualname
        if v.kind == "literal" and v.meta.get("type"):
            return v.meta["type"]
        if v.kind == "container":
            return v.meta.get("type")
        return None

    def value_of(self, node: ast.AST) -> Optional[Value]:
        """Like describe() but for receivers: None when nothing useful is known."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name):
                owner = self._self_class(node.value.id)
                if owner is not None:
                    v = owner.attrs.get(node.attr)
                    if v is not None:
                        return v
                    if node.attr in owner.methods:
                        return Value("bound-method", owner.methods[node.attr], attr=node.attr)
                    return None
            base = self.value_of(node.value)
            if base is None:
                return None
            if base.kind in ("ref", "class") and base.qualname:
                q = self.kb.canonical(f"{base.qualname}.{node.attr}")
                cls = self.facts.classes.get(base.qualname)
                if cls is not None and node.attr in cls.attrs:
                    return cls.attrs[node.attr]
                if cls is not None and node.attr in cls.methods:
                    return Value("function", cls.methods[node.attr], attr=node.attr)
                return Value("ref", q, node.attr)
            t = self.type_of(base)
            if t:
                rt = self.kb.returns.get(f"{t}.{node.attr}")
                if rt:  # a property-like attribute with a known type
                    return Value("instance", rt)
            return None
        if isinstance(node, ast.Call):
            return self.describe(node)
        return None

    def _self_class(self, name: str) -> Optional[ClassInfo]:
        for sc in reversed(self.scopes):
            if sc.function is None:
                return None
            if sc.self_name == name:
                return sc.cls
            if name in sc.values:
                return None
        return None

    # ------------------------------------------------------------- describing
    def describe(self, node: ast.AST) -> Value:
        """Describe an expression used as an argument or assigned to a name."""
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        if isinstance(node, ast.Lambda):
            return Value("lambda", self._lambda_qualname(node), self.segment(node), line, col, local=True)
        if isinstance(node, ast.Name):
            v = self.lookup(node.id)
            if v is None:
                return Value("name", None, node.id, line, col)
            return _relocated(v, node.id, line, col)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and self._self_class(node.value.id) is not None:
                owner = self._self_class(node.value.id)
                assert owner is not None
                if node.attr in owner.methods or node.attr not in owner.attrs:
                    return Value(
                        "bound-method" if node.attr in owner.methods else "name",
                        owner.methods.get(node.attr), self.segment(node), line, col,
                        inner=[Value("instance", owner.qualname, node.value.id, line, col, local=owner.local)],
                        attr=node.attr,
                    )
            v = self.value_of(node)
            if v is not None:
                return _relocated(v, self.segment(node), line, col)
            base = self.value_of(node.value)
            if base is not None and base.kind in ("instance", "call", "container", "name"):
                return Value("bound-method", self.resolve(node), self.segment(node), line, col,
                             inner=[base], attr=node.attr)
            return Value("other", self.resolve(node), self.segment(node), line, col)
        if isinstance(node, ast.Call):
            return self._describe_call(node)
        if isinstance(node, ast.GeneratorExp):
            return Value("generator", None, self.segment(node), line, col, inner=[self.describe(node.elt)])
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            t = {ast.List: "builtins.list", ast.Tuple: "builtins.tuple", ast.Set: "builtins.set"}[type(node)]
            return Value("container", None, self.segment(node), line, col,
                         inner=[self.describe(e) for e in node.elts[:50]], size=len(node.elts), meta={"type": t})
        if isinstance(node, ast.Dict):
            return Value("container", None, self.segment(node), line, col,
                         inner=[self.describe(e) for e in node.values[:50]], size=len(node.values),
                         meta={"type": "builtins.dict"})
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp)):
            t = {ast.ListComp: "builtins.list", ast.SetComp: "builtins.set", ast.DictComp: "builtins.dict"}[type(node)]
            meta = {"type": t, "comprehension": "1"}
            elt = node.elt if not isinstance(node, ast.DictComp) else node.value
            if isinstance(elt, ast.Call):  # [fetch(u) for u in urls]: what each element is made by
                et = self._call_target(elt)[0]
                if et:
                    meta["element_call"] = self.kb.canonical(et)
            return Value("container", None, self.segment(node), line, col, meta=meta)
        if isinstance(node, ast.Constant):
            v = node.value
            t = type(v).__name__
            size = len(v) if isinstance(v, (str, bytes)) else None
            meta = {"type": "builtins." + t}
            if t == "int":
                meta["value"] = str(v)  # range(10_000), max_workers=4
            return Value("literal", None, self.segment(node), line, col, size=size, meta=meta)
        if isinstance(node, ast.JoinedStr):
            return Value("literal", None, self.segment(node), line, col, meta={"type": "builtins.str"})
        if isinstance(node, ast.Starred):
            return self.describe(node.value)
        if isinstance(node, ast.Await):
            return Value("other", None, self.segment(node), line, col)
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            n = _const_int(node)  # 1920 * 1080, 10**6: a constant integer
            if n is not None:
                return Value("literal", None, self.segment(node), line, col,
                             meta={"type": "builtins.int", "value": str(n)})
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            # [0] * 10_000_000: a big list built by repetition
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, (ast.List, ast.Constant)) and _const_int(b) is not None:
                    base = self.describe(a)
                    base.size = (base.size or 1) * (_const_int(b) or 0)
                    base.text = self.segment(node)
                    return base
        return Value("other", None, self.segment(node), line, col)

    def _describe_call(self, node: ast.Call) -> Value:
        line, col = node.lineno, node.col_offset
        text = self.segment(node)
        target = self._call_target(node)[0]
        if target == "functools.partial" and node.args:
            return Value("partial", target, text, line, col,
                         inner=[self.describe(a) for a in node.args] + [self.describe(k.value) for k in node.keywords])
        if target is None:
            return Value("call", None, text, line, col)
        local_cls = self.facts.classes.get(target)
        if local_cls is not None:
            return Value("instance", target, text, line, col, local=local_cls.local)
        if target in ("builtins.iter", "builtins.map", "builtins.filter", "builtins.zip", "builtins.enumerate"):
            return Value("generator", target, text, line, col)
        rtype = self.kb.returns.get(target)
        if rtype is None and target.startswith("builtins.") and target[9:] in ("list", "dict", "set", "bytearray", "tuple"):
            rtype = target
        if rtype is not None:
            meta: Dict[str, str] = {}
            if target == "multiprocessing.get_context" and node.args and isinstance(node.args[0], ast.Constant):
                meta["start_method"] = str(node.args[0].value)
            recv = self._receiver_value(node)
            if recv is not None and recv.meta.get("start_method"):
                meta["start_method"] = recv.meta["start_method"]
            for kw in node.keywords:
                if kw.arg == "mp_context" or kw.arg == "context":
                    ctx = self.describe(kw.value)
                    if ctx.meta.get("start_method"):
                        meta["start_method"] = ctx.meta["start_method"]
                    else:
                        meta["start_method"] = "?"
                elif kw.arg in ("max_workers", "processes", "n_jobs", "backend", "daemon", "prefer", "require") and isinstance(kw.value, ast.Constant):
                    meta[kw.arg] = str(kw.value.value)
            size = None
            if rtype in MUTABLE_TYPES or rtype == "builtins.tuple":
                return Value("container", target, text, line, col, size=size, meta={"type": rtype})
            return Value("instance", rtype, text, line, col, meta=meta)
        last = target.rsplit(".", 1)[-1]
        if last[:1].isupper() and not last.isupper():
            return Value("instance", target, text, line, col)
        inner = [self.describe(node.func)] if isinstance(node.func, ast.Call) else []
        inner += [self.describe(a) for a in node.args[:8]]
        return Value("call", target, text, line, col, inner=inner)

    def _receiver_value(self, node: ast.Call) -> Optional[Value]:
        if isinstance(node.func, ast.Attribute):
            return self.value_of(node.func.value)
        return None

    def _lambda_qualname(self, node: ast.Lambda) -> str:
        return self.qual(f"<lambda:{node.lineno}:{node.col_offset}>")

    def _call_target(self, node: ast.Call) -> Tuple[Optional[str], Optional[str], Optional[Value]]:
        """(target qualname, method name, receiver value) of a call."""
        func = node.func
        if isinstance(func, ast.Name):
            v = self.lookup(func.id)
            if v is None:
                return None, None, None
            if v.kind in ("ref", "function", "class", "lambda"):
                return v.qualname, None, None
            if v.kind == "instance":
                return (f"{v.qualname}.__call__" if v.qualname else None), "__call__", v
            if v.kind == "partial" and v.inner:
                return v.inner[0].qualname, None, None
            if v.kind == "bound-method":
                return v.qualname, v.attr, v.inner[0] if v.inner else None
            return None, None, None
        if isinstance(func, ast.Attribute):
            recv = func.value
            if isinstance(recv, ast.Call) and isinstance(recv.func, ast.Name) and recv.func.id == "super":
                return None, func.attr, None
            if isinstance(recv, ast.Name):
                owner = self._self_class(recv.id)
                if owner is not None:
                    if func.attr in owner.attrs and func.attr not in owner.methods:
                        av = owner.attrs[func.attr]
                        if av.kind in ("function", "ref", "lambda"):
                            return av.qualname, None, None
                        return None, func.attr, av
                    return f"{owner.qualname}.{func.attr}", func.attr, Value("instance", owner.qualname, recv.id)
            base = self.value_of(recv)
            if base is None:
                return None, func.attr, None
            if base.kind in ("ref", "class") and base.qualname:
                cls = self.facts.classes.get(base.qualname)
                if cls is not None and func.attr in cls.attrs and func.attr not in cls.methods:
                    av = cls.attrs[func.attr]
                    if av.kind in ("function", "ref", "lambda"):
                        return av.qualname, None, None
                    t = self.type_of(av)
                    return (f"{t}.{func.attr}" if t else None), func.attr, av
                return self.kb.canonical(f"{base.qualname}.{func.attr}"), None, None
            if base.kind == "function" and base.qualname:
                return f"{base.qualname}.{func.attr}", func.attr, base
            t = self.type_of(base)
            if t:
                return self.kb.canonical(f"{t}.{func.attr}"), func.attr, base
            if base.kind == "call" and base.qualname:
                last = base.qualname.rsplit(".", 1)[-1]
                if last[:1].isupper():
                    return f"{base.qualname}.{func.attr}", func.attr, base
            return None, func.attr, base
        if isinstance(func, ast.Call):
            inner = self._call_target(func)[0]
            rtype = self.kb.returns.get(inner) if inner else None
            if rtype:
                return f"{rtype}.__call__", "__call__", self.describe(func)
            return (f"{inner}()" if inner else None), None, self.describe(func)
        return None, None, None

    # --------------------------------------------------------------- binding
    def bind(self, target: ast.AST, value: Optional[Value], node: ast.AST) -> None:
        if isinstance(target, ast.Name):
            v = value if value is not None else Value("other", None, target.id)
            sc = self.scope
            if sc.function is None and not self.class_stack:
                name = target.id
                if name not in self.facts.globals or not self.in_main_guard:
                    self.facts.globals[name] = GlobalDef(name, target.lineno, target.col_offset, v,
                                                         in_main_guard=self.in_main_guard)
            elif sc.function is not None and target.id in sc.globals:
                g = self.facts.globals.get(target.id)
                if g is not None:
                    g.assigned_in_function = True
                else:
                    self.facts.globals[target.id] = GlobalDef(target.id, target.lineno, target.col_offset, v,
                                                              assigned_in_function=True)
            if self.class_stack and sc.function is None:
                self.class_stack[-1].attrs[target.id] = v
            else:
                sc.values[target.id] = v
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.bind(elt, None, node)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            owner = self._self_class(target.value.id)
            if owner is not None and value is not None:
                if target.attr not in owner.attrs or self.function and self.function.name == "__init__":
                    owner.attrs[target.attr] = value

    # --------------------------------------------------------- shared state
    def shared_target(self, node: ast.AST) -> Optional[str]:
        """The shared-state key for an expression naming a global or an attribute of self/class."""
        fn = self.function
        if isinstance(node, ast.Name):
            name = node.id
            if fn is None:
                return None
            sc = self.scope
            if name in sc.globals:
                return f"global:{self.module}.{name}"
            if any(name in s.values for s in self.scopes[1:]):
                return None
            if name in fn.params:
                return None
            if name in self.facts.globals or name in self.scopes[0].values:
                g = self.scopes[0].values.get(name)
                if g is not None and g.kind in ("function", "class", "ref"):
                    return None
                return f"global:{self.module}.{name}"
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = self._self_class(node.value.id)
            if owner is not None:
                if node.attr in owner.methods:
                    return None
                return f"attr:{owner.qualname}.{node.attr}"
            v = self.lookup(node.value.id)
            if v is not None and v.kind == "class" and v.qualname and not v.local:
                return f"attr:{v.qualname}.{node.attr}"
            if v is not None and v.kind == "ref" and v.qualname and v.qualname in self.facts.classes:
                return f"attr:{v.qualname}.{node.attr}"
        return None

    def access(self, target: str, kind: str, op: str, node: ast.AST) -> None:
        acc = Access(target, kind, op, node.lineno, node.col_offset, tuple(self.locks), self.in_test > 0)
        fn = self.function
        if fn is not None:
            fn.accesses.append(acc)
        else:
            self.facts.module_accesses.append(acc)

    def _write_target(self, target: ast.AST, kind: str, op: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for e in target.elts:
                self._write_target(e, kind, op)
            return
        if isinstance(target, ast.Starred):
            self._write_target(target.value, kind, op)
            return
        if isinstance(target, ast.Subscript):
            key = self.shared_target(target.value)
            if key:
                self.access(key, "mutate" if kind == "write" else kind, "[...] " + op, target)
            return
        key = self.shared_target(target)
        if key:
            if isinstance(target, ast.Name) and key.startswith("global:") and target.id not in self.scope.globals:
                return  # a plain local assignment shadows, it does not write the global
            self.access(key, kind, op, target)

    # ------------------------------------------------------------- visitors
    def visit_Module(self, node: ast.Module) -> None:
        self._prescan(node.body, None)
        for stmt in node.body:
            self.visit(stmt)

    def _prescan(self, body: List[ast.stmt], enclosing: Optional[Function]) -> None:
        """Bind the defs and classes of a block before walking it, so forward references resolve."""
        sc = self.scope
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = self.qual(stmt.name)
                v = Value("function", q, stmt.name, stmt.lineno, stmt.col_offset, local=enclosing is not None)
                if self.class_stack and sc.function is None:
                    self.class_stack[-1].methods[stmt.name] = q
                else:
                    sc.values.setdefault(stmt.name, v)
            elif isinstance(stmt, ast.ClassDef):
                q = self.qual(stmt.name)
                if self.class_stack and sc.function is None:
                    continue
                sc.values.setdefault(stmt.name, Value("class", q, stmt.name, stmt.lineno, stmt.col_offset,
                                                      local=enclosing is not None))
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and sc.function is None and not self.class_stack:
                self._import(stmt, record=False)

    def _import(self, node: ast.AST, record: bool = True) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.facts.imports[alias.asname] = alias.name
                else:
                    top = alias.name.split(".", 1)[0]
                    self.facts.imports[top] = top
                if record:
                    self.facts.import_lines.append((alias.name, node.lineno, node.col_offset))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = self.package.split(".") if self.package else []
                if node.level > 1:
                    parts = parts[: len(parts) - (node.level - 1)] if len(parts) >= node.level - 1 else []
                base = ".".join(p for p in parts + ([node.module] if node.module else []) if p)
            for alias in node.names:
                if alias.name == "*":
                    continue
                q = f"{base}.{alias.name}" if base else alias.name
                self.facts.imports[alias.asname or alias.name] = q
                if record:
                    self.facts.import_lines.append((q, node.lineno, node.col_offset))

    def visit_Import(self, node: ast.Import) -> None:
        if self.function is None and not self.class_stack:
            self._import(node)
        else:
            self._import(node)

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node, node.name, isinstance(node, ast.AsyncFunctionDef))

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _function(self, node, name: str, is_async: bool) -> None:
        for d in getattr(node, "decorator_list", ()):
            self.visit(d)
        args = node.args
        for default in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)
        qualname = self.qual(name)
        parent = self.function
        cls = self.class_stack[-1] if self.class_stack and self.scope.function is None else None
        fn = Function(
            qualname=qualname,
            name=name,
            line=node.lineno,
            col=node.col_offset,
            end_line=getattr(node, "end_lineno", node.lineno) or node.lineno,
            is_async=is_async,
            cls=cls.qualname if cls else None,
            parent=parent.qualname if parent else None,
            decorators=[self.resolve(d.func if isinstance(d, ast.Call) else d) or self.segment(d)
                        for d in getattr(node, "decorator_list", ())],
            is_lambda=isinstance(node, ast.Lambda),
        )
        all_args = list(getattr(args, "posonlyargs", [])) + list(args.args)
        fn.params = [a.arg for a in all_args + list(args.kwonlyargs)]
        if args.vararg:
            fn.params.append(args.vararg.arg)
        if args.kwarg:
            fn.params.append(args.kwarg.arg)
        self.facts.functions[qualname] = fn
        scope = _Scope(fn, cls)
        is_static = any(d == "staticmethod" or d == "builtins.staticmethod" for d in fn.decorators)
        if cls is not None and all_args and not is_static:
            scope.self_name = all_args[0].arg
            if any(d in ("classmethod", "builtins.classmethod") for d in fn.decorators):
                scope.values[scope.self_name] = Value("class", cls.qualname, scope.self_name, local=cls.local)
        for a in all_args + list(args.kwonlyargs):
            if a.annotation is not None:
                t = self.resolve(a.annotation)
                if t:
                    t = self.kb.canonical(t)
                    local_cls = self.facts.classes.get(t)
                    scope.values[a.arg] = Value("instance", t, a.arg, a.lineno, a.col_offset,
                                                local=bool(local_cls and local_cls.local))
        saved = (self.loop_stack, self.locks, self.in_main_guard, self.in_try)
        self.loop_stack, self.locks, self.in_main_guard, self.in_try = [], [], False, 0
        self.scopes.append(scope)
        try:
            if isinstance(node, ast.Lambda):
                self.visit(node.body)
            else:
                self._prescan(node.body, fn)
                for stmt in node.body:
                    self.visit(stmt)
        finally:
            self.scopes.pop()
            self.loop_stack, self.locks, self.in_main_guard, self.in_try = saved

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node, f"<lambda:{node.lineno}:{node.col_offset}>", False)
        fn = self.facts.functions[self._lambda_qualname(node)]
        fn.end_line = getattr(node, "end_lineno", node.lineno) or node.lineno

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        for b in node.bases:
            self.visit(b)
        q = self.qual(node.name)
        bases = []
        for b in node.bases:
            r = self.resolve(b)
            if r:
                bases.append(self.kb.canonical(r))
        info = ClassInfo(q, node.name, node.lineno, bases, local=self.function is not None)
        self.facts.classes[q] = info
        if self.function is not None:
            self.scope.values[node.name] = Value("class", q, node.name, node.lineno, node.col_offset, local=True)
        self.class_stack.append(info)
        outer_scope = self.scope
        class_scope = _Scope(None, info)
        class_scope.values = {}
        self.scopes.append(class_scope)
        try:
            self._prescan(node.body, None)
            self._prescan_self_attrs(node, info)
            for stmt in node.body:
                self.visit(stmt)
        finally:
            self.scopes.pop()
            self.class_stack.pop()
        del outer_scope

    def _prescan_self_attrs(self, node: ast.ClassDef, info: ClassInfo) -> None:
        """``self.X = <call>`` in any method gives X a type before the methods are walked."""
        for stmt in node.body:
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) or not stmt.args.args:
                continue
            self_name = stmt.args.args[0].arg
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Call):
                    for t in sub.targets:
                        if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                                and t.value.id == self_name and t.attr not in info.attrs):
                            v = self._describe_call(sub.value)
                            if v.kind in ("instance", "container"):
                                info.attrs[t.attr] = v

    def visit_If(self, node: ast.If) -> None:
        guard = _is_main_guard(node.test)
        if guard and self.function is None and not self.class_stack:
            self.facts.has_main_guard = True
            self.facts.main_guard_line = node.lineno
        self.in_test += 1
        self.visit(node.test)
        self.in_test -= 1
        checked = self._checked_targets(node.test)
        if checked and self.function is not None:
            writes_before = len(self.function.accesses)
        saved = self.in_main_guard
        if guard:
            self.in_main_guard = True
        for stmt in node.body:
            self.visit(stmt)
        self.in_main_guard = saved
        if checked and self.function is not None:
            for acc in self.function.accesses[writes_before:]:
                if acc.target in checked and acc.kind in ("write", "mutate", "rmw"):
                    self.function.accesses.append(Access(acc.target, "check", checked[acc.target],
                                                         node.lineno, node.col_offset, tuple(self.locks)))
                    break
        for stmt in node.orelse:
            self.visit(stmt)

    def _checked_targets(self, test: ast.AST) -> Dict[str, str]:
        found: Dict[str, str] = {}
        for sub in ast.walk(test):
            if isinstance(sub, ast.Compare):
                for operand in [sub.left] + list(sub.comparators):
                    key = self.shared_target(operand)
                    if key:
                        found[key] = self.segment(sub)
            elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
                key = self.shared_target(sub.func.value)
                if key and sub.func.attr in READING_METHODS:
                    found[key] = self.segment(sub)
            elif isinstance(sub, ast.Name):
                key = self.shared_target(sub)
                if key:
                    found.setdefault(key, sub.id)
        return found

    def _loop(self, node: ast.AST, desc: str, mult: int, body: List[ast.AST]) -> None:
        fn = self.function
        if fn is None:
            for b in body:
                self.visit(b)
            return
        parent = self.loop_stack[-1] if self.loop_stack else -1
        idx = len(fn.loops)
        fn.loops.append(Loop(node.lineno, desc, mult, parent, has_ops=_has_ops(body, numeric=_is_range(node))))
        self.loop_stack.append(idx)
        try:
            for b in body:
                self.visit(b)
        finally:
            self.loop_stack.pop()

    def visit_For(self, node: ast.For) -> None:
        self.use[id(node.iter)] = ("iter", None)
        self.visit(node.iter)
        self.bind(node.target, None, node)
        self._write_target(node.target, "write", "for-loop target")
        mult, desc = _loop_weight(node.iter, self.segment(node.iter, 40))
        self._loop(node, f"for loop over {desc}", mult, list(node.body))
        for s in node.orelse:
            self.visit(s)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_While(self, node: ast.While) -> None:
        self.in_test += 1
        self.visit(node.test)
        self.in_test -= 1
        self._loop(node, "while loop", 10, list(node.body))
        for s in node.orelse:
            self.visit(s)

    def _comprehension(self, node: ast.AST, kind: str) -> None:
        gens = node.generators  # type: ignore[attr-defined]
        self.visit(gens[0].iter)
        fn = self.function
        if fn is None:
            for g in gens:
                for cond in g.ifs:
                    self.visit(cond)
            for part in _comp_parts(node):
                self.visit(part)
            return
        pushed = 0
        for i, g in enumerate(gens):
            if i:
                self.visit(g.iter)
            self.bind(g.target, None, node)
            mult, desc = _loop_weight(g.iter, self.segment(g.iter, 40))
            parent = self.loop_stack[-1] if self.loop_stack else -1
            fn.loops.append(Loop(node.lineno, f"{kind} over {desc}", mult, parent,
                                 has_ops=_has_ops(_comp_parts(node) + list(g.ifs), numeric=_is_range(g))))
            self.loop_stack.append(len(fn.loops) - 1)
            pushed += 1
            for cond in g.ifs:
                self.visit(cond)
        for part in _comp_parts(node):
            self.visit(part)
        for _ in range(pushed):
            self.loop_stack.pop()

    def visit_ListComp(self, node):
        self._comprehension(node, "list comprehension")

    def visit_SetComp(self, node):
        self._comprehension(node, "set comprehension")

    def visit_DictComp(self, node):
        self._comprehension(node, "dict comprehension")

    def visit_GeneratorExp(self, node):
        self._comprehension(node, "generator expression")

    def visit_With(self, node: ast.With) -> None:
        held = []
        for item in node.items:
            self.use[id(item.context_expr)] = ("with", None)
            first = len(self.facts.calls)
            self.visit(item.context_expr)
            if isinstance(item.context_expr, ast.Call) and len(self.facts.calls) > first:
                self.facts.calls[first].block_end = getattr(node, "end_lineno", 0) or 0
            v = self.describe(item.context_expr)
            if self.function is not None and isinstance(node, ast.With):
                self.function.withs.append(v)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, v if v.kind != "other" else None, node)
            if v.kind == "instance" and v.qualname in LOCK_TYPES:
                held.append(self.segment(item.context_expr, 40))
        self.locks.extend(held)
        for s in node.body:
            self.visit(s)
        if held:
            del self.locks[-len(held):]

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_Try(self, node) -> None:
        released = []
        for s in node.finalbody:
            for sub in ast.walk(s):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "release":
                    v = self.value_of(sub.func.value)
                    if v is not None and v.kind == "instance" and v.qualname in LOCK_TYPES:
                        released.append(self.segment(sub.func.value, 40))
        self.locks.extend(released)
        self.in_try += 1
        nb = int(_catches_blocking_io(node))
        self.nb_try += nb
        for s in node.body:
            self.visit(s)
        self.nb_try -= nb
        self.in_try -= 1
        if released:
            del self.locks[-len(released):]
        for h in node.handlers:
            self.visit(h)
        for s in node.orelse + node.finalbody:
            self.visit(s)

    visit_TryStar = visit_Try  # type: ignore[assignment]

    def visit_Global(self, node: ast.Global) -> None:
        if self.function is not None:
            self.scope.globals.update(node.names)
            self.function.globals_declared.extend(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        if self.function is not None:
            for n in node.names:
                self.scope.values.setdefault(n, Value("other", None, n))

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self.use[id(node.value)] = ("assign", node.targets[0].id)
        elif isinstance(node.value, ast.Call):
            self.use[id(node.value)] = ("assign", None)
        self.visit(node.value)
        v = self.describe(node.value)
        for t in node.targets:
            if isinstance(t, ast.Subscript):
                self.visit(t.value)
                self.visit(t.slice)
            elif isinstance(t, ast.Attribute):
                self.visit(t.value)
            self._write_target(t, "write", "= " + _short(self.segment(node.value, 30)))
            self.bind(t, v, node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            if isinstance(node.value, ast.Call):
                self.use[id(node.value)] = ("assign", node.target.id if isinstance(node.target, ast.Name) else None)
            self.visit(node.value)
            v = self.describe(node.value)
            self._write_target(node.target, "write", "= ...")
            self.bind(node.target, v, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Subscript):
            self.visit(node.target.value)
            self.visit(node.target.slice)
        elif isinstance(node.target, ast.Attribute):
            self.visit(node.target.value)
        op = _OPS.get(type(node.op), "?") + "="
        self._write_target(node.target, "rmw", op)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            if isinstance(t, ast.Subscript):
                self.visit(t.slice)
            self._write_target(t, "mutate", "del")

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call):
            self.use[id(node.value)] = ("discard", None)
        elif isinstance(node.value, ast.Await) and isinstance(node.value.value, ast.Call):
            self.use[id(node.value.value)] = ("await", None)
        self.visit(node.value)

    def visit_Return(self, node: ast.Return) -> None:
        if isinstance(node.value, ast.Call):
            self.use[id(node.value)] = ("return", None)
        if node.value is not None:
            self.visit(node.value)

    def visit_Yield(self, node) -> None:
        if self.function is not None:
            self.function.is_generator = True
        if node.value is not None:
            if isinstance(node.value, ast.Call):
                self.use[id(node.value)] = ("return", None)
            self.visit(node.value)

    visit_YieldFrom = visit_Yield  # type: ignore[assignment]

    def visit_Await(self, node: ast.Await) -> None:
        if isinstance(node.value, ast.Call):
            self.awaited.add(id(node.value))
            self.use.setdefault(id(node.value), ("await", None))
        self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            fn = self.function
            if fn is not None:
                fn.loaded_names.append(node.id)
            key = self.shared_target(node)
            if key:
                self.access(key, "read", node.id, node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            key = self.shared_target(node)
            if key:
                self.access(key, "read", self.segment(node, 40), node)
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.visit(node.value)
        self.visit(node.slice)

    def visit_Call(self, node: ast.Call) -> None:
        target, method, receiver = self._call_target(node)
        fn = self.function
        use, assigned = self.use.pop(id(node), ("arg", None))
        call = Call(
            line=node.lineno,
            col=node.col_offset,
            end_line=getattr(node, "end_lineno", node.lineno) or node.lineno,
            end_col=getattr(node, "end_col_offset", 0) or 0,
            function=fn.qualname if fn else None,
            target=self.kb.canonical(target) if target else None,
            text=self.segment(node.func, 60),
            method=method if method else (node.func.attr if isinstance(node.func, ast.Attribute) else None),
            receiver=receiver,
            args=[self.describe(a) for a in node.args],
            kwargs={k.arg: self.describe(k.value) for k in node.keywords if k.arg},
            star_args=any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords),
            loop=self.loop_stack[-1] if self.loop_stack else -1,
            awaited=id(node) in self.awaited,
            use=use,
            assigned_to=assigned,
            locks=tuple(self.locks),
            in_main_guard=self.in_main_guard,
            in_async=bool(fn and fn.is_async),
            in_try=self.in_try > 0,
            nonblocking_try=self.nb_try > 0,
        )
        idx = len(self.facts.calls)
        self.facts.calls.append(call)
        if fn is not None:
            fn.calls.append(idx)
        # mutation / reads of shared containers through their methods
        if isinstance(node.func, ast.Attribute):
            key = self.shared_target(node.func.value)
            if key:
                attr = node.func.attr
                if attr in MUTATING_METHODS:
                    self.access(key, "mutate", f".{attr}()", node)
                elif attr in READING_METHODS:
                    self.access(key, "read", f".{attr}()", node)
        if isinstance(node.func, ast.Attribute):
            if not (isinstance(node.func.value, ast.Name) and self.shared_target(node.func.value)):
                self.visit(node.func.value)
        elif not isinstance(node.func, ast.Name):
            self.visit(node.func)
        for a in node.args:
            self.visit(a)
        for k in node.keywords:
            self.visit(k.value)


_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
    ast.MatMult: "@",
}


def _slice(line: str, start: int, end: Optional[int]) -> str:
    if line.isascii():
        return line[start:end]
    raw = line.encode("utf-8")
    return raw[start:end].decode("utf-8", "replace")


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:27] + "..."


def _relocated(v: Value, text: str, line: int, col: int) -> Value:
    return Value(v.kind, v.qualname, text, line, col, v.local, v.inner, v.attr, v.size, v.meta)


def _const_int(node: ast.AST) -> Optional[int]:
    """The value of an integer constant expression (``10**6``, ``1920 * 1080``, ``-1``), else None."""
    if isinstance(node, ast.Constant):
        v = node.value
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _const_int(node.operand)
        return -v if v is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Pow)):
        a, b = _const_int(node.left), _const_int(node.right)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Pow) and (b < 0 or b > 64 or abs(a) > 10 ** 6):
            return None
        if isinstance(node.op, ast.FloorDiv) and b == 0:
            return None
        op = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__,
              ast.FloorDiv: int.__floordiv__, ast.Pow: int.__pow__}[type(node.op)]
        r = op(a, b)
        return r if abs(r) < 10 ** 15 else None
    return None


def _is_main_guard(test: ast.AST) -> bool:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        sides = [test.left, test.comparators[0]]
        names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
        consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
        return bool(names and consts)
    return False


def _catches_blocking_io(node: ast.AST) -> bool:
    """Does this try statement handle BlockingIOError (the mark of a non-blocking IO attempt)?"""
    for h in getattr(node, "handlers", ()):
        types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        for t in types:
            name = t.id if isinstance(t, ast.Name) else (t.attr if isinstance(t, ast.Attribute) else None)
            if name in ("BlockingIOError", "SSLWantReadError", "SSLWantWriteError"):
                return True
    return False


def _constant_operand(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id.isupper())


def _is_range(node: ast.AST) -> bool:
    """A loop (or comprehension generator) over range(): numeric iteration."""
    it = getattr(node, "iter", None)
    return isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"


def _comp_parts(node: ast.AST) -> List[ast.AST]:
    if isinstance(node, ast.DictComp):
        return [node.key, node.value]
    return [node.elt]  # type: ignore[attr-defined]


def _loop_weight(iter_node: ast.AST, text: str) -> Tuple[int, str]:
    """How much a loop over ``iter_node`` multiplies its body's work, and how to say it."""
    if isinstance(iter_node, ast.Call) and isinstance(iter_node.func, ast.Name) and iter_node.func.id == "range":
        bound = iter_node.args[1] if len(iter_node.args) > 1 else (iter_node.args[0] if iter_node.args else None)
        if isinstance(bound, ast.Constant) and isinstance(bound.value, int):
            n = bound.value
            if n < 100:
                return 1, text
            if n < 100_000:
                return 10, text
            return 100, text
        return 10, text
    if isinstance(iter_node, (ast.List, ast.Tuple, ast.Set)) and len(iter_node.elts) < 100:
        return 1, text
    return 10, text


def _has_ops(body: Sequence[ast.AST], numeric: bool = False) -> int:
    """How much work this block (not counting nested loops' bodies) does per iteration:
    2 = real arithmetic (two or more operations, or one in a loop over a range()),
    1 = light work (a counter increment, indexing, comparisons, f-strings), 0 = none."""
    stack = list(body)
    level = 0
    ops = 1 if numeric else 0
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Raise, ast.Assert)):
            continue  # building an error message is not the loop's work
        if isinstance(node, ast.BinOp) and _constant_operand(node.left) and _constant_operand(node.right):
            continue  # _MAXLINE + 1: a constant, whatever the loop does
        if isinstance(node, (ast.BinOp, ast.AugAssign)):
            ops += 1
            if ops >= 2:
                return 2
            level = 1
        if isinstance(node, _OP_NODES):
            level = 1
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, _LOOP_NODES):
            continue
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Lt, ast.Gt, ast.LtE, ast.GtE)) for op in node.ops):
            level = 1
        stack.extend(ast.iter_child_nodes(node))
    return level


def extract(tree: ast.Module, text: str, path: str, module: str, is_package: bool, knowledge: Knowledge) -> ModuleFacts:
    lines = text.splitlines()
    facts = ModuleFacts(path=path, module=module, lines=len(lines))
    package = module if is_package else module.rpartition(".")[0]
    Extractor(facts, lines, knowledge, package).visit(tree)
    return facts

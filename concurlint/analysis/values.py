"""Values and call targets: what an expression stands for, and what a call calls.

Collects nothing on its own: it is the resolver the other collectors ask. ``describe`` turns an
expression into a ``Value`` (lambda, function, class, instance of a known type, container,
literal with its size, partial, bound method...), ``resolve`` gives the qualified name of a
Name/Attribute chain, ``_call_target`` the (target, method, receiver) of a call, following
``self`` attributes, class attributes, ``kb.returns`` (the knowledge base's return types) and
``kb.canonical`` (aliases of the same API).

From the shared scope state (``scopes``) it needs ``lookup``, ``_self_class``, ``qual``,
``segment``, ``kb`` and ``facts.classes``; it never writes to them.
"""
from __future__ import annotations

import ast
import copy
from typing import Dict, Optional, Tuple

from concurlint.analysis.facts import Value
from concurlint.analysis.sizes import _const_int, _with_bytes, byte_size

# buffers in memory: a file object made over one reads and writes no file
IN_MEMORY = frozenset({"io.BytesIO", "io.StringIO"})
# where a pool constructor takes its initializer when it is passed by position
INITIALIZER_AT = {"multiprocessing.Pool": 1, "multiprocessing.pool.Pool": 1, "multiprocessing.context.BaseContext.Pool": 1,
                  "concurrent.futures.ProcessPoolExecutor": 2}
# queue classes an annotation may parametrise with their items' type (`Queue[str]`): the
# annotation names the queue
GENERIC_QUEUES = frozenset({"queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "queue.SimpleQueue",
                            "asyncio.Queue", "asyncio.LifoQueue", "asyncio.PriorityQueue",
                            "multiprocessing.Queue", "multiprocessing.queues.Queue",
                            "multiprocessing.JoinableQueue", "multiprocessing.queues.JoinableQueue"})
MUTABLE_TYPES = frozenset(
    {"builtins.list", "builtins.dict", "builtins.set", "builtins.bytearray", "collections.deque"}
)


class ValueCollector:
    """Describing expressions and resolving names and calls (a mixin of ``Extractor``).

    ``describe`` and ``_call_target`` call each other on the parts of an expression: in a chain
    ``g()()()`` each level asks both about the level below, which is exponential in the chain's
    length. Both are pure functions of the node and the scope state, and the scope state cannot
    change while one expression is being described, so their results are memoised for the
    duration of one outermost call (``_vmemo``, emptied when it returns)."""

    def _init_values(self) -> None:
        self._vmemo: Dict[Tuple[str, int], object] = {}
        self._vdepth = 0

    def _memoised(self, kind: str, node: ast.AST, compute):
        key = (kind, id(node))
        hit = self._vmemo.get(key)
        if hit is not None:
            return copy.copy(hit) if isinstance(hit, Value) else hit
        self._vdepth += 1
        try:
            result = compute(node)
        finally:
            self._vdepth -= 1
        if self._vdepth == 0:
            self._vmemo.clear()
        else:
            self._vmemo[key] = result
        return result

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

    def _property_value(self, cls: str, name: str) -> Optional[Value]:
        """``self.shell`` where the class has ``@property def shell(self) -> pexpect.spawn``: an
        instance of the type its return annotation names (a property is read, not called)."""
        ann = self.return_annotations.get(f"{cls}.{name}")
        t = self.annotated_type(ann) if ann is not None else None
        return Value("instance", self.kb.canonical(t)) if t else None

    def annotated_type(self, node: ast.AST, depth: int = 0) -> Optional[str]:
        """The one type an annotation names, through ``Optional[T]``, ``Union[T, None]``,
        ``T | None`` and a string (``"asyncio.AbstractEventLoop | None"``); None for a real union."""
        if depth > 3:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                inner = ast.parse(node.value.strip(), mode="eval").body
            except (SyntaxError, ValueError):
                return None
            return self.annotated_type(inner, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            parts = [n for n in (node.left, node.right) if not _is_none(n)]
            return self.annotated_type(parts[0], depth + 1) if len(parts) == 1 else None
        if isinstance(node, ast.Subscript):
            outer = self.resolve(node.value) or ""
            if outer in ("typing.Optional", "typing_extensions.Optional"):
                return self.annotated_type(node.slice, depth + 1)
            if outer in ("typing.Union", "typing_extensions.Union"):
                elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                parts = [n for n in elts if not _is_none(n)]
                return self.annotated_type(parts[0], depth + 1) if len(parts) == 1 else None
            if outer in GENERIC_QUEUES:
                return outer  # `q: Queue[str]`, `inbox: asyncio.Queue[Message]`: a queue of them
            return None
        return self.resolve(node)

    def type_of(self, v: Value) -> Optional[str]:
        if v.kind == "instance":
            return v.qualname
        if v.kind == "literal" and v.meta.get("type"):
            # a name last bound to None (`next_request = None` in an else branch) holds
            # something else wherever an attribute of it is used
            return None if v.meta["type"] == "builtins.NoneType" else v.meta["type"]
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
                        # one attribute made of one type on the sync path and another on the async
                        # path (scopes._attr_value): the one this function's path made
                        other = v.meta.get("async_type" if self.function is not None and self.function.is_async
                                           else "sync_type")
                        return Value("instance", other, v.text, v.line, v.col) if other else v
                    if node.attr in owner.methods:
                        return Value("bound-method", owner.methods[node.attr], attr=node.attr)
                    return self._property_value(owner.qualname, node.attr)
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

    # ------------------------------------------------------------- describing
    def describe(self, node: ast.AST) -> Value:
        """Describe an expression used as an argument or assigned to a name."""
        return self._memoised("describe", node, self._describe)

    def _describe(self, node: ast.AST) -> Value:
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        if isinstance(node, ast.Lambda):
            return Value("lambda", self._lambda_qualname(node), self.segment(node), line, col, local=True)
        if isinstance(node, ast.Name):
            for name, lit, until in reversed(self.narrowed):
                if name == node.id and line <= until:
                    return Value(lit.kind, None, lit.text, line, col, size=lit.size)
            v = self.lookup(node.id)
            if v is None:
                return Value("name", None, node.id, line, col)
            return _relocated(v, node.id, line, col)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and self._self_class(node.value.id) is not None:
                owner = self._self_class(node.value.id)
                assert owner is not None
                prop = None if node.attr in owner.methods else self._property_value(owner.qualname, node.attr)
                if prop is not None:
                    return _relocated(prop, self.segment(node), line, col)
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
            return _with_bytes(self._describe_call(node), self._call_bytes(node))
        if isinstance(node, ast.Subscript):
            return _with_bytes(self._describe_other(node), self._slice_bytes(node))
        if isinstance(node, ast.GeneratorExp):
            return Value("generator", None, self.segment(node), line, col, inner=[self.describe(node.elt)])
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            t = {ast.List: "builtins.list", ast.Tuple: "builtins.tuple", ast.Set: "builtins.set"}[type(node)]
            return Value("container", None, self.segment(node), line, col,
                         inner=[self._element_of(e) for e in node.elts[:50]], size=len(node.elts), meta={"type": t})
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
            elif isinstance(elt, ast.Lambda):  # [lambda: n for n in ns]: what pickling must know
                ev = self.describe(elt)
                meta.update(element_kind=ev.kind, element_qualname=ev.qualname or "", element_text=ev.text,
                            element_at=f"{ev.line}:{ev.col}", element_local="1")
            return Value("container", None, self.segment(node), line, col, meta=meta, size=self.few_items(node))
        if isinstance(node, ast.Constant):
            v = node.value
            t = type(v).__name__
            size = len(v) if isinstance(v, (str, bytes)) else None
            meta = {"type": "builtins." + t}
            if t == "int" and v.bit_length() < 4000:
                # range(10_000), max_workers=4; a literal of thousands of digits (0xfff...) is no
                # count, and str() refuses ints past sys.get_int_max_str_digits()
                meta["value"] = str(v)
            return Value("literal", None, self.segment(node), line, col, size=size, meta=meta)
        if isinstance(node, ast.JoinedStr):
            return Value("literal", None, self.segment(node), line, col, meta={"type": "builtins.str"})
        if isinstance(node, ast.Starred):
            return self.describe(node.value)
        if isinstance(node, ast.Await):
            return Value("other", None, self.segment(node), line, col)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) \
                and all(isinstance(v, (ast.Name, ast.Attribute)) for v in node.values[:-1]):
            # `session or requests.Session()`, `self._loop or asyncio.new_event_loop()`: what is
            # handed in, else the fallback made here -- of the fallback's type, read as the same
            # client (the idiom of an optional injected dependency)
            last = self.describe(node.values[-1])
            if last.kind == "instance" and last.qualname:
                return Value("instance", last.qualname, self.segment(node), line, col, meta=last.meta)
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            n = _const_int(node)  # 1920 * 1080, 10**6: a constant integer
            if n is not None:
                return Value("literal", None, self.segment(node), line, col,
                             meta={"type": "builtins.int", "value": str(n)})
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            # b"v1:" + uid.to_bytes(8, "big"): a buffer of known size when both parts are
            a, b = byte_size(self.describe(node.left)), byte_size(self.describe(node.right))
            if a is not None and b is not None:
                return Value("other", None, self.segment(node), line, col, meta={"bytes": str(a + b)})
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            # [0] * 10_000_000: a big list built by repetition
            for a, b in ((node.left, node.right), (node.right, node.left)):
                if isinstance(a, (ast.List, ast.Constant)) and _const_int(b) is not None:
                    base = self.describe(a)
                    base.size = (base.size or 1) * (_const_int(b) or 0)
                    base.text = self.segment(node)
                    return base
        return Value("other", None, self.segment(node), line, col)

    def _describe_other(self, node: ast.AST) -> Value:
        return Value("other", None, self.segment(node), getattr(node, "lineno", 0), getattr(node, "col_offset", 0))

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
        rtype = self.kb.returns.get(target) or self._annotated_return(target)
        if rtype is not None and (self.asks_nonblocking(target, node) or self._opens_memory(node)):
            return Value("call", None, text, line, col)  # its methods are not the blocking ones
        if rtype is None and target.startswith("builtins.") and target[9:] in ("list", "dict", "set", "bytearray", "tuple"):
            rtype = target
        if rtype is not None:
            meta: Dict[str, str] = {}
            if target == "multiprocessing.get_context" and node.args and isinstance(node.args[0], ast.Constant):
                meta["start_method"] = str(node.args[0].value)
            recv = self._receiver_value(node)
            if recv is not None and recv.meta.get("start_method"):
                meta["start_method"] = recv.meta["start_method"]
            # what each worker runs first (movable._worker_setup), by keyword or by position
            # (`Pool(jobs, _mp_init, (argv,))`)
            at = INITIALIZER_AT.get(target)
            init = next((kw.value for kw in node.keywords if kw.arg == "initializer"),
                        node.args[at] if at is not None and len(node.args) > at else None)
            init_name = self.describe(init).qualname if init is not None else None
            if init_name:
                meta["initializer"] = init_name
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
                cmeta = {"type": rtype}
                if target == "collections.defaultdict" and node.args:
                    # `defaultdict(threading.RLock)`: what each item is (a lock per key)
                    factory = self.describe(node.args[0])
                    if factory.qualname:
                        cmeta["item"] = factory.qualname
                return Value("container", target, text, line, col, size=size, meta=cmeta)
            return Value("instance", rtype, text, line, col, meta=meta)
        last = target.rsplit(".", 1)[-1]
        if last[:1].isupper() and not last.isupper():
            if self._opens_memory(node):  # `TarFile(fileobj=buf, mode="w")` over a BytesIO
                return Value("call", None, text, line, col)
            return Value("instance", target, text, line, col)
        inner = [self.describe(node.func)] if isinstance(node.func, ast.Call) else []
        inner += [self.describe(a) for a in node.args[:8]]
        return Value("call", target, text, line, col, inner=inner)

    def _annotated_return(self, target: str) -> Optional[str]:
        """The type a function of this module says it returns (``def _open_zip_file(...) ->
        zipfile.ZipFile``), when that is a library's class the knowledge base knows methods of (a
        builtin, a typing construct or the project's own class says nothing new here)."""
        node = self.return_annotations.get(target)
        if node is None:
            return None
        t = self.annotated_type(node)
        if not t or t.startswith(("builtins.", "typing.", "typing_extensions.", "collections.abc.")):
            return None
        t = self.kb.canonical(t)
        return t if self.kb.knows_type(t) else None

    def _element_of(self, node: ast.expr) -> Value:
        """An element of a list, tuple or set display. ``[*tasks]`` holds the items ``tasks``
        yields, not ``tasks`` itself (a generator turned into a list before it is sent to a process
        pool: kaggle-environments, rev130d's high fp): the one item of a starred display of one
        (``[*[job]]``), else items not known."""
        if not isinstance(node, ast.Starred):
            return self.describe(node)
        v = self.describe(node.value)
        if v.kind == "container" and len(v.inner) == 1:
            return v.inner[0]
        return Value("other", None, self.segment(node), node.lineno, node.col_offset)

    def keyword_values(self, node: ast.Call) -> Dict[str, Value]:
        """The keywords a call passes: those written, and the keys its function stored into a
        dict it splats (``kwargs["async_"] = True`` ... ``connect(dsn, **kwargs)``)."""
        out: Dict[str, Value] = {}
        for k in node.keywords:
            if k.arg is None and isinstance(k.value, ast.Name) and self.function is not None:
                for key, v in self.scope.dict_keys.get(k.value.id, {}).items():
                    # marked: the key may be stored under a test (a version's) the call does not see
                    out.setdefault(key, _splatted(v))
            elif k.arg:
                out[k.arg] = self.describe(k.value)
        return out

    def asks_nonblocking(self, target: str, node: ast.Call) -> bool:
        """The call opens its object in non-blocking mode (``psycopg2.connect(dsn, async_=True)``,
        the knowledge base's ``nonblocking`` table): the object's methods return at once."""
        names = self.kb.nonblocking.get(target)
        if not names:
            return False
        kwargs = self.keyword_values(node)
        return any(name in kwargs and not _literal_false(kwargs[name]) for name in names)

    def _opens_memory(self, node: ast.Call) -> bool:
        """``zipfile.ZipFile(io.BytesIO(data))``, ``tarfile.open(fileobj=io.BytesIO(data))``: the
        object reads and writes a buffer in memory, not a file."""
        given = [k.value for k in node.keywords if k.arg in ("fileobj", "file")] + node.args[:1]
        for g in given:
            v = self.describe(g)
            if v.kind == "instance" and v.qualname in IN_MEMORY:
                return True
        return False

    def _receiver_value(self, node: ast.Call) -> Optional[Value]:
        if isinstance(node.func, ast.Attribute):
            return self.value_of(node.func.value)
        return None

    def _lambda_qualname(self, node: ast.Lambda) -> str:
        return self.qual(f"<lambda:{node.lineno}:{node.col_offset}>")

    def _call_target(self, node: ast.Call) -> Tuple[Optional[str], Optional[str], Optional[Value]]:
        """(target qualname, method name, receiver value) of a call."""
        return self._memoised("target", node, self._find_call_target)

    def _find_call_target(self, node: ast.Call) -> Tuple[Optional[str], Optional[str], Optional[Value]]:
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
                        if av.kind == "instance" and av.qualname and self.kb.returns.get(f"{av.qualname}.__call__"):
                            # `self.session_factory()` on a `sessionmaker(...)` kept on the object
                            return f"{av.qualname}.__call__", "__call__", av
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


def _relocated(v: Value, text: str, line: int, col: int) -> Value:
    meta = v.meta
    if v.line and v.kind in _TRACED and "made" not in meta:  # where a value sent to a pool was made
        meta = dict(meta, made=f"{v.line}:{v.col}")
    if v.kind in ("other", "literal", "call") and v.text and "source" not in meta:  # what the name was bound to
        meta = dict(meta, source=v.text)
    return Value(v.kind, v.qualname, text, line, col, v.local, v.inner, v.attr, v.size, meta)


# kinds whose place of making the pickling rules cite when the value is used through a name
_TRACED = frozenset({"lambda", "function", "class", "instance", "partial", "container", "call", "bound-method"})


def _literal_false(v: Value) -> bool:
    return v.kind == "literal" and v.text in ("False", "0", "None")


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _splatted(v: Value) -> Value:
    """A copy of ``v`` marked as handed through a dict splat (``**kwargs``), not written at the call."""
    out = copy.copy(v)
    out.meta = {**v.meta, "splat": "1"}
    return out

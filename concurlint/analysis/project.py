"""The project: every analysed module's facts, and name resolution across modules."""
from __future__ import annotations

import os
import sys
from typing import Dict, Iterator, List, Optional, Tuple

from concurlint.analysis import platforms
from concurlint.analysis.facts import Call, ClassInfo, Function, ModuleFacts, Value
from concurlint.knowledge import Knowledge


class Project:
    def __init__(self, modules: List[ModuleFacts], knowledge: Knowledge, target_version: Optional[str] = None):
        self.modules = modules
        self.kb = knowledge
        self.target_version = target_version
        self.python_below = None  # Config.python_below: the project's requires-python upper bound
        self.by_module: Dict[str, ModuleFacts] = {}
        self.functions: Dict[str, Function] = {}
        self.function_module: Dict[str, ModuleFacts] = {}
        self.classes: Dict[str, ClassInfo] = {}
        self.platform_names: Dict[str, Tuple[str, str]] = {}
        # each function's own module, by id(): two files may bear one module name (migration
        # scripts `mysql/20230111.py` and `sqlite/20230111.py` in directories without
        # __init__.py), and then `function_module` holds only the last one's
        self._owner: Dict[int, ModuleFacts] = {}
        for m in modules:
            self.platform_names.update(m.platform_names)
            self.by_module.setdefault(m.module, m)
            for q, fn in m.functions.items():
                self.functions[q] = fn
                self.function_module[q] = m
                self._owner[id(fn)] = m
            self.classes.update(m.classes)
        self._aliases = _namespace_aliases(self.by_module)
        self._resolved: Dict[str, Optional[str]] = {}
        # rules ask the same questions many times: answer each once
        self._subclass: Dict[Tuple[str, str], bool] = {}
        self._all_calls: Optional[List[Tuple[ModuleFacts, Call]]] = None
        self._calls_to: Optional[Dict[str, List[Call]]] = None
        self._by_name: Optional[Dict[str, List[str]]] = None
        self._mentioned: Optional[set] = None
        # calls_of's lists by id() of the function (a Function is not hashable), with the function
        # itself, so that its id is never reused while the entry exists
        self._calls_of: Dict[int, Tuple[Function, List[Call]]] = {}
        self._edges: Optional[Dict[str, List[Tuple[Call, str]]]] = None
        self._index = None

    @property
    def index(self):
        """The calls that pass each test of ``analysis/call_index.py``: what a whole-project scan
        that keeps a few kinds of call visits (``project.index.calls("fork-point")``)."""
        if self._index is None:
            from concurlint.analysis.call_index import CallIndex

            self._index = CallIndex(self)
        return self._index

    # ------------------------------------------------------------------ names
    def resolve(self, name: Optional[str], depth: int = 0) -> Optional[str]:
        """Follow re-exports and imports: the project definition a qualified name denotes, else
        the canonical external name. ``pkg.Cls`` -> ``pkg.impl.Cls``; ``pkg.mod.Cls.run`` -> the
        method found through the class's bases (``threading.Thread.start`` for a Thread subclass)."""
        if name is None:
            return None
        if name in self._resolved:
            return self._resolved[name]
        result = self._resolve(name, depth)
        self._resolved[name] = result
        return result

    def _resolve(self, name: str, depth: int) -> Optional[str]:
        if name in self.functions or name in self.classes:
            return name
        if depth > 8:
            return name
        head, _, attr = name.rpartition(".")
        if not head:
            return name
        mod = self.by_module.get(head)
        if mod is None and head in self._aliases:
            # `worker.state.store.Store` where the module is apps.worker.worker.state.store:
            # imported by the name it has below a directory without __init__.py (a source root)
            return self.resolve(f"{self._aliases[head]}.{attr}", depth + 1)
        if mod is not None:
            target = mod.imports.get(attr)
            if target is not None and target != name:
                return self.resolve(self.kb.canonical(target), depth + 1)
            g = mod.globals.get(attr)
            if g is not None and g.value.kind in ("function", "class", "ref") and g.value.qualname != name:
                return self.resolve(g.value.qualname, depth + 1)
            return name
        owner = self.resolve(head, depth + 1)
        made = self._global_instance(owner) if owner == head else None
        if made is not None:
            # `from app.net import session; session.get(url)`: a module's global made by
            # `requests.Session()` -- the method of its type, as in the module that made it
            owner = made
        if owner is not None and owner in self.classes:
            method = self.find_method(owner, attr)
            if method is not None:
                return method
            return name if owner == head else f"{owner}.{attr}"
        if owner is not None and owner != head:
            return self.resolve(f"{owner}.{attr}", depth + 1)
        return name

    def _global_instance(self, name: str) -> Optional[str]:
        """The type of the module global ``name`` (``app.net.session``) when it holds an instance
        of a type the knowledge base knows or of a project class, else None."""
        head, _, attr = name.rpartition(".")
        mod = self.by_module.get(head)
        g = mod.globals.get(attr) if mod is not None else None
        if g is None or g.value.kind != "instance" or not g.value.qualname:
            return None
        made = self.resolve(g.value.qualname)
        return made if made in self.classes or self.kb.knows_type(made) else None

    def find_method(self, cls: str, attr: str) -> Optional[str]:
        """The method ``attr`` of project class ``cls`` through its bases; an external base gives
        ``base.attr`` (so a Thread subclass's ``start`` is ``threading.Thread.start``).

        Depth-first, bases left to right (a base's own bases before the next base), with an
        explicit stack: a hierarchy thousands of classes deep is data, not a RecursionError."""
        info = self.classes.get(cls)
        if info is None:
            return None
        if attr in info.methods:
            return info.methods[attr]
        seen = {cls}
        stack = [iter(info.bases)]
        while stack:
            base = next(stack[-1], None)
            if base is None:
                stack.pop()
                continue
            b = self.resolve(base)
            if b in self.classes:
                if b in seen:
                    continue
                seen.add(b)
                binfo = self.classes[b]
                if attr in binfo.methods:
                    return binfo.methods[attr]
                stack.append(iter(binfo.bases))
            elif b and b != "builtins.object":
                return f"{b}.{attr}"
        return None

    def is_subclass(self, cls: Optional[str], base: str) -> bool:
        if not cls:
            return False
        if cls == base:
            return True
        key = (cls, base)
        hit = self._subclass.get(key)
        if hit is None:
            hit = self._subclass[key] = self._inherits(cls, base)
        return hit

    def ancestors(self, cls: Optional[str]) -> Iterator[str]:
        """The class and every base it has, through the project's classes (an external base is
        named, not followed: ``logging.handlers.RotatingFileHandler``)."""
        seen, todo = set(), [cls]
        while todo:
            c = todo.pop()
            if not c or c in seen:
                continue
            seen.add(c)
            yield c
            info = self.classes.get(c)
            if info is not None:
                todo.extend(self.resolve(b) for b in info.bases)

    def _inherits(self, cls: str, base: str) -> bool:
        seen = set()
        todo = [cls]
        while todo:
            c = todo.pop()
            if c == base:
                return True
            if not c or c in seen:
                continue
            seen.add(c)
            info = self.classes.get(c)
            if info is not None:
                todo.extend(self.resolve(b) for b in info.bases)
        return False

    def call_target(self, call: Call) -> Optional[str]:
        """What a call runs: a project function qualname, or the canonical external name.
        Calling a project class runs its ``__init__`` (when defined)."""
        try:  # asked about a million times in a large project: the memo's hit is one attribute read
            return call._resolved
        except AttributeError:
            pass
        t = self.resolve(call.target)
        if t is None and call.receiver is not None and call.receiver.kind == "call" and "." in call.text:
            t = self._method_of_returned(call)
        if t in self.classes:
            init = self.find_method(t, "__init__")
            t = init if init in self.functions else t
        call._resolved = t  # in memory only: facts are cached before the project pass
        return t

    def _method_of_returned(self, call: Call) -> Optional[str]:
        """``client = self._get_client(); client.converse(...)``: the method of the type the
        project function returns, when every value it returns has that one type (a client made
        by ``boto3.client``, an instance of a project class)."""
        made = self.returned_type(self.resolve(call.receiver.qualname))
        if made is None:
            return None
        method = call.text.rsplit(".", 1)[-1]
        if made in self.classes:
            # a method the project defines, or one of an outside base the knowledge base knows
            # (`class Api(requests.Session)`: `api.get` is requests.Session.get); one of a base
            # it does not know (the standard library's socket.socket over _socket.socket) stays
            # unresolved, as before, for the duck-typed protocols to read
            found = self.find_method(made, method)
            known = found in self.functions or (found is not None and self.kb.category(found) is not None)
            return found if known else None
        return self.kb.canonical(f"{made}.{method}")

    def returned_type(self, qualname: Optional[str]) -> Optional[str]:
        fn = self.functions.get(qualname or "")
        if fn is None or fn.is_async or fn.is_generator or not fn.returns:
            return None
        kinds = {self.resolve(v.qualname) if v.kind == "instance" else self.value_type(v) for v in fn.returns}
        return kinds.pop() if len(kinds) == 1 and None not in kinds else None

    def value_type(self, v: Optional[Value]) -> Optional[str]:
        """The (resolved) type of an instance-like value."""
        if v is None:
            return None
        if v.kind == "instance" and v.qualname:
            return self.resolve(v.qualname)
        if v.kind == "call" and v.qualname:
            r = self.resolve(v.qualname)
            if r in self.classes:
                return r
        if v.kind == "container":
            return v.meta.get("type")
        return None

    def function_of_value(self, v: Optional[Value]) -> Optional[str]:
        """The project function a callable-valued expression refers to (through partial, bound
        methods and lambdas that only wrap one call)."""
        if v is None:
            return None
        if v.kind == "partial" and v.inner:
            return self.function_of_value(v.inner[0])
        if v.kind in ("function", "ref", "bound-method", "other") and v.qualname:
            r = self.resolve(v.qualname)
            if r in self.classes:
                return self.find_method(r, "__call__") or self.find_method(r, "__init__")
            return r
        if v.kind == "lambda" and v.qualname:
            fn = self.functions.get(v.qualname)
            if fn is not None:
                mod = self.function_module[v.qualname]
                inner = [mod.calls[i] for i in fn.calls]
                if len(inner) == 1:
                    return self.call_target(inner[0]) or v.qualname
            return v.qualname
        return None

    def platform_of(self, call: Call) -> str:
        """The platform a call runs on (``platforms.WINDOWS``, ``POSIX``, ``WASM``), "" for any;
        a test through a name another module defines (``if is_unix_system():``) looked up."""
        p = call.platform
        if not p or p[0] not in "?!":
            return p
        for ref in p.split(platforms.REFERENCES):  # nested tests: the first that says decides
            side = platforms.decide(ref[:1] + (self.resolve(ref[1:]) or ref[1:]), self.platform_names)
            if side:
                return side
        return ""

    def calls_of(self, fn: Function) -> List[Call]:
        """The calls ``fn`` makes, in order: a list made once per function (a dozen analyses
        walk them, ~400k times on the standard library). Callers must not change it."""
        got = self._calls_of.get(id(fn))
        if got is None:
            calls = (self._owner.get(id(fn)) or self.function_module[fn.qualname]).calls
            got = self._calls_of[id(fn)] = (fn, [calls[i] for i in fn.calls])
        return got[1]

    def edges(self) -> Dict[str, List[Tuple[Call, str]]]:
        """The call graph: every function -> its calls of project functions, in order, each with
        its target (built once; classification builds it first)."""
        if self._edges is None:
            functions = self.functions
            call_target = self.call_target
            edges: Dict[str, List[Tuple[Call, str]]] = {}
            for q, fn in functions.items():
                out = []
                for call in self.calls_of(fn):
                    t = call_target(call)
                    if t in functions:
                        out.append((call, t))
                edges[q] = out
            self._edges = edges
        return self._edges

    def overrides(self, qualname: str) -> List[str]:
        """The methods of subclasses that override the method ``qualname`` (none for a function)."""
        fn = self.functions.get(qualname)
        if fn is None or fn.cls is None:
            return []
        return [q for q in self.functions_named(fn.name) if q != qualname
                and self.functions[q].cls and self.is_subclass(self.functions[q].cls, fn.cls)]

    def functions_named(self, name: str) -> List[str]:
        """The qualified names of every project function (or method) called ``name``."""
        return self.function_names().get(name, [])

    def function_names(self) -> Dict[str, List[str]]:
        """Every function name of the project -> the functions that bear it (built once)."""
        if self._by_name is None:
            index: Dict[str, List[str]] = {}
            for q, fn in self.functions.items():
                index.setdefault(fn.name, []).append(q)
            self._by_name = index
        return self._by_name

    def mentioned_names(self) -> set:
        """Every name the project's code uses (its ``def`` statements aside): the last part of each
        call's callee, of each argument and receiver, of each state read or write, and each name a
        function loads (built once). A private method missing from it is called nowhere."""
        if self._mentioned is None:
            out = set()
            for m in self.modules:
                for c in m.calls:
                    out.add(c.text.rpartition(".")[2])
                    for v in list(c.args) + list(c.kwargs.values()) + ([c.receiver] if c.receiver else []):
                        out.add(v.text.rpartition(".")[2])
                for a in m.module_accesses:
                    out.add(a.target.rpartition(".")[2])
                for fn in m.functions.values():
                    out.update(fn.loaded_names)
                    out.update(a.target.rpartition(".")[2] for a in fn.accesses)
            self._mentioned = out
        return self._mentioned

    def calls_to(self, qualname: str) -> List[Call]:
        """Every call in the project that resolves to the project function ``qualname``."""
        if self._calls_to is None:
            index: Dict[str, List[Call]] = {}
            for _mod, c in self.index.calls("project-call"):
                t = self.call_target(c)
                if t in self.functions:
                    index.setdefault(t, []).append(c)
            self._calls_to = index
        return self._calls_to.get(qualname, [])

    def all_calls(self) -> Iterator[Tuple[ModuleFacts, Call]]:
        """Every call of every module, in order; the list is made once (a dozen analyses walk it,
        ~130k calls on the standard library, and a list is quicker to walk than a generator)."""
        if self._all_calls is None:
            self._all_calls = [(m, c) for m in self.modules for c in m.calls]
        return iter(self._all_calls)

    def module_of(self, qualname: str) -> Optional[ModuleFacts]:
        return self.function_module.get(qualname)


def _namespace_aliases(by_module: Dict[str, ModuleFacts]) -> Dict[str, str]:
    """Other names of modules whose dotted name crosses a directory without ``__init__.py``
    (``discovery.module_name``): the name below that directory (``apps/worker/worker/state/store.py``
    is ``apps.worker.worker.state.store`` and, for code that puts ``apps/worker`` on the path and
    imports ``worker.state.store``, also that). Such a directory has no module of its own, so it
    is the prefix of a name that is not a module. With files named one by one a package's own
    ``__init__.py`` may not be read, so that prefix may be a package after all: a module right
    below it gets its bare name only when its directory really has no ``__init__.py`` (a script
    importing a sibling: ``import helpers``), never ``pkg/redis.py`` -> ``redis``; a package below
    it (a module the run read below it, or its ``__init__.py``) always. An alias never shadows a
    module's real name nor starts with a standard-library module's name (``json``, ``queue``)."""
    out: Dict[str, str] = {}
    packages = {n.rsplit(".", 1)[0] for n in by_module if "." in n}
    packages |= {n for n, m in by_module.items() if m.path.replace("\\", "/").endswith("__init__.py")}
    for name, module in by_module.items():
        parts = name.split(".")
        for i in range(1, len(parts)):
            if ".".join(parts[:i]) in by_module:
                continue
            if ".".join(parts[:i + 1]) not in packages and (
                    i != len(parts) - 1 or os.path.isfile(os.path.join(os.path.dirname(module.path), "__init__.py"))):
                continue
            alias = ".".join(parts[i:])
            if alias not in by_module and parts[i] not in STDLIB_TOPS:
                out.setdefault(alias, name)
        for alias in _names_from_above(name, module.path):
            if alias not in by_module:
                out.setdefault(alias, name)
    return out


NAMESPACE_ROOTS_ABOVE = 3  # folders without __init__.py above a module's top package that may start its name


def _names_from_above(name: str, path: str):
    """The names of a module of a namespace package at the top of a tree -- folders without
    ``__init__.py`` above its top package, each named like an identifier -- as code run from
    above those folders imports it: ``xmanager/xm_local/execution.py`` is ``xm_local.execution``
    and ``xmanager.xm_local.execution``; ``xmanager/docker/docker_adapter.py`` is
    ``docker_adapter``, ``docker.docker_adapter`` and ``xmanager.docker.docker_adapter``."""
    d = os.path.dirname(os.path.abspath(path))
    for _ in range(name.count(".") + (1 if os.path.basename(path) == "__init__.py" else 0)):
        d = os.path.dirname(d)  # the folder that holds the top package (or the module)
    prefix: List[str] = []
    for _ in range(NAMESPACE_ROOTS_ABOVE):
        base = os.path.basename(d)
        if not base.isidentifier() or os.path.isfile(os.path.join(d, "__init__.py")) or base in STDLIB_TOPS:
            return
        prefix.insert(0, base)
        yield ".".join(prefix + [name])
        d = os.path.dirname(d)


STDLIB_TOPS = frozenset(getattr(sys, "stdlib_module_names", ())) or frozenset({
    "abc", "argparse", "array", "ast", "asyncio", "base64", "bisect", "builtins", "calendar", "cmd",
    "code", "codecs", "collections", "concurrent", "configparser", "contextlib", "copy", "csv",
    "ctypes", "dataclasses", "datetime", "decimal", "difflib", "dis", "email", "enum", "errno",
    "fcntl", "fnmatch", "fractions", "functools", "gc", "getpass", "gettext", "glob", "gzip",
    "hashlib", "heapq", "hmac", "html", "http", "imaplib", "importlib", "inspect", "io",
    "ipaddress", "itertools", "json", "keyword", "locale", "logging", "lzma", "mailbox", "math",
    "mimetypes", "multiprocessing", "numbers", "operator", "os", "pathlib", "pickle", "platform",
    "plistlib", "pprint", "queue", "random", "re", "select", "selectors", "shelve", "shlex",
    "shutil", "signal", "site", "smtplib", "socket", "socketserver", "sqlite3", "ssl", "stat",
    "statistics", "string", "struct", "subprocess", "sys", "tarfile", "tempfile", "textwrap",
    "threading", "time", "timeit", "token", "tokenize", "traceback", "types", "typing", "unittest",
    "urllib", "uuid", "warnings", "weakref", "xml", "zipfile", "zlib", "zoneinfo"})

"""The knowledge base: what library calls do, read from ``rules/knowledge/*.toml``.

Names are qualified (``requests.Session.get``). A pattern ending in ``*`` covers every name that
starts with what precedes it (``numpy.*``, ``asyncio.AbstractEventLoop.sock_*``). Users extend the
lists with ``[tool.concurlint.knowledge]``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from concurlint.tomlcompat import load_toml

CATEGORIES = ("io", "async-io", "cpu", "releases-gil")

# The kinds of rules/knowledge/stdlib.toml and the category each one is to the analysis
# (None: neutral, the call is no evidence either way).
STDLIB_KINDS = {
    "io": "io", "metadata-io": "io", "wait": "io", "async-io": "async-io",
    "cpu": "cpu", "cpu-per-size": "cpu", "releases-gil": "releases-gil", "neutral": None,
}

# CPU weight of one call (units of analysis.classify: one loop iteration of arithmetic).
# A shipped ``cpu`` entry (json.loads, re.sub, sorted) is one unit: light unless it runs in loops.
# A call the user declares CPU-heavy in [tool.concurlint.knowledge] is the work itself: it weighs
# as much as a helper that is heavy on its own (analysis/peak.HEAVY_CALLEE, used by CCL502), so one such call makes
# its caller CPU-bound, dispatching it to threads is CCL101, and calling it in a coroutine CCL502.
CPU_CALL_WEIGHT = 1.0
DECLARED_CPU_WEIGHT = 1000.0
RELEASES_GIL_WEIGHT = 10.0
# A ``cpu-per-size`` call whose input size the code fixes weighs one unit per SIZE_UNIT bytes, at
# least one unit (on a short input the call itself costs about one loop step of arithmetic) and at
# most as much as a loop over data of unknown size (10 units: json.loads of 40 KiB and more).
# Input of unknown size: one unit, as a ``cpu`` (per call) entry.
SIZE_UNIT = 4096
MIN_SIZED_WEIGHT = CPU_CALL_WEIGHT
MAX_SIZED_WEIGHT = 10.0


def rules_dir() -> Path:
    """Where rules/*.toml live: inside the installed package, or the source tree."""
    try:
        from importlib.resources import files

        p = Path(str(files("concurlint.rules")))
        if (p / "knowledge").is_dir():
            return p
    except (ImportError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "rules"


_PREFIX_MEMOS: Dict[Tuple[str, ...], Dict[str, Optional[str]]] = {}
_MAX_MEMO = 200_000


class Matcher:
    """Exact names in a set, ``prefix*`` patterns checked longest-first."""

    def __init__(self, patterns: Iterable[str]):
        self.exact = set()
        prefixes = []
        for p in patterns:
            if p.endswith("*"):
                prefixes.append(p[:-1])
            else:
                self.exact.add(p)
        self.prefixes = tuple(sorted(set(prefixes), key=len, reverse=True))
        self._by_prefix = _Prefixes({p: p + "*" for p in self.prefixes})
        # the answer depends on the prefixes only: matchers built from the same list (each
        # analysis makes its own for cold-paths) share one memo
        self._memo: Dict[str, Optional[str]] = _PREFIX_MEMOS.setdefault(self.prefixes, {})
        if len(self._memo) > _MAX_MEMO:  # a long-lived process (the flake8 plugin) sees many names
            self._memo.clear()

    def match(self, name: str) -> Optional[str]:
        if name in self.exact:
            return name
        if not self.prefixes:  # the user's lists are usually empty: asked for every function
            return None
        if name in self._memo:
            return self._memo[name]
        found = self._by_prefix.longest(name)
        self._memo[name] = found
        return found


class _Prefixes:
    """``table``'s value for the longest key that a name starts with (``longest``): the keys'
    distinct lengths are tried shortest first, one lookup each, and the walk stops as soon as the
    name's head of that length begins no key at all (``stems``), so a name outside the table
    costs one or two lookups (a name is asked about once per run, ~40k names and matchers on
    the standard library; a scan once tried every prefix: 1.3M ``startswith``)."""

    def __init__(self, table: Dict[str, object]):
        self.table = table
        self.lengths = tuple(sorted({len(k) for k in table}))
        # every head, at one of those lengths, of some key: a longer key starting the name
        # would have the name's head of that length among these
        self.stems = {k[:n] for k in table for n in self.lengths if n <= len(k)}

    def longest(self, name: str):
        found = None
        table, stems, size = self.table, self.stems, len(name)
        for n in self.lengths:
            if n > size:
                break
            head = name[:n]
            if head not in stems:
                break
            hit = table.get(head)
            if hit is not None:  # the values are patterns or (kind, pattern): never None
                found = hit
        return found


def _specific(pattern: str) -> Tuple[bool, int]:
    """How specific a pattern is: an exact name over any ``prefix*``, a longer prefix over a shorter."""
    return not pattern.endswith("*"), len(pattern)


class Stdlib:
    """rules/knowledge/stdlib.toml: one kind per standard-library callable, the most specific
    pattern winning (an exact name, then the longest ``prefix*``, whatever its kind)."""

    def __init__(self, table: dict):
        self.same_as: Dict[str, str] = dict(table.get("same-as", {}))
        self.exact: Dict[str, str] = {}
        prefixes: Dict[str, str] = {}
        for kind, names in table.get("kinds", {}).items():
            for n in names:
                if n.endswith("*"):
                    prefixes[n[:-1]] = kind
                else:
                    self.exact[n] = kind
        self.prefixes = sorted(prefixes.items(), key=lambda kv: len(kv[0]), reverse=True)
        self._by_prefix = _Prefixes({prefix: (kind, prefix + "*") for prefix, kind in self.prefixes})
        self.gil_from = Matcher(table.get("releases-gil-from", {}))
        self._gil_from: Dict[str, int] = dict(table.get("releases-gil-from", {}))
        self._inputs: Dict[str, list] = dict(table.get("input-argument", {}))
        self.connects_when_given: Dict[str, list] = dict(table.get("connects-when-given", {}))
        self.inputs = Matcher(self._inputs)
        self._memo: Dict[str, Optional[Tuple[str, str]]] = {}

    def _own(self, name: str) -> str:
        """``pathlib.PosixPath.stat`` -> ``pathlib.Path.stat`` (methods of a class that behaves
        as another; the class itself keeps its own name: constructors differ)."""
        head = name.rpartition(".")[0]
        while head:
            if head in self.same_as:
                return self.same_as[head] + name[len(head):]
            head = head.rpartition(".")[0]
        return name

    def kind(self, name: str) -> Optional[Tuple[str, str]]:
        """(kind, matching pattern) of a standard-library name, or None when no entry covers it."""
        if name in self._memo:
            return self._memo[name]
        if name in self.exact:
            found: Optional[Tuple[str, str]] = (self.exact[name], name)
        else:
            own = self._own(name)
            if own in self.exact:
                found = (self.exact[own], own)
            else:
                found = self._by_prefix.longest(own)
        self._memo[name] = found
        return found

    def releases_gil_from(self, name: str) -> Optional[int]:
        """From what input size (bytes) a ``releases-gil`` call releases the GIL."""
        m = self.gil_from.match(self._own(name))
        return None if m is None else int(self._gil_from[m])

    def input_argument(self, name: str) -> Tuple[int, Tuple[str, ...]]:
        """(position, keyword names) of the argument whose size the call's cost depends on:
        [input-argument] of stdlib.toml, else the first argument (``data``/``string``/``s``)."""
        m = self.inputs.match(self._own(name))
        if m is None:
            return 0, ("data", "string", "s")
        spec = self._inputs[m]
        return int(spec[0]), tuple(str(k) for k in spec[1:])


CONFIDENCES = ("low", "medium", "high")


class Protocol:
    """One duck-typed protocol of calls.toml's [protocols] (socket, db-api, file, queue...): the
    methods by which an object of unknown type is recognised as waiting."""

    def __init__(self, name: str, table: dict):
        self.name = name
        self.confidence = str(table.get("confidence", "medium"))
        if self.confidence not in CONFIDENCES:
            raise ValueError(f"[protocols.{name}] confidence must be one of {', '.join(CONFIDENCES)}")
        self.waits = frozenset(table.get("waits", ()))
        self.bare_waits = frozenset(table.get("waits-without-arguments", ()))
        self.ambiguous = frozenset(table.get("ambiguous", ()))
        self.no_positional = frozenset(table.get("no-positional", ()))
        self.confirmed_by = frozenset(table.get("confirmed-by", ()))
        self.made_by = frozenset(table.get("made-by", ()))

    @property
    def lower(self) -> str:
        """The confidence of a wait recognised through an ambiguous method: one step lower."""
        return CONFIDENCES[max(0, CONFIDENCES.index(self.confidence) - 1)]


def protocols(table: dict) -> List[Protocol]:
    return [Protocol(name, t) for name, t in table.items() if isinstance(t, dict)]


class Knowledge:
    def __init__(self, tables: Dict[str, dict], extra: Optional[Dict[str, List[str]]] = None):
        calls = tables.get("calls", {})
        types = tables.get("types", {})
        self.returns: Dict[str, str] = dict(types.get("returns", {}))
        self._returned = frozenset(self.returns.values())
        self.aliases: Dict[str, str] = dict(types.get("aliases", {}))
        # constructors whose object does not block when one of these keywords is passed
        self.nonblocking: Dict[str, List[str]] = {k: list(v) for k, v in types.get("nonblocking", {}).items()}
        self.tables = tables
        lists = {c: list(calls.get(c, [])) for c in CATEGORIES}
        for c, names in (extra or {}).items():
            lists.setdefault(c, []).extend(names)
        # user-declared names win over the shipped ones: check them first
        self._user = {c: Matcher((extra or {}).get(c, [])) for c in CATEGORIES}
        self._matchers = {c: Matcher(lists[c]) for c in CATEGORIES}
        # shipped names that are no evidence either way, though a broader pattern above covers
        # them (`numpy.dtype`, `numpy.isscalar` under `numpy.*`): the more specific pattern wins
        self._neutral = Matcher(calls.get("neutral", []))
        self._slow = Matcher(calls.get("slow", []))
        self._cache: Dict[str, Optional[Tuple[str, str]]] = {}
        self.stdlib = Stdlib(tables.get("stdlib", {}))
        self.protocols = protocols(calls.get("protocols", {}))

    def stdlib_kind(self, name: str) -> Optional[Tuple[str, str]]:
        """(kind, pattern) from rules/knowledge/stdlib.toml: io, metadata-io, wait, async-io, cpu,
        cpu-per-size, releases-gil or neutral; None for a name it does not cover."""
        return self.stdlib.kind(name)

    def knows_type(self, name: str) -> bool:
        """A type some call the knowledge base knows returns (``zipfile.ZipFile``,
        ``requests.Session``): its methods are described there."""
        return name in self._returned

    def canonical(self, name: str) -> str:
        if name in self.aliases:
            return self.aliases[name]
        head, _, tail = name.rpartition(".")
        while head:
            if head in self.aliases:
                return f"{self.aliases[head]}.{name[len(head) + 1:]}"
            head = head.rpartition(".")[0]
        return name

    def category(self, name: str) -> Optional[Tuple[str, str]]:
        """(category, matching pattern) for a qualified call name, or None."""
        if name in self._cache:
            return self._cache[name]
        found = None
        for c in CATEGORIES:  # what the user says wins
            m = self._user[c].match(name)
            if m is not None:
                found = (c, m)
                break
        std = self.stdlib.kind(name) if found is None else None
        if std is not None:  # the standard library, callable by callable (neutral: no category)
            category = STDLIB_KINDS.get(std[0])
            found = (category, std[1]) if category else None
        elif found is None:
            for c in ("releases-gil", "async-io", "io", "cpu"):
                m = self._matchers[c].match(name)
                if m is not None:
                    found = (c, m)
                    break
            neutral = self._neutral.match(name)
            if found is not None and neutral is not None and _specific(neutral) >= _specific(found[1]):
                found = None
        self._cache[name] = found
        return found

    def slow(self, name: str) -> bool:
        """A call that is slow by design (password hashing, key stretching): tens of milliseconds
        to a second of work in C, the GIL released."""
        return self._slow.match(name) is not None

    def declared(self, name: str) -> Optional[Tuple[str, str]]:
        """(category, pattern) when the user's [tool.concurlint.knowledge] names ``name``: what
        the user says about their own code wins over what the project's source shows."""
        for c in CATEGORIES:
            m = self._user[c].match(name)
            if m is not None:
                return c, m
        return None

    def cpu_weight(self, name: str, category: str) -> float:
        """The CPU weight of one call of ``name`` known to be of ``category`` (cpu/releases-gil)."""
        if category == "releases-gil":
            return RELEASES_GIL_WEIGHT
        declared = self.declared(name)
        if declared is not None and declared[0] == "cpu":
            return DECLARED_CPU_WEIGHT
        return CPU_CALL_WEIGHT

    def sized_cost(self, name: str, category: str, size: Optional[int],
                   handed_in: bool = False) -> Tuple[str, float, str]:
        """The cost model of rules/knowledge/stdlib.toml applied to one call of ``name`` (of
        ``category`` cpu or releases-gil) whose input is ``size`` bytes (None: not known).
        Returns (category, weight, what the evidence says): ``releases-gil`` below the size from
        which the call releases the GIL is ``cpu`` (hashing an 8-byte key holds it), and a
        ``cpu-per-size`` call weighs by its input. An input of unknown size releases the GIL as the
        entry says when it is ``handed_in`` (a parameter of the calling function, hashed whole: its
        callers size it); any other (``key.encode()``, ``str(token).encode()``, a local) weighs
        one call, for a hash or checksum (an entry with a threshold); compression always weighs
        ten."""
        kind = self.stdlib.kind(name) if self.declared(name) is None else None  # the user's word wins
        if category == "releases-gil":
            start = self.stdlib.releases_gil_from(name) if kind is not None else None
            if not start:
                return category, RELEASES_GIL_WEIGHT, "cpu, releases the GIL"
            if size is None and not handed_in:
                # a hash or checksum of a value the function makes and the code does not size (a
                # key or a password encoded, a token's repr, a signature base string) is one call:
                # GB/s in C, no evidence of heavy work alone; hashing every item of a loop is
                return category, CPU_CALL_WEIGHT, f"cpu, releases the GIL from {start}-byte inputs, size not known here"
            if size is None:  # the entry's kind stands, and the message says on what it depends
                return category, RELEASES_GIL_WEIGHT, f"cpu, releases the GIL from {start}-byte inputs, size not known here"
            if size < start:
                return "cpu", CPU_CALL_WEIGHT, f"cpu on a {size}-byte input: holds the GIL, released only from {start} bytes"
            return category, RELEASES_GIL_WEIGHT, f"cpu, releases the GIL: {size}-byte input, from {start} bytes"
        weight = self.cpu_weight(name, category)
        if size is None or kind is None or kind[0] != "cpu-per-size":
            return category, weight, "cpu"
        sized = min(MAX_SIZED_WEIGHT, max(MIN_SIZED_WEIGHT, size / SIZE_UNIT))
        return category, sized, f"cpu on a {size}-byte input: cost per size"

    def table(self, name: str) -> dict:
        return self.tables.get(name, {})


@lru_cache(maxsize=None)
def _shipped_tables() -> Dict[str, dict]:
    d = rules_dir() / "knowledge"
    return {p.stem: load_toml(p) for p in sorted(d.glob("*.toml"))}


def load(extra: Optional[Dict[str, List[str]]] = None) -> Knowledge:
    return Knowledge(_shipped_tables(), extra)

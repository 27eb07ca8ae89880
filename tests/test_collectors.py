"""The fact collectors compose into one visitor: each node type is handled in exactly one place."""
import ast

from concurlint.analysis import facts
from concurlint.analysis.extractor import COLLECTORS, Extractor


def test_each_node_type_has_one_handler():
    owners = {}
    for collector in COLLECTORS:
        for name in vars(collector):
            if name.startswith("visit_"):
                assert name not in owners, f"{name} is in both {owners.get(name)} and {collector.__name__}"
                owners[name] = collector.__name__
    assert set(Extractor.__bases__[:-1]) == set(COLLECTORS)
    assert Extractor.__bases__[-1] is ast.NodeVisitor


def test_collectors_keep_their_own_state_apart():
    """Two collectors initialising the same attribute would silently share it."""
    import inspect
    import re

    owners = {}
    for collector in COLLECTORS:
        init = next((f for n, f in vars(collector).items() if n.startswith("_init_")), None)
        if init is None:
            continue
        for attr in re.findall(r"self\.(\w+)(?::[^=]+)? =", inspect.getsource(init)):
            assert attr not in owners, f"{attr} is set up by {owners[attr]} and {collector.__name__}"
            owners[attr] = collector.__name__


def test_facts_api_is_unchanged():
    for name in ("Value", "Call", "Loop", "Access", "Function", "ClassInfo", "GlobalDef", "ModuleFacts", "extract"):
        assert hasattr(facts, name)
        if name != "extract":
            assert getattr(facts, name).__module__ == "concurlint.analysis.facts"  # pickled cache and shards


def test_facts_read_back_from_a_sealed_entry_are_the_facts_written():
    """Fact objects are stored as the tuple of their fields and decoded by assigning them in
    order (``facts.Record``): every field of every object comes back with its value and type, in
    the order ``__init__`` sets them; a memo the project pass sets on a fact is not stored."""
    from concurlint import knowledge
    from concurlint.engine.per_file import FileResult, analyse_source
    from concurlint.sealed import seal, unseal

    source = b'''"""A scraper: pages fetched on a thread pool, parsed in processes."""
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import requests

_lock = threading.Lock()
seen = {}


class Fetcher:
    def __init__(self, session=None, retries=3):
        self.session = session or requests.Session()
        self.retries = retries

    def fetch(self, url):
        for attempt in range(self.retries):
            with _lock:
                seen[url] = seen.get(url, 0) + 1
            return self.session.get(url, timeout=10).text


def crawl(urls):
    fetcher = Fetcher()
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(fetcher.fetch, urls))
    with ProcessPoolExecutor() as procs:
        return list(procs.map(len, pages))
'''
    result = analyse_source(source, "app/scraper.py", "app.scraper", False, knowledge.load(None))
    assert result.facts is not None and result.facts.calls and result.facts.functions
    back = unseal(seal(result), FileResult)
    assert back == result

    def walk(a, b):
        assert type(a) is type(b)
        if isinstance(a, facts.Record):
            assert list(vars(a)) == list(vars(b))  # every field, in __init__'s order
            for name in vars(a):
                walk(getattr(a, name), getattr(b, name))
        elif isinstance(a, dict):
            assert list(a) == list(b)
            for k in a:
                walk(a[k], b[k])
        elif isinstance(a, (list, tuple)):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                walk(x, y)
        else:
            assert a == b

    walk(result.facts, back.facts)

    result.facts.calls[0]._resolved = "a target memoised by one run's project pass"
    again = unseal(seal(result), FileResult)
    assert not hasattr(again.facts.calls[0], "_resolved")
    walk(back.facts, again.facts)

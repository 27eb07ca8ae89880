"""The shop's HTTP gateway and its rate limiter: request-sized helpers that look busy.

Each negative here is the shape of a wrong `cpu` on real code (bench/realcode, held-out sample of
seed 18, issue #13): a window of keys, text building, a table of routes, a
fuzzy match on an error path, a helper's one pass inherited by every function above it, a base
class whose subclasses do the listing. The positives beside them are the same shapes over the
data a function is handed, which stay `cpu`.
"""
import difflib
import re
import time

ROUTES = {r"/orders/\d+": "orders", r"/carts/\w+": "carts", r"/health": "health"}
LINE = re.compile(r"(\S+) (\S+) (\d{3}) (\d+)")


# --- range(): a count of data, or a setting of the object ----------------------------------------

class WindowLimiter:
    def __init__(self, key, window):
        self.key = key
        self.window = window

    def keys(self):  # kind: unknown
        # one key per second of the window (tens of strings): a setting, not data
        now = int(time.time())
        return ["%s@%s" % (self.key, now - i) for i in range(self.window)]


def rolling_sums(samples, width):  # kind: cpu
    # one sum per sample handed in: range(len(samples)) counts data
    return [sum(samples[i - width:i]) / width for i in range(width, len(samples))]


# --- building text is not arithmetic ---------------------------------------------------------------

def header_block(headers, prefix=b">"):  # kind: unknown
    out = b""
    for name, values in headers.items():
        for value in values:
            out += prefix + b" " + name + b": " + value
            out += b"\r\n"
    return out


def camel_case(key):  # kind: unknown
    result = ""
    upper = False
    for c in key:
        if c == "_":
            upper = True
        elif upper:
            result += c.upper()
            upper = False
        else:
            result += c
    return result


# --- library calls in a loop: over a table, or over the input ---------------------------------------

def route_name(path):  # kind: unknown
    # the same path against each of a handful of patterns
    for pattern, name in ROUTES.items():
        if re.fullmatch(pattern, path):
            return name
    return None


def access_totals(lines):  # kind: cpu
    # every line handed in is parsed: the regex works on the input each turn
    totals = {}
    for line in lines:
        m = LINE.match(line)
        if m:
            totals[m.group(2)] = totals.get(m.group(2), 0) + int(m.group(4))
    return totals


def backend(name, known):  # kind: unknown
    try:
        return known[name]
    except KeyError:
        # a fuzzy match that suggests the right name for a typo: an error path, not the work
        alts = [b for b in known if difflib.SequenceMatcher(None, name, b).ratio() > 0.6]
        raise ValueError(f"unknown backend {name!r}; did you mean {alts}?") from None


# --- a helper's one pass is its own verdict, not its caller's --------------------------------------

def checksum(data):  # kind: cpu
    total = 0
    for b in data:
        total = (total * 31 + b) % 1_000_000_007
    return total


def etag(body):  # kind: unknown
    # one pass over one response body, in checksum(): checksum is cpu, the caller is not on it
    return '"%08x"' % checksum(body)


def etags(bodies):  # kind: cpu
    # ... but a pass over every body handed in is
    return [checksum(b) for b in bodies]


# --- a base class whose subclasses do the work ------------------------------------------------------

class Store:
    def listing(self, prefix):
        """Every object under a prefix, with its details: each store lists its own way."""
        raise NotImplementedError

    def find(self, prefix):  # kind: unknown
        # light work around a listing the analysis cannot see (a network call in most stores)
        out = {}
        for name, info in self.listing(prefix).items():
            for alias in info.get("aliases", ()):
                if alias not in out:
                    out[alias] = info
        return dict(sorted(out.items()))

"""The nightly batch: standard-library helpers only, classified from rules/knowledge/stdlib.toml."""
import base64
import collections
import hashlib
import json
import os
import re
import statistics
import subprocess
import threading
import time
import urllib.parse
import zlib

WORD = re.compile(r"[a-z']+")


def export_paths(root, names):  # kind: unknown
    # path arithmetic only: os.path.join and splitext touch no disk
    out = []
    for name in names:
        stem, ext = os.path.splitext(name)
        out.append(os.path.join(root, stem.lower() + ext))
    return out


def query_string(params):  # kind: unknown
    return "&".join(urllib.parse.quote(k) + "=" + urllib.parse.quote(str(v)) for k, v in params.items())


def stale_exports(paths, horizon):  # kind: io
    return [p for p in paths if os.stat(p).st_mtime < horizon]


def compress_export(path):  # kind: io
    subprocess.run(["gzip", "-9", path], check=True)


def wait_for_upstream(ready: threading.Event):  # kind: io
    ready.wait()
    time.sleep(2)


def parse_events(lines):  # kind: cpu
    events = []
    for line in lines:
        events.append(json.loads(line))
    return events


def top_words(texts):  # kind: cpu
    counts = collections.Counter()
    for text in texts:
        counts.update(WORD.findall(text.lower()))
    return counts.most_common(20)


def latency_summary(samples):  # kind: cpu
    per_route = {}
    for route, values in samples.items():
        per_route[route] = (statistics.median(values), statistics.quantiles(values, n=20)[-1])
    return per_route


def fingerprints(blobs):  # kind: cpu, releases-gil
    return [hashlib.sha256(zlib.compress(b)).digest() for b in blobs]


def encode_attachments(blobs):  # kind: cpu
    return [base64.b64encode(b).decode("ascii") for b in blobs]


def checksums_hex(blobs):  # kind: cpu
    import binascii
    return [binascii.hexlify(b[:64]).decode() for b in blobs]


def suggest_routes(typos, routes):  # kind: cpu
    import difflib
    return {t: difflib.get_close_matches(t, routes, n=1) for t in typos}


def writable_spool(folder):  # kind: io
    return os.access(folder, os.W_OK)


def load_state(path):  # kind: io
    import shelve
    with shelve.open(path) as db:
        return dict(db)


def poller_for(sockets):  # kind: unknown
    import select
    poller = select.poll()
    for s in sockets:
        poller.register(s, select.POLLIN)
    return poller

"""Fetch feeds and images in threads; score articles."""
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from newsroom.text import score

SEEN = {}
stats = {"fetched": 0}
stats_lock = threading.Lock()


class FeedClient:
    def __init__(self, base_url):
        self.base_url = base_url
        self.session = requests.Session()

    def fetch(self, path):
        resp = self.session.get(f"{self.base_url}/{path}", timeout=10)
        resp.raise_for_status()
        with stats_lock:
            stats["fetched"] += 1
        return resp.text

    def fetch_unlocked(self, path):
        text = self.session.get(f"{self.base_url}/{path}", timeout=10).text
        fetches = SEEN.get(path, 0)  # CCL202: read, then write-back to a shared dict, no lock
        SEEN[path] = fetches + 1
        return text


def digest(blob):
    # hashlib releases the GIL on large buffers: fine in threads
    return hashlib.sha256(blob).hexdigest()


def rank(articles, keywords):
    return [score(a, keywords) for a in articles]


def crawl(client: FeedClient, paths, keywords):
    with ThreadPoolExecutor(max_workers=16) as pool:
        pages = list(pool.map(client.fetch, paths))
        cached = list(pool.map(client.fetch_unlocked, paths))
        sums = list(pool.map(digest, [p.encode() for p in pages]))
        # CPU-bound pure Python in a thread pool: serialised by the GIL (at low confidence: how long
        # the pages are, the code does not say, and processes pay off only on large data)
        scores = list(pool.map(score, pages, [keywords] * len(pages)))  # CCL101:low
        pool.submit(rank, pages, keywords)  # CCL101:low, CCL602: CPU work in threads; the future is dropped
    return pages, cached, sums, scores

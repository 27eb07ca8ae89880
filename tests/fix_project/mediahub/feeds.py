"""Feed fetcher: polls publishers' feeds on the event loop."""
import asyncio
import json
import time
from pathlib import Path

import requests

FEED_CACHE = Path("/var/cache/mediahub/feeds")
RETRY_DELAY = 0.5  # seconds between attempts


def read_cached(name):
    # the cache is a plain directory of JSON files
    path = FEED_CACHE / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def publisher_token(publisher):
    resp = requests.get(f"https://auth.example.com/{publisher}", timeout=5)
    return resp.json()["token"]


async def poll(publisher, attempts=3):
    for attempt in range(attempts):
        token = publisher_token(publisher)  # blocking helper
        if token:
            return token
        time.sleep(RETRY_DELAY * attempt)  # back off before the next attempt
    return None


async def refresh(names):
    results = {}
    for name in names:
        cached = read_cached(name)
        if cached is not None:
            results[name] = cached
            continue
        # a cold cache: fetch the feed itself
        results[name] = requests.get(f"https://feeds.example.com/{name}", timeout=10).json()
        time.sleep(0.1)
    return results


async def stream_updates(queue):
    while True:
        item = await queue.get()
        if item is None:
            break
        await asyncio.sleep(0)  # let the other pollers run

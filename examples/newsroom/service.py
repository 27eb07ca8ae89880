"""An asyncio service that serves scores and refreshes feeds."""
import asyncio
import time

import aiohttp
import requests

from newsroom.text import score

CACHE = {}


def load_config(path):
    with open(path) as f:
        return f.read()


def refresh_token():
    time.sleep(0.5)
    return requests.post("https://auth.example.com/token", timeout=5).json()


def auth_headers():
    return {"Authorization": refresh_token()["token"]}


async def fetch(session: aiohttp.ClientSession, url):
    async with session.get(url) as resp:
        return await resp.text()


async def handle_article(session: aiohttp.ClientSession, url, keywords):
    headers = auth_headers()  # CCL501: refresh_token() sleeps and posts synchronously
    text = await fetch(session, url)
    return score(text, keywords), headers


async def handle_article_offloaded(session: aiohttp.ClientSession, url, keywords):
    headers = await asyncio.to_thread(auth_headers)
    text = await fetch(session, url)
    loop = asyncio.get_running_loop()
    # offloaded, but to the default thread pool: pure-Python CPU work needs processes
    value = await loop.run_in_executor(None, score, text, keywords)  # CCL101
    return value, headers


async def refresh_all(urls):
    async with aiohttp.ClientSession() as session:
        for url in urls:
            asyncio.create_task(fetch(session, url))  # CCL503: the task can be garbage-collected
        results = await asyncio.gather(*(fetch(session, u) for u in urls))
        return results


def main():
    asyncio.run(refresh_all(["https://example.com/a", "https://example.com/b"]))


if __name__ == "__main__":
    main()

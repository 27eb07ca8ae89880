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
    # offloaded, but to the default thread pool: pure-Python CPU work needs processes (if the
    # articles are long: low confidence, as the code does not say how long they are)
    value = await loop.run_in_executor(None, score, text, keywords)  # CCL101:low
    return value, headers


async def refresh_all(urls, on_refreshed):
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(fetch(session, u) for u in urls))
        for url, result in zip(urls, results):
            # the caller's async callback, started and forgotten: its task can be garbage-collected
            asyncio.create_task(on_refreshed(url, result))  # CCL503
        log_refresh("all feeds", [len(results)])  # CCL507: no await: the coroutine is made and dropped, nothing is logged
        return results


async def log_refresh(url, result):
    print(url, result[0])


def main():
    asyncio.run(refresh_all(["https://example.com/a", "https://example.com/b"], log_refresh))


if __name__ == "__main__":
    main()

"""Websocket handlers: every message starts some background work."""
import asyncio
import logging

from mediahub.feeds import poll, refresh

log = logging.getLogger(__name__)


async def notify(user, text):
    await asyncio.sleep(0.01)
    log.info("notified %s: %s", user, text)


async def audit(event):
    await asyncio.sleep(0.01)


async def on_subscribe(user, publisher):
    # start polling; the client does not wait for it
    asyncio.create_task(poll(publisher))
    asyncio.create_task(notify(user, f"subscribed to {publisher}"))  # tell the user at once
    return {"ok": True}


async def on_refresh(user, names):
    loop = asyncio.get_running_loop()
    loop.create_task(audit({"user": user, "refresh": names}))
    return await refresh(names)


async def on_disconnect(user):
    task = asyncio.create_task(audit({"user": user, "left": True}))
    await task

"""Websocket handlers: every message starts some background work."""
import asyncio
import logging

from mediahub.feeds import poll, refresh

log = logging.getLogger(__name__)


async def notify(ws, text):
    await ws.send(text)
    log.info("notified %s", text)


async def audit(store, event):
    await store.append(event)


async def on_subscribe(ws, user, publisher):
    # start polling; the client does not wait for it
    asyncio.create_task(poll(publisher))
    asyncio.create_task(notify(ws, f"subscribed to {publisher}"))  # tell the user at once
    return {"ok": True}


async def on_refresh(store, user, names):
    loop = asyncio.get_running_loop()
    loop.create_task(audit(store, {"user": user, "refresh": names}))
    return await refresh(names)


async def on_disconnect(store, user):
    task = asyncio.create_task(audit(store, {"user": user, "left": True}))
    await task

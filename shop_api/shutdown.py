"""Stopping what a process started, each step bounded, so a SIGTERM always ends the process."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import dramatiq

from shop_api.broker import close_broker

log = logging.getLogger("shop_api.shutdown")

# How long one resource (a background task, the pool, the broker) gets to close after the
# requests in flight are done. Past it, it is abandoned (a task) or terminated (the pool).
CLOSE_SECONDS = 5.0
_RECANCEL_SECONDS = 0.1


async def stop_task(task: asyncio.Task) -> bool:
    """Cancel `task` and wait until it ends, at most CLOSE_SECONDS; True when it ended.

    Cancelled again until it ends, not once: on Python 3.11, `asyncio.wait_for` returns normally
    when the cancellation arrives just after what it waits for completed (CPython gh-86296,
    fixed in 3.12). The outbox relay waits for its wake-up event that way, in a loop, so a
    request committing just before shutdown made it carry on, and a single `cancel()` then
    `await task` waited forever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLOSE_SECONDS
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.error("%s did not stop within %.0f s; leaving it", task.get_name(), CLOSE_SECONDS)
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(_RECANCEL_SECONDS, remaining))
    if not task.cancelled() and task.exception() is not None:
        log.error("%s had failed", task.get_name(), exc_info=task.exception())
    return True


async def close_pool(pool: asyncpg.Pool) -> None:
    """Close gracefully (waits for acquired connections), or terminate them after CLOSE_SECONDS."""
    try:
        async with asyncio.timeout(CLOSE_SECONDS):
            await pool.close()
    except TimeoutError:
        log.error("the database pool did not close within %.0f s; terminating it", CLOSE_SECONDS)
        pool.terminate()


async def stop_broker(broker: dramatiq.Broker) -> None:
    """`close_broker` off the event loop (a RabbitMQ close talks to the server), bounded."""
    try:
        async with asyncio.timeout(CLOSE_SECONDS):
            await asyncio.to_thread(close_broker, broker)
    except TimeoutError:
        log.error("the broker did not close within %.0f s", CLOSE_SECONDS)

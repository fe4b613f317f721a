"""The outbox relay: committed outbox rows become broker messages, at least once.

Runs inside every web process (woken right after a request commits an outbox row: the fast path)
and as its own process (`shop-api relay`). Any number may run: each batch takes rows with
FOR UPDATE SKIP LOCKED, enqueues them, and marks them sent in the same transaction. A crash
after enqueue and before commit sends a row again later, which the idempotent actors absorb;
a broker outage defers the batch with backoff and loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import asyncpg
import dramatiq

from .db import create_pool, fetch_all, queries
from .events import Task, tasks_for
from .settings import Settings

log = logging.getLogger("shop_api.relay")

BATCH_SIZE = 100
POLL_SECONDS = 1.0
MAINTENANCE_SECONDS = 60.0

Dispatch = Callable[[list[Task]], Awaitable[None]]


def broker_dispatch(broker: dramatiq.Broker) -> Dispatch:
    """Enqueue tasks on a Dramatiq broker by actor name, without importing the actors."""

    def enqueue_all(tasks: list[Task]) -> None:
        for task in tasks:
            broker.enqueue(
                dramatiq.Message(
                    queue_name=task.queue_name,
                    actor_name=task.actor_name,
                    args=task.args,
                    kwargs={},
                    options={},
                )
            )

    async def dispatch(tasks: list[Task]) -> None:
        # The broker clients block; keep them off the event loop.
        await asyncio.to_thread(enqueue_all, tasks)

    return dispatch


async def relay_batch(pool: asyncpg.Pool, dispatch: Dispatch, batch_size: int = BATCH_SIZE) -> int:
    """Send one batch of due rows; returns how many were sent."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await fetch_all(queries.outbox_claim_batch(conn, batch_size=batch_size))
        sent: list[int] = []
        for row in rows:
            try:
                await dispatch(tasks_for(row["id"], row["topic"], row["payload"]))
            except Exception:
                # Broker down, or a row no route knows: retried with backoff, never dropped.
                log.warning("could not relay outbox row %s; deferring", row["id"], exc_info=True)
                await queries.outbox_defer(conn, id=row["id"])
                break
            sent.append(row["id"])
        if sent:
            await queries.outbox_mark_sent(conn, ids=sent)
    return len(sent)


async def run_relay(
    pool: asyncpg.Pool,
    dispatch: Dispatch,
    wake: asyncio.Event | None = None,
    *,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Drain the outbox until cancelled: at once when woken, else every `poll_seconds`."""
    wake = wake or asyncio.Event()
    while True:
        wake.clear()  # before the batch: a wake during it means rows it may not have seen
        try:
            sent = await relay_batch(pool, dispatch)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("outbox relay could not reach the database", exc_info=True)
            sent = 0
        if sent == BATCH_SIZE:
            continue  # more are waiting
        try:
            await asyncio.wait_for(wake.wait(), poll_seconds)
        except TimeoutError:
            pass


async def run_maintenance(pool: asyncpg.Pool, settings: Settings) -> None:
    """The periodic jobs: re-drive payments stuck in pending, purge expired idempotency keys,
    cancel unpaid orders past their payment timeout."""
    from . import idempotency
    from .domain.order_expiry import expire_unpaid_orders
    from .domain.payments import reconcile

    while True:
        try:
            async with pool.acquire() as conn:
                stuck = await reconcile(
                    conn, older_than_seconds=settings.reconcile_after_seconds
                )
                purged = await idempotency.purge_expired(conn)
                expired = await expire_unpaid_orders(
                    conn, timeout_minutes=settings.order_payment_timeout_minutes
                )
            if stuck or purged or expired:
                log.info("maintenance: %d stuck payments re-driven, %d idempotency keys purged, "
                         "%d unpaid orders expired", len(stuck), purged, len(expired))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.warning("maintenance could not reach the database", exc_info=True)
        await asyncio.sleep(MAINTENANCE_SECONDS)


async def run_relay_process(settings: Settings) -> None:
    """`shop-api relay`: the relay and the periodic jobs, until SIGINT or SIGTERM."""
    from .broker import create_broker

    pool = await create_pool(settings.database_url, min_size=1, max_size=3)
    broker = create_broker(settings.effective_broker_url)
    tasks = [
        asyncio.create_task(run_relay(pool, broker_dispatch(broker))),
        asyncio.create_task(run_maintenance(pool, settings)),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("outbox relay running")
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(broker.close)
        await pool.close()

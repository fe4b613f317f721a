"""The outbox relay: outbox rows become broker messages, until their effects are done.

Runs inside every web process (woken right after a request commits an outbox row: the fast path)
and as its own process (`shop-api relay`). Any number may run: each batch leases due rows with
FOR UPDATE SKIP LOCKED, moving their next due time forward in the same statement, then enqueues
them with no transaction open. A row stays open until its tasks report done (outbox.complete),
so one that was enqueued and not completed in time (the broker lost it, a worker died with it)
is enqueued again; the idempotent actors absorb the copies. A broker outage defers the batch
with backoff and loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import dramatiq

from shop_api.db import create_pool, fetch_all, queries
from shop_api.domain.events import Task, tasks_for
from shop_api.outages import DEPENDENCY_DOWN
from shop_api.settings import Settings

log = logging.getLogger("shop_api.relay")

BATCH_SIZE = 100
POLL_SECONDS = 1.0
MAINTENANCE_SECONDS = 60.0

Dispatch = Callable[[list[Task]], Awaitable[None]]


@dataclass(frozen=True)
class Redelivery:
    """When a row enqueued and not completed is sent again: after `after_seconds`, doubling
    with each send up to `max_delay_seconds`, `max_enqueues` sends in all."""

    after_seconds: float = 300.0
    max_delay_seconds: float = 3600.0
    max_enqueues: int = 10

    @classmethod
    def from_settings(cls, settings: Settings) -> Redelivery:
        return cls(
            after_seconds=settings.outbox_redeliver_after_seconds,
            max_enqueues=settings.outbox_max_sends,
        )


def broker_dispatch(broker: dramatiq.Broker) -> Dispatch:
    """Enqueue tasks on a Dramatiq broker by actor name, without importing the actors."""

    def enqueue_all(tasks: list[Task]) -> None:
        for task in tasks:
            broker.enqueue(
                dramatiq.Message(
                    queue_name=task.queue_name,
                    actor_name=task.actor_name,
                    args=task.args,
                    kwargs=task.kwargs,
                    options={},
                )
            )

    async def dispatch(tasks: list[Task]) -> None:
        # The broker clients block; keep them off the event loop.
        await asyncio.to_thread(enqueue_all, tasks)

    return dispatch


def open_tasks(row: asyncpg.Record) -> list[Task]:
    """The row's tasks that have not reported done yet."""
    pending = set(row["pending_tasks"])
    return [
        task for task in tasks_for(row["id"], row["topic"], row["payload"])
        if task.actor_name in pending
    ]


async def relay_batch(
    pool: asyncpg.Pool,
    dispatch: Dispatch,
    batch_size: int = BATCH_SIZE,
    *,
    redelivery: Redelivery = Redelivery(),
) -> int:
    """Send one batch of due rows; returns how many were sent."""
    rows = await fetch_all(queries.outbox_lease_batch(
        pool,
        batch_size=batch_size,
        redeliver_after_seconds=redelivery.after_seconds,
        max_delay_seconds=redelivery.max_delay_seconds,
        max_enqueues=redelivery.max_enqueues,
    ))
    sent: list[int] = []
    for index, row in enumerate(rows):
        if row["enqueues"]:
            log.info("outbox row %s (%s) not completed after %d sends; sending again",
                     row["id"], row["topic"], row["enqueues"])
        if row["enqueues"] + 1 >= redelivery.max_enqueues:
            log.error("outbox row %s (%s): last send; it will wait for a person after this",
                      row["id"], row["topic"])
        try:
            await dispatch(open_tasks(row))
        except Exception:
            # Broker down, or a row no route knows: retried with backoff, never dropped.
            log.warning("could not relay outbox row %s; deferring", row["id"], exc_info=True)
            await queries.outbox_defer(pool, ids=[later["id"] for later in rows[index:]])
            break
        sent.append(row["id"])
    if sent:
        await queries.outbox_mark_enqueued(pool, ids=sent)
    return len(sent)


async def run_relay(
    pool: asyncpg.Pool,
    dispatch: Dispatch,
    wake: asyncio.Event | None = None,
    *,
    poll_seconds: float = POLL_SECONDS,
    redelivery: Redelivery = Redelivery(),
) -> None:
    """Drain the outbox until cancelled: at once when woken, else every `poll_seconds`."""
    wake = wake or asyncio.Event()
    while True:
        wake.clear()  # before the batch: a wake during it means rows it may not have seen
        try:
            sent = await relay_batch(pool, dispatch, redelivery=redelivery)
        except (asyncpg.PostgresError, *DEPENDENCY_DOWN):
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
    from shop_api.domain import idempotency_keys
    from shop_api.domain.order_expiry import expire_unpaid_orders
    from shop_api.domain.payments import reconcile

    while True:
        try:
            async with pool.acquire() as conn:
                stuck = await reconcile(
                    conn,
                    older_than_seconds=settings.reconcile_after_seconds,
                    lease_seconds=settings.payment_lease_seconds,
                )
                purged = await idempotency_keys.purge_expired(conn)
                expired = await expire_unpaid_orders(
                    conn, timeout_minutes=settings.order_payment_timeout_minutes
                )
            if stuck or purged or expired:
                log.info("maintenance: %d stuck payments re-driven, %d idempotency keys purged, "
                         "%d unpaid orders expired", len(stuck), purged, len(expired))
        except (asyncpg.PostgresError, *DEPENDENCY_DOWN):
            log.warning("maintenance could not reach the database", exc_info=True)
        await asyncio.sleep(MAINTENANCE_SECONDS)


async def run_relay_process(settings: Settings) -> None:
    """`shop-api relay`: the relay and the periodic jobs, until SIGINT or SIGTERM."""
    from shop_api.broker import create_broker
    from shop_api.shutdown import close_pool, stop_broker, stop_task

    pool = await create_pool(settings.database_url, min_size=1, max_size=3)
    broker = create_broker(
        settings.effective_broker_url, heartbeat_seconds=settings.broker_heartbeat_seconds
    )
    tasks = [
        asyncio.create_task(run_relay(
            pool, broker_dispatch(broker), redelivery=Redelivery.from_settings(settings)
        )),
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
        # Each step bounded (see shutdown.py): a SIGTERM always ends the process.
        for task in tasks:
            await stop_task(task)
        await stop_broker(broker)
        await close_pool(pool)

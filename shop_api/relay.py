"""The outbox relay: outbox rows become broker messages, until their effects are done.

Runs inside every web process (woken right after a request commits an outbox row: the fast path)
and as its own process (`shop-api relay`). Any number may run: each batch leases due rows with
FOR UPDATE SKIP LOCKED, moving their next due time forward in the same statement, then enqueues
them with no transaction open. A row stays open until its tasks report done (outbox.complete),
so one that was enqueued and not completed in time (the broker lost it, a worker died with it)
is enqueued again; the idempotent actors absorb the copies. A broker outage defers the batch
with backoff and loses nothing.

Webhooks hang off the same loop. A row of a webhook topic carries the task `webhook_fan_out`,
which the relay does itself rather than through the broker: in one statement it stores the
event, one delivery per subscribed endpoint and the task's completion (idempotent, so a row
relayed twice fans out once). Each pass then leases the deliveries that are due, as it leases
outbox rows, and hands each to the `deliver_webhook` actor; so a delivery fanned out is sent on
the same pass, a retry comes when its time does, and one whose message was lost comes back.
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
from shop_api.domain.events import DELIVER_WEBHOOK, RELAY_TASKS, WEBHOOK_FAN_OUT, Task, tasks_for
from shop_api.domain.webhook_events import event_type_of
from shop_api.integrations.webhook_delivery import LEASE_SECONDS
from shop_api.integrations.webhook_payloads import event_data
from shop_api.outages import DEPENDENCY_DOWN, is_dependency_down
from shop_api.settings import Settings

log = logging.getLogger("shop_api.relay")

BATCH_SIZE = 100
POLL_SECONDS = 1.0
MAINTENANCE_SECONDS = 60.0
# A delivery the broker refused is due again after this long.
DELIVERY_DEFER_SECONDS = 5.0

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
            if task.actor_name in RELAY_TASKS:
                continue  # done by the relay itself, never a message
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
        if tasks:
            await asyncio.to_thread(enqueue_all, tasks)

    return dispatch


def open_tasks(row: asyncpg.Record) -> list[Task]:
    """The row's tasks that have not reported done yet (the dispatch leaves out the relay's
    own)."""
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
    """Send one batch of due rows, then the webhook deliveries due; returns how many rows were
    sent."""
    rows, _ = await relay_pass(pool, dispatch, batch_size, redelivery=redelivery)
    return rows


async def relay_pass(
    pool: asyncpg.Pool,
    dispatch: Dispatch,
    batch_size: int = BATCH_SIZE,
    *,
    redelivery: Redelivery = Redelivery(),
) -> tuple[int, int]:
    """One pass: a batch of outbox rows (fanned out and sent), then a batch of due webhook
    deliveries (among them those just fanned out); returns how many of each were sent."""
    rows = await fetch_all(queries.outbox_lease_batch(
        pool,
        batch_size=batch_size,
        redeliver_after_seconds=redelivery.after_seconds,
        max_delay_seconds=redelivery.max_delay_seconds,
        max_enqueues=redelivery.max_enqueues,
    ))
    await fan_out(pool, [row for row in rows if WEBHOOK_FAN_OUT in row["pending_tasks"]])
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
    deliveries = await relay_deliveries(pool, dispatch, batch_size)
    return len(sent), deliveries


async def fan_out(
    pool: asyncpg.Pool,
    rows: list[asyncpg.Record],
) -> None:
    """Turn outbox rows of webhook topics into events and deliveries, and close their
    fan-out task; rows no endpoint subscribes to only close it. Three statements for the
    batch, plus the reads of the subscribed events' resources."""
    if not rows:
        return
    types = [event_type_of(row["topic"]) for row in rows]
    try:
        subscribed = {
            found["id"] for found in await fetch_all(queries.webhook_subscribed_ids(
                pool, ids=[row["id"] for row in rows], types=types
            ))
        }
        events = []
        async with pool.acquire() as conn:
            for row, event_type in zip(rows, types, strict=True):
                if row["id"] in subscribed:
                    data = await _data(conn, event_type, row)
                    events.append({"id": row["id"], "type": event_type, "data": data})
            async with conn.transaction():
                if events:
                    await queries.webhook_fan_out(conn, events=events)
                await queries.outbox_complete_task(
                    conn, ids=[row["id"] for row in rows], task=WEBHOOK_FAN_OUT
                )
    except Exception:
        # The database went away mid-batch: the rows come back soon, nothing was half-stored.
        log.warning("could not fan out %d webhook events; deferring", len(rows), exc_info=True)
        await queries.outbox_defer(pool, ids=[row["id"] for row in rows])


async def _data(conn: asyncpg.Connection, event_type: str, row: asyncpg.Record) -> dict:
    try:
        return await event_data(conn, event_type, row["payload"])
    except Exception as exc:
        if is_dependency_down(exc) or isinstance(exc, asyncpg.PostgresError):
            raise
        # A payload this code cannot read must not hold up every event behind it.
        log.exception("webhook data of outbox row %s (%s)", row["id"], event_type)
        return {"id": None}


async def relay_deliveries(pool: asyncpg.Pool, dispatch: Dispatch,
                           batch_size: int = BATCH_SIZE) -> int:
    """Hand the due webhook deliveries to the broker; returns how many were handed."""
    leased = await fetch_all(queries.webhook_lease_deliveries(
        pool, batch_size=batch_size, lease_seconds=LEASE_SECONDS
    ))
    if not leased:
        return 0
    try:
        await dispatch([Task(DELIVER_WEBHOOK, (row["id"], row["leases"])) for row in leased])
    except Exception:
        # Those already enqueued carry a lease the next handing makes stale: none is sent twice.
        log.warning("could not hand %d webhook deliveries to the broker; deferring",
                    len(leased), exc_info=True)
        await queries.webhook_defer_deliveries(
            pool, ids=[row["id"] for row in leased], delay_seconds=DELIVERY_DEFER_SECONDS
        )
        return 0
    return len(leased)


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
            sent = await relay_pass(pool, dispatch, redelivery=redelivery)
        except (asyncpg.PostgresError, *DEPENDENCY_DOWN):
            log.warning("outbox relay could not reach the database", exc_info=True)
            sent = (0, 0)
        if BATCH_SIZE in sent:
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

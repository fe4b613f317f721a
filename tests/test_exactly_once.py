"""Exactly-once effects under the faults that break them: real worker processes killed with
SIGKILL mid-call, a broker Redis killed with messages queued, PostgreSQL stopped right after a
charge, messages delivered three times at once, an SMTP server that takes 35 s to say 250.

Each test counts what the outside world saw: the sandbox gateway's own table (one row per
idempotency key, `requests` counting every call) and the messages the SMTP server received.
The broker is a private Redis (tests/faults.py), so killing it touches nothing else, and the
workers are `dramatiq workers` processes, as in production.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from pathlib import Path

import dramatiq
import pytest
from factories import (
    create_account,
    create_buyers,
    create_product,
    eventually,
    place_order,
    ready,
)
from faults import PrivatePostgres
from processes import WorkerProcess
from smtp_server import SmtpServer

from shop_api.broker import create_broker
from shop_api.db import create_pool
from shop_api.relay import Redelivery, broker_dispatch, relay_batch
from shop_api.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 60
# Short, so the suite is quick; FAULT_HEARTBEAT_SECONDS=20 measures the default.
HEARTBEAT_SECONDS = float(os.environ.get("FAULT_HEARTBEAT_SECONDS", "5"))
LEASE_SECONDS = 8


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mailbox(smtp):
    smtp.mailbox.reset()
    return smtp.mailbox


@pytest.fixture
def worker_env(services, running_redis, smtp):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": running_redis.url,
        "BROKER_URL": running_redis.url,
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "ENV": "test",
        "BROKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "PAYMENT_LEASE_SECONDS": str(LEASE_SECONDS),
        "DB_POOL_MAX": "4",
    }
    return env


@pytest.fixture
def workers(worker_env, tmp_path):
    """Start worker processes with `workers(**extra_env)`; all are stopped after the test."""
    started: list[WorkerProcess] = []

    def start(**extra: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess({**worker_env, **extra}, log).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def relay(running_redis):
    """Drain the outbox into the private broker, resending what is open after 3 s."""
    broker = create_broker(running_redis.url, heartbeat_seconds=HEARTBEAT_SECONDS)
    dispatch = broker_dispatch(broker)
    redelivery = Redelivery(after_seconds=3, max_delay_seconds=3)

    async def drain(pool) -> int:
        return await relay_batch(pool, dispatch, redelivery=redelivery)

    drain.broker = broker
    yield drain
    broker.close()


# The fault tests wait longer: a server comes back, a heartbeat runs out.
eventually = functools.partial(eventually, within=WAIT_SECONDS)


async def operations(pool, operation: str) -> list[dict]:
    rows = await pool.fetch(
        "SELECT idempotency_key, status, requests FROM sandbox_gateway_operations"
        " WHERE operation = $1 ORDER BY idempotency_key",
        operation,
    )
    return [dict(row) for row in rows]


async def payment_status(pool, payment_id: int) -> str:
    return await pool.fetchval("SELECT status FROM payments WHERE id = $1", payment_id)


async def pay(client, buyer, order_id: int, token: str = "tok_visa") -> int:
    response = await client.post(
        "/api/payments/process",
        json={"order_id": order_id, "payment_token": token},
        headers=buyer.headers,
    )
    assert response.status == 202, await response.text()
    return (await response.json())["id"]


def send_copies(broker: dramatiq.Broker, actor_name: str, queue: str, *args, copies: int) -> None:
    """What a broker redelivering, or a reconciliation re-driving, amounts to: more messages."""
    for _ in range(copies):
        broker.enqueue(dramatiq.Message(
            queue_name=queue, actor_name=actor_name, args=args, kwargs={}, options={}
        ))


@pytest.fixture
async def pool(services):
    created = await create_pool(services.database_url, min_size=1, max_size=4)
    yield created
    await created.close()


async def test_three_copies_at_once_charge_once_and_refund_once(
    client, db, settings, pool, relay, workers, mailbox
):
    workers(SANDBOX_LATENCY_SECONDS="1")
    buyer = await create_account(db, "triple@example.com", settings=settings)
    product = await create_product(db, price="20.00", stock=5)
    order = await place_order(client, buyer, (product, 1))
    payment_id = await pay(client, buyer, order["id"])
    await relay(pool)  # the first copy
    send_copies(relay.broker, "settle_payment", "payments", payment_id, copies=2)
    await eventually(lambda: _is(payment_status(pool, payment_id), "succeeded"),
                     pool=pool, relay=relay)
    charges = await operations(pool, "charge")
    assert charges == [
        {"idempotency_key": f"shop-payment-{payment_id}-charge", "status": "succeeded",
         "requests": 1}
    ]

    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status == 200
    await relay(pool)
    send_copies(relay.broker, "refund_order", "payments", order["id"], copies=2)
    send_copies(relay.broker, "refund_payment", "payments", payment_id, copies=1)
    await eventually(lambda: _is(payment_status(pool, payment_id), "refunded"),
                     pool=pool, relay=relay)
    await asyncio.sleep(2)  # let the late copies run and find nothing to do
    refunds = await operations(pool, "refund")
    assert [(row["status"], row["requests"]) for row in refunds] == [("succeeded", 1)]

    async def mailed():
        return sorted(mailbox.subjects()) if len(mailbox.messages) >= 3 else None

    assert await eventually(mailed, pool=pool, relay=relay) == sorted([
        f"Order #{order['id']} confirmed",
        f"Receipt for order #{order['id']}",
        f"Order #{order['id']} was cancelled",
    ])

    async def outbox_done():
        # An email is delivered before its task is marked done on the outbox row: wait for it.
        open_rows = await pool.fetchval("SELECT count(*) FROM outbox WHERE completed_at IS NULL")
        return open_rows == 0 or None

    assert await eventually(outbox_done, pool=pool, relay=relay)


async def test_a_worker_killed_mid_charge_is_taken_over_without_a_second_charge(
    client, db, settings, pool, running_redis, workers, mailbox
):
    # The relay does not send the row again during the test: what comes back is the killed
    # worker's own message, given back by the broker once the worker's heartbeat is missed.
    broker = create_broker(running_redis.url, heartbeat_seconds=HEARTBEAT_SECONDS)
    dispatch = broker_dispatch(broker)

    async def relay(pool):
        return await relay_batch(pool, dispatch, redelivery=Redelivery(after_seconds=600))

    # A lease shorter than the heartbeat: what is measured is the broker giving the message back.
    first = workers(SANDBOX_LATENCY_SECONDS="30", PAYMENT_LEASE_SECONDS="2")
    buyer = await create_account(db, "killed@example.com", settings=settings)
    product = await create_product(db, price="20.00", stock=5)
    order = await place_order(client, buyer, (product, 1))
    payment_id = await pay(client, buyer, order["id"])

    async def charged():
        return await operations(pool, "charge")

    # The worst moment: the gateway has taken the money, its answer is still on the way.
    await eventually(charged, pool=pool, relay=relay)
    first.kill()
    killed_at = time.monotonic()
    workers(PAYMENT_LEASE_SECONDS="2")
    await eventually(lambda: _is(payment_status(pool, payment_id), "succeeded"),
                     pool=pool, relay=relay)
    recovered_in = time.monotonic() - killed_at
    print(f"\nsettled {recovered_in:.1f} s after the worker was killed "
          f"(heartbeat {HEARTBEAT_SECONDS} s, lease 2 s)")
    assert [row["requests"] for row in await operations(pool, "charge")] == [1]
    assert await pool.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "paid"
    receipt = f"Receipt for order #{order['id']}"
    await eventually(lambda: ready(receipt in mailbox.subjects()), pool=pool, relay=relay)
    assert mailbox.subjects().count(receipt) == 1
    broker.close()


async def test_the_database_down_right_after_a_charge_never_fails_the_payment(
    aiohttp_client, settings, running_redis, smtp, tmp_path_factory, tmp_path
):
    postgres = PrivatePostgres(tmp_path_factory.mktemp("postgres"))
    try:
        await _database_down_after_charge(
            aiohttp_client, settings, postgres, running_redis, smtp, tmp_path
        )
    finally:
        postgres.close()


async def _database_down_after_charge(aiohttp_client, settings, postgres, redis, smtp, tmp_path):
    from dataclasses import replace

    private = replace(settings, database_url=postgres.url)
    client = await aiohttp_client(create_app(private))
    pool = await create_pool(postgres.url, min_size=1, max_size=2)
    broker = create_broker(redis.url, heartbeat_seconds=HEARTBEAT_SECONDS)
    dispatch = broker_dispatch(broker)
    worker = WorkerProcess({
        **os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": postgres.url,
        "REDIS_URL": redis.url, "BROKER_URL": redis.url, "ENV": "test",
        "EMAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
        "BROKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        "PAYMENT_LEASE_SECONDS": str(LEASE_SECONDS), "SANDBOX_LATENCY_SECONDS": "2",
    }, tmp_path / "worker.log").start()
    try:
        async with pool.acquire() as db:
            buyer = await create_account(db, "outage@example.com", settings=private)
            product = await create_product(db, price="20.00", stock=5)
        order = await place_order(client, buyer, (product, 1))
        payment_id = await pay(client, buyer, order["id"])
        await relay_batch(pool, dispatch)
        await eventually(lambda: operations(pool, "charge"))
        # The charge is made; its answer arrives in 2 s, to a database that is gone for 30 s
        # (the old settlement spent its five retries in about 15 s and failed the payment).
        postgres.stop("immediate")
        await asyncio.sleep(30)
        postgres.start()
        await eventually(lambda: _is(payment_status(pool, payment_id), "succeeded"),
                         within=120)
        assert [row["requests"] for row in await operations(pool, "charge")] == [1]
        assert await pool.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == (
            "paid"
        )
        assert await pool.fetchval("SELECT count(*) FROM payments") == 1
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'refund.due'") == 0
    finally:
        worker.stop()
        broker.close()
        await pool.close()


async def test_a_broker_that_loses_its_messages_loses_nothing(
    client, db, settings, pool, relay, workers, running_redis, mailbox
):
    # Two paid orders first, with a worker running.
    worker = workers()
    buyers = await create_buyers(db, settings, 10, prefix="lost")
    product = await create_product(db, price="5.00", stock=100)
    paid = []
    for buyer in buyers[:2]:
        order = await place_order(client, buyer, (product, 1))
        payment_id = await pay(client, buyer, order["id"])
        paid.append((buyer, order, payment_id))
    for _, _, payment_id in paid:
        await eventually(lambda pid=payment_id: _is(payment_status(pool, pid), "succeeded"),
                         pool=pool, relay=relay)
    await eventually(lambda: ready(len(mailbox.messages) == 4), pool=pool, relay=relay)
    worker.stop()
    mailbox.reset()

    # 8 orders (8 confirmation emails) and 2 cancellations of paid orders (2 refunds, 2 emails)
    # handed to the broker, which then dies with them (no persistence) and comes back empty.
    for buyer in buyers[2:]:
        await place_order(client, buyer, (product, 1))
    for buyer, order, _ in paid:
        response = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
        assert response.status == 200
    assert await relay(pool) == 10
    running_redis.kill()
    running_redis.start()

    workers()
    await eventually(lambda: ready(len(mailbox.messages) >= 10), pool=pool, relay=relay)
    for _, _, payment_id in paid:
        await eventually(lambda pid=payment_id: _is(payment_status(pool, pid), "refunded"),
                         pool=pool, relay=relay)
    await asyncio.sleep(2)
    subjects = mailbox.subjects()
    assert len(subjects) == 10 and len(set(subjects)) == 10
    assert sum("confirmed" in subject for subject in subjects) == 8
    refunds = await operations(pool, "refund")
    assert [row["requests"] for row in refunds] == [1, 1]
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE completed_at IS NULL") == 0


async def test_a_slow_smtp_server_gets_each_email_once(
    client, db, settings, pool, relay, workers, mailbox
):
    mailbox.delay = 35  # the server takes 35 s to answer the message with 250
    workers()
    buyer = await create_account(db, "patient@example.com", settings=settings)
    product = await create_product(db, price="20.00", stock=5)
    order = await place_order(client, buyer, (product, 1))
    await relay(pool)
    event = await pool.fetchval("SELECT 'outbox:' || id FROM outbox WHERE topic = 'order.placed'")
    await eventually(lambda: ready(len(mailbox.messages) == 1))
    # Two more copies while the first is still waiting for its 250.
    send_copies(relay.broker, "send_email", "emails", "order_confirmation", event,
                {"order_id": order["id"]}, copies=2)
    await asyncio.sleep(3)
    # No transaction, and no claim row lock, is held while the server takes its time.
    held = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
    )
    assert held == 0

    async def sent():
        return await pool.fetchval(
            "SELECT status = 'sent' FROM sent_emails WHERE event_key = $1", event
        )

    await eventually(sent, within=90)
    await asyncio.sleep(3)  # the copies run again and find it sent
    assert len(mailbox.messages) == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE completed_at IS NULL") == 0


async def test_a_worker_killed_after_the_250_resends_with_the_same_message_id(
    client, db, settings, pool, relay, workers, mailbox
):
    # Short SMTP timeouts make the claim's lease short: 1 + 8 * 1 + 1 = 10 s.
    fast = {"SMTP_CONNECT_TIMEOUT": "1", "SMTP_TIMEOUT": "1"}
    first = workers(**fast)
    mailbox.on_message = lambda message: first.kill()  # dies before it hears the 250
    buyer = await create_account(db, "twice@example.com", settings=settings)
    product = await create_product(db, price="20.00", stock=5)
    order = await place_order(client, buyer, (product, 1))
    await eventually(lambda: ready(len(mailbox.messages) == 1), pool=pool, relay=relay)
    mailbox.on_message = None
    workers(**fast)
    event = await pool.fetchval("SELECT 'outbox:' || id FROM outbox WHERE topic = 'order.placed'")

    async def sent():
        return await pool.fetchrow(
            "SELECT status, attempts FROM sent_emails WHERE event_key = $1 AND status = 'sent'",
            event,
        )

    row = await eventually(sent, pool=pool, relay=relay)
    assert row["attempts"] == 2
    assert mailbox.subjects() == [f"Order #{order['id']} confirmed"] * 2
    first_id, second_id = mailbox.message_ids()
    assert first_id == second_id  # so the receiving side can drop the copy


async def test_workers_take_no_message_before_their_pool_is_open(
    client, db, settings, pool, relay, workers, mailbox
):
    buyer = await create_account(db, "early@example.com", settings=settings)
    product = await create_product(db, price="20.00", stock=5)
    order = await place_order(client, buyer, (product, 1))
    payment_id = await pay(client, buyer, order["id"])
    assert await relay(pool) == 2  # queued before any worker runs
    worker = workers()
    await eventually(lambda: _is(payment_status(pool, payment_id), "succeeded"))
    await eventually(lambda: ready(len(mailbox.messages) == 2), pool=pool, relay=relay)
    output = worker.output()
    assert "worker resources are opened" not in output
    assert "Retrying message" not in output


async def _is(value, wanted) -> bool:
    return (await value) == wanted

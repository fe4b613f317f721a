"""Webhooks end to end, as production runs them: `shop-api relay` and `dramatiq workers` as
processes of their own, the test Redis as the broker, a real receiver on 127.0.0.1.

The web app (in the test process, its own relay off) writes the outbox; the relay process fans
out and hands deliveries to the broker; the worker process settles the payment, and signs and
POSTs each event with its own client session.
"""

from __future__ import annotations

import functools

import pytest
from factories import create_account, create_product, eventually, place_order
from processes import RelayProcess, WorkerProcess, background_env
from webhook_receiver import verify

from shop_api.db import create_pool
from shop_api.domain import outbox

SECRET = "whsec_test_end_to_end_42"
WAIT_SECONDS = 60

eventually = functools.partial(eventually, within=WAIT_SECONDS)


@pytest.fixture
async def pool(services):
    created = await create_pool(services.database_url, min_size=1, max_size=4)
    yield created
    await created.close()


@pytest.fixture
def processes(services, tmp_path):
    """The worker and the relay, started by the test once its endpoint exists."""
    env = background_env(services, tmp_path)
    started = []

    def start() -> None:
        started.append(WorkerProcess(env, tmp_path / "worker.log").start())
        started.append(RelayProcess(env, tmp_path / "relay.log").start())

    yield start
    for process in started:
        process.stop()
    for process in started:
        print(process.output()[-3000:])


async def add_endpoint(db, url: str, events: list[str]) -> int:
    return await db.fetchval(
        "INSERT INTO webhook_endpoints (url, events, secret) VALUES ($1, $2, $3) RETURNING id",
        url, events, SECRET,
    )


async def test_a_placed_and_paid_order_reaches_the_receiver_signed_once_per_event(
    client, db, settings, pool, receiver, processes
):
    await add_endpoint(db, receiver.url(), ["order.*", "payment.succeeded"])
    processes()
    buyer = await create_account(db, "hooked@example.com", settings=settings)
    product = await create_product(db, name="Blue Mug", price="25.00", stock=50)
    order = await place_order(client, buyer, (product, 2))
    paying = await client.post("/api/payments/process", headers=buyer.headers,
                               json={"order_id": order["id"], "payment_token": "tok_visa"})
    assert paying.status == 202
    payment_id = (await paying.json())["id"]

    async def three_events():
        return len(receiver.requests) >= 3

    await eventually(three_events)

    async def all_delivered():
        statuses = await db.fetch("SELECT status FROM webhook_deliveries")
        return len(statuses) == 3 and {row["status"] for row in statuses} == {"delivered"}

    await eventually(all_delivered)
    await eventually(lambda: _no_open_rows(db))
    events = {received.event["type"]: received for received in receiver.requests}
    assert len(receiver.requests) == 3
    assert sorted(events) == ["order.paid", "order.placed", "payment.succeeded"]
    assert len(set(receiver.ids())) == 3
    for received in receiver.requests:
        assert verify(SECRET, received)
        assert received.headers["Content-Type"] == "application/json"
        assert received.headers["Shop-Event-Id"] == str(received.event["id"])
    shown = await (await client.get(f"/api/payments/{payment_id}", headers=buyer.headers)).json()
    assert events["payment.succeeded"].event["data"] == shown
    assert shown["status"] == "succeeded"
    assert events["order.paid"].event["data"]["id"] == order["id"]
    assert events["order.paid"].event["data"]["status"] == "paid"
    assert events["order.paid"].event["data"]["total_amount"] == "50.00"
    assert events["order.placed"].event["data"]["user"] == {"id": buyer.id,
                                                            "email": buyer.email}
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 3


async def test_a_failed_delivery_is_retried_through_the_worker_with_the_same_body(
    db, pool, receiver, processes
):
    receiver.answer_in_turn(500)
    await add_endpoint(db, receiver.url(), ["product.*"])
    processes()
    product = await create_product(db, stock=50)
    await outbox.publish(pool, "product.updated", {"product_id": product})

    async def first_attempt():
        return await db.fetchval(
            "SELECT attempts = 1 FROM webhook_deliveries WHERE status = 'pending'"
        )

    await eventually(first_attempt)
    # The backoff's 30 s, skipped: the relay process finds it due on its next poll.
    await db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")

    async def delivered():
        return await db.fetchrow(
            "SELECT attempts, last_status_code FROM webhook_deliveries"
            " WHERE status = 'delivered'"
        )

    row = await eventually(delivered)
    assert tuple(row) == (2, 200)
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.event_id == second.event_id and first.body == second.body
    assert verify(SECRET, first) and verify(SECRET, second)


async def _no_open_rows(db) -> bool:
    return await db.fetchval(
        "SELECT count(*) FROM outbox WHERE 'webhook_fan_out' = ANY(pending_tasks)"
    ) == 0

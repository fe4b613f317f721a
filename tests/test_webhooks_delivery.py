"""Webhook delivery, from outbox row to signed POST, against real receivers.

Each receiver is an aiohttp server on 127.0.0.1 (tests/webhook_receiver.py) that keeps the
exact bytes it was sent and checks the signature as an integration would. The relay is the
real one; between it and `deliver` the broker hop is replaced by a direct call (`inline`), so
a test decides when each attempt runs; tests/test_webhooks_workers.py runs the broker and a
real worker process.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from factories import create_account, create_product, move_through, place_order, variant_of
from webhook_receiver import Receiver, verify

from shop_api.db import create_pool
from shop_api.domain import outbox
from shop_api.domain.events import DELIVER_WEBHOOK, WEBHOOK_FAN_OUT
from shop_api.integrations.webhook_delivery import backoff_seconds, deliver, sign
from shop_api.relay import fan_out, relay_batch

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
async def pool(services):
    created = await create_pool(services.database_url, min_size=1, max_size=8)
    yield created
    await created.close()


@pytest.fixture
def local(settings):
    """Settings that let deliveries reach 127.0.0.1, as WEBHOOK_ALLOW_PRIVATE=true does."""
    return replace(settings, webhook_allow_private=True)


async def add_endpoint(db, url: str, events: tuple[str, ...] = ("*",), secret: str = SECRET
                       ) -> int:
    return await db.fetchval(
        "INSERT INTO webhook_endpoints (url, events, secret) VALUES ($1, $2, $3) RETURNING id",
        url, list(events), secret,
    )


def inline(pool, settings, *, copies: int = 1, sent: list | None = None):
    """A dispatch that runs each delivery message at once, `copies` times side by side (a
    broker delivering a message more than once); other tasks are noted, not run."""

    async def dispatch(tasks) -> None:
        for task in tasks:
            if sent is not None:
                sent.append(task)
            if task.actor_name == DELIVER_WEBHOOK:
                await asyncio.gather(
                    *(deliver(pool, settings, None, *task.args) for _ in range(copies))
                )

    return dispatch


async def relay(pool, settings, **options) -> int:
    return await relay_batch(pool, inline(pool, settings, **options))


async def due_now(db) -> None:
    """Bring every pending retry forward: the test's clock skips the backoff."""
    await db.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = now() WHERE status = 'pending'"
    )


async def deliveries(db) -> list[dict]:
    rows = await db.fetch(
        "SELECT id, event_id, endpoint_id, status, attempts, last_status_code, last_error,"
        " next_attempt_at - now() AS due_in, delivered_at FROM webhook_deliveries ORDER BY id"
    )
    return [dict(row) for row in rows]


async def attempts_of(db, delivery_id: int) -> list[tuple]:
    rows = await db.fetch(
        "SELECT status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1"
        " ORDER BY id", delivery_id,
    )
    return [tuple(row) for row in rows]


async def product_event(pool, topic: str = "product.updated") -> int:
    """A product and an outbox row announcing it (published as the catalog code does)."""
    async with pool.acquire() as conn:
        product = await create_product(conn, name="Blue Mug", price="12.50", stock=50)
        await outbox.publish(conn, topic, {"product_id": product})
    return product


def test_sign_is_stripes_scheme():
    # HMAC-SHA256 of "1700000000.{}" with SECRET, computed apart with `openssl dgst -sha256
    # -hmac whsec_test_0123456789abcdef`.
    assert sign(SECRET, 1700000000, b"{}") == (
        "t=1700000000,v1=86e42664e55bdef9d21c29ec99ef840bb60f05f718392629bb0eb162a585147e"
    )


def test_backoff_starts_within_a_minute_doubles_and_stops_at_an_hour():
    low = [backoff_seconds(n, jitter=lambda: 0.0) for n in range(1, 10)]
    assert low == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    high = [backoff_seconds(n, jitter=lambda: 1.0) for n in (1, 2, 20, 500)]
    assert high == [33, 66, 3600, 3600]
    assert all(30 <= backoff_seconds(1) < 60 for _ in range(100))


async def test_every_event_type_arrives_once_signed_with_the_resource(
    client, db, settings, local, pool, receiver, admin
):
    await add_endpoint(db, receiver.url())
    registered = await client.post(
        "/api/auth/register",
        json={"email": "new@example.com", "password": "correct-horse-42", "full_name": "New"},
    )
    assert registered.status == 201
    buyer = await create_account(db, "buyer@example.com", settings=settings)
    product = await create_product(db, name="Blue Mug", price="12.50", stock=50)
    variant = await variant_of(db, product)
    kept = await place_order(client, buyer, (product, 1))
    await move_through(client, admin, kept["id"], "paid", "processing", "shipped")
    delivered = await client.put(
        f"/api/admin/orders/{kept['id']}/status", json={"status": "delivered"},
        headers=admin.headers,
    )
    assert delivered.status == 200
    cancelled = await place_order(client, buyer, (product, 1))
    assert (await client.post(f"/api/orders/{cancelled['id']}/cancel",
                              headers=buyer.headers)).status == 200
    unpaid = await place_order(client, buyer, (product, 1))
    paying = await client.post("/api/payments/process", headers=buyer.headers,
                               json={"order_id": unpaid["id"], "payment_token": "tok_visa"})
    payment = await paying.json()
    for topic, payload in [
        ("payment.failed", {"payment_id": payment["id"]}),
        ("payment.refunded", {"payment_id": payment["id"], "order_id": unpaid["id"]}),
        ("product.created", {"product_id": product}),
        ("product.updated", {"product_id": product}),
        ("inventory.low_stock", {"variant_id": variant, "product_id": product, "stock": 4,
                                 "threshold": 5}),
    ]:
        await outbox.publish(pool, topic, payload)
    await relay(pool, local)
    await db.execute("UPDATE products SET is_active = false, deleted_at = now() WHERE id = $1",
                     product)
    await outbox.publish(pool, "product.deleted", {"product_id": product})
    await relay(pool, local)
    await relay(pool, local)  # nothing is left to send

    types = sorted(received.event["type"] for received in receiver.requests)
    assert types == sorted([
        "customer.created", "order.placed", "order.placed", "order.placed", "order.paid",
        "order.shipped", "order.delivered", "order.cancelled", "payment.failed",
        "payment.refunded", "product.created", "product.updated", "product.deleted",
        "inventory.low_stock",
    ])
    assert len(set(receiver.ids())) == len(receiver.requests)
    by_type = {}
    for received in receiver.requests:
        assert verify(SECRET, received)
        assert received.headers["Content-Type"] == "application/json"
        event = received.event
        assert set(event) == {"id", "type", "created_at", "data"}
        assert received.event_id == str(event["id"])
        assert event["created_at"].endswith("+00:00")
        by_type[event["type"]] = event["data"]
    assert by_type["customer.created"] == await registered.json()
    assert b"password" not in b"".join(r.body for r in receiver.requests)
    assert by_type["order.delivered"] == await delivered.json()
    assert by_type["order.delivered"]["user"] == {"id": buyer.id, "email": buyer.email}
    assert by_type["order.cancelled"]["status"] == "cancelled"
    shown = await (await client.get(f"/api/payments/{payment['id']}",
                                    headers=buyer.headers)).json()
    assert by_type["payment.refunded"] == shown == by_type["payment.failed"]
    assert by_type["product.updated"]["id"] == product
    assert by_type["product.updated"]["variants"][0]["id"] == variant
    assert by_type["product.updated"] == by_type["product.created"]
    assert by_type["product.deleted"]["id"] == product
    assert by_type["product.deleted"]["name"] == "Blue Mug"
    assert by_type["product.deleted"]["deleted_at"] is not None
    sku, stock = await db.fetchrow(
        "SELECT sku, stock_quantity FROM product_variants WHERE id = $1", variant
    )
    assert by_type["inventory.low_stock"] == {
        "variant_id": variant, "product_id": product, "sku": sku, "stock_quantity": stock,
        "threshold": 5,
    }
    assert {row["status"] for row in await deliveries(db)} == {"delivered"}
    open_fan_outs = await db.fetchval(
        "SELECT count(*) FROM outbox WHERE $1 = ANY(pending_tasks)", WEBHOOK_FAN_OUT
    )
    assert open_fan_outs == 0


async def test_the_product_as_get_shows_it(client, db, local, pool, receiver):
    await add_endpoint(db, receiver.url(), events=("product.*",))
    product = await product_event(pool)
    await relay(pool, local)
    shown = await (await client.get(f"/api/products/{product}")).json()
    assert [received.event["data"] for received in receiver.requests] == [shown]


async def test_only_subscribed_endpoints_get_an_event(db, local, pool, receiver):
    orders = await add_endpoint(db, receiver.url("/orders"), events=("order.*",))
    products = await add_endpoint(db, receiver.url("/products"), events=("product.updated",))
    everything = await add_endpoint(db, receiver.url("/all"), events=("*",))
    await product_event(pool)
    await relay(pool, local)
    assert sorted(received.path for received in receiver.requests) == ["/all", "/products"]
    assert sorted(row["endpoint_id"] for row in await deliveries(db)) == [products, everything]
    assert orders not in [row["endpoint_id"] for row in await deliveries(db)]


async def test_an_event_nobody_subscribes_to_closes_its_row(db, local, pool, receiver):
    await add_endpoint(db, receiver.url(), events=("order.paid",))
    await product_event(pool)
    await relay(pool, local)
    assert receiver.requests == []
    assert await db.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert await db.fetchval("SELECT completed_at IS NOT NULL FROM outbox")


async def test_a_failed_attempt_is_retried_with_the_same_id_and_body(db, local, pool, receiver):
    receiver.answer_in_turn(500, 500)
    endpoint = await add_endpoint(db, receiver.url())
    await product_event(pool)
    await relay(pool, local)
    [first] = await deliveries(db)
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 500)
    assert first["last_error"] == "HTTP 500"
    # The first retry within a minute (30 s and up to 10 % more).
    assert 25 <= first["due_in"].total_seconds() <= 60
    await relay(pool, local)
    assert len(receiver.requests) == 1  # not due yet
    for _ in range(2):
        await due_now(db)
        await relay(pool, local)

    assert len(receiver.requests) == 3
    assert len(set(receiver.ids())) == 1
    assert len({received.body for received in receiver.requests}) == 1
    assert all(verify(SECRET, received) for received in receiver.requests)
    [done] = await deliveries(db)
    assert (done["status"], done["attempts"], done["last_status_code"], done["last_error"]) == (
        "delivered", 3, 200, None
    )
    assert done["due_in"] is None and done["delivered_at"] is not None
    assert [(code, error) for code, error, _ in await attempts_of(db, done["id"])] == [
        (500, "HTTP 500"), (500, "HTTP 500"), (200, None)
    ]
    assert await db.fetchval(
        "SELECT failures_in_a_row FROM webhook_endpoints WHERE id = $1", endpoint
    ) == 0


@pytest.mark.parametrize(("answer", "error"), [
    (302, "HTTP 302: redirects are not followed"),
    (404, "HTTP 404"),
    (503, "HTTP 503"),
])
async def test_any_other_answer_is_a_failure(db, local, pool, receiver, answer, error):
    receiver.answer_in_turn(answer)
    await add_endpoint(db, receiver.url())
    await product_event(pool)
    await relay(pool, local)
    [row] = await deliveries(db)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "pending", 1, answer, error
    )
    assert [received.path for received in receiver.requests] == ["/hook"]  # no redirect taken


async def test_a_refused_connection_is_a_failure(db, local, pool, receiver):
    await add_endpoint(db, "http://127.0.0.1:1/hook")
    await product_event(pool)
    await relay(pool, local)
    [row] = await deliveries(db)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, None)
    assert "ClientConnectorError" in row["last_error"]
    [(code, _, _)] = await attempts_of(db, row["id"])
    assert code is None


async def test_a_receiver_that_takes_longer_than_10_seconds_is_a_failure(
    db, local, pool, receiver
):
    receiver.hang_seconds = 15
    await add_endpoint(db, receiver.url())
    await product_event(pool)
    started = time.monotonic()
    await relay(pool, local)
    assert 9.5 <= time.monotonic() - started < 14
    [row] = await deliveries(db)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "pending", 1, None, "no answer within 10 s"
    )
    [(code, error, duration_ms)] = await attempts_of(db, row["id"])
    assert code is None and 9500 <= duration_ms < 14000
    assert len(receiver.requests) == 1
    # No transaction stayed open during the wait (this connection's own aside).
    assert await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state LIKE 'idle in transaction%'"
    ) == 0


@pytest.mark.parametrize(("url", "error"), [
    ("http://localhost:{port}/hook", "Webhook URLs must use https."),
    ("https://127.0.0.1:{port}/hook", "The URL points at an address that is not public."),
    ("https://localhost:{port}/hook",
     "The host 'localhost' resolves to an address that is not public."),
    ("https://[::1]:{port}/hook", "The URL points at an address that is not public."),
])
async def test_a_private_url_is_refused_before_any_request(
    db, settings, pool, receiver, url, error
):
    assert not settings.webhook_allow_private
    await add_endpoint(db, url.format(port=receiver.port))
    await product_event(pool)
    await relay(pool, settings)
    [row] = await deliveries(db)
    assert (row["status"], row["attempts"], row["last_status_code"], row["last_error"]) == (
        "pending", 1, None, error
    )
    assert [(code, message) for code, message, _ in await attempts_of(db, row["id"])] == [
        (None, error)
    ]
    assert receiver.requests == []


async def test_webhook_allow_private_lets_localhost_through(db, local, pool, receiver):
    await add_endpoint(db, receiver.url(host="localhost"))
    await product_event(pool)
    await relay(pool, local)
    assert len(receiver.requests) == 1 and verify(SECRET, receiver.requests[0])
    assert [row["status"] for row in await deliveries(db)] == ["delivered"]


async def test_a_disabled_endpoint_gets_nothing(db, local, pool, receiver):
    receiver.answer_in_turn(500)
    endpoint = await add_endpoint(db, receiver.url())
    await product_event(pool)
    await relay(pool, local)
    assert len(receiver.requests) == 1
    await db.execute(
        "UPDATE webhook_endpoints SET is_active = false, disabled_at = now() WHERE id = $1",
        endpoint,
    )
    await product_event(pool)  # after the endpoint was disabled: not even a delivery
    await due_now(db)
    await relay(pool, local)
    assert len(receiver.requests) == 1
    [row] = await deliveries(db)
    assert (row["status"], row["attempts"], row["last_error"], row["due_in"]) == (
        "failed", 1, "endpoint disabled", None
    )
    assert len(await attempts_of(db, row["id"])) == 1  # the attempt before, none since


async def test_twenty_failures_in_a_row_disable_the_endpoint(db, local, pool, receiver):
    endpoint = await add_endpoint(db, receiver.url())
    receiver.answer_in_turn(*[500] * 19, 200, then=500)
    product = await create_product(db, stock=50)
    for _ in range(20):  # 19 failures, then a success resets the count
        await outbox.publish(pool, "product.updated", {"product_id": product})
    await relay(pool, local)

    async def endpoint_row():
        return await db.fetchrow(
            "SELECT is_active, failures_in_a_row, disabled_at FROM webhook_endpoints"
            " WHERE id = $1", endpoint,
        )

    assert tuple(await endpoint_row()) == (True, 0, None)
    for _ in range(19):
        await outbox.publish(pool, "product.updated", {"product_id": product})
    await relay(pool, local)
    assert tuple(await endpoint_row()) == (True, 19, None)
    await due_now(db)  # the 20th failure in a row is a retry
    await relay(pool, local)
    disabled = await endpoint_row()
    assert (disabled["is_active"], disabled["failures_in_a_row"]) == (False, 20)
    assert disabled["disabled_at"] is not None
    assert len(receiver.requests) == 40
    # What was still due for it ends without a request; new events give it nothing.
    await outbox.publish(pool, "product.updated", {"product_id": product})
    await due_now(db)
    await relay(pool, local)
    assert len(receiver.requests) == 40
    statuses = [(row["status"], row["last_error"]) for row in await deliveries(db)]
    assert len(statuses) == 39
    assert statuses.count(("delivered", None)) == 1
    # The 20th failure's own retry among them.
    assert statuses.count(("failed", "endpoint disabled")) == 38


async def test_past_retry_until_a_failure_fails_the_delivery(db, local, pool, receiver):
    receiver.answer_in_turn(then=500)
    await add_endpoint(db, receiver.url())
    await product_event(pool)
    await relay(pool, local)
    await db.execute("UPDATE webhook_deliveries SET retry_until = now(), next_attempt_at = now()")
    await relay(pool, local)
    [row] = await deliveries(db)
    assert (row["status"], row["attempts"], row["due_in"]) == ("failed", 2, None)
    assert len(receiver.requests) == 2


async def test_a_row_relayed_twice_fans_out_once(db, local, pool, receiver):
    await add_endpoint(db, receiver.url("/a"))
    await add_endpoint(db, receiver.url("/b"))
    await product_event(pool)
    row = await pool.fetchrow("SELECT id, topic, payload, pending_tasks FROM outbox")
    # The same row fanned out by two relays at once, then once more later.
    await asyncio.gather(fan_out(pool, [row]), fan_out(pool, [row]))
    await fan_out(pool, [row])
    assert await db.fetchval("SELECT count(*) FROM webhook_events") == 1
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 2
    # And the row handed to the relay again as a whole (its fan-out task reopened).
    await db.execute("UPDATE outbox SET pending_tasks = $1, completed_at = NULL,"
                     " available_at = now()", [WEBHOOK_FAN_OUT])
    await relay(pool, local)
    await db.execute("UPDATE outbox SET pending_tasks = $1, completed_at = NULL,"
                     " available_at = now()", [WEBHOOK_FAN_OUT])
    await relay(pool, local)
    assert sorted(received.path for received in receiver.requests) == ["/a", "/b"]
    assert len(set(receiver.ids())) == 1
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 2


async def test_concurrent_relays_and_duplicate_messages_deliver_once(db, local, pool):
    async with Receiver() as first, Receiver() as second:
        await add_endpoint(db, first.url())
        await add_endpoint(db, second.url(), events=("product.*",))
        product = await create_product(db, stock=50)
        for _ in range(30):
            await outbox.publish(pool, "product.updated", {"product_id": product})

        async def drain() -> None:
            # Every message delivered twice at once, as a broker redelivering would.
            dispatch = inline(pool, local, copies=2)
            for _ in range(10):
                await relay_batch(pool, dispatch, batch_size=4)

        await asyncio.gather(*(drain() for _ in range(4)))
        await relay(pool, local)  # whatever the four left
        assert len(first.requests) == len(second.requests) == 30
        assert len(set(first.ids())) == len(set(second.ids())) == 30
    rows = await deliveries(db)
    assert len(rows) == 60
    assert {(row["status"], row["attempts"]) for row in rows} == {("delivered", 1)}
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 60


async def test_a_stale_or_finished_message_does_nothing(db, local, pool, receiver):
    await add_endpoint(db, receiver.url())
    await product_event(pool)
    sent = []
    await relay_batch(pool, lambda tasks: _note(sent, tasks))
    [task] = [task for task in sent if task.actor_name == DELIVER_WEBHOOK]
    delivery_id, lease = task.args
    await deliver(pool, local, None, delivery_id, lease - 1)  # an older handing
    assert receiver.requests == []
    await deliver(pool, local, None, delivery_id, lease)
    await deliver(pool, local, None, delivery_id, lease)  # the same message again
    assert len(receiver.requests) == 1
    await deliver(pool, local, None, delivery_id, lease + 1)  # delivered: nothing more
    assert len(receiver.requests) == 1
    [row] = await deliveries(db)
    assert (row["status"], row["attempts"]) == ("delivered", 1)


async def _note(sent: list, tasks) -> None:
    sent.extend(tasks)


async def test_a_broker_that_refuses_the_delivery_loses_nothing(db, local, pool, receiver):
    await add_endpoint(db, receiver.url())
    await product_event(pool)

    async def broker_down(tasks) -> None:
        if any(task.actor_name == DELIVER_WEBHOOK for task in tasks):
            raise ConnectionError("broker down")

    await relay_batch(pool, broker_down)
    [row] = await deliveries(db)
    assert row["status"] == "pending" and 0 < row["due_in"].total_seconds() <= 5
    await due_now(db)
    await relay(pool, local)
    assert len(receiver.requests) == 1
    assert [row["status"] for row in await deliveries(db)] == ["delivered"]


async def test_a_message_the_broker_lost_is_handed_out_again(db, local, pool, receiver):
    await add_endpoint(db, receiver.url())
    await product_event(pool)
    lost = []
    await relay_batch(pool, lambda tasks: _note(lost, tasks))  # never run
    [row] = await deliveries(db)
    assert 55 <= row["due_in"].total_seconds() <= 60  # the relay's lease
    await relay(pool, local)
    assert receiver.requests == []  # leased: no second message meanwhile
    await due_now(db)  # the lease ran out
    await relay(pool, local)
    assert len(receiver.requests) == 1
    [old] = [task for task in lost if task.actor_name == DELIVER_WEBHOOK]
    await deliver(pool, local, None, *old.args)  # the lost message turns up after all
    assert len(receiver.requests) == 1

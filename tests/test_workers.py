"""The outbox, the relay and the Dramatiq workers, end to end.

A real Dramatiq worker runs in the test process against the test Redis, a real SMTP server
(aiosmtpd) catches the mail, and the relay drains the outbox exactly as in production.
"""

from __future__ import annotations

import asyncio
import socket
import time
from email import message_from_bytes, policy

import dramatiq
import pytest
from aiosmtpd.controller import Controller
from conftest import create_account
from factories import create_buyer, create_product, fill_cart, place_order

from shop_api.broker import create_broker
from shop_api.db import create_pool, queries
from shop_api.relay import broker_dispatch, relay_batch

WAIT_SECONDS = 15


class Mailbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.messages]


@pytest.fixture(scope="module")
def smtp():
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture(scope="module")
def worker_env(services, smtp):
    """The environment the `workers` package reads when it sets up its broker and resources."""
    mailbox, port = smtp
    values = {
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "BROKER_URL": services.redis_url,
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "ENV": "test",
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield mailbox


@pytest.fixture(scope="module")
def running_worker(worker_env):
    import workers  # noqa: F401 - sets the global broker and registers the actors

    broker = dramatiq.get_broker()
    running = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    running.start()
    yield worker_env
    running.stop(timeout=5_000)


@pytest.fixture
def worker(running_worker):
    """The mailbox of a Dramatiq worker running in this process, emptied for the test."""
    running_worker.messages.clear()
    return running_worker


@pytest.fixture
def relay(services):
    broker = create_broker(services.redis_url)
    dispatch = broker_dispatch(broker)

    async def drain(pool) -> int:
        return await relay_batch(pool, dispatch)

    yield drain
    broker.close()


@pytest.fixture
async def pool(services):
    created = await create_pool(services.database_url, min_size=1, max_size=4)
    yield created
    await created.close()


async def eventually(check, *, within: float = WAIT_SECONDS, pool=None, relay=None):
    """Poll `check` (relaying the outbox meanwhile) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        if relay is not None:
            await relay(pool)
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the workers")
        await asyncio.sleep(0.05)


async def _place_order(client, db, settings, *, price="25.00", stock=5):
    buyer = await create_buyer(db, settings, "shopper@example.com")
    product = await create_product(db, name="Blue Mug", price=price, stock=stock)
    return buyer, product, await place_order(client, buyer, (product, 2))


async def _pay(client, buyer, order_id, token):
    response = await client.post(
        "/api/payments/process",
        json={"order_id": order_id, "payment_token": token},
        headers=buyer.headers,
    )
    assert response.status == 202, await response.text()
    body = await response.json()
    assert body["status"] == "pending"
    return body


async def _payment_status(client, buyer, payment_id, wanted=("succeeded", "failed")):
    response = await client.get(f"/api/payments/{payment_id}", headers=buyer.headers)
    body = await response.json()
    return body if body["status"] in wanted else None


async def test_checkout_sends_one_confirmation_email(client, db, settings, pool, worker, relay):
    mailbox = worker
    _, _, order = await _place_order(client, db, settings)
    await eventually(lambda: _async(len(mailbox.messages) >= 1), pool=pool, relay=relay)
    await asyncio.sleep(0.5)  # nothing else is coming
    assert mailbox.subjects() == [f"Order #{order['id']} confirmed"]
    message = mailbox.messages[0]
    assert message["To"] == "shopper@example.com"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Blue Mug" in text and "50.00" in text
    assert "Blue Mug" in html
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0


@pytest.mark.parametrize(
    ("token", "status", "reason", "order_status", "subject"),
    [
        ("tok_visa", "succeeded", None, "paid", "Receipt for order"),
        ("tok_mastercard", "succeeded", None, "paid", "Receipt for order"),
        ("tok_chargeDeclined", "failed", "card_declined", "pending", "Payment for order"),
        ("tok_insufficientFunds", "failed", "insufficient_funds", "pending", "Payment for order"),
        ("tok_processingError", "succeeded", None, "paid", "Receipt for order"),
        ("tok_unknown", "failed", "invalid_token", "pending", "Payment for order"),
    ],
)
async def test_sandbox_tokens(
    client, db, settings, pool, worker, relay, token, status, reason, order_status, subject
):
    mailbox = worker
    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], token)
    settled = await eventually(
        lambda: _payment_status(client, buyer, payment["id"]), pool=pool, relay=relay
    )
    assert settled["status"] == status
    assert settled["failure_reason"] == reason
    assert settled["amount"] == "50.00"
    detail = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert detail["status"] == order_status
    assert detail["payment"] == {"id": payment["id"], "status": status}
    listed = await (await client.get("/api/orders", headers=buyer.headers)).json()
    assert listed["items"][0]["payment"] == {"id": payment["id"], "status": status}
    await eventually(
        lambda: _async(any(s.startswith(subject) for s in mailbox.subjects())),
        pool=pool, relay=relay,
    )
    attempts = await db.fetchval("SELECT attempts FROM payments WHERE id = $1", payment["id"])
    assert attempts == (2 if token == "tok_processingError" else 1)


async def test_a_failed_payment_leaves_the_order_payable(client, db, settings, pool, worker, relay):
    buyer, _, order = await _place_order(client, db, settings)
    first = await _pay(client, buyer, order["id"], "tok_chargeDeclined")
    await eventually(lambda: _payment_status(client, buyer, first["id"]), pool=pool, relay=relay)
    second = await _pay(client, buyer, order["id"], "tok_visa")
    settled = await eventually(
        lambda: _payment_status(client, buyer, second["id"]), pool=pool, relay=relay
    )
    assert settled["status"] == "succeeded"
    again = await client.post(
        "/api/payments/process",
        json={"order_id": order["id"], "payment_token": "tok_visa"},
        headers=buyer.headers,
    )
    assert again.status == 409
    assert (await again.json())["code"] == "order_not_payable"


async def test_payment_in_progress_and_other_users_orders(client, db, settings):
    buyer, _, order = await _place_order(client, db, settings)
    await _pay(client, buyer, order["id"], "tok_visa")
    busy = await client.post(
        "/api/payments/process",
        json={"order_id": order["id"], "payment_token": "tok_visa"},
        headers=buyer.headers,
    )
    assert busy.status == 409
    assert (await busy.json())["code"] == "payment_in_progress"
    stranger = await create_buyer(db, settings, "stranger@example.com")
    theirs = await client.post(
        "/api/payments/process",
        json={"order_id": order["id"], "payment_token": "tok_visa"},
        headers=stranger.headers,
    )
    assert theirs.status == 404
    payment_id = await db.fetchval("SELECT id FROM payments")
    peek = await client.get(f"/api/payments/{payment_id}", headers=stranger.headers)
    assert peek.status == 404


async def test_payment_idempotency_key_makes_one_payment(client, db, settings):
    buyer, _, order = await _place_order(client, db, settings)
    headers = {**buyer.headers, "Idempotency-Key": "pay-once"}
    body = {"order_id": order["id"], "payment_token": "tok_visa"}
    responses = await asyncio.gather(
        *(client.post("/api/payments/process", json=body, headers=headers) for _ in range(6))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses.count(202) >= 1
    assert set(statuses) <= {202, 409}
    assert await db.fetchval("SELECT count(*) FROM payments") == 1
    replay = await client.post("/api/payments/process", json=body, headers=headers)
    assert replay.status == 202
    assert replay.headers["Idempotent-Replayed"] == "true"


async def test_a_message_delivered_twice_acts_once(client, db, settings, pool, worker, relay):
    mailbox = worker
    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    await eventually(lambda: _payment_status(client, buyer, payment["id"]), pool=pool, relay=relay)
    await eventually(lambda: _async(len(mailbox.messages) >= 2), pool=pool, relay=relay)
    before = list(mailbox.subjects())

    # Every outbox row sent again, as after a relay crash between enqueue and commit.
    await db.execute("UPDATE outbox SET sent_at = NULL")
    await relay(pool)
    from workers.payments import settle_payment

    settle_payment.send(payment["id"])
    await asyncio.sleep(2)
    await relay(pool)
    await asyncio.sleep(1)
    assert sorted(mailbox.subjects()) == sorted(before)
    assert await db.fetchval(
        "SELECT count(*) FROM order_status_history WHERE order_id = $1 AND to_status = 'paid'",
        order["id"],
    ) == 1
    assert await db.fetchval("SELECT attempts FROM payments WHERE id = $1", payment["id"]) == 1


async def test_broker_down_at_commit_delivers_once_back(client, db, settings, pool, worker):
    mailbox = worker
    dead = create_broker("redis://127.0.0.1:1/0")
    try:
        sent = await relay_batch(pool, broker_dispatch(dead))
    finally:
        dead.close()
    assert sent == 0  # nothing was waiting yet
    _, _, order = await _place_order(client, db, settings)
    dead = create_broker("redis://127.0.0.1:1/0")
    try:
        assert await relay_batch(pool, broker_dispatch(dead)) == 0
    finally:
        dead.close()
    row = await db.fetchrow("SELECT attempts, sent_at, available_at > now() AS later FROM outbox")
    assert row["attempts"] == 1 and row["sent_at"] is None and row["later"]

    # The broker is back; the deferred row becomes due and goes out.
    await db.execute("UPDATE outbox SET available_at = now()")
    live = create_broker(settings.redis_url)
    try:
        assert await relay_batch(pool, broker_dispatch(live)) == 1
    finally:
        live.close()
    await eventually(lambda: _async(len(mailbox.messages) == 1))
    assert mailbox.subjects() == [f"Order #{order['id']} confirmed"]


async def test_a_rolled_back_transaction_sends_nothing(db, pool, worker, relay):
    mailbox = worker
    user_id = await db.fetchval(
        "INSERT INTO users (email, password_hash) VALUES ('ghost@example.com', 'x') RETURNING id"
    )
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await queries.outbox_insert(conn, topic="user.registered", payload={"user_id": user_id})
        await transaction.rollback()
    assert await relay(pool) == 0
    await asyncio.sleep(1)
    assert mailbox.messages == []


async def test_register_and_password_change_emails(client, pool, worker, relay):
    mailbox = worker
    registered = await client.post(
        "/api/auth/register",
        json={"email": "welcome@example.com", "password": "first-pass-1", "full_name": "Wil"},
    )
    assert registered.status == 201
    login = await client.post(
        "/api/auth/login", json={"email": "welcome@example.com", "password": "first-pass-1"}
    )
    token = (await login.json())["access_token"]
    changed = await client.post(
        "/api/auth/change-password",
        json={"current_password": "first-pass-1", "new_password": "second-pass-2"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert changed.status == 200
    await eventually(lambda: _async(len(mailbox.messages) == 2), pool=pool, relay=relay)
    assert sorted(mailbox.subjects()) == ["Welcome to Shop", "Your password was changed"]


async def test_cancelling_a_paid_order_refunds_it(client, db, settings, pool, worker, relay):
    mailbox = worker
    buyer, product, order = await _place_order(client, db, settings, stock=5)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    await eventually(lambda: _payment_status(client, buyer, payment["id"]), pool=pool, relay=relay)
    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status == 200
    assert (await cancelled.json())["status"] == "cancelled"
    refunded = await eventually(
        lambda: _payment_status(client, buyer, payment["id"], wanted=("refunded",)),
        pool=pool, relay=relay,
    )
    assert refunded["status"] == "refunded"
    assert await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", product) == 5
    await eventually(
        lambda: _async(f"Order #{order['id']} was cancelled" in mailbox.subjects()),
        pool=pool, relay=relay,
    )
    cancel_mail = next(m for m in mailbox.messages if "cancelled" in str(m["Subject"]))
    assert "refunded" in cancel_mail.get_body(preferencelist=("plain",)).get_content()


async def test_reconciliation_settles_stuck_payments(client, db, settings, pool, worker, relay):
    from shop_api.domain.payments import reconcile

    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    # The settlement message was lost: forget it was ever sent, and age the payment.
    await db.execute("UPDATE outbox SET sent_at = now() WHERE topic = 'payment.requested'")
    await db.execute("UPDATE payments SET created_at = now() - interval '1 hour'")
    async with pool.acquire() as conn:
        assert await reconcile(conn, older_than_seconds=300) == [payment["id"]]
    settled = await eventually(
        lambda: _payment_status(client, buyer, payment["id"]), pool=pool, relay=relay
    )
    assert settled["status"] == "succeeded"


async def test_paid_orders_feed_recommendations(client, db, settings, pool, worker, relay):
    buyer = await create_buyer(db, settings, "fan@example.com")
    mug = await create_product(db, name="Mug", stock=10)
    tea = await create_product(db, name="Tea", stock=10)
    for _ in range(2):
        await fill_cart(client, buyer, (mug, 1), (tea, 1))
        placed = await client.post(
            "/api/orders", json={"delivery_address": "2 Side St"}, headers=buyer.headers
        )
        order = await placed.json()
        payment = await _pay(client, buyer, order["id"], "tok_visa")
        await eventually(
            lambda payment=payment: _payment_status(client, buyer, payment["id"]),
            pool=pool, relay=relay,
        )

    async def scored_twice():
        score = await db.fetchval(
            "SELECT score FROM recommendations "
            "WHERE product_id = $1 AND recommended_product_id = $2",
            mug, tea,
        )
        return score == 2

    assert await eventually(scored_twice, pool=pool, relay=relay)
    back = await db.fetchval(
        "SELECT score FROM recommendations "
        "WHERE product_id = $1 AND recommended_product_id = $2",
        tea, mug,
    )
    assert back == 2


async def _async(value):
    return value


async def test_recommendations_route(client, db, settings, pool):
    from shop_api.domain import order_status
    from shop_api.domain.recommendations import refresh_for_order

    category = await db.fetchval(
        "INSERT INTO categories (name, slug) VALUES ('Kitchen', 'kitchen') RETURNING id"
    )
    mug, tea, pot, spoon, gone = [await create_product(db, stock=10) for _ in range(5)]
    await db.execute("UPDATE products SET category_id = $1", category)
    await db.execute(
        "UPDATE products SET rating_count = 2, rating_sum = 10 WHERE id = $1", spoon
    )
    # Nobody bought the mug yet: the best rated of its category stand in.
    fallback = await (await client.get(f"/api/products/{mug}/recommendations")).json()
    assert [p["id"] for p in fallback["items"]][0] == spoon
    assert mug not in [p["id"] for p in fallback["items"]]

    buyer = await create_buyer(db, settings, "pair@example.com")
    await fill_cart(client, buyer, (mug, 1), (tea, 1), (gone, 1))
    order = await (await client.post(
        "/api/orders", json={"delivery_address": "3 Elm St"}, headers=buyer.headers
    )).json()
    async with pool.acquire() as conn:
        await order_status.change_status(conn, order["id"], "paid", actor_id=None)
        await refresh_for_order(conn, order["id"])
    await db.execute("UPDATE products SET is_active = false WHERE id = $1", gone)

    listed = await (await client.get(f"/api/products/{mug}/recommendations/")).json()
    ids = [p["id"] for p in listed["items"]]
    assert ids[0] == tea  # bought together comes first
    assert gone not in ids and mug not in ids
    assert set(ids) == {tea, pot, spoon}
    assert listed["items"][0]["price"] == "10.00"
    missing = await client.get(f"/api/products/{gone}/recommendations")
    assert missing.status == 404


async def test_a_payment_that_lands_after_cancellation_is_refunded(
    client, db, settings, pool, worker, relay
):
    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    # The customer cancels while the settlement message has not been relayed yet.
    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status == 200
    refunded = await eventually(
        lambda: _payment_status(client, buyer, payment["id"], wanted=("refunded",)),
        pool=pool, relay=relay,
    )
    assert refunded["status"] == "refunded"
    detail = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert detail["status"] == "cancelled"


async def test_a_gateway_that_never_answers_fails_the_payment(client, db, settings, pool):
    from shop_api.domain import payments
    from shop_api.gateway import TransientGatewayError

    class Unreachable:
        name = "unreachable"

        async def charge(self, **_):
            raise TransientGatewayError("timeout")

    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    for _ in range(2):
        with pytest.raises(TransientGatewayError):
            await payments.settle(pool, Unreachable(), payment["id"], max_attempts=3)
    assert await payments.settle(pool, Unreachable(), payment["id"], max_attempts=3) == "failed"
    row = await db.fetchrow(
        "SELECT status, failure_reason, attempts FROM payments WHERE id = $1", payment["id"]
    )
    assert dict(row) == {"status": "failed", "failure_reason": "processing_error", "attempts": 3}
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "pending"
    assert await db.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = 'payment.failed'"
    ) == 1


async def test_reconciliation_leaves_fresh_payments_alone(client, db, settings, pool):
    from shop_api.domain.payments import reconcile

    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    before = await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'payment.requested'")
    async with pool.acquire() as conn:
        assert await reconcile(conn, older_than_seconds=300) == []
        await db.execute("UPDATE payments SET created_at = now() - interval '1 hour'")
        assert await reconcile(conn, older_than_seconds=300) == [payment["id"]]
    payloads = await db.fetch(
        "SELECT payload->>'payment_id' AS payment_id FROM outbox"
        " WHERE topic = 'payment.requested' ORDER BY id"
    )
    assert len(payloads) == before + 1
    assert payloads[-1]["payment_id"] == str(payment["id"])


async def test_an_email_change_is_announced_to_the_old_address(client, db, pool, worker, relay):
    mailbox = worker
    account = await create_account(db, client, "before@example.com")
    changed = await client.put(
        "/api/auth/me",
        json={"email": "after@example.com", "current_password": account.password},
        headers=account.headers,
    )
    assert changed.status == 200
    await eventually(lambda: _async(len(mailbox.messages) == 1), pool=pool, relay=relay)
    message = mailbox.messages[0]
    assert message["To"] == "before@example.com"
    assert message["Subject"] == "The email address of your account was changed"
    for part in ("plain", "html"):
        content = message.get_body(preferencelist=(part,)).get_content()
        assert "before@example.com" in content and "after@example.com" in content
    assert await db.fetchval("SELECT recipient FROM sent_emails") == "before@example.com"

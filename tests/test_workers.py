"""The outbox, the relay and the Dramatiq workers, end to end.

A real Dramatiq worker runs in the test process against the test Redis, a real SMTP server
(aiosmtpd) catches the mail, and the relay drains the outbox exactly as in production.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import dramatiq
import pytest
from factories import (
    BROOKLYN,
    assert_problem,
    create_account,
    create_product,
    eventually,
    fill_cart,
    method,
    move_through,
    place_order,
    placed,
    promotion,
    quoted,
    ready,
    same_money,
    tax_rate,
    zone,
)
from smtp_server import SmtpServer

from shop_api.broker import create_broker
from shop_api.db import create_pool
from shop_api.domain import outbox
from shop_api.domain.events import tasks_for
from shop_api.relay import broker_dispatch, relay_batch

WAIT_SECONDS = 15


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server.mailbox, server.port


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
    yield running
    running.stop(timeout=5_000)


@pytest.fixture
def worker(running_worker, worker_env):
    """The mailbox of a Dramatiq worker running in this process, emptied for the test."""
    worker_env.reset()
    return worker_env


@pytest.fixture
def idle(running_worker):
    """Wait until the worker has handled every message sent so far, retries included.

    Only what is already on the broker: rows still in the outbox wait for the test's relay.
    """
    broker = running_worker.broker

    def join() -> None:
        for queue in (*broker.get_declared_queues(), *broker.get_declared_delay_queues()):
            broker.join(queue, timeout=WAIT_SECONDS * 1000)
        running_worker.join()

    async def wait() -> None:
        await asyncio.to_thread(join)

    return wait


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


async def _place_order(client, db, settings, *, price="25.00", stock=5):
    buyer = await create_account(db, "shopper@example.com", settings=settings)
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


async def test_checkout_sends_one_confirmation_email(
    client, db, settings, pool, worker, relay, idle
):
    mailbox = worker
    _, _, order = await _place_order(client, db, settings)
    await eventually(lambda: ready(len(mailbox.messages) >= 1), pool=pool, relay=relay)
    await idle()  # nothing else is coming
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
        lambda: ready(any(s.startswith(subject) for s in mailbox.subjects())),
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
    await assert_problem(again, 409, "order_not_payable")


async def test_payment_in_progress_and_other_users_orders(client, db, settings):
    buyer, _, order = await _place_order(client, db, settings)
    await _pay(client, buyer, order["id"], "tok_visa")
    busy = await client.post(
        "/api/payments/process",
        json={"order_id": order["id"], "payment_token": "tok_visa"},
        headers=buyer.headers,
    )
    await assert_problem(busy, 409, "payment_in_progress")
    stranger = await create_account(db, "stranger@example.com", settings=settings)
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


async def test_a_message_delivered_twice_acts_once(
    client, db, settings, pool, worker, relay, idle
):
    mailbox = worker
    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    await eventually(lambda: _payment_status(client, buyer, payment["id"]), pool=pool, relay=relay)
    await eventually(lambda: ready(len(mailbox.messages) >= 2), pool=pool, relay=relay)
    before = list(mailbox.subjects())

    # Every outbox row's messages sent again, as a broker redelivering them would.
    rows = await pool.fetch("SELECT id, topic, payload FROM outbox")
    broker = create_broker(settings.redis_url)
    try:
        for row in rows:
            await broker_dispatch(broker)(tasks_for(row["id"], row["topic"], row["payload"]))
    finally:
        broker.close()
    from workers.payments import settle_payment

    settle_payment.send(payment["id"])
    await idle()
    await relay(pool)
    await idle()
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
    await eventually(lambda: ready(len(mailbox.messages) == 1))
    assert mailbox.subjects() == [f"Order #{order['id']} confirmed"]


async def test_a_rolled_back_transaction_sends_nothing(db, pool, worker, relay, idle):
    mailbox = worker
    user_id = await db.fetchval(
        "INSERT INTO users (email, password_hash) VALUES ('ghost@example.com', 'x') RETURNING id"
    )
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await outbox.publish(conn, "user.registered", {"user_id": user_id})
        await transaction.rollback()
    assert await relay(pool) == 0
    await idle()
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
    await eventually(lambda: ready(len(mailbox.messages) == 2), pool=pool, relay=relay)
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
        lambda: ready(f"Order #{order['id']} was cancelled" in mailbox.subjects()),
        pool=pool, relay=relay,
    )
    cancel_mail = next(m for m in mailbox.messages if "cancelled" in str(m["Subject"]))
    assert "refunded" in cancel_mail.get_body(preferencelist=("plain",)).get_content()


async def test_reconciliation_settles_stuck_payments(client, db, settings, pool, worker, relay):
    from shop_api.domain.payments import reconcile

    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    # A request closed without its effect (as the relay before migration 0016 closed rows at
    # enqueue) and the message lost: only reconciliation can notice.
    await db.execute(
        "UPDATE outbox SET completed_at = now(), sent_at = now(), pending_tasks = '{}'"
        " WHERE topic = 'payment.requested'"
    )
    await db.execute("UPDATE payments SET created_at = now() - interval '1 hour'")
    async with pool.acquire() as conn:
        assert await reconcile(conn, older_than_seconds=300) == [payment["id"]]
    settled = await eventually(
        lambda: _payment_status(client, buyer, payment["id"]), pool=pool, relay=relay
    )
    assert settled["status"] == "succeeded"


async def test_paid_orders_feed_recommendations(client, db, settings, pool, worker, relay):
    buyer = await create_account(db, "fan@example.com", settings=settings)
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

    buyer = await create_account(db, "pair@example.com", settings=settings)
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


async def test_an_order_cancelled_before_settlement_is_never_charged(
    client, db, settings, pool, worker, relay
):
    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    # The customer cancels while the settlement message has not been relayed yet.
    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status == 200
    failed = await eventually(
        lambda: _payment_status(client, buyer, payment["id"], wanted=("failed",)),
        pool=pool, relay=relay,
    )
    assert failed["failure_reason"] == "order_not_payable"
    # The gateway was never asked: no charge, so nothing to refund.
    assert await db.fetchval("SELECT count(*) FROM sandbox_gateway_operations") == 0
    detail = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert detail["status"] == "cancelled"

    async def every_row_closed():
        return await db.fetchval("SELECT count(*) FROM outbox WHERE completed_at IS NULL") == 0

    assert await eventually(every_row_closed, pool=pool, relay=relay)


async def test_a_charge_that_lands_after_cancellation_is_refunded(client, db, settings, pool):
    from shop_api.domain import payments
    from shop_api.domain.gateway import SandboxGateway, charge_key, refund_key

    gateway = SandboxGateway(pool)
    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    # The charge went out; the customer cancels before its answer is recorded.
    result = await gateway.charge(
        idempotency_key=charge_key(payment["id"]), token="tok_visa",
        amount=Decimal("50.00"), currency="USD",
    )
    await db.execute("UPDATE payments SET charge_started_at = now() WHERE id = $1", payment["id"])
    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status == 200
    async with pool.acquire() as conn:
        assert await payments.record_charge(conn, payment["id"], result) == "succeeded"
    refund = await db.fetchrow(
        "SELECT payload FROM outbox WHERE topic = 'refund.due'"
    )
    assert refund is not None
    assert await payments.refund_payment(pool, gateway, payment["id"]) is True
    assert await payments.refund_payment(pool, gateway, payment["id"]) is False
    operations = await db.fetch(
        "SELECT idempotency_key, operation, requests FROM sandbox_gateway_operations ORDER BY 1"
    )
    assert [tuple(row) for row in operations] == [
        (charge_key(payment["id"]), "charge", 1), (refund_key(payment["id"]), "refund", 1)
    ]
    assert (await _payment_status(client, buyer, payment["id"], wanted=("refunded",)))


async def test_a_gateway_that_never_answers_fails_the_payment(client, db, settings, pool):
    from shop_api.domain import payments
    from shop_api.domain.gateway import TransientGatewayError

    class Unreachable:
        """A provider that times out on every charge and has no record of any key."""

        name = "unreachable"

        async def charge(self, **_):
            raise TransientGatewayError("timeout")

        async def lookup_charge(self, idempotency_key):
            return None

    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    for _ in range(3):
        with pytest.raises(TransientGatewayError):
            await payments.settle(pool, Unreachable(), payment["id"], max_attempts=3)
    # The attempts are used up: the gateway is asked what it did, and says nothing.
    assert await payments.settle(pool, Unreachable(), payment["id"], max_attempts=3) == "failed"
    row = await db.fetchrow(
        "SELECT status, failure_reason, attempts FROM payments WHERE id = $1", payment["id"]
    )
    assert dict(row) == {"status": "failed", "failure_reason": "processing_error", "attempts": 3}
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "pending"
    assert await db.fetchval(
        "SELECT count(*) FROM outbox WHERE topic = 'payment.failed'"
    ) == 1


async def test_exhausted_attempts_record_the_charge_the_gateway_made(client, db, settings, pool):
    from shop_api.domain import payments
    from shop_api.domain.gateway import SandboxGateway, TransientGatewayError

    class LostAnswers(SandboxGateway):
        """Charges, then loses every answer on the way back."""

        async def charge(self, **kwargs):
            await super().charge(**kwargs)
            raise TransientGatewayError("connection reset")

    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")
    for _ in range(2):
        with pytest.raises(TransientGatewayError):
            await payments.settle(pool, LostAnswers(pool), payment["id"], max_attempts=2)
    assert await payments.settle(pool, LostAnswers(pool), payment["id"], max_attempts=2) == (
        "succeeded"
    )
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "paid"
    assert await db.fetchval("SELECT requests FROM sandbox_gateway_operations") == 2


async def test_a_second_successful_charge_of_an_order_is_refunded(client, db, settings, pool):
    from shop_api.domain import payments
    from shop_api.domain.gateway import ChargeResult, SandboxGateway

    buyer, _, order = await _place_order(client, db, settings)
    first = await _pay(client, buyer, order["id"], "tok_visa")
    # The first payment was recorded failed although the gateway charged it (the failure of
    # the old exhausted settlement); the customer paid again.
    await db.execute(
        "UPDATE payments SET status = 'failed', failure_reason = 'processing_error' WHERE id = $1",
        first["id"],
    )
    second = await _pay(client, buyer, order["id"], "tok_mastercard")
    assert await payments.settle(pool, SandboxGateway(pool), second["id"]) == "succeeded"
    async with pool.acquire() as conn:
        late = ChargeResult(True, reference="sandbox_ch_late")
        assert await payments.record_charge(conn, first["id"], late) == "succeeded"
    due = await pool.fetchval("SELECT payload FROM outbox WHERE topic = 'refund.due'")
    assert due == {"payment_id": first["id"], "order_id": order["id"]}
    assert await payments.refund_payment(pool, SandboxGateway(pool), first["id"]) is True
    statuses = await db.fetch("SELECT id, status FROM payments ORDER BY id")
    assert [row["status"] for row in statuses] == ["refunded", "succeeded"]
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "paid"


async def test_reconciliation_redrives_only_what_is_stuck(client, db, settings, pool):
    from shop_api.domain.payments import reconcile

    buyer, _, order = await _place_order(client, db, settings)
    payment = await _pay(client, buyer, order["id"], "tok_visa")

    async def redriven() -> list[int]:
        async with pool.acquire() as conn:
            return await reconcile(conn, older_than_seconds=300, lease_seconds=90)

    assert await redriven() == []  # fresh
    await db.execute("UPDATE payments SET created_at = now() - interval '1 hour'")
    assert await redriven() == []  # old, but its request is still open: the relay's to resend
    await db.execute("UPDATE outbox SET completed_at = now(), pending_tasks = '{}'")
    await db.execute("UPDATE payments SET charge_started_at = now() - interval '30 seconds'")
    assert await redriven() == []  # a charge in flight: slow, not stuck
    await db.execute("UPDATE payments SET charge_started_at = now() - interval '10 minutes'")
    assert await redriven() == [payment["id"]]  # its attempt died: stuck
    assert await redriven() == []  # one message per stuck payment, not one per run
    open_requests = await pool.fetch(
        "SELECT payload FROM outbox WHERE topic = 'payment.requested' AND completed_at IS NULL"
    )
    assert [row["payload"] for row in open_requests] == [{"payment_id": payment["id"]}]

async def test_an_email_change_is_announced_to_the_old_address(client, db, pool, worker, relay):
    mailbox = worker
    account = await create_account(db, "before@example.com", client=client)
    changed = await client.put(
        "/api/auth/me",
        json={"email": "after@example.com", "current_password": account.password},
        headers=account.headers,
    )
    assert changed.status == 200
    await eventually(lambda: ready(len(mailbox.messages) == 1), pool=pool, relay=relay)
    message = mailbox.messages[0]
    assert message["To"] == "before@example.com"
    assert message["Subject"] == "The email address of your account was changed"
    for part in ("plain", "html"):
        content = message.get_body(preferencelist=(part,)).get_content()
        assert "before@example.com" in content and "after@example.com" in content
    assert await db.fetchval("SELECT recipient FROM sent_emails") == "before@example.com"


async def test_a_deleted_account_is_sent_only_the_cancellations_of_its_deletion(
    client, db, settings, pool, worker, relay, idle
):
    mailbox = worker
    admin = await create_account(db, "boss@example.com", settings=settings, role="admin")
    buyer, product, pending = await _place_order(client, db, settings)
    kept = await place_order(client, buyer, (product, 1))
    await move_through(client, admin, kept["id"], "paid")
    deleted = await client.delete(
        "/api/auth/me", json={"current_password": buyer.password}, headers=buyer.headers
    )
    assert deleted.status == 204
    await move_through(client, admin, kept["id"], "processing", "shipped")

    async def every_row_closed():
        return await db.fetchval("SELECT count(*) FROM outbox WHERE completed_at IS NULL") == 0

    await eventually(every_row_closed, pool=pool, relay=relay)
    await idle()
    # The cancellation goes to the address the account had; the confirmations and the
    # shipping notice, read after the deletion, have nobody to go to.
    assert mailbox.subjects() == [f"Order #{pending['id']} was cancelled"]
    assert mailbox.messages[0]["To"] == "shopper@example.com"
    text = mailbox.messages[0].get_body(preferencelist=("plain",)).get_content()
    assert "You were not charged" in text


# -- "Done when": the quote, the order, the payment and the receipt email agree ---------------


def _body_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


async def test_quote_order_payment_refund_and_emails_carry_one_total(
    client, db, admin, customer, pool, worker, relay
):
    mailbox = worker
    usa = await zone(client, admin, "United States", ["US"])
    await method(client, admin, usa["id"], "Ground", "7.00")
    await tax_rate(client, admin, "US", "0.08875", region="NY")
    mug = await create_product(db, name="Blue Mug", price="12.99", stock=10)
    await fill_cart(client, customer, (mug, 3))
    the_quote = await quoted(client, customer, {"shipping_address": BROOKLYN})
    order = await placed(
        client, customer, {"shipping_address": BROOKLYN, "expected_total": the_quote["total"]}
    )
    same_money(order, the_quote)

    paid = await client.post(
        "/api/payments/process",
        json={"order_id": order["id"], "payment_token": "tok_visa"},
        headers=customer.headers,
    )
    payment = await paid.json()

    async def receipt():
        found = [m for m in mailbox.messages if str(m["Subject"]).startswith("Receipt")]
        return found[0] if found else None

    message = await eventually(receipt, pool=pool, relay=relay)
    text = _body_text(message)
    for line in (
        "Subtotal: 38.97 USD",
        "Shipping (Ground): 7.00 USD",
        "Tax: 4.08 USD",
        "Total: 50.05 USD",
        "payment of 50.05 USD",
    ):
        assert line in text, line
    confirmation = next(m for m in mailbox.messages if "confirmed" in str(m["Subject"]))
    assert "Total: 50.05 USD" in _body_text(confirmation)
    assert "Brooklyn" in _body_text(confirmation)

    # Cancelling the paid order refunds exactly what was charged.
    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=customer.headers)
    assert cancelled.status == 200

    async def refunded():
        row = await db.fetchrow(
            "SELECT status, amount FROM payments WHERE id = $1", payment["id"]
        )
        return row if row["status"] == "refunded" else None

    await eventually(refunded, pool=pool, relay=relay)
    # What the gateway was asked for: one charge and one refund, both of the order's total.
    operations = await db.fetch(
        "SELECT operation, amount FROM sandbox_gateway_operations ORDER BY created_at"
    )
    assert [(op["operation"], op["amount"]) for op in operations] == [
        ("charge", Decimal("50.05")),
        ("refund", Decimal("50.05")),
    ]


async def test_the_confirmation_email_shows_the_coupons_discount(
    client, db, admin, customer, pool, worker, relay
):
    mailbox = worker
    await promotion(client, admin, name="Spring sale", code="SPRING", value="15")
    await fill_cart(client, customer, (await create_product(db, name="Blue Mug", price="20.00"), 1))
    order = await placed(
        client, customer, {"delivery_address": "1 Main Street", "coupon_code": "spring"}
    )
    assert order["total_amount"] == "17.00"

    async def confirmation():
        found = [m for m in mailbox.messages if "confirmed" in str(m["Subject"])]
        return found[0] if found else None

    message = await eventually(confirmation, pool=pool, relay=relay)
    text = _body_text(message)
    assert "Spring sale (SPRING): -3.00 USD" in text
    assert "Total: 17.00 USD" in text
    assert "Spring sale" in message.get_body(preferencelist=("html",)).get_content()

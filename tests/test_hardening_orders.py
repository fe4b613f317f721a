"""Stock never held hostage: unpaid orders expire, and one customer holds a bounded number of
pending orders (API.md, Hardening)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from factories import (
    assert_problem,
    checkout,
    create_account,
    create_product,
    fill_cart,
    place_order,
    stock_of,
)

from shop_api.db import create_pool
from shop_api.domain.order_expiry import expire_unpaid_orders
from shop_api.ops.cli import main
from shop_api.relay import run_maintenance
from shop_api.settings import Settings, SettingsError

TIMEOUT = 60


@pytest.fixture
async def pool(services):
    created = await create_pool(services.database_url, min_size=1, max_size=4)
    yield created
    await created.close()


async def _expire(pool, *, timeout_minutes: int = TIMEOUT) -> list[int]:
    async with pool.acquire() as conn:
        return await expire_unpaid_orders(conn, timeout_minutes=timeout_minutes)


async def _age(db, order_id: int, minutes: int) -> None:
    await db.execute(
        "UPDATE orders SET created_at = now() - make_interval(mins => $2) WHERE id = $1",
        order_id, minutes,
    )


async def _status(db, order_id: int) -> str:
    return await db.fetchval("SELECT status FROM orders WHERE id = $1", order_id)


async def test_an_unpaid_order_expires_as_a_customer_cancel_would(client, db, settings, pool):
    buyer = await create_account(db, "hoarder@example.com", settings=settings)
    product = await create_product(db, stock=4)
    order = await place_order(client, buyer, (product, 4))
    assert await stock_of(db, product) == 0
    await _age(db, order["id"], TIMEOUT + 1)

    assert await _expire(pool) == [order["id"]]

    assert await stock_of(db, product) == 4
    seen = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert seen["status"] == "cancelled"
    history = await db.fetch(
        "SELECT from_status, to_status, changed_by, reason FROM order_status_history "
        "WHERE order_id = $1 ORDER BY id", order["id"],
    )
    assert [tuple(row) for row in history][-1] == ("pending", "cancelled", None, "payment_timeout")
    ledger = await db.fetch(
        "SELECT delta, reason, stock_after FROM inventory_ledger WHERE order_id = $1 ORDER BY id",
        order["id"],
    )
    assert [tuple(row) for row in ledger] == [(-4, "checkout", 0), (4, "cancellation", 4)]
    announced = await db.fetch(
        "SELECT payload FROM outbox WHERE topic = 'order.cancelled'"
    )
    assert [json.loads(row["payload"]) for row in announced] == [
        {"order_id": order["id"], "refund": False}
    ]
    # Once is all: a second run finds nothing.
    assert await _expire(pool) == []
    assert await stock_of(db, product) == 4


async def test_an_order_whose_payment_is_pending_is_left_to_the_settlement(
    client, db, settings, pool
):
    buyer = await create_account(db, "payer@example.com", settings=settings)
    product = await create_product(db, stock=3)
    order = await place_order(client, buyer, (product, 2))
    paying = await client.post(
        "/api/payments/process",
        json={"order_id": order["id"], "payment_token": "tok_visa"},
        headers=buyer.headers,
    )
    assert paying.status == 202
    await _age(db, order["id"], TIMEOUT * 10)

    assert await _expire(pool) == []
    assert await _status(db, order["id"]) == "pending"
    assert await stock_of(db, product) == 1
    # The payment failed: the order is then unpaid like any other, and expires.
    await db.execute("UPDATE payments SET status = 'failed'")
    assert await _expire(pool) == [order["id"]]


async def test_a_payment_request_in_flight_keeps_its_order(client, db, settings, pool):
    """request_payment locks the order, then inserts the payment: an expiry meeting that lock
    skips the order, and one after the commit sees the payment."""
    buyer = await create_account(db, "racer@example.com", settings=settings)
    product = await create_product(db, stock=3)
    order = await place_order(client, buyer, (product, 1))
    await _age(db, order["id"], TIMEOUT + 1)
    requesting = db.transaction()
    await requesting.start()
    await db.execute("SELECT 1 FROM orders WHERE id = $1 FOR NO KEY UPDATE", order["id"])

    assert await _expire(pool) == []

    await db.execute(
        "INSERT INTO payments (order_id, user_id, amount, currency, gateway, payment_token) "
        "SELECT id, user_id, total_amount, currency, 'sandbox', 'tok_visa' FROM orders "
        "WHERE id = $1", order["id"],
    )
    await requesting.commit()
    assert await _expire(pool) == []
    assert await _status(db, order["id"]) == "pending"


async def test_a_fresh_order_is_left_alone(client, db, settings, pool):
    buyer = await create_account(db, "quick@example.com", settings=settings)
    product = await create_product(db, stock=3)
    order = await place_order(client, buyer, (product, 1))
    await _age(db, order["id"], TIMEOUT - 1)

    assert await _expire(pool) == []
    assert await _status(db, order["id"]) == "pending"


async def test_a_timeout_of_zero_never_expires(client, db, settings, pool):
    buyer = await create_account(db, "patient@example.com", settings=settings)
    product = await create_product(db, stock=3)
    order = await place_order(client, buyer, (product, 1))
    await _age(db, order["id"], 60 * 24 * 365)

    assert await _expire(pool, timeout_minutes=0) == []
    assert await _status(db, order["id"]) == "pending"


async def test_two_expiry_jobs_at_once_cancel_each_order_once(client, db, settings, services):
    product = await create_product(db, stock=100)
    buyers = [await create_account(db, f"idle{n}@example.com", settings=settings) for n in range(4)]
    orders = []
    for buyer in buyers:
        for _ in range(5):
            orders.append((await place_order(client, buyer, (product, 3)))["id"])
    assert await stock_of(db, product) == 40
    await db.execute("UPDATE orders SET created_at = now() - interval '2 hours'")

    pools = [await create_pool(services.database_url, min_size=1, max_size=1) for _ in range(2)]
    try:
        first, second = await asyncio.gather(*(_expire(each) for each in pools))
    finally:
        await asyncio.gather(*(each.close() for each in pools))

    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(orders)
    assert await stock_of(db, product) == 100
    cancellations = await db.fetchval(
        "SELECT count(*) FROM order_status_history WHERE to_status = 'cancelled'"
    )
    assert cancellations == len(orders)
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'order.cancelled'") == 20


async def test_checkout_past_max_pending_orders_is_a_409(client, db, settings, pool):
    buyer = await create_account(db, "many@example.com", settings=settings)
    product = await create_product(db, stock=20)
    placed = [await place_order(client, buyer, (product, 2)) for _ in range(5)]
    await fill_cart(client, buyer, (product, 2))

    refused = await checkout(client, buyer)
    await assert_problem(refused, 409, "too_many_pending_orders")
    assert await stock_of(db, product) == 10
    cart = await (await client.get("/api/cart", headers=buyer.headers)).json()
    assert [item["quantity"] for item in cart["items"]] == [2]

    # Paying one (or its expiry) frees a place.
    await db.execute("UPDATE orders SET status = 'paid' WHERE id = $1", placed[0]["id"])
    assert (await checkout(client, buyer)).status == 201
    assert await stock_of(db, product) == 8


async def test_concurrent_checkouts_of_one_customer_stop_at_the_limit(client, db, settings):
    assert settings.max_pending_orders == 5
    buyer = await create_account(db, "burst@example.com", settings=settings)
    product = await create_product(db, stock=50)
    for _ in range(4):
        await place_order(client, buyer, (product, 1))
    await fill_cart(client, buyer, (product, 1))

    responses = await asyncio.gather(*(checkout(client, buyer) for _ in range(10)))

    # The checkouts take turns on the cart lock: the first takes the last place, and every
    # other one counts its order (a count read before the lock would let them through to
    # `cart_empty`).
    statuses = sorted(response.status for response in responses)
    assert statuses == [201] + [409] * 9
    codes = {(await r.json())["code"] for r in responses if r.status == 409}
    assert codes == {"too_many_pending_orders"}
    assert await db.fetchval(
        "SELECT count(*) FROM orders WHERE user_id = $1 AND status = 'pending'", buyer.id
    ) == 5
    assert await stock_of(db, product) == 45


def test_the_settings_of_expiry_and_the_limit():
    assert Settings().order_payment_timeout_minutes == 60
    assert Settings().max_pending_orders == 5
    read = Settings.from_env({"ORDER_PAYMENT_TIMEOUT_MINUTES": "0", "MAX_PENDING_ORDERS": "2"})
    assert (read.order_payment_timeout_minutes, read.max_pending_orders) == (0, 2)
    for bad in ({"ORDER_PAYMENT_TIMEOUT_MINUTES": "-1"}, {"MAX_PENDING_ORDERS": "0"}):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)


async def test_the_relay_maintenance_expires_unpaid_orders(client, db, settings, pool):
    buyer = await create_account(db, "forgetful@example.com", settings=settings)
    product = await create_product(db, stock=2)
    order = await place_order(client, buyer, (product, 2))
    await _age(db, order["id"], settings.order_payment_timeout_minutes + 1)

    maintenance = asyncio.create_task(run_maintenance(pool, settings))
    try:
        for _ in range(500):  # its first round runs at once; polled, not timed
            if await _status(db, order["id"]) == "cancelled":
                break
            await asyncio.sleep(0.01)
    finally:
        maintenance.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await maintenance
    assert await _status(db, order["id"]) == "cancelled"
    assert await stock_of(db, product) == 2


async def test_shop_api_orders_expire(client, db, settings, services, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    monkeypatch.setenv("ENV", "development")
    buyer = await create_account(db, "cli@example.com", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, buyer, (product, 5))
    await _age(db, order["id"], 30)

    def run(*argv: str) -> int:
        with pytest.raises(SystemExit) as stopped:
            main(list(argv))
        return stopped.value.code

    assert await asyncio.to_thread(run, "orders", "expire") == 0
    assert "Cancelled 0 unpaid order(s)." in capsys.readouterr().out
    assert await asyncio.to_thread(run, "orders", "expire", "--older-than", "20") == 0
    assert f"Cancelled 1 unpaid order(s): {order['id']}" in capsys.readouterr().out
    assert await stock_of(db, product) == 5

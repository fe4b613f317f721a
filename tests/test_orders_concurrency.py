"""Checkout under real concurrency: real HTTP requests at once, real transactions, real locks.

The test pool holds 20 connections, so the larger races also prove that requests queue for a
connection instead of failing.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import asyncpg
from factories import (
    checkout,
    create_buyers,
    create_product,
    fill_cart,
    stock_of,
    variant_of,
)


async def test_forty_buyers_racing_for_ten_units(client, db, settings):
    product = await create_product(db, stock=10)
    buyers = await create_buyers(db, settings, 40)
    for buyer in buyers:
        await fill_cart(client, buyer, (product, 1))

    responses = await asyncio.gather(*(checkout(client, buyer) for buyer in buyers))
    statuses = Counter(response.status for response in responses)
    assert statuses == {201: 10, 409: 30}
    for response in responses:
        if response.status == 409:
            body = await response.json()
            assert body["code"] == "insufficient_stock"
            assert body["errors"]["items"] == [
                {"product_id": product, "variant_id": await variant_of(db, product),
             "requested": 1, "available": 0}
            ]

    assert await stock_of(db, product) == 0
    assert await db.fetchval("SELECT count(*) FROM orders") == 10
    assert await db.fetchval("SELECT sum(quantity) FROM order_items") == 10
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'order.placed'") == 10
    # The ledger tells the same story: ten units out, stock stepping from 9 down to 0.
    steps = await db.fetch("SELECT delta, stock_after FROM inventory_ledger ORDER BY stock_after")
    assert [(row["delta"], row["stock_after"]) for row in steps] == [(-1, n) for n in range(10)]
    # The losers keep their carts; the winners' carts are empty.
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 30


async def test_opposite_lock_orders_never_deadlock(client, db, settings):
    first = await create_product(db, stock=30)
    second = await create_product(db, stock=30)
    buyers = await create_buyers(db, settings, 30)
    for index, buyer in enumerate(buyers):
        lines = [(first, 1), (second, 1)]
        await fill_cart(client, buyer, *(lines if index % 2 else reversed(lines)))

    responses = await asyncio.gather(*(checkout(client, buyer) for buyer in buyers))
    assert [response.status for response in responses] == [201] * 30
    assert (await stock_of(db, first), await stock_of(db, second)) == (0, 0)
    assert await db.fetchval("SELECT count(*) FROM orders") == 30


async def test_checkouts_and_cancellations_interleave_without_deadlock(client, db, settings):
    products = [await create_product(db, stock=1000) for _ in range(4)]
    buyers = await create_buyers(db, settings, 24)
    first_orders = []
    for buyer in buyers:
        await fill_cart(client, buyer, *((p, 1) for p in random.sample(products, 3)))
        response = await checkout(client, buyer)
        first_orders.append((buyer, (await response.json())["id"]))
    for buyer in buyers:
        await fill_cart(client, buyer, *((p, 2) for p in random.sample(products, 4)))

    async def cancel(buyer, order_id):
        return await client.post(f"/api/orders/{order_id}/cancel", headers=buyer.headers)

    requests = [checkout(client, buyer) for buyer in buyers]
    requests += [cancel(buyer, order_id) for buyer, order_id in first_orders]
    random.shuffle(requests)
    responses = await asyncio.gather(*requests)
    assert Counter(response.status for response in responses) == {201: 24, 200: 24}
    # Only the second orders hold stock now: 24 buyers x 2 units of every product.
    for product in products:
        assert await stock_of(db, product) == 1000 - 48


async def test_a_cart_change_during_checkout_is_never_lost(client, db, settings):
    """An item added while its cart checks out is either in the order or still in the cart."""
    buyers = await create_buyers(db, settings, 10)
    first = await create_product(db, stock=1000)
    late = await create_product(db, stock=1000)
    for buyer in buyers:
        await fill_cart(client, buyer, (first, 1))

    async def add_late(buyer):
        return await client.post(
            "/api/cart/items", json={"product_id": late, "quantity": 1}, headers=buyer.headers
        )

    requests = [checkout(client, buyer) for buyer in buyers] + [add_late(b) for b in buyers]
    responses = await asyncio.gather(*requests)
    assert Counter(response.status for response in responses) == {201: 20}
    ordered = await db.fetchval(
        "SELECT coalesce(sum(quantity), 0) FROM order_items WHERE product_id = $1", late
    )
    in_carts = await db.fetchval(
        "SELECT coalesce(sum(ci.quantity), 0) FROM cart_items ci JOIN product_variants v"
            " ON v.id = ci.variant_id WHERE v.product_id = $1", late
    )
    assert ordered + in_carts == 10
    assert await stock_of(db, late) == 1000 - ordered


async def _checkout_while_the_variant_is_locked(client, db, services, settings, change: str):
    """Check out a one-line cart while another transaction holds its variant's lock, and let
    that transaction commit `change` (SQL on the variant, $1 its id) once the checkout waits."""
    product = await create_product(db, price="10.00", stock=5)
    variant = await variant_of(db, product)
    [buyer] = await create_buyers(db, settings, 1)
    await fill_cart(client, buyer, (product, 1))
    holder = await asyncpg.connect(services.database_url)
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT 1 FROM product_variants WHERE id = $1 FOR NO KEY UPDATE", variant
            )
            pending = asyncio.ensure_future(checkout(client, buyer))
            # The checkout read the cart unlocked, priced it, and waits for this lock.
            for _ in range(1000):
                if await holder.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ):
                    break
                await asyncio.sleep(0.01)
            await holder.execute(change, variant)
        return await pending, product, variant
    finally:
        await holder.close()


async def test_a_price_changed_while_checkout_waits_for_the_lock_is_the_one_charged(
    client, db, services, settings
):
    response, product, variant = await _checkout_while_the_variant_is_locked(
        client, db, services, settings,
        "UPDATE product_variants SET price = 12.00 WHERE id = $1",
    )
    assert response.status == 201
    order = await response.json()
    assert [item["price_at_purchase"] for item in order["items"]] == ["12.00"]
    assert order["subtotal"] == "12.00"
    assert await stock_of(db, product) == 4
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 0


async def test_stock_sold_while_checkout_waits_for_the_lock_is_refused_writing_nothing(
    client, db, services, settings
):
    response, product, variant = await _checkout_while_the_variant_is_locked(
        client, db, services, settings,
        "UPDATE product_variants SET stock_quantity = 0 WHERE id = $1",
    )
    assert response.status == 409
    body = await response.json()
    assert body["code"] == "insufficient_stock"
    assert body["errors"]["items"] == [
        {"product_id": product, "variant_id": variant, "requested": 1, "available": 0}
    ]
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 1

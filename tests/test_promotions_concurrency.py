"""Promotion limits under real concurrency: real HTTP requests at once, real transactions.

The limits are taken in the checkout transaction by a conditional UPDATE and a conditional
upsert (0025), so no number of simultaneous checkouts gets past them, and a refused checkout
changes nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import asyncpg
from admin_pages import sign_in
from factories import (
    ADDRESS,
    assert_problem,
    checkout,
    create_buyers,
    create_order,
    create_product,
    fill_cart,
    promotion,
    stock_of,
    times_used,
)

from shop_api.db import queries
from shop_api.domain import promotions


async def test_fifty_buyers_for_a_code_limited_to_ten(client, db, settings, admin):
    product = await create_product(db, price="20.00", stock=1000)
    code = await promotion(client, admin, name="Spring", code="SPRING15", value="15",
                           usage_limit=10)
    buyers = await create_buyers(db, settings, 50)
    for buyer in buyers:
        await fill_cart(client, buyer, (product, 1))

    responses = await asyncio.gather(
        *(checkout(client, buyer, {**ADDRESS, "coupon_code": "spring15"}) for buyer in buyers)
    )
    assert Counter(response.status for response in responses) == {201: 10, 409: 40}
    for response in responses:
        if response.status == 409:
            assert (await response.json())["code"] == "coupon_exhausted"
        else:
            order = await response.json()
            assert order["discount_total"] == "3.00"
            assert order["discounts"] == [
                {"promotion_id": code["id"], "name": "Spring", "code": "SPRING15",
                 "target": "order", "amount": "3.00"}
            ]
    assert await times_used(db, code["id"]) == 10
    assert await db.fetchval("SELECT count(*) FROM orders") == 10
    assert await db.fetchval("SELECT count(*) FROM promotion_redemptions") == 10
    # Nothing changed for the forty: their carts are full, the stock is theirs to take.
    assert await stock_of(db, product) == 990
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 40
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'order.placed'") == 10

    listed = await client.get(f"/api/admin/promotions/{code['id']}", headers=admin.headers)
    assert (await listed.json())["times_used"] == 10
    await sign_in(client, admin.email)
    page = await (await client.get("/admin/promotions")).text()
    assert 'data-uses="10"' in page and "10 / 10" in page

    # A cancelled order frees its use, and the next buyer gets it; the one after is refused.
    by_user = {buyer.id: buyer for buyer in buyers}
    order_id, user_id = await db.fetchrow("SELECT id, user_id FROM orders ORDER BY id LIMIT 1")
    cancelled = await client.post(f"/api/orders/{order_id}/cancel",
                                  headers=by_user[user_id].headers)
    assert cancelled.status == 200, await cancelled.text()
    assert await times_used(db, code["id"]) == 9
    losers = [b for b, r in zip(buyers, responses, strict=True) if r.status == 409]
    again = await checkout(client, losers[0], {**ADDRESS, "coupon_code": "SPRING15"})
    assert again.status == 201, await again.text()
    assert (await again.json())["discount_total"] == "3.00"
    assert await times_used(db, code["id"]) == 10
    refused = await checkout(client, losers[1], {**ADDRESS, "coupon_code": "SPRING15"})
    await assert_problem(refused, 409, "coupon_exhausted")


async def test_one_use_per_customer_among_eight_concurrent_checkouts(client, db, settings, admin):
    product = await create_product(db, price="10.00", stock=1000)
    code = await promotion(client, admin, code="ONCE", value="50", usage_limit_per_customer=1)
    [buyer] = await create_buyers(db, settings, 1)
    await fill_cart(client, buyer, (product, 1))

    responses = await asyncio.gather(
        *(checkout(client, buyer, {**ADDRESS, "coupon_code": "ONCE"}) for _ in range(8))
    )
    statuses = Counter(response.status for response in responses)
    # The first empties the cart; the others find it empty (422) or, having read the coupon's
    # use before the first committed, are refused by the upsert (409): never a second order.
    assert statuses[201] == 1
    for response in responses:
        if response.status != 201:
            assert (await response.json())["code"] in ("cart_empty", "coupon_exhausted")
    assert await db.fetchval("SELECT count(*) FROM orders") == 1
    assert await times_used(db, code["id"]) == 1

    # A second use later, with a full cart, is refused and changes nothing.
    await fill_cart(client, buyer, (product, 2))
    quoted = await client.post("/api/cart/quote", json={"coupon_code": "once"},
                               headers=buyer.headers)
    await assert_problem(quoted, 409, "coupon_exhausted")
    again = await checkout(client, buyer, {**ADDRESS, "coupon_code": "ONCE"})
    await assert_problem(again, 409, "coupon_exhausted")
    assert await stock_of(db, product) == 999
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 1


async def test_the_per_customer_counter_holds_without_the_cart_lock(
    db, settings, client, admin, services
):
    """The mechanism alone: eight transactions of one customer, each with its own order (no
    cart in between), take a use of a promotion limited to two per customer at once."""
    product = await create_product(db, stock=1000)
    code = await promotion(client, admin, code="TWICE", usage_limit_per_customer=2)
    [buyer] = await create_buyers(db, settings, 1)
    order_ids = [await create_order(db, buyer.id, [(product, 1)]) for _ in range(8)]
    connections = [await asyncpg.connect(services.database_url) for _ in order_ids]
    async def take(conn, order_id):
        async with conn.transaction():
            row = await queries.take_promotion_use(
                conn, promotion_id=code["id"], order_id=order_id, user_id=buyer.id,
                amount=Decimal(1),
            )
            if not row["redeemed"]:
                raise promotions.CouponExhausted("used up")
            return order_id

    try:
        results = await asyncio.gather(
            *(take(conn, order_id) for conn, order_id in zip(connections, order_ids, strict=True)),
            return_exceptions=True,
        )
    finally:
        for conn in connections:
            await conn.close()
    taken = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, promotions.CouponExhausted)]
    assert (len(taken), len(refused)) == (2, 6)
    assert await times_used(db, code["id"]) == 2
    assert await db.fetchval(
        "SELECT uses FROM promotion_customer_uses WHERE user_id = $1", buyer.id
    ) == 2
    assert sorted(
        await db.fetchval("SELECT array_agg(order_id) FROM promotion_redemptions")
    ) == sorted(taken)

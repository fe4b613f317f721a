"""The sales dashboard: every figure checked against orders the test placed through the API."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from factories import create_account, create_product, move_through, place_order, variant_of

from shop_api.web.app import create_app

REVENUE_STATUSES = {"paid", "processing", "shipped", "delivered"}


async def place(client, buyer, *lines) -> int:
    return (await place_order(client, buyer, *lines))["id"]


async def placed_days_ago(db, order_id: int, days: int) -> None:
    await db.execute(
        "UPDATE orders SET created_at = now() - make_interval(days => $1) WHERE id = $2",
        days, order_id,
    )


async def dashboard(client, admin) -> dict:
    response = await client.get("/api/admin/dashboard", headers=admin.headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


def last_30_days() -> list[str]:
    today = datetime.now(UTC).date()
    return [(today - timedelta(days=back)).isoformat() for back in range(29, -1, -1)]


async def test_an_empty_shop_has_zeros_and_thirty_days(client, admin):
    body = await dashboard(client, admin)
    assert body == {
        "revenue_total": "0.00",
        "currency": "USD",
        "orders_total": 0,
        "orders_by_status": {
            "pending": 0, "paid": 0, "processing": 0, "shipped": 0, "delivered": 0,
            "cancelled": 0,
        },
        "customers_total": 0,
        "new_customers_30d": 0,
        "revenue_by_day": [
            {"date": day, "revenue": "0.00", "orders": 0} for day in last_30_days()
        ],
        "top_products": [],
        "low_stock": [],
    }


async def test_figures_match_the_orders_placed(client, db, settings, admin):
    ann = await create_account(db, "ann@example.com", settings=settings)
    ben = await create_account(db, "ben@example.com", settings=settings)
    old = await create_account(db, "old@example.com", settings=settings)
    await db.execute(
        "UPDATE users SET created_at = now() - interval '60 days' WHERE id = $1", old.id
    )
    mug = await create_product(db, name="Mug", price="10.00", stock=100)
    pen = await create_product(db, name="Pen", price="2.50", stock=100)
    lamp = await create_product(db, name="Lamp", price="40.00", stock=4)
    five = await create_product(db, name="Five left", stock=5)
    await create_product(db, name="Six left", stock=6)
    await create_product(db, name="Withdrawn", stock=0, is_active=False)

    paid_today = await place(client, ann, (mug, 2))  # 20.00
    await move_through(client, admin, paid_today, "paid")
    shipped = await place(client, ben, (pen, 4))  # 10.00
    await move_through(client, admin, shipped, "paid", "processing", "shipped")
    await placed_days_ago(db, shipped, 3)
    delivered = await place(client, ann, (lamp, 1))  # 40.00
    await move_through(client, admin, delivered, "paid", "processing", "shipped", "delivered")
    await placed_days_ago(db, delivered, 29)
    before_window = await place(client, ben, (mug, 1))  # 10.00, counted but not by day
    await move_through(client, admin, before_window, "paid", "processing")
    await placed_days_ago(db, before_window, 45)
    await place(client, ann, (mug, 5))  # pending: never revenue
    refunded = await place(client, ben, (pen, 10))
    await move_through(client, admin, refunded, "paid", "cancelled")
    cancelled_early = await place(client, ann, (lamp, 1))
    await move_through(client, admin, cancelled_early, "cancelled")

    body = await dashboard(client, admin)

    assert body["revenue_total"] == "80.00"
    assert body["currency"] == "USD"
    assert body["orders_total"] == 7
    assert body["orders_by_status"] == {
        "pending": 1, "paid": 1, "processing": 1, "shipped": 1, "delivered": 1, "cancelled": 2,
    }
    assert list(body["orders_by_status"]) == [
        "pending", "paid", "processing", "shipped", "delivered", "cancelled"
    ]
    assert (body["customers_total"], body["new_customers_30d"]) == (3, 2)

    days = body["revenue_by_day"]
    assert [day["date"] for day in days] == last_30_days()
    sales = {day["date"]: (day["revenue"], day["orders"]) for day in days if day["orders"]}
    today = datetime.now(UTC).date()
    assert sales == {
        (today - timedelta(days=29)).isoformat(): ("40.00", 1),
        (today - timedelta(days=3)).isoformat(): ("10.00", 1),
        today.isoformat(): ("20.00", 1),
    }
    assert all(day["revenue"] == "0.00" for day in days if not day["orders"])

    assert body["top_products"] == [
        {"product_id": pen, "name": "Pen", "units_sold": 4, "revenue": "10.00"},
        {"product_id": mug, "name": "Mug", "units_sold": 3, "revenue": "30.00"},
        {"product_id": lamp, "name": "Lamp", "units_sold": 1, "revenue": "40.00"},
    ]
    assert body["low_stock"] == [
        {"product_id": lamp, "name": "Lamp", "stock_quantity": 3,
         "variant_id": await variant_of(db, lamp), "variant_title": "Default", "sku": None},
        {"product_id": five, "name": "Five left", "stock_quantity": 5,
         "variant_id": await variant_of(db, five), "variant_title": "Default", "sku": None},
    ]

    # The revenue is the sum of the paid-or-later orders, as the admin's order list shows them.
    listed = await client.get("/api/admin/orders?per_page=100", headers=admin.headers)
    orders = (await listed.json())["items"]
    assert len(orders) == 7
    assert str(sum(
        (Decimal(order["total_amount"]) for order in orders if order["status"] in REVENUE_STATUSES),
        Decimal("0.00"),
    )) == body["revenue_total"]


async def test_top_products_rank_by_units_and_keep_ten(client, db, settings, admin):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    products = [await create_product(db, price="1.00", stock=50) for _ in range(12)]
    # Product n sells n + 1 units; two orders so the units of one product add up.
    first = await place(client, buyer, *[(p, 1) for p in products])
    second = await place(client, buyer, *[(p, n) for n, p in enumerate(products) if n])
    await move_through(client, admin, first, "paid")
    await move_through(client, admin, second, "paid")
    top = (await dashboard(client, admin))["top_products"]
    assert [(row["product_id"], row["units_sold"], row["revenue"]) for row in top] == [
        (products[n], n + 1, f"{n + 1}.00") for n in range(11, 1, -1)
    ]


async def test_low_stock_follows_the_threshold_setting_and_shows_twenty(
    aiohttp_client, db, settings
):
    client = await aiohttp_client(create_app(dataclasses.replace(settings, low_stock_threshold=0)))
    admin = await create_account(db, "admin@example.com", role="admin", client=client)
    empty = [await create_product(db, stock=0) for _ in range(22)]
    await create_product(db, stock=1)
    body = await dashboard(client, admin)
    assert [row["product_id"] for row in body["low_stock"]] == empty[:20]
    assert all(row["stock_quantity"] == 0 for row in body["low_stock"])


async def test_best_sellers_stay_exact_when_orders_are_paid_at_once(client, db, settings, admin):
    import asyncio

    mug = await create_product(db, name="Mug", price="3.00", stock=100)
    pen = await create_product(db, name="Pen", price="1.00", stock=100)
    buyers = [await create_account(db, f"b{n}@example.com", settings=settings) for n in range(12)]
    orders = []
    for n, buyer in enumerate(buyers):
        # Half the carts list the products the other way round.
        lines = [(mug, 2), (pen, 1)] if n % 2 else [(pen, 1), (mug, 2)]
        orders.append(await place(client, buyer, *lines))

    async def pay(order_id: int):
        return await client.put(
            f"/api/admin/orders/{order_id}/status", json={"status": "paid"},
            headers=admin.headers,
        )

    responses = await asyncio.gather(*(pay(order_id) for order_id in orders))
    assert [response.status for response in responses] == [200] * 12
    await move_through(client, admin, orders[0], "cancelled")
    top = (await dashboard(client, admin))["top_products"]
    assert top == [
        {"product_id": mug, "name": "Mug", "units_sold": 22, "revenue": "66.00"},
        {"product_id": pen, "name": "Pen", "units_sold": 11, "revenue": "11.00"},
    ]

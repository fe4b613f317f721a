"""Checkout, order history, detail and cancellation, and the order state machine."""

from __future__ import annotations

import pytest
from factories import (
    ADDRESS,
    assert_problem,
    checkout,
    create_account,
    create_product,
    fill_cart,
    place_order,
    stock_of,
    variant_of,
)

from shop_api.domain import order_status
from shop_api.web.keys import db_pool_key


async def snapshot(db) -> dict:
    """Everything a checkout may change."""
    return {
        "stock": await db.fetch("SELECT id, stock_quantity FROM products ORDER BY id"),
        "cart": await db.fetch("SELECT id, cart_id, variant_id, quantity FROM cart_items"),
        "orders": await db.fetchval("SELECT count(*) FROM orders"),
        "order_items": await db.fetchval("SELECT count(*) FROM order_items"),
        "history": await db.fetchval("SELECT count(*) FROM order_status_history"),
        "ledger": await db.fetchval("SELECT count(*) FROM inventory_ledger"),
        "outbox": await db.fetchval("SELECT count(*) FROM outbox"),
    }


def pool_of(client):
    return client.server.app[db_pool_key]


# -- checkout -----------------------------------------------------------------------------------


async def test_checkout_places_a_pending_order(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    mug = await create_product(db, name="Mug", price="19.99", stock=5)
    pen = await create_product(db, name="Pen", price="0.50", stock=10)
    await fill_cart(client, buyer, (pen, 4), (mug, 2))

    response = await checkout(client, buyer, {**ADDRESS, "notes": "Leave at the door"})
    assert response.status == 201
    assert response.content_type == "application/json"
    assert "Idempotent-Replayed" not in response.headers
    order = await response.json()
    assert order == {
        "id": order["id"],
        "status": "pending",
        "items": [
            {"product_id": mug, "variant_id": await variant_of(db, mug),
             "variant_title": "Default", "sku": None, "product_name": "Mug", "quantity": 2,
             "price_at_purchase": "19.99", "discount": "0.00", "tax": "0.00",
             "line_total": "39.98"},
            {"product_id": pen, "variant_id": await variant_of(db, pen),
             "variant_title": "Default", "sku": None, "product_name": "Pen", "quantity": 4,
             "price_at_purchase": "0.50", "discount": "0.00", "tax": "0.00",
             "line_total": "2.00"},
        ],
        # A shop with no shipping zones, tax rates or promotions charges the lines alone.
        "subtotal": "41.98",
        "discount_total": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "tax_total": "0.00",
        "total_amount": "41.98",
        "tax_included": False,
        "currency": "USD",
        "delivery_address": ADDRESS["delivery_address"],
        "shipping_address": None,
        "shipping_method": None,
        "discounts": [],
        "notes": "Leave at the door",
        "payment": None,
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
    }
    assert order["created_at"].endswith("+00:00")

    assert await stock_of(db, mug) == 3
    assert await stock_of(db, pen) == 6
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 0
    history = await db.fetch("SELECT * FROM order_status_history WHERE order_id = $1", order["id"])
    assert [(row["from_status"], row["to_status"], row["changed_by"]) for row in history] == [
        (None, "pending", buyer.id)
    ]
    ledger = await db.fetch(
        "SELECT product_id, delta, reason, stock_after, order_id, actor_id "
        "FROM inventory_ledger ORDER BY product_id"
    )
    assert [tuple(row) for row in ledger] == [
        (mug, -2, "checkout", 3, order["id"], buyer.id),
        (pen, -4, "checkout", 6, order["id"], buyer.id),
    ]
    outbox = await db.fetch("SELECT topic, payload::text, sent_at FROM outbox")
    assert [(row["topic"], row["sent_at"]) for row in outbox] == [("order.placed", None)]
    assert outbox[0]["payload"] == f'{{"order_id": {order["id"]}}}'


async def test_checkout_answers_with_and_without_the_trailing_slash(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    for path in ("/api/orders", "/api/orders/"):
        await fill_cart(client, buyer, (product, 1))
        response = await checkout(client, buyer, path=path)
        assert response.status == 201, path


async def test_an_empty_cart_cannot_be_checked_out(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    response = await checkout(client, buyer)  # no cart at all yet
    await assert_problem(response, 422, "cart_empty")
    await client.get("/api/cart", headers=buyer.headers)  # an existing, empty cart
    response = await checkout(client, buyer)
    assert (await response.json())["code"] == "cart_empty"
    assert await db.fetchval("SELECT count(*) FROM orders") == 0


async def test_short_stock_lists_every_short_item_and_changes_nothing(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    first = await create_product(db, stock=5)
    plenty = await create_product(db, stock=50)
    second = await create_product(db, stock=5)
    await fill_cart(client, buyer, (first, 4), (plenty, 10), (second, 5))
    await db.execute(
        "UPDATE product_variants SET stock_quantity = 2 WHERE product_id = ANY($1)",
        [first, second],
    )
    before = await snapshot(db)

    response = await checkout(client, buyer)
    body = await assert_problem(response, 409, "insufficient_stock")
    assert body["detail"] == "Not enough stock for 2 items."
    assert body["errors"] == {
        "items": [
            {"product_id": first, "variant_id": await variant_of(db, first),
             "requested": 4, "available": 2},
            {"product_id": second, "variant_id": await variant_of(db, second),
             "requested": 5, "available": 2},
        ]
    }
    assert await snapshot(db) == before


async def test_a_withdrawn_product_refuses_checkout_and_changes_nothing(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    kept = await create_product(db, stock=5)
    withdrawn = await create_product(db, stock=5)
    await fill_cart(client, buyer, (kept, 1), (withdrawn, 2))
    await db.execute(
        "UPDATE products SET is_active = false, deleted_at = now() WHERE id = $1", withdrawn
    )
    before = await snapshot(db)
    response = await checkout(client, buyer)
    body = await assert_problem(response, 409, "product_unavailable")
    assert body["errors"] == {"items": [
        {"product_id": withdrawn, "variant_id": await variant_of(db, withdrawn),
         "requested": 2, "available": 0}
    ]}
    assert await snapshot(db) == before


async def test_checkout_validates_its_body(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    await fill_cart(client, buyer, (product, 1))
    for body, field in [
        ({}, "delivery_address"),
        ({"delivery_address": ""}, "delivery_address"),
        ({"delivery_address": "   "}, "delivery_address"),
        ({"delivery_address": "x" * 1001}, "delivery_address"),
        ({"delivery_address": 12}, "delivery_address"),
        ({**ADDRESS, "notes": "n" * 2001}, "notes"),
        ({**ADDRESS, "status": "paid"}, "status"),
        ({**ADDRESS, "total_amount": "0.01"}, "total_amount"),
        ({**ADDRESS, "items": [{"price_at_purchase": "0.01"}]}, "items"),
        ({**ADDRESS, "user_id": 1}, "user_id"),
    ]:
        response = await checkout(client, buyer, body)
        assert response.status == 422, body
        problem = await response.json()
        assert problem["code"] == "validation_error"
        assert field in problem["errors"], (body, problem)
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 1


async def test_an_order_too_large_for_its_amount_is_refused(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, price="9999999999.99", stock=2)
    await fill_cart(client, buyer, (product, 2))
    response = await checkout(client, buyer)
    assert response.status == 422
    assert "items" in (await response.json())["errors"]
    assert await stock_of(db, product) == 2


async def test_order_items_are_snapshots(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, name="Original name", price="12.50", stock=5)
    order = await place_order(client, buyer, (product, 2))
    await db.execute(
        "UPDATE products SET name = 'Renamed', price = 99.00, is_active = false, "
        "deleted_at = now() WHERE id = $1",
        product,
    )
    detail = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    listed = await (await client.get("/api/orders", headers=buyer.headers)).json()
    for seen in (detail, listed["items"][0]):
        assert seen["items"] == [
            {"product_id": product, "variant_id": await variant_of(db, product),
             "variant_title": "Default", "sku": None, "product_name": "Original name",
             "quantity": 2,
             "price_at_purchase": "12.50", "discount": "0.00", "tax": "0.00",
             "line_total": "25.00"}
        ]
        assert seen["total_amount"] == "25.00"
    assert detail == order


async def test_checkout_needs_a_token(client):
    response = await client.post("/api/orders", json=ADDRESS)
    assert response.status == 401


# -- history and detail -------------------------------------------------------------------------


async def test_order_detail_is_own_orders_only(client, db, settings):
    owner = await create_account(db, "owner@example.com", settings=settings)
    other = await create_account(db, "other@example.com", settings=settings)
    product = await create_product(db)
    order = await place_order(client, owner, (product, 1))
    response = await client.get(f"/api/orders/{order['id']}", headers=owner.headers)
    assert response.status == 200
    assert await response.json() == order
    for who, order_id in [(other, order["id"]), (owner, 999_999)]:
        response = await client.get(f"/api/orders/{order_id}", headers=who.headers)
        await assert_problem(response, 404, "not_found")


async def test_history_newest_first_own_orders_only_with_status_filter(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    other = await create_account(db, "other@example.com", settings=settings)
    product = await create_product(db, stock=100)
    placed = [await place_order(client, buyer, (product, 1)) for _ in range(3)]
    await place_order(client, other, (product, 1))
    await client.post(f"/api/orders/{placed[1]['id']}/cancel", headers=buyer.headers)

    for path in ("/api/orders", "/api/orders/"):
        response = await client.get(path, headers=buyer.headers)
        assert response.status == 200
        page = await response.json()
        assert [order["id"] for order in page["items"]] == [o["id"] for o in reversed(placed)]
        assert (page["page"], page["per_page"], page["total"], page["pages"]) == (1, 20, 3, 1)

    response = await client.get("/api/orders?status=cancelled", headers=buyer.headers)
    page = await response.json()
    assert [order["id"] for order in page["items"]] == [placed[1]["id"]]
    assert page["items"][0]["status"] == "cancelled"
    assert page["total"] == 1
    response = await client.get("/api/orders?status=pending", headers=buyer.headers)
    assert [o["id"] for o in (await response.json())["items"]] == [placed[2]["id"], placed[0]["id"]]
    response = await client.get("/api/orders?status=shipped", headers=buyer.headers)
    assert await response.json() == {"items": [], "page": 1, "per_page": 20, "total": 0,
                                      "total_exact": True, "pages": 0}


async def test_history_is_paginated(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=100)
    ids = [(await place_order(client, buyer, (product, 1)))["id"] for _ in range(5)]
    newest_first = list(reversed(ids))
    seen = []
    for page_number in (1, 2, 3):
        response = await client.get(
            f"/api/orders?page={page_number}&per_page=2", headers=buyer.headers
        )
        page = await response.json()
        assert (page["page"], page["per_page"], page["total"], page["pages"]) == (
            page_number, 2, 5, 3,
        )
        seen += [order["id"] for order in page["items"]]
        assert all(order["items"] for order in page["items"])
    assert seen == newest_first
    response = await client.get("/api/orders?page=4&per_page=2", headers=buyer.headers)
    assert (await response.json())["items"] == []


async def test_history_validates_its_query(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    for query in ("status=lost", "page=0", "per_page=0", "per_page=101", "page=x"):
        response = await client.get(f"/api/orders?{query}", headers=buyer.headers)
        assert response.status == 422, query
        assert (await response.json())["code"] == "validation_error"


# -- cancellation -------------------------------------------------------------------------------


async def test_cancel_a_pending_order_puts_the_stock_back(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    first = await create_product(db, stock=5)
    second = await create_product(db, stock=5)
    order = await place_order(client, buyer, (second, 2), (first, 3))
    assert (await stock_of(db, first), await stock_of(db, second)) == (2, 3)

    response = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert response.status == 200
    cancelled = await response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["items"] == order["items"]
    assert cancelled["updated_at"] >= order["updated_at"]
    assert (await stock_of(db, first), await stock_of(db, second)) == (5, 5)

    history = await db.fetch(
        "SELECT from_status, to_status, changed_by, reason FROM order_status_history "
        "WHERE order_id = $1 ORDER BY id",
        order["id"],
    )
    assert [(r["from_status"], r["to_status"], r["changed_by"]) for r in history] == [
        (None, "pending", buyer.id),
        ("pending", "cancelled", buyer.id),
    ]
    ledger = await db.fetch(
        "SELECT product_id, delta, reason, stock_after, actor_id FROM inventory_ledger "
        "WHERE delta > 0 ORDER BY product_id"
    )
    assert [tuple(row) for row in ledger] == [
        (first, 3, "cancellation", 5, buyer.id),
        (second, 2, "cancellation", 5, buyer.id),
    ]
    message = await db.fetchrow(
        "SELECT topic, payload::text FROM outbox WHERE topic = 'order.cancelled'"
    )
    assert message["payload"] == f'{{"refund": false, "order_id": {order["id"]}}}'

    response = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    await assert_problem(response, 409, "invalid_transition")
    assert await stock_of(db, first) == 5  # a second cancel puts nothing back


async def test_cancelling_a_paid_order_asks_for_a_refund(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, buyer, (product, 2))
    async with pool_of(client).acquire() as conn:
        await order_status.change_status(
            conn, order["id"], "paid", actor_id=None, reason="Paid offline."
        )
    response = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert response.status == 200
    payload = await db.fetchval(
        "SELECT payload::text FROM outbox WHERE topic = 'order.cancelled'"
    )
    assert payload == f'{{"refund": true, "order_id": {order["id"]}}}'
    assert await stock_of(db, product) == 5


async def test_shipped_delivered_or_cancelled_orders_cannot_be_cancelled(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=10)
    order = await place_order(client, buyer, (product, 1))
    async with pool_of(client).acquire() as conn:
        for status in ("paid", "processing", "shipped"):
            await order_status.change_status(conn, order["id"], status, actor_id=None)
    before = await snapshot(db)
    response = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    body = await assert_problem(response, 409, "invalid_transition")
    assert body["detail"] == "An order that is shipped cannot become cancelled."
    assert await snapshot(db) == before


async def test_another_users_order_cannot_be_cancelled(client, db, settings):
    owner = await create_account(db, "owner@example.com", settings=settings)
    other = await create_account(db, "other@example.com", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, owner, (product, 1))
    response = await client.post(f"/api/orders/{order['id']}/cancel", headers=other.headers)
    assert response.status == 404
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "pending"
    assert await stock_of(db, product) == 4
    response = await client.post("/api/orders/424242/cancel", headers=owner.headers)
    assert response.status == 404


# -- the state machine --------------------------------------------------------------------------


def test_transitions_are_exactly_those_of_the_contract():
    allowed = {
        (src, dst)
        for src in order_status.STATUSES
        for dst in order_status.STATUSES
        if order_status.can_change(src, dst)
    }
    assert allowed == {
        ("pending", "paid"), ("pending", "cancelled"),
        ("paid", "processing"), ("paid", "cancelled"),
        ("processing", "shipped"), ("processing", "cancelled"),
        ("shipped", "delivered"),
    }


async def test_change_status_walks_the_happy_path_and_announces_it(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    admin = await create_account(db, "admin@example.com", role="admin", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, buyer, (product, 1))
    async with pool_of(client).acquire() as conn:
        for status in ("paid", "processing", "shipped", "delivered"):
            change = await order_status.change_status(
                conn, order["id"], status, actor_id=admin.id, reason=f"to {status}"
            )
            assert change.to_status == status and change.user_id == buyer.id
        with pytest.raises(order_status.InvalidTransition):
            await order_status.change_status(conn, order["id"], "cancelled", actor_id=admin.id)
        with pytest.raises(order_status.InvalidTransition):
            await order_status.change_status(conn, order["id"], "bogus", actor_id=admin.id)
    history = await db.fetch(
        "SELECT from_status, to_status, changed_by, reason FROM order_status_history "
        "WHERE order_id = $1 ORDER BY id",
        order["id"],
    )
    assert [row["to_status"] for row in history] == [
        "pending", "paid", "processing", "shipped", "delivered",
    ]
    assert all(row["changed_by"] == admin.id for row in history[1:])
    topics = [row["topic"] for row in await db.fetch("SELECT topic FROM outbox ORDER BY id")]
    assert topics == ["order.placed", "order.paid", "order.shipped", "order.delivered"]
    assert await stock_of(db, product) == 4  # only cancellation puts stock back


async def test_change_status_joins_the_callers_transaction(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, buyer, (product, 2))
    async with pool_of(client).acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await order_status.change_status(conn, order["id"], "cancelled", actor_id=None)
                raise RuntimeError("the caller's transaction fails later")
    assert await db.fetchval("SELECT status FROM orders") == "pending"
    assert await stock_of(db, product) == 3
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'order.cancelled'") == 0


async def test_reviews_are_verified_purchases_once_paid(client, db, settings):
    product = await create_product(db, stock=10)
    paid_buyer, pending_buyer, cancelled_buyer, stranger = [
        await create_account(db, f"{name}@example.com", settings=settings)
        for name in ("paid", "pending", "cancelled", "stranger")
    ]
    pool = pool_of(client)
    paid_order = await place_order(client, paid_buyer, (product, 1))
    async with pool.acquire() as conn:
        await order_status.change_status(conn, paid_order["id"], "paid", actor_id=None)
    await place_order(client, pending_buyer, (product, 1))
    cancelled = await place_order(client, cancelled_buyer, (product, 1))
    await client.post(f"/api/orders/{cancelled['id']}/cancel", headers=cancelled_buyer.headers)

    verified = {}
    for buyer in (paid_buyer, pending_buyer, cancelled_buyer, stranger):
        response = await client.post(
            f"/api/products/{product}/reviews", json={"rating": 4}, headers=buyer.headers
        )
        assert response.status == 201, await response.text()
        verified[buyer.email] = (await response.json())["verified_purchase"]
    assert verified == {
        "paid@example.com": True,
        "pending@example.com": False,
        "cancelled@example.com": False,
        "stranger@example.com": False,
    }
    listed = await (await client.get(f"/api/products/{product}/reviews")).json()
    assert sorted(r["verified_purchase"] for r in listed["items"]) == [False, False, False, True]
    detail = await (await client.get(f"/api/products/{product}")).json()
    assert sum(r["verified_purchase"] for r in detail["recent_reviews"]) == 1


async def test_openapi_documents_the_cart_and_order_routes(client):
    document = await (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/cart"]) == {"get", "delete"}
    assert set(paths["/api/cart/items"]) == {"post"}
    assert set(paths["/api/cart/items/{item_id}"]) == {"put", "delete"}
    assert set(paths["/api/orders"]) == {"get", "post"}
    assert set(paths["/api/orders/{order_id}"]) == {"get"}
    assert set(paths["/api/orders/{order_id}/cancel"]) == {"post"}
    checkout_doc = paths["/api/orders"]["post"]
    header = next(p for p in checkout_doc["parameters"] if p["in"] == "header")
    assert header["name"] == "Idempotency-Key"
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
    assert {"201", "409", "422"} <= set(checkout_doc["responses"])
    assert "Idempotent-Replayed" in checkout_doc["responses"]["201"]["headers"]
    order_schema = document["components"]["schemas"]["OrderOut"]
    assert set(order_schema["required"]) >= {"payment", "items", "total_amount", "status"}

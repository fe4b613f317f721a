"""The admin's orders: every user's list, and status changes through the one state machine."""

from __future__ import annotations

import itertools

import orjson
import pytest
from factories import (
    assert_problem,
    create_account,
    create_product,
    move,
    place_order,
    stock_of,
    variant_of,
)

from shop_api.domain import events
from shop_api.domain.order_status import STATUSES, TRANSITIONS


async def set_status(db, order_id: int, status: str) -> None:
    """Put an order straight into a status, to test the moves out of it."""
    await db.execute("UPDATE orders SET status = $1 WHERE id = $2", status, order_id)


async def outbox(db) -> list[tuple[str, dict]]:
    rows = await db.fetch("SELECT topic, payload::text FROM outbox ORDER BY id")
    return [(row["topic"], orjson.loads(row["payload"])) for row in rows]


# -- the list -------------------------------------------------------------------------------


async def test_every_users_orders_newest_first_with_their_owner(client, db, settings, admin):
    ann = await create_account(db, "ann@example.com", settings=settings)
    ben = await create_account(db, "ben@example.com", settings=settings)
    mug = await create_product(db, name="Mug", price="19.99", stock=50)
    first = await place_order(client, ann, (mug, 1))
    second = await place_order(client, ben, (mug, 2))
    third = await place_order(client, ann, (mug, 3))

    response = await client.get("/api/admin/orders", headers=admin.headers)
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert [order["id"] for order in body["items"]] == [third["id"], second["id"], first["id"]]
    assert {key: body[key] for key in ("page", "per_page", "total", "pages")} == {
        "page": 1, "per_page": 20, "total": 3, "pages": 1
    }
    newest = body["items"][0]
    assert newest == {**third, "user": {"id": ann.id, "email": "ann@example.com"}}
    assert newest["items"] == [
        {"product_id": mug, "product_name": "Mug", "quantity": 3,
         "price_at_purchase": "19.99", "discount": "0.00", "tax": "0.00", "line_total": "59.97",
         "variant_id": await variant_of(db, mug), "variant_title": "Default", "sku": None}
    ]
    assert body["items"][1]["user"] == {"id": ben.id, "email": "ben@example.com"}

    trailing = await client.get("/api/admin/orders/?per_page=2&page=2", headers=admin.headers)
    assert trailing.status == 200
    page = await trailing.json()
    assert [order["id"] for order in page["items"]] == [first["id"]]
    assert (page["total"], page["pages"]) == (3, 2)


async def test_the_list_shows_the_latest_payment(client, db, settings, admin):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, buyer, (product, 1))
    payment_id = await db.fetchval(
        "INSERT INTO payments (order_id, user_id, amount, currency, status, gateway, "
        "payment_token) VALUES ($1, $2, 10, 'USD', 'failed', 'sandbox', 'tok_x') RETURNING id",
        order["id"], buyer.id,
    )
    body = await (await client.get("/api/admin/orders", headers=admin.headers)).json()
    assert body["items"][0]["payment"] == {"id": payment_id, "status": "failed"}


async def test_orders_filter_by_status_and_user(client, db, settings, admin):
    ann = await create_account(db, "ann@example.com", settings=settings)
    ben = await create_account(db, "ben@example.com", settings=settings)
    product = await create_product(db, stock=50)
    a1 = await place_order(client, ann, (product, 1))
    b1 = await place_order(client, ben, (product, 1))
    a2 = await place_order(client, ann, (product, 1))
    await set_status(db, a1["id"], "paid")
    await set_status(db, b1["id"], "paid")

    async def ids(query: str) -> tuple[list[int], int]:
        response = await client.get(f"/api/admin/orders{query}", headers=admin.headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        return [order["id"] for order in body["items"]], body["total"]

    assert await ids("?status=paid") == ([b1["id"], a1["id"]], 2)
    assert await ids(f"?user_id={ann.id}") == ([a2["id"], a1["id"]], 2)
    assert await ids(f"?user_id={ann.id}&status=paid") == ([a1["id"]], 1)
    assert await ids(f"?user_id={ann.id}&status=cancelled") == ([], 0)
    assert await ids("?user_id=424242") == ([], 0)


@pytest.mark.parametrize(
    "query", ["?status=lost", "?user_id=0", "?user_id=abc", "?per_page=101", "?page=0"]
)
async def test_orders_refuse_bad_filters(client, admin, query):
    response = await client.get(f"/api/admin/orders{query}", headers=admin.headers)
    await assert_problem(response, 422, "validation_error")


# -- status changes -------------------------------------------------------------------------

ALLOWED = {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets}


def test_the_machine_is_the_one_api_md_describes():
    assert ALLOWED == {
        ("pending", "paid"), ("pending", "cancelled"),
        ("paid", "processing"), ("paid", "cancelled"),
        ("processing", "shipped"), ("processing", "cancelled"),
        ("shipped", "delivered"),
    }


@pytest.mark.parametrize(("src", "dst"), sorted(itertools.product(STATUSES, STATUSES)))
async def test_each_move_is_allowed_or_refused(client, db, settings, admin, src, dst):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    product = await create_product(db, stock=10)
    order = await place_order(client, buyer, (product, 2))
    await set_status(db, order["id"], src)
    history_before = await db.fetchval("SELECT count(*) FROM order_status_history")
    outbox_before = await db.fetchval("SELECT count(*) FROM outbox")

    response = await move(client, admin, order["id"], dst, reason="Checked by hand.")

    if (src, dst) in ALLOWED:
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["status"] == dst
        assert body["user"] == {"id": buyer.id, "email": "ann@example.com"}
        assert body["items"] == order["items"]
        history = await db.fetchrow(
            "SELECT from_status, to_status, changed_by, reason FROM order_status_history "
            "ORDER BY id DESC LIMIT 1"
        )
        assert tuple(history) == (src, dst, admin.id, "Checked by hand.")
    else:
        problem = await assert_problem(response, 409, "invalid_transition")
        assert problem["detail"] == f"An order that is {src} cannot become {dst}."
        assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == src
        assert await db.fetchval("SELECT count(*) FROM order_status_history") == history_before
        assert await db.fetchval("SELECT count(*) FROM outbox") == outbox_before
        assert await stock_of(db, product) == 8


async def test_the_whole_journey_emails_the_customer(client, db, settings, admin):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    product = await create_product(db, stock=10)
    order = await place_order(client, buyer, (product, 2))
    for status in ("paid", "processing", "shipped", "delivered"):
        response = await move(client, admin, order["id"], status)
        assert response.status == 200, await response.text()
    oid = {"order_id": order["id"]}
    assert await outbox(db) == [
        ("order.placed", oid), ("order.paid", oid), ("order.shipped", oid),
        ("order.delivered", oid),
    ]
    history = await db.fetch(
        "SELECT from_status, to_status, changed_by, reason FROM order_status_history ORDER BY id"
    )
    assert [tuple(row) for row in history] == [
        (None, "pending", buyer.id, "Order placed."),
        ("pending", "paid", admin.id, ""),
        ("paid", "processing", admin.id, ""),
        ("processing", "shipped", admin.id, ""),
        ("shipped", "delivered", admin.id, ""),
    ]
    assert await stock_of(db, product) == 8
    # The workers turn shipped and delivered into emails.
    shipped_id = await db.fetchval("SELECT id FROM outbox WHERE topic = 'order.shipped'")
    tasks = events.tasks_for(shipped_id, "order.shipped", oid)
    assert [task.actor_name for task in tasks] == ["send_email", "webhook_fan_out"]
    assert tasks[0].args[0] == "order_shipped"


@pytest.mark.parametrize(("paid_status", "refund"), [
    ("pending", False), ("paid", True), ("processing", True),
])
async def test_cancelling_puts_stock_back_and_refunds_a_paid_order(
    client, db, settings, admin, paid_status, refund
):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    mug = await create_product(db, stock=5)
    pen = await create_product(db, stock=5)
    order = await place_order(client, buyer, (mug, 2), (pen, 1))
    if paid_status != "pending":
        assert (await move(client, admin, order["id"], "paid")).status == 200
    if paid_status == "processing":
        assert (await move(client, admin, order["id"], "processing")).status == 200
    assert (await stock_of(db, mug), await stock_of(db, pen)) == (3, 4)

    response = await move(client, admin, order["id"], "cancelled", reason="Out of ink.")
    assert response.status == 200
    assert (await response.json())["status"] == "cancelled"
    assert (await stock_of(db, mug), await stock_of(db, pen)) == (5, 5)
    cancelled = [payload for topic, payload in await outbox(db) if topic == "order.cancelled"]
    assert cancelled == [{"order_id": order["id"], "refund": refund}]
    ledger = await db.fetch(
        "SELECT product_id, delta, reason, stock_after, order_id, actor_id FROM inventory_ledger "
        "WHERE delta > 0 ORDER BY product_id"
    )
    assert [tuple(row) for row in ledger] == [
        (mug, 2, "cancellation", 5, order["id"], admin.id),
        (pen, 1, "cancellation", 5, order["id"], admin.id),
    ]
    outbox_id = await db.fetchval("SELECT id FROM outbox WHERE topic = 'order.cancelled'")
    actors = [task.actor_name for task in events.tasks_for(
        outbox_id, "order.cancelled", cancelled[0]
    )]
    assert actors == ["send_email", *(["refund_order"] if refund else []), "webhook_fan_out"]
    # Cancelled is final: the stock is not put back twice.
    again = await move(client, admin, order["id"], "cancelled")
    assert again.status == 409
    assert (await stock_of(db, mug), await stock_of(db, pen)) == (5, 5)


@pytest.mark.parametrize("body", [
    {"status": "lost"},
    {"status": ""},
    {"status": None},
    {},
    {"status": "paid", "reason": "x" * 501},
    {"status": "paid", "reason": 7},
    {"status": "paid", "user_id": 1},
    {"status": "PAID"},
])
async def test_status_body_is_validated(client, db, settings, admin, body):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, buyer, (product, 1))
    response = await client.put(
        f"/api/admin/orders/{order['id']}/status", json=body, headers=admin.headers
    )
    await assert_problem(response, 422, "validation_error")
    assert await db.fetchval("SELECT status FROM orders") == "pending"


async def test_a_reason_of_500_characters_is_kept(client, db, settings, admin):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    product = await create_product(db, stock=5)
    order = await place_order(client, buyer, (product, 1))
    response = await move(client, admin, order["id"], "paid", reason="r" * 500)
    assert response.status == 200
    assert await db.fetchval(
        "SELECT length(reason) FROM order_status_history WHERE to_status = 'paid'"
    ) == 500


async def test_an_unknown_order_is_a_404(client, admin):
    response = await move(client, admin, 424242, "paid")
    await assert_problem(response, 404, "not_found")


async def test_a_body_that_is_not_json_is_a_400(client, admin):
    response = await client.put(
        "/api/admin/orders/1/status", data=b"status=paid", headers=admin.headers
    )
    await assert_problem(response, 400, "invalid_json")

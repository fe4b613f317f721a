"""Promotions and coupons through HTTP: the admin API, what applies at quote and checkout, the
errors of a coupon, and the uses cancellation gives back (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from admin_pages import sign_in
from factories import (
    ADDRESS,
    BROOKLYN,
    assert_problem,
    checkout,
    create_product,
    fill_cart,
    method,
    move,
    placed,
    promotion,
    quote,
    quoted,
    same_money,
    stock_of,
    times_used,
    zone,
)

from shop_api.db import create_pool
from shop_api.domain import promotions
from shop_api.domain.order_expiry import expire_unpaid_orders

PROMOTIONS = "/api/admin/promotions"


def _when(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def _category(db, name: str, parent: int | None = None) -> int:
    return await db.fetchval(
        "INSERT INTO categories (name, slug, parent_id) VALUES ($1, $2, $3) RETURNING id",
        name, name.lower(), parent,
    )


# -- the admin API ----------------------------------------------------------------------------


async def test_admin_creates_lists_replaces_and_deactivates(client, db, admin):
    product = await create_product(db)
    created = await promotion(
        client, admin, name="Mugs", code="Mugs5", kind="fixed", value=5, target="items",
        product_ids=[product], usage_limit=3, usage_limit_per_customer=1,
    )
    assert {k: created[k] for k in ("code", "kind", "value", "target", "product_ids",
                                    "category_ids", "times_used", "is_active")} == {
        "code": "Mugs5", "kind": "fixed", "value": "5.00", "target": "items",
        "product_ids": [product], "category_ids": [], "times_used": 0, "is_active": True,
    }
    listed = await (await client.get(f"{PROMOTIONS}?q=mugs", headers=admin.headers)).json()
    assert [p["id"] for p in listed["items"]] == [created["id"]] and listed["total"] == 1

    body = {"name": "All", "kind": "percentage", "value": "12.5", "target": "order",
            "code": None}
    replaced = await client.put(f"{PROMOTIONS}/{created['id']}", json=body,
                                headers=admin.headers)
    assert replaced.status == 200, await replaced.text()
    after = await replaced.json()
    assert (after["code"], after["product_ids"], after["usage_limit"]) == (None, [], None)
    assert await db.fetchval("SELECT count(*) FROM promotion_products") == 0

    gone = await client.delete(f"{PROMOTIONS}/{created['id']}", headers=admin.headers)
    assert gone.status == 204
    inactive = await client.get(f"{PROMOTIONS}?is_active=false", headers=admin.headers)
    assert [p["is_active"] for p in (await inactive.json())["items"]] == [False]
    missing = await client.delete(f"{PROMOTIONS}/999999", headers=admin.headers)
    await assert_problem(missing, 404, "not_found")


async def test_codes_are_unique_regardless_of_case(client, admin):
    await promotion(client, admin, code="Summer")
    again = await client.post(
        PROMOTIONS, json={"name": "x", "code": "SUMMER", "kind": "fixed", "value": "1",
                          "target": "order"},
        headers=admin.headers,
    )
    body = await assert_problem(again, 409, "code_taken")
    assert "code" in body["errors"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"value": "100.01"}, "value"),
        ({"value": "-1"}, "value"),
        ({"kind": "free_shipping", "target": "order"}, "target"),
        ({"target": "items"}, "product_ids"),
        ({"product_ids": [1]}, "product_ids"),
        ({"starts_at": _when(2), "ends_at": _when(1)}, "ends_at"),
        ({"times_used": 3}, "times_used"),
        ({"code": "has space"}, "code"),
        ({"usage_limit_per_customer": 0}, "usage_limit_per_customer"),
        ({"target": "items", "product_ids": [999999]}, "product_ids"),
        ({"target": "items", "category_ids": [999999]}, "category_ids"),
    ],
)
async def test_invalid_promotions_are_refused(client, db, admin, changes, field):
    body = {"name": "x", "kind": "percentage", "value": "10", "target": "order", **changes}
    response = await client.post(PROMOTIONS, json=body, headers=admin.headers)
    problem = await assert_problem(response, 422, "validation_error")
    assert field in problem["errors"], problem
    assert await db.fetchval("SELECT count(*) FROM promotions") == 0


async def test_a_usage_limit_below_the_uses_is_refused(client, db, admin, customer):
    product = await create_product(db)
    code = await promotion(client, admin, code="TWO", usage_limit=5)
    for _ in range(2):
        await fill_cart(client, customer, (product, 1))
        await placed(client, customer, {**ADDRESS, "coupon_code": "TWO"})
    body = {"name": "x", "code": "TWO", "kind": "percentage", "value": "10", "target": "order",
            "usage_limit": 1}
    response = await client.put(f"{PROMOTIONS}/{code['id']}", json=body, headers=admin.headers)
    assert "usage_limit" in (await assert_problem(response, 422, "validation_error"))["errors"]
    assert await times_used(db, code["id"]) == 2


# -- what applies ------------------------------------------------------------------------------


async def test_the_best_of_the_automatic_and_the_coded_promotion_wins(client, db, admin, customer):
    product = await create_product(db, price="100.00", stock=10)
    automatic = await promotion(client, admin, name="Everyone", value="10")
    coded = await promotion(client, admin, name="Coupon", code="BIG", value="15", usage_limit=5)
    await fill_cart(client, customer, (product, 1))

    plain = await quoted(client, customer)
    assert [d["promotion_id"] for d in plain["discounts"]] == [automatic["id"]]
    with_code = await quoted(client, customer, {"coupon_code": "big"})
    assert [(d["promotion_id"], d["amount"]) for d in with_code["discounts"]] == [
        (coded["id"], "15.00")
    ]
    order = await placed(client, customer, {**ADDRESS, "coupon_code": "big"})
    same_money(order, with_code)
    assert order["discounts"] == with_code["discounts"]
    assert await times_used(db, coded["id"]) == 1
    # An unlimited automatic promotion is not counted: no lock for every checkout to wait on.
    assert await times_used(db, automatic["id"]) == 0

    # Now the automatic one is better: the code applies but wins nothing, and takes no use.
    await client.put(
        f"{PROMOTIONS}/{automatic['id']}",
        json={"name": "Everyone", "kind": "percentage", "value": "20", "target": "order"},
        headers=admin.headers,
    )
    await fill_cart(client, customer, (product, 1))
    order = await placed(client, customer, {**ADDRESS, "coupon_code": "BIG"})
    assert [d["promotion_id"] for d in order["discounts"]] == [automatic["id"]]
    assert order["discount_total"] == "20.00"
    assert await times_used(db, coded["id"]) == 1


@pytest.mark.parametrize(
    ("fields", "discount_total", "shipping_total"),
    [
        ({"kind": "percentage", "value": "10", "target": "order"}, "3.00", "5.00"),
        ({"kind": "fixed", "value": "4.50", "target": "order"}, "4.50", "5.00"),
        ({"kind": "fixed", "value": "99", "target": "order"}, "30.00", "5.00"),
        ({"kind": "percentage", "value": "50", "target": "items", "item": True}, "5.00", "5.00"),
        ({"kind": "fixed", "value": "1.25", "target": "items", "item": True}, "1.25", "5.00"),
        ({"kind": "percentage", "value": "20", "target": "shipping"}, "0.00", "4.00"),
        ({"kind": "fixed", "value": "2", "target": "shipping"}, "0.00", "3.00"),
        ({"kind": "free_shipping", "target": "shipping"}, "0.00", "0.00"),
    ],
)
async def test_each_kind_on_each_target(
    client, db, admin, customer, fields, discount_total, shipping_total
):
    usa = await zone(client, admin, "US", ["US"])
    await method(client, admin, usa["id"], "Ground", "5.00")
    mug = await create_product(db, price="10.00", stock=10)
    plate = await create_product(db, price="20.00", stock=10)
    fields = dict(fields)
    if fields.pop("item", False):
        fields["product_ids"] = [mug]
    await promotion(client, admin, code="CODE", **fields)
    await fill_cart(client, customer, (mug, 1), (plate, 1))
    body = {"shipping_address": BROOKLYN, "coupon_code": "CODE"}
    the_quote = await quoted(client, customer, body)
    assert (the_quote["discount_total"], the_quote["shipping_total"]) == (
        discount_total, shipping_total
    )
    order = await placed(client, customer, {**body, "expected_total": the_quote["total"]})
    same_money(order, the_quote)


async def test_an_items_promotion_on_a_parent_category_covers_its_descendants(
    client, db, admin, customer
):
    kitchen = await _category(db, "Kitchen")
    cups = await _category(db, "Cups", kitchen)
    mugs = await _category(db, "Mugs", cups)
    mug = await create_product(db, price="10.00", category_id=mugs)
    other = await create_product(db, price="10.00")
    await promotion(client, admin, code="KITCHEN", target="items", category_ids=[kitchen])
    await fill_cart(client, customer, (mug, 1), (other, 1))
    the_quote = await quoted(client, customer, {"coupon_code": "KITCHEN"})
    assert {i["product_id"]: i["discount"] for i in the_quote["items"]} == {
        mug: "1.00", other: "0.00"
    }


async def test_checkout_matches_categories_read_before_its_locks(
    client, db, admin, customer, settings
):
    kitchen = await _category(db, "Kitchen")
    mugs = await _category(db, "Mugs", kitchen)
    mug = await create_product(db, price="10.00", category_id=mugs)
    await promotion(client, admin, code="KITCHEN", target="items", category_ids=[kitchen])
    await fill_cart(client, customer, (mug, 2))
    # The offer checkout reads before its locks holds the ancestors of the cart's categories.
    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        offer = await promotions.offer(pool, user_id=customer.id, coupon_code="KITCHEN")
        assert offer.categories_of(mugs) == {mugs, kitchen}
        assert offer.covers([mugs, None])
        # One read for another cart (here: none of these categories) is read again.
        stale = await promotions.offer(
            pool, user_id=customer.id, coupon_code="KITCHEN", category_ids=[]
        )
        assert not stale.covers([mugs])
    finally:
        await pool.close()
    response = await checkout(client, customer, {**ADDRESS, "coupon_code": "KITCHEN"})
    assert response.status == 201, await response.text()
    assert (await response.json())["discount_total"] == "2.00"


# -- a coupon's errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        (None, "There is no coupon"),
        ({"is_active": False}, "no longer active"),
        ({"starts_at": _when(1)}, "has not started"),
        ({"starts_at": _when(-3), "ends_at": _when(-1)}, "has expired"),
    ],
)
async def test_an_invalid_coupon_says_why(client, db, admin, customer, fields, says):
    if fields is not None:
        await promotion(client, admin, code="WHY", **fields)
    product = await create_product(db, stock=3)
    await fill_cart(client, customer, (product, 1))
    for response in (
        await quote(client, customer, {"coupon_code": "why"}),
        await checkout(client, customer, {**ADDRESS, "coupon_code": "why"}),
    ):
        problem = await assert_problem(response, 422, "coupon_invalid")
        assert says in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await stock_of(db, product) == 3


async def test_a_window_that_is_on_applies(client, db, admin, customer):
    await promotion(client, admin, code="NOW", starts_at=_when(-1), ends_at=_when(1))
    await fill_cart(client, customer, (await create_product(db, price="10.00"), 1))
    assert (await quoted(client, customer, {"coupon_code": "NOW"}))["discount_total"] == "1.00"


async def test_a_coupon_that_cannot_apply(client, db, admin, customer):
    cheap = await create_product(db, price="10.00")
    elsewhere = await create_product(db, price="10.00")
    await promotion(client, admin, code="BIGCART", min_subtotal="50")
    await promotion(client, admin, code="ONLYTHAT", target="items", product_ids=[elsewhere])
    await fill_cart(client, customer, (cheap, 1))
    for code, says in (("BIGCART", "at least 50.00"), ("ONLYTHAT", "nothing in the cart")):
        for response in (
            await quote(client, customer, {"coupon_code": code}),
            await checkout(client, customer, {**ADDRESS, "coupon_code": code}),
        ):
            problem = await assert_problem(response, 422, "coupon_not_applicable")
            assert says in problem["detail"]
    # An automatic promotion below its minimum simply does not apply.
    await promotion(client, admin, name="Big carts", min_subtotal="50")
    assert (await quoted(client, customer))["discounts"] == []


# -- uses given back ---------------------------------------------------------------------------


async def test_an_admin_cancel_gives_the_use_back_once(client, db, admin, customer):
    code = await promotion(client, admin, code="ONE", usage_limit=1, usage_limit_per_customer=1)
    product = await create_product(db, stock=5)
    await fill_cart(client, customer, (product, 1))
    order = await placed(client, customer, {**ADDRESS, "coupon_code": "ONE"})
    assert await times_used(db, code["id"]) == 1

    assert (await move(client, admin, order["id"], "cancelled")).status == 200
    assert await times_used(db, code["id"]) == 0
    assert await db.fetchval("SELECT uses FROM promotion_customer_uses") == 0
    again = await move(client, admin, order["id"], "cancelled")
    await assert_problem(again, 409, "invalid_transition")
    # The marker guards the give-back itself: a second release gives nothing back.
    async with db.transaction():
        await promotions.give_back(db, order_id=order["id"])
    assert await times_used(db, code["id"]) == 0
    assert await db.fetchval(
        "SELECT released_at IS NOT NULL FROM promotion_redemptions WHERE order_id = $1",
        order["id"],
    )
    # The customer may use it again, as the limit is free again.
    await fill_cart(client, customer, (product, 1))
    await placed(client, customer, {**ADDRESS, "coupon_code": "ONE"})
    assert await times_used(db, code["id"]) == 1


async def test_an_expired_order_gives_its_use_back_to_the_next_buyer(
    client, db, admin, customer, services
):
    code = await promotion(client, admin, code="LAST", usage_limit=1)
    product = await create_product(db, stock=5)
    await fill_cart(client, customer, (product, 1))
    order = await placed(client, customer, {**ADDRESS, "coupon_code": "LAST"})
    await db.execute(
        "UPDATE orders SET created_at = now() - interval '2 hours' WHERE id = $1", order["id"]
    )
    pool = await create_pool(services.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            assert await expire_unpaid_orders(conn, timeout_minutes=60) == [order["id"]]
    finally:
        await pool.close()
    assert await times_used(db, code["id"]) == 0
    await fill_cart(client, customer, (product, 1))
    assert (await placed(client, customer, {**ADDRESS, "coupon_code": "LAST"}))["discounts"]


async def test_a_replayed_checkout_takes_no_second_use(client, db, admin, customer):
    code = await promotion(client, admin, code="REPLAY", usage_limit=5)
    await fill_cart(client, customer, (await create_product(db), 1))
    body = {**ADDRESS, "coupon_code": "REPLAY"}
    first = await checkout(client, customer, body, key="k-1")
    second = await checkout(client, customer, body, key="k-1")
    assert (first.status, second.status) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert await times_used(db, code["id"]) == 1


async def test_the_admin_pages_show_the_discount(client, db, admin, customer):
    code = await promotion(client, admin, name="Spring sale", code="SPRING", value="15")
    await fill_cart(client, customer, (await create_product(db, price="20.00"), 1))
    order = await placed(client, customer, {**ADDRESS, "coupon_code": "SPRING"})
    listed = await (await client.get("/api/admin/orders", headers=admin.headers)).json()
    assert listed["items"][0]["discounts"][0]["promotion_id"] == code["id"]
    await sign_in(client, admin.email)
    page = await (await client.get(f"/admin/orders/{order['id']}")).text()
    for shown in ("Spring sale", "SPRING", "$3.00"):
        assert shown in page, shown

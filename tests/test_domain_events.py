"""The events the catalog, the inventory and refunds announce for webhooks (issue 15), as the
outbox rows written with the change: one per change, none for a refused one.

Every change goes through the API (or, for refunds, the worker's domain function), and the test
reads the outbox as the relay would.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from admin_pages import sign_in
from factories import (
    ADDRESS,
    checkout,
    create_account,
    create_product,
    create_user,
    fill_cart,
    place_order,
    variant_of,
)

from shop_api.db import create_pool
from shop_api.domain import accounts, payments
from shop_api.domain.gateway import SandboxGateway

# The topics of this issue; the outbox holds others (order.placed, emails' topics) beside them.
ANNOUNCED = (
    "product.created", "product.updated", "product.deleted", "inventory.low_stock",
    "payment.refunded", "user.registered",
)


@pytest.fixture
async def pool(services):
    created = await create_pool(services.database_url, min_size=1, max_size=4)
    yield created
    await created.close()


async def announced(db, *topics: str) -> list[tuple[str, dict]]:
    """The outbox rows of `topics` (all of this issue's by default), oldest first."""
    rows = await db.fetch(
        "SELECT topic, payload FROM outbox WHERE topic = ANY($1::text[]) ORDER BY id",
        list(topics or ANNOUNCED),
    )
    return [(row["topic"], json.loads(row["payload"])) for row in rows]


def shirt() -> dict:
    """Two sizes, so its variant routes have something to remove."""
    return {
        "name": "Linen Shirt",
        "options": [{"name": "Size", "values": ["S", "M"]}],
        "variants": [
            {"options": {"Size": size}, "price": "20.00", "stock_quantity": 10,
             "sku": f"SHIRT-{size}"}
            for size in ("S", "M")
        ],
    }


async def created(client, admin, body: dict) -> dict:
    response = await client.post("/api/products", json=body, headers=admin.headers)
    assert response.status == 201, await response.text()
    return await response.json()


# -- the catalog ------------------------------------------------------------------------------


async def test_a_new_product_is_announced_once_and_a_refused_one_not_at_all(client, db, admin):
    mug = await created(client, admin, {"name": "Mug", "price": "8.00", "stock_quantity": 3,
                                        "sku": "MUG-1"})
    shirt_id = (await created(client, admin, shirt()))["id"]
    # Same name: another slug, still one announcement each.
    second_mug = await created(client, admin, {"name": "Mug", "price": "9.00",
                                               "stock_quantity": 3})
    taken = await client.post(
        "/api/products", headers=admin.headers,
        json={"name": "Cup", "price": "5.00", "stock_quantity": 1, "sku": "MUG-1"},
    )
    assert taken.status == 409
    assert await announced(db) == [
        ("product.created", {"product_id": mug["id"]}),
        ("product.created", {"product_id": shirt_id}),
        ("product.created", {"product_id": second_mug["id"]}),
    ]


async def test_concurrent_namesakes_are_each_announced_once(client, db, admin):
    # Same name at once: some lose the race for a slug and try again, in a transaction of
    # their own, so a lost attempt leaves no announcement behind.
    responses = await asyncio.gather(*[
        client.post("/api/products", headers=admin.headers,
                    json={"name": "Mug", "price": "8.00", "stock_quantity": 3})
        for _ in range(8)
    ])
    assert [response.status for response in responses] == [201] * 8
    ids = sorted([(await response.json())["id"] for response in responses])
    assert len(set(ids)) == 8
    events = await announced(db)
    assert sorted(payload["product_id"] for _, payload in events) == ids
    assert {topic for topic, _ in events} == {"product.created"}


async def test_each_change_request_announces_one_update(client, db, admin):
    product = await created(client, admin, shirt())
    product_id = product["id"]
    small, medium = [
        row["id"] for row in await db.fetch(
            "SELECT id FROM product_variants WHERE product_id = $1 ORDER BY position", product_id
        )
    ]
    base = f"/api/products/{product_id}"
    requests = [
        client.put(base, headers=admin.headers, json={"name": "Linen Shirt II"}),
        client.put(f"{base}/variants/{small}", headers=admin.headers,
                   json={"price": "21.00", "stock_quantity": 8, "image_url": None}),
        client.post(f"{base}/variants", headers=admin.headers,
                    json={"options": {"Size": "L"}, "price": "22.00", "stock_quantity": 4}),
        client.delete(f"{base}/variants/{medium}", headers=admin.headers),
        client.put(f"{base}/images", headers=admin.headers,
                   json={"images": [{"url": "https://img.example.com/a.jpg"}]}),
    ]
    for number, request in enumerate(requests, 1):
        response = await request
        assert response.status in (200, 201, 204), await response.text()
        updates = await announced(db, "product.updated")
        assert updates == [("product.updated", {"product_id": product_id})] * number
    # Refused changes announce nothing.
    several = await client.put(base, headers=admin.headers, json={"price": "30.00"})
    assert several.status == 409  # variant_required: the shirt has several variants
    missing = await client.put(f"{base}/variants/{medium}", headers=admin.headers,
                               json={"price": "1.00"})
    assert missing.status == 404  # removed above
    assert len(await announced(db, "product.updated")) == len(requests)


async def test_a_product_edit_that_changes_its_variant_and_image_announces_one_update(
    client, db, admin
):
    mug = await created(client, admin, {"name": "Mug", "price": "8.00", "stock_quantity": 30})
    response = await client.put(
        f"/api/products/{mug['id']}", headers=admin.headers,
        json={"name": "Big Mug", "price": "9.50", "stock_quantity": 25, "sku": "MUG-B",
              "image_url": "https://img.example.com/mug.jpg"},
    )
    assert response.status == 200, await response.text()
    assert await announced(db, "product.updated") == [
        ("product.updated", {"product_id": mug["id"]})
    ]


async def test_stock_changes_through_the_inventory_are_no_product_update(client, db, admin):
    product_id = await create_product(db, stock=40)
    variant_id = await variant_of(db, product_id)
    for url, body in [
        (f"/api/admin/inventory/{product_id}", {"adjustment": -2, "reason": "Count."}),
        (f"/api/admin/inventory/variants/{variant_id}", {"stock_quantity": 30}),
    ]:
        response = await client.put(url, json=body, headers=admin.headers)
        assert response.status == 200, await response.text()
    assert await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", product_id) == 30
    assert await announced(db) == []


async def test_a_deleted_product_is_announced_once(client, db, admin):
    product_id = await create_product(db)
    first = await client.delete(f"/api/products/{product_id}", headers=admin.headers)
    again = await client.delete(f"/api/products/{product_id}", headers=admin.headers)
    assert (first.status, again.status) == (204, 404)
    assert await announced(db) == [("product.deleted", {"product_id": product_id})]


# -- low stock --------------------------------------------------------------------------------


def low(variant_id: int, product_id: int, stock: int, threshold: int = 5) -> tuple[str, dict]:
    return ("inventory.low_stock",
            {"variant_id": variant_id, "product_id": product_id, "stock": stock,
             "threshold": threshold})


async def test_a_checkout_that_takes_stock_to_the_threshold_announces_it_once(
    client, db, settings, customer
):
    assert settings.low_stock_threshold == 5
    mug = await create_product(db, name="Mug", stock=7)
    plenty = await create_product(db, name="Pen", stock=100)
    mug_variant = await variant_of(db, mug)
    await place_order(client, customer, (mug, 3), (plenty, 3))
    assert await announced(db) == [low(mug_variant, mug, 4)]
    # Already low: dropping further is no new crossing.
    await place_order(client, customer, (mug, 1))
    assert await announced(db) == [low(mug_variant, mug, 4)]


async def test_concurrent_checkouts_announce_the_crossing_once(client, db, settings):
    mug = await create_product(db, name="Mug", stock=8)
    buyers = [
        await create_account(db, f"buyer{number}@example.com", settings=settings)
        for number in range(6)
    ]
    for buyer in buyers:
        await fill_cart(client, buyer, (mug, 1))
    responses = await asyncio.gather(
        *[checkout(client, buyer, dict(ADDRESS)) for buyer in buyers]
    )
    assert [response.status for response in responses] == [201] * 6
    # 8 -> 2 one at a time under the variant's lock: only the step 6 -> 5 crosses.
    assert await announced(db) == [low(await variant_of(db, mug), mug, 5)]


async def test_a_checkout_announces_every_variant_it_makes_low(client, db, customer):
    exactly = await create_product(db, name="Lamp", stock=6)  # 6 -> 5: at the threshold
    through = await create_product(db, name="Rug", stock=9)  # 9 -> 0
    stays = await create_product(db, name="Vase", stock=7)  # 7 -> 6: still above
    already = await create_product(db, name="Bowl", stock=4)  # 4 -> 3: was low
    await place_order(client, customer, (exactly, 1), (through, 9), (stays, 1), (already, 1))
    assert sorted(await announced(db), key=lambda event: event[1]["product_id"]) == [
        low(await variant_of(db, exactly), exactly, 5),
        low(await variant_of(db, through), through, 0),
    ]


async def test_a_refused_checkout_announces_nothing(client, db, customer):
    mug = await create_product(db, name="Mug", stock=7)
    short = await create_product(db, name="Rare", stock=1)
    await fill_cart(client, customer, (mug, 3), (short, 1))
    await db.execute("UPDATE product_variants SET stock_quantity = 0 WHERE product_id = $1", short)
    response = await checkout(client, customer, dict(ADDRESS))
    assert response.status == 409
    assert await announced(db) == []


async def test_stock_given_back_and_taken_again_is_a_new_crossing(client, db, customer):
    mug = await create_product(db, name="Mug", stock=7)
    variant_id = await variant_of(db, mug)
    order = await place_order(client, customer, (mug, 3))
    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=customer.headers)
    assert cancelled.status == 200, await cancelled.text()
    assert await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", mug) == 7
    assert await announced(db) == [low(variant_id, mug, 4)]  # the restock announces nothing
    await place_order(client, customer, (mug, 2))
    assert await announced(db) == [low(variant_id, mug, 4), low(variant_id, mug, 5)]


async def test_admin_stock_changes_announce_each_crossing_once(client, db, admin):
    product_id = await create_product(db, stock=8)
    variant_id = await variant_of(db, product_id)
    by_product = f"/api/admin/inventory/{product_id}"
    by_variant = f"/api/admin/inventory/variants/{variant_id}"
    steps = [
        (by_product, {"adjustment": -3, "reason": "Count."}, [5]),  # 8 -> 5: crosses
        (by_variant, {"adjustment": -1, "reason": "Count."}, [5]),  # 5 -> 4: already low
        (by_variant, {"stock_quantity": 4}, [5]),  # no change at all
        (by_product, {"stock_quantity": 20}, [5]),  # refilled: no event
        (by_variant, {"stock_quantity": 2}, [5, 2]),  # 20 -> 2: crosses again
        (by_product, {"adjustment": 10, "reason": "Count."}, [5, 2]),  # 2 -> 12
        (by_product, {"adjustment": -6, "reason": "Count."}, [5, 2]),  # 12 -> 6: above still
        (f"/api/products/{product_id}", {"stock_quantity": 1}, [5, 2, 1]),  # product edit
    ]
    for url, body, stocks in steps:
        response = await client.put(url, json=body, headers=admin.headers)
        assert response.status == 200, (body, await response.text())
        assert await announced(db, "inventory.low_stock") == [
            low(variant_id, product_id, stock) for stock in stocks
        ], body
    refused = await client.put(
        by_product, json={"adjustment": -2, "reason": "Count."}, headers=admin.headers
    )
    assert refused.status == 409  # below zero: nothing changes, nothing is announced
    assert len(await announced(db, "inventory.low_stock")) == 3


async def test_the_admin_pages_stock_forms_announce_a_crossing(client, db):
    await create_user(db, "boss@example.com", role="admin")
    csrf = await sign_in(client, "boss@example.com")
    product_id = await create_product(db, stock=9)
    variant_id = await variant_of(db, product_id)
    for url, form in [
        (f"/admin/inventory/{product_id}", {"mode": "set", "stock_quantity": "6"}),  # above
        (f"/admin/inventory/variants/{variant_id}",
         {"mode": "adjust", "adjustment": "-2", "reason": "Broken"}),  # 6 -> 4: crosses
        (f"/admin/inventory/{product_id}", {"mode": "set", "stock_quantity": "3"}),  # low still
    ]:
        response = await client.post(
            url, data={"csrf_token": csrf, **form}, allow_redirects=False
        )
        assert response.status == 303
    assert await db.fetchval(
        "SELECT stock_quantity FROM product_variants WHERE id = $1", variant_id
    ) == 3
    assert await announced(db) == [low(variant_id, product_id, 4)]


async def test_a_variant_edit_that_makes_it_low_announces_both(client, db, admin):
    product = await created(client, admin, shirt())
    variant_id = await db.fetchval(
        "SELECT id FROM product_variants WHERE product_id = $1 AND sku = 'SHIRT-M'", product["id"]
    )
    response = await client.put(
        f"/api/products/{product['id']}/variants/{variant_id}", headers=admin.headers,
        json={"stock_quantity": 3},
    )
    assert response.status == 200, await response.text()
    assert (await announced(db))[1:] == [
        low(variant_id, product["id"], 3),
        ("product.updated", {"product_id": product["id"]}),
    ]


async def test_a_withdrawn_product_running_low_is_no_alarm(client, db, admin):
    product_id = await create_product(db, stock=10, is_active=False)
    response = await client.put(
        f"/api/admin/inventory/{product_id}", json={"stock_quantity": 1}, headers=admin.headers
    )
    assert response.status == 200, await response.text()
    assert await announced(db) == []


# -- refunds ----------------------------------------------------------------------------------


async def test_a_refund_is_announced_once_however_often_it_runs(client, db, settings, pool):
    gateway = SandboxGateway(pool)
    buyer = await create_account(db, "shopper@example.com", settings=settings)
    product_id = await create_product(db, price="25.00", stock=50)
    order = await place_order(client, buyer, (product_id, 2))
    response = await client.post(
        "/api/payments/process", headers=buyer.headers,
        json={"order_id": order["id"], "payment_token": "tok_visa"},
    )
    assert response.status == 202, await response.text()
    payment_id = (await response.json())["id"]
    assert await payments.settle(pool, gateway, payment_id) == "succeeded"
    cancelled = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    assert cancelled.status == 200, await cancelled.text()
    assert await announced(db) == []
    # The refund_order actor's work, then copies of its message and of refund_payment's.
    assert await payments.refund_order(pool, gateway, order["id"]) == 1
    assert await payments.refund_order(pool, gateway, order["id"]) == 0
    assert await payments.refund_payment(pool, gateway, payment_id) is False
    assert await announced(db) == [
        ("payment.refunded", {"payment_id": payment_id, "order_id": order["id"]})
    ]
    assert await db.fetchval("SELECT status FROM payments WHERE id = $1", payment_id) == "refunded"


# -- customers --------------------------------------------------------------------------------


async def test_registration_announces_the_customer_and_create_admin_does_not(
    client, db, settings, pool
):
    response = await client.post(
        "/api/auth/register", json={"email": "new@example.com", "password": "s3cret-pass"}
    )
    assert response.status == 201, await response.text()
    user_id = (await response.json())["id"]
    await accounts.create_admin(pool, settings, email="boss@example.com", password="s3cret-pass")
    assert await announced(db) == [("user.registered", {"user_id": user_id})]

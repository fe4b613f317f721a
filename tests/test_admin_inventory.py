"""Inventory: the admin's stock list and changes, each kept in the ledger, none lost."""

from __future__ import annotations

import asyncio
import json

import pytest
from factories import (
    assert_problem,
    create_account,
    create_product,
    create_variant,
    fill_cart,
    stock_of,
    variant_of,
)

from shop_api.web.schemas.catalog import MAX_STOCK


async def ledger(db) -> list[tuple]:
    rows = await db.fetch(
        "SELECT product_id, delta, reason, stock_after, order_id, actor_id FROM inventory_ledger "
        "ORDER BY id"
    )
    return [tuple(row) for row in rows]


async def change(client, admin, product_id: int, body: dict):
    return await client.put(f"/api/admin/inventory/{product_id}", json=body, headers=admin.headers)


# -- the list -------------------------------------------------------------------------------


async def make_products(db) -> dict[str, int]:
    ids = {
        "mug": await create_product(db, name="Blue Mug", stock=40),
        "pen": await create_product(db, name="Pen", stock=5),
        "cup": await create_product(db, name="Tea cup", stock=0),
        "old": await create_product(db, name="Old mug", stock=0, is_active=False),
    }
    # SKUs are the variants' (the trigger copies a single variant's to its product).
    await db.execute(
        "UPDATE product_variants SET sku = 'MUG-100%' WHERE product_id = $1", ids["mug"]
    )
    await db.execute("UPDATE product_variants SET sku = 'PEN_1' WHERE product_id = $1", ids["pen"])
    return ids


async def rows(client, admin, query: str = "") -> list[dict]:
    response = await client.get(f"/api/admin/inventory{query}", headers=admin.headers)
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def test_every_product_is_listed_by_id_deleted_ones_included(client, db, admin):
    ids = await make_products(db)
    response = await client.get("/api/admin/inventory/", headers=admin.headers)
    assert response.status == 200
    body = await response.json()
    variants = {name: await variant_of(db, product) for name, product in ids.items()}
    assert body == {
        "items": [
            {"product_id": ids["mug"], "name": "Blue Mug", "sku": "MUG-100%",
             "stock_quantity": 40, "is_active": True, "low_stock": False,
             "variant_id": variants["mug"], "variant_title": "Default"},
            {"product_id": ids["pen"], "name": "Pen", "sku": "PEN_1",
             "stock_quantity": 5, "is_active": True, "low_stock": True,
             "variant_id": variants["pen"], "variant_title": "Default"},
            {"product_id": ids["cup"], "name": "Tea cup", "sku": None,
             "stock_quantity": 0, "is_active": True, "low_stock": True,
             "variant_id": variants["cup"], "variant_title": "Default"},
            {"product_id": ids["old"], "name": "Old mug", "sku": None,
             "stock_quantity": 0, "is_active": False, "low_stock": False,
             "variant_id": variants["old"], "variant_title": "Default"},
        ],
        "page": 1, "per_page": 20, "total": 4, "total_exact": True, "pages": 1,
    }
    page = await client.get("/api/admin/inventory?per_page=3&page=2", headers=admin.headers)
    assert (await page.json())["items"][0]["product_id"] == ids["old"]


async def test_inventory_filters(client, db, admin):
    ids = await make_products(db)

    async def found(query: str) -> list[int]:
        return [row["product_id"] for row in await rows(client, admin, query)]

    assert await found("?low_stock=true") == [ids["pen"], ids["cup"]]
    assert await found("?low_stock=false") == [ids["mug"], ids["old"]]
    assert await found("?search=MUG") == [ids["mug"], ids["old"]]
    assert await found("?search=mug-1") == [ids["mug"]]
    assert await found("?search=100%25") == [ids["mug"]]
    assert await found("?search=n_1") == [ids["pen"]]
    assert await found("?search=_") == [ids["pen"]]
    assert await found("?search=mug&low_stock=true") == []
    assert await found("?search=") == list(ids.values())
    response = await client.get("/api/admin/inventory?low_stock=true", headers=admin.headers)
    assert (await response.json())["total"] == 2


@pytest.mark.parametrize("query", ["?low_stock=yes", "?per_page=0", "?search=" + "x" * 201])
async def test_inventory_refuses_bad_filters(client, admin, query):
    response = await client.get(f"/api/admin/inventory{query}", headers=admin.headers)
    await assert_problem(response, 422, "validation_error")


# -- changes --------------------------------------------------------------------------------


async def test_setting_the_counted_stock(client, db, admin):
    product = await create_product(db, name="Mug", stock=10)
    response = await change(client, admin, product, {"stock_quantity": 3})
    assert response.status == 200
    assert await response.json() == {
        "product_id": product, "name": "Mug", "sku": None, "stock_quantity": 3,
        "is_active": True, "low_stock": True,
        "variant_id": await variant_of(db, product), "variant_title": "Default",
    }
    response = await change(client, admin, product, {"stock_quantity": 25, "reason": "Delivery"})
    assert response.status == 200
    assert (await response.json())["low_stock"] is False
    assert await stock_of(db, product) == 25
    assert await ledger(db) == [
        (product, -7, "Stock count.", 3, None, admin.id),
        (product, 22, "Delivery", 25, None, admin.id),
    ]
    for table, column in (("product_variants", "product_id"), ("products", "id")):
        assert await db.fetchval(
            f"SELECT updated_at > created_at FROM {table} WHERE {column} = $1", product
        ) is True


async def test_adjusting_the_stock(client, db, admin):
    product = await create_product(db, stock=10)
    response = await change(client, admin, product, {"adjustment": 5, "reason": "Restock"})
    assert response.status == 200
    assert (await response.json())["stock_quantity"] == 15
    response = await change(client, admin, product, {"adjustment": -15, "reason": "Broken"})
    assert response.status == 200
    assert (await response.json())["stock_quantity"] == 0
    assert await ledger(db) == [
        (product, 5, "Restock", 15, None, admin.id),
        (product, -15, "Broken", 0, None, admin.id),
    ]


async def test_stock_never_goes_below_zero_and_nothing_changes(client, db, admin):
    product = await create_product(db, stock=3)
    response = await change(client, admin, product, {"adjustment": -4, "reason": "Lost"})
    body = await assert_problem(response, 409, "insufficient_stock")
    assert body["errors"] == {"items": [{"product_id": product, "requested": 4, "available": 3,
                                         "variant_id": await variant_of(db, product)}]}
    assert await stock_of(db, product) == 3
    assert await ledger(db) == []


async def test_a_change_of_nothing_writes_no_ledger_row(client, db, admin):
    product = await create_product(db, stock=7)
    for body in ({"stock_quantity": 7}, {"adjustment": 0, "reason": "Recount"}):
        response = await change(client, admin, product, body)
        assert response.status == 200
        assert (await response.json())["stock_quantity"] == 7
    assert await ledger(db) == []


async def test_a_deleted_product_can_be_restocked(client, db, admin):
    product = await create_product(db, stock=0, is_active=False)
    response = await change(client, admin, product, {"adjustment": 4, "reason": "Returned"})
    assert response.status == 200
    body = await response.json()
    assert (body["stock_quantity"], body["is_active"], body["low_stock"]) == (4, False, False)
    assert await stock_of(db, product) == 4


async def test_an_unknown_product_is_a_404(client, db, admin):
    response = await change(client, admin, 424242, {"stock_quantity": 1})
    await assert_problem(response, 404, "not_found")
    assert await ledger(db) == []


@pytest.mark.parametrize("body", [
    {},
    {"reason": "Recount"},
    {"stock_quantity": 5, "adjustment": 1, "reason": "Both"},
    {"adjustment": 3},
    {"adjustment": 3, "reason": ""},
    {"adjustment": 3, "reason": "   "},
    {"adjustment": 3, "reason": "x" * 501},
    {"adjustment": 3, "reason": None},
    {"stock_quantity": -1},
    {"stock_quantity": "5"},
    {"stock_quantity": 2.5},
    {"stock_quantity": True},
    {"stock_quantity": None},
    {"stock_quantity": 2**31},
    {"adjustment": -(2**31), "reason": "Too far"},
    {"stock_quantity": 5, "is_active": True},
])
async def test_change_bodies_are_validated(client, db, admin, body):
    product = await create_product(db, stock=5)
    response = await change(client, admin, product, body)
    await assert_problem(response, 422, "validation_error")
    assert await ledger(db) == []


async def test_the_stock_cannot_pass_the_stock_limit(client, db, admin):
    product = await create_product(db, stock=MAX_STOCK - 10)
    response = await change(client, admin, product, {"adjustment": 11, "reason": "Too many"})
    await assert_problem(response, 409, "stock_limit")
    assert await stock_of(db, product) == MAX_STOCK - 10
    response = await change(client, admin, product, {"adjustment": 10, "reason": "Just fits"})
    assert response.status == 200
    assert await stock_of(db, product) == MAX_STOCK


async def test_concurrent_adjustments_lose_no_update(client, db, admin):
    product = await create_product(db, stock=10)
    responses = await asyncio.gather(*[
        change(client, admin, product, {"adjustment": 1, "reason": f"Found one ({n})"})
        for n in range(20)
    ])
    assert [response.status for response in responses] == [200] * 20
    assert await stock_of(db, product) == 30
    entries = await ledger(db)
    assert len(entries) == 20
    assert sorted(entry[3] for entry in entries) == list(range(11, 31))
    assert {entry[1] for entry in entries} == {1}


async def test_concurrent_removals_stop_at_zero(client, db, admin):
    product = await create_product(db, stock=10)
    responses = await asyncio.gather(*[
        change(client, admin, product, {"adjustment": -1, "reason": "Damaged"})
        for _ in range(15)
    ])
    assert sorted(response.status for response in responses) == [200] * 10 + [409] * 5
    assert await stock_of(db, product) == 0
    assert len(await ledger(db)) == 10


async def test_adjustments_and_checkouts_share_the_ledger(client, db, settings, admin):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    product = await create_product(db, stock=2)
    await fill_cart(client, buyer, (product, 2))
    checkout, adjusted = await asyncio.gather(
        client.post("/api/orders", json={"delivery_address": "1 Main St"}, headers=buyer.headers),
        change(client, admin, product, {"adjustment": 5, "reason": "Delivery"}),
    )
    assert (checkout.status, adjusted.status) == (201, 200)
    assert await stock_of(db, product) == 5
    entries = await ledger(db)
    assert sorted((entry[1], entry[2]) for entry in entries) == [(-2, "checkout"), (5, "Delivery")]
    # Whatever the order they ran in, each row's stock_after follows from the one before it.
    assert entries[0][3] in (0, 7) and entries[1][3] == 5


# -- variants -------------------------------------------------------------------------------


async def variant_ledger(db) -> list[tuple]:
    rows = await db.fetch(
        "SELECT product_id, variant_id, delta, reason, stock_after, actor_id FROM inventory_ledger "
        "ORDER BY id"
    )
    return [tuple(row) for row in rows]


async def change_variant(client, admin, variant_id: int, body: dict):
    return await client.put(
        f"/api/admin/inventory/variants/{variant_id}", json=body, headers=admin.headers
    )


async def create_shirt(db, *, name: str = "Shirt", stocks: tuple[int, ...] = (3, 8, 20)):
    """A product sold in sizes S, M, L... with these stocks (the factory's default variant
    becomes S); its id and its variants' ids in size order."""
    sizes = ["S", "M", "L", "XL"][: len(stocks)]
    product = await create_product(db, name=name, stock=stocks[0])
    await db.execute(
        "UPDATE products SET options = $2::text::jsonb WHERE id = $1",
        product, json.dumps([{"name": "Size", "values": sizes}]),
    )
    first = await variant_of(db, product)
    await db.execute(
        "UPDATE product_variants SET options = '{\"Size\": \"S\"}', title = 'S', sku = $2 "
        "WHERE id = $1",
        first, f"{name.upper()}-S",
    )
    variants = [first]
    for position, (size, stock) in enumerate(zip(sizes[1:], stocks[1:], strict=True), 1):
        variants.append(await create_variant(
            db, product, options={"Size": size}, title=size, price="12.00", stock=stock,
            sku=f"{name.upper()}-{size}", position=position,
        ))
    return product, variants


async def variant_stock(db, variant_id: int) -> int:
    return await db.fetchval(
        "SELECT stock_quantity FROM product_variants WHERE id = $1", variant_id
    )


async def test_each_variant_is_a_row_grouped_by_product(client, db, admin):
    mug = await create_product(db, name="Mug", stock=40)
    shirt, (small, medium, large) = await create_shirt(db)
    await db.execute(
        "UPDATE product_variants SET is_active = false, deleted_at = now() WHERE id = $1", large
    )
    body = await (await client.get("/api/admin/inventory", headers=admin.headers)).json()
    assert body["total"] == 4
    assert body["items"] == [
        {"variant_id": await variant_of(db, mug), "product_id": mug, "name": "Mug",
         "variant_title": "Default", "sku": None, "stock_quantity": 40, "is_active": True,
         "low_stock": False},
        {"variant_id": small, "product_id": shirt, "name": "Shirt", "variant_title": "S",
         "sku": "SHIRT-S", "stock_quantity": 3, "is_active": True, "low_stock": True},
        {"variant_id": medium, "product_id": shirt, "name": "Shirt", "variant_title": "M",
         "sku": "SHIRT-M", "stock_quantity": 8, "is_active": True, "low_stock": False},
        # A deleted variant is listed, to be restocked, but is no alarm.
        {"variant_id": large, "product_id": shirt, "name": "Shirt", "variant_title": "L",
         "sku": "SHIRT-L", "stock_quantity": 20, "is_active": False, "low_stock": False},
    ]


async def test_low_stock_and_search_are_per_variant(client, db, admin):
    shirt, (small, medium, large) = await create_shirt(db, stocks=(0, 5, 6))
    withdrawn, old = await create_shirt(db, name="Old", stocks=(1, 9))
    await db.execute(
        "UPDATE products SET is_active = false, deleted_at = now() WHERE id = $1", withdrawn
    )
    await db.execute(
        "UPDATE product_variants SET is_active = false, deleted_at = now() WHERE id = $1", large
    )
    await db.execute("UPDATE product_variants SET stock_quantity = 2 WHERE id = $1", large)

    async def found(query: str) -> list[int]:
        rows = await (await client.get(
            f"/api/admin/inventory{query}", headers=admin.headers
        )).json()
        return [row["variant_id"] for row in rows["items"]]

    # On sale means the variant and its product active: the old product's variants are not low.
    assert await found("?low_stock=true") == [small, medium]
    assert await found("?low_stock=false") == [large, *old]
    assert await found("?search=shirt-m") == [medium]
    assert await found("?search=OLD") == old
    assert await found("?search=shirt&low_stock=true") == [small, medium]
    assert await found("?per_page=2&page=2") == [large, old[0]]
    past_the_end = await client.get("/api/admin/inventory?page=9", headers=admin.headers)
    assert {key: value for key, value in (await past_the_end.json()).items()
            if key in ("items", "total")} == {"items": [], "total": 5}


async def test_a_variants_stock_is_set_and_adjusted_in_the_ledger(client, db, admin):
    shirt, (small, medium, large) = await create_shirt(db)
    response = await change_variant(client, admin, medium, {"stock_quantity": 2})
    assert response.status == 200
    assert await response.json() == {
        "variant_id": medium, "product_id": shirt, "name": "Shirt", "variant_title": "M",
        "sku": "SHIRT-M", "stock_quantity": 2, "is_active": True, "low_stock": True,
    }
    response = await change_variant(client, admin, large, {"adjustment": -5, "reason": "Torn"})
    assert response.status == 200
    assert (await response.json())["stock_quantity"] == 15
    assert [await variant_stock(db, v) for v in (small, medium, large)] == [3, 2, 15]
    # The product's stock is the sum of its variants', kept by the trigger.
    assert await stock_of(db, shirt) == 20
    assert await variant_ledger(db) == [
        (shirt, medium, -6, "Stock count.", 2, admin.id),
        (shirt, large, -5, "Torn", 15, admin.id),
    ]


async def test_a_variant_never_goes_below_zero_nor_past_the_limit(client, db, admin):
    shirt, (small, medium, _) = await create_shirt(db)
    response = await change_variant(client, admin, small, {"adjustment": -4, "reason": "Lost"})
    await assert_problem(response, 409, "insufficient_stock")
    await db.execute("UPDATE product_variants SET stock_quantity = $2 WHERE id = $1",
                     medium, MAX_STOCK - 1)
    response = await change_variant(client, admin, medium, {"adjustment": 2, "reason": "Many"})
    await assert_problem(response, 409, "stock_limit")
    assert [await variant_stock(db, v) for v in (small, medium)] == [3, MAX_STOCK - 1]
    assert await variant_ledger(db) == []


async def test_the_release_1_route_needs_a_single_variant(client, db, admin):
    shirt, variants = await create_shirt(db)
    response = await change(client, admin, shirt, {"stock_quantity": 1})
    body = await assert_problem(response, 409, "variant_required")
    assert "3 variants" in body["detail"]
    assert [await variant_stock(db, v) for v in variants] == [3, 8, 20]
    assert await variant_ledger(db) == []
    # Once only one variant is on sale, the product means that one.
    await db.execute(
        "UPDATE product_variants SET is_active = false, deleted_at = now() WHERE id = ANY($1)",
        variants[1:],
    )
    response = await change(client, admin, shirt, {"adjustment": 4, "reason": "Found"})
    assert response.status == 200
    body = await response.json()
    assert (body["product_id"], body["variant_id"], body["sku"], body["stock_quantity"]) == (
        shirt, variants[0], "SHIRT-S", 7,
    )
    assert await variant_ledger(db) == [(shirt, variants[0], 4, "Found", 7, admin.id)]


async def test_unknown_variants_and_products_are_404s(client, db, admin):
    shirt, variants = await create_shirt(db)
    response = await change_variant(client, admin, variants[-1] + 100, {"stock_quantity": 1})
    await assert_problem(response, 404, "not_found")
    response = await change(client, admin, shirt + 100, {"stock_quantity": 1})
    await assert_problem(response, 404, "not_found")
    for path in ("/api/admin/inventory/variants/x", "/api/admin/inventory/variants/"):
        response = await client.put(path, json={"stock_quantity": 1}, headers=admin.headers)
        assert response.status in (404, 405)
    response = await change_variant(client, admin, variants[0], {"stock_quantity": -1})
    await assert_problem(response, 422, "validation_error")
    assert await variant_ledger(db) == []


async def test_concurrent_adjustments_of_one_variant_lose_nothing(client, db, admin):
    shirt, (small, medium) = await create_shirt(db, stocks=(10, 10))
    responses = await asyncio.gather(*[
        change_variant(client, admin, small if n % 4 else medium,
                       {"adjustment": 1, "reason": f"Found one ({n})"})
        for n in range(20)
    ])
    assert [response.status for response in responses] == [200] * 20
    assert [await variant_stock(db, v) for v in (small, medium)] == [25, 15]
    assert await stock_of(db, shirt) == 40
    entries = await variant_ledger(db)
    assert sorted(entry[4] for entry in entries if entry[1] == small) == list(range(11, 26))
    assert sorted(entry[4] for entry in entries if entry[1] == medium) == list(range(11, 16))
    assert {entry[0] for entry in entries} == {shirt}


async def test_the_dashboard_lists_low_variants_emptiest_first(client, db, admin):
    shirt, (small, medium, large) = await create_shirt(db, stocks=(4, 1, 50))
    pen = await create_product(db, name="Pen", stock=2)
    withdrawn, _ = await create_shirt(db, name="Old", stocks=(0, 0))
    await db.execute(
        "UPDATE products SET is_active = false, deleted_at = now() WHERE id = $1", withdrawn
    )
    body = await (await client.get("/api/admin/dashboard", headers=admin.headers)).json()
    assert body["low_stock"] == [
        {"variant_id": medium, "product_id": shirt, "name": "Shirt", "variant_title": "M",
         "sku": "SHIRT-M", "stock_quantity": 1},
        {"variant_id": await variant_of(db, pen), "product_id": pen, "name": "Pen",
         "variant_title": "Default", "sku": None, "stock_quantity": 2},
        {"variant_id": small, "product_id": shirt, "name": "Shirt", "variant_title": "S",
         "sku": "SHIRT-S", "stock_quantity": 4},
    ]

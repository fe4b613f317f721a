"""Sample data: the demo shop (once, and never twice) and synthetic products for load tests."""

from __future__ import annotations

import dataclasses
import json

import pytest
from factories import assert_problem

from shop_api.ops.seed import DEMO_LOGINS, SeedError, seed_demo, seed_synthetic_products

SNAPSHOT = """
SELECT (SELECT count(*) FROM categories) AS categories,
       (SELECT count(*) FROM products) AS products,
       (SELECT count(*) FROM reviews) AS reviews,
       (SELECT count(*) FROM users) AS users,
       (SELECT string_agg(password_hash, ',' ORDER BY id) FROM users) AS hashes,
       (SELECT string_agg(id || ':' || price || ':' || stock_quantity || ':' || updated_at,
                          ',' ORDER BY id) FROM products) AS product_rows
"""


async def test_seed_fills_an_empty_database_with_a_realistic_shop(db, client, settings):
    result = await seed_demo(db, settings)
    assert result.created is True
    assert result.categories >= 8 and result.products >= 60 and result.reviews > 0
    assert {login.email for login in result.logins} == {
        "admin@example.com", "customer@example.com"
    }

    tree = await db.fetch("SELECT id, parent_id FROM categories")
    top = {row["id"] for row in tree if row["parent_id"] is None}
    assert len(tree) == result.categories
    assert top and all(row["parent_id"] in top for row in tree if row["parent_id"] is not None)
    assert all(any(row["parent_id"] == parent for row in tree) for parent in top)

    stats = await db.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE stock_quantity = 0) AS sold_out,"
        " count(DISTINCT name) AS names, min(price) AS low, max(price) AS high,"
        " min(length(description)) AS shortest FROM products"
    )
    assert stats["n"] == result.products and stats["names"] == stats["n"]
    assert 3 <= stats["sold_out"] < stats["n"] / 2
    assert stats["low"] > 0 and stats["high"] > 100 and stats["shortest"] > 30

    ratings = await db.fetchrow(
        "SELECT sum(rating_count) AS n, sum(rating_sum) AS total FROM products"
    )
    stored = await db.fetchrow("SELECT count(*) AS n, sum(rating) AS total FROM reviews")
    assert (ratings["n"], ratings["total"]) == (stored["n"], stored["total"])

    # The shop is usable over HTTP: browse it, filter it, and sign in with the printed logins.
    page = await (await client.get("/api/products", params={"category": "electronics"})).json()
    assert page["total"] >= 10
    search = await (await client.get("/api/products", params={"search": "coffee"})).json()
    assert search["total"] >= 3
    for login in result.logins:
        response = await client.post("/api/auth/login",
                                     json={"email": login.email, "password": login.password})
        assert response.status == 200, login
        assert (await response.json())["user"]["role"] == login.role


async def test_the_demo_sells_clothes_and_shoes_in_sizes_and_colours(db, client, settings):
    await seed_demo(db, settings)
    # Every product has an active variant, and its summary columns are those of its variants.
    summaries = await db.fetch(
        "SELECT p.id, p.name, p.sku, p.options::text AS options, p.price, p.price_max,"
        " p.stock_quantity, p.variant_count, min(v.price) AS low, max(v.price) AS high,"
        " sum(v.stock_quantity) AS stock, count(v.id) AS variants,"
        " count(v.id) FILTER (WHERE v.stock_quantity = 0) AS sold_out"
        " FROM products p LEFT JOIN product_variants v ON v.product_id = p.id AND v.is_active"
        " GROUP BY p.id ORDER BY p.id"
    )
    for row in summaries:
        assert row["variants"] >= 1, row["name"]
        assert (row["price"], row["price_max"], row["stock_quantity"], row["variant_count"]) == (
            row["low"], row["high"], row["stock"], row["variants"]
        ), row["name"]
    several = [row for row in summaries if row["variants"] > 1]
    assert len(several) >= 12 and all(row["sku"] is None for row in several)
    single = [row for row in summaries if row["variants"] == 1]
    assert all(row["sku"] and row["options"] == "[]" for row in single)
    # In stock overall, with a few sizes sold out; some multi-variant products sold out.
    assert any(row["stock_quantity"] == 0 for row in several)
    assert sum(1 for row in several if row["stock_quantity"] and row["sold_out"]) >= 5
    assert any(row["high"] > row["low"] for row in several), "an XL costs a little more"
    assert await db.fetchval("SELECT count(*) = count(DISTINCT sku) FROM product_variants")

    variants = await db.fetch(
        "SELECT p.name, p.options::text AS declared, v.options::text AS options, v.title"
        " FROM product_variants v JOIN products p ON p.id = v.product_id ORDER BY v.id"
    )
    by_product: dict[str, list] = {}
    for row in variants:
        declared = json.loads(row["declared"])
        options = json.loads(row["options"])
        # One value of every declared option, and the title names them in the declared order.
        assert sorted(options) == sorted(option["name"] for option in declared)
        assert all(options[o["name"]] in o["values"] for o in declared)
        assert row["title"] == (" / ".join(options[o["name"]] for o in declared) or "Default")
        by_product.setdefault(row["name"], []).append(options)
    sizes = ["S", "M", "L", "XL"]
    for name in ("Organic Cotton Crew T-Shirt", "Heavyweight Pullover Hoodie",
                 "Boxy Cotton T-Shirt", "Cropped Zip Hoodie"):
        combinations = {(v["Size"], v["Colour"]) for v in by_product[name]}
        colours = {colour for _, colour in combinations}
        assert len(colours) >= 2 and combinations == {(s, c) for s in sizes for c in colours}
    shoe_sizes = {f"EU {n}" for n in range(38, 46)}
    for name in ("Leather Chelsea Boots", "Everyday Canvas Sneakers", "Trail Running Shoes"):
        assert {v["Size"] for v in by_product[name]} == shoe_sizes

    # A few products have several pictures; a product's image_url is its first one.
    images = await db.fetch(
        "SELECT p.image_url, array_agg(i.url ORDER BY i.position) AS urls,"
        " array_agg(i.position ORDER BY i.position) AS positions"
        " FROM products p JOIN product_images i ON i.product_id = p.id GROUP BY p.id"
    )
    assert sum(1 for row in images if len(row["urls"]) >= 3) >= 5
    for row in images:
        assert row["image_url"] == row["urls"][0]
        assert row["positions"] == list(range(len(row["urls"])))
        assert all(url.startswith("https://") for url in row["urls"])

    # Over HTTP: the detail lists the sizes and pictures, and the option filter finds them.
    tee = await db.fetchval("SELECT id FROM products WHERE name = 'Organic Cotton Crew T-Shirt'")
    detail = await (await client.get(f"/api/products/{tee}")).json()
    assert [o["name"] for o in detail["options"]] == ["Size", "Colour"]
    assert len(detail["variants"]) == 16 and len(detail["images"]) == 4
    assert (detail["price"], detail["price_max"], detail["variant_count"]) == (
        "25.00", "27.00", 16
    )
    eu42 = await (await client.get(
        "/api/products", params={"option": "Size:EU 42", "per_page": 100}
    )).json()
    assert sorted(item["name"] for item in eu42["items"]) == [
        "Everyday Canvas Sneakers", "Leather Chelsea Boots", "Trail Running Shoes",
        "Waterproof Hiking Boots",
    ]


async def test_the_release_1_examples_work_on_the_demo_shop(db, client, settings):
    """Register, log in, list, search, add {product_id, quantity}, check out with
    {delivery_address}: the examples keep their answers on a product of one variant."""
    await seed_demo(db, settings)
    credentials = {"email": "visitor@example.com", "password": "visit-2026-shop"}
    assert (await client.post("/api/auth/register", json=credentials)).status == 201
    login = await client.post("/api/auth/login", json=credentials)
    assert login.status == 200
    headers = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    page = await (await client.get("/api/products")).json()
    assert page["total"] == await db.fetchval("SELECT count(*) FROM products")
    found = await (await client.get("/api/products", params={"search": "grinder"})).json()
    (grinder,) = found["items"]
    assert (grinder["name"], grinder["price"], grinder["sku"]) == (
        "Burr Coffee Grinder", "139.00", "COF-002"
    )
    added = await client.post("/api/cart/items", headers=headers,
                              json={"product_id": grinder["id"], "quantity": 2})
    assert added.status == 201, await added.text()
    line = (await added.json())["items"][0]
    assert (line["product"]["id"], line["quantity"], line["line_total"]) == (
        grinder["id"], 2, "278.00"
    )
    order = await client.post("/api/orders", headers=headers,
                              json={"delivery_address": "1 Demo Street"})
    assert order.status == 201, await order.text()
    items = (await order.json())["items"]
    assert [{k: item[k] for k in ("product_id", "product_name", "quantity",
                                  "price_at_purchase", "line_total")} for item in items] == [
        {"product_id": grinder["id"], "product_name": "Burr Coffee Grinder", "quantity": 2,
         "price_at_purchase": "139.00", "line_total": "278.00"}
    ]
    # A product in sizes needs the size: by product id it is a 422, by variant id a line.
    tee = await db.fetchval("SELECT id FROM products WHERE name = 'Organic Cotton Crew T-Shirt'")
    refused = await client.post("/api/cart/items", headers=headers,
                                json={"product_id": tee, "quantity": 1})
    await assert_problem(refused, 422, "variant_required")
    medium = await db.fetchval(
        "SELECT id FROM product_variants WHERE product_id = $1 AND stock_quantity > 0"
        " ORDER BY position LIMIT 1", tee,
    )
    chosen = await client.post("/api/cart/items", headers=headers,
                               json={"variant_id": medium, "quantity": 1})
    assert chosen.status == 201, await chosen.text()


async def test_seeding_twice_changes_nothing(db, settings):
    await seed_demo(db, settings)
    before = await db.fetchrow(SNAPSHOT)
    again = await seed_demo(db, settings)
    assert again.created is False
    assert (again.categories, again.products, again.reviews) == (0, 0, 0)
    assert again.logins == DEMO_LOGINS
    assert await db.fetchrow(SNAPSHOT) == before


async def test_seeding_leaves_a_database_with_a_catalog_alone(db, settings):
    await db.execute("INSERT INTO categories (name, slug) VALUES ('Mine', 'mine')")
    result = await seed_demo(db, settings)
    assert result.created is False and result.logins == ()
    assert await db.fetchval("SELECT count(*) FROM users") == 0
    assert await db.fetchval("SELECT count(*) FROM categories") == 1


async def test_an_existing_demo_account_keeps_its_password(db, client, settings):
    await db.execute(
        "INSERT INTO users (email, password_hash, role)"
        " VALUES ('Admin@Example.com', 'kept', 'admin')"
    )
    result = await seed_demo(db, settings)
    assert result.created is True
    assert await db.fetchval("SELECT password_hash FROM users WHERE role = 'admin'") == "kept"
    assert await db.fetchval("SELECT count(*) FROM users") == 2


async def test_seeding_refuses_production(db, settings):
    production = dataclasses.replace(settings, env="production")
    with pytest.raises(SeedError):
        await seed_demo(db, production)
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_synthetic_products_are_added_in_bulk(db, client, settings):
    await seed_demo(db, settings)
    demo = await db.fetchval("SELECT count(*) FROM products")
    assert await seed_synthetic_products(db, 2000) == 2000
    assert await seed_synthetic_products(db, 500) == 500, "a second batch adds more"
    # Synthetic products are those whose variants carry SYN- SKUs (a product's own SKU is
    # its single variant's, and null when it has several).
    synthetic = (
        "EXISTS (SELECT 1 FROM product_variants v WHERE v.product_id = p.id"
        " AND v.sku LIKE 'SYN-%')"
    )
    stats = await db.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE stock_quantity = 0) AS sold_out,"
        " count(*) FILTER (WHERE category_id IS NULL) AS uncategorized,"
        " count(DISTINCT slug) AS slugs, min(price) AS low FROM products p WHERE " + synthetic
    )
    assert stats["n"] == stats["slugs"] == 2500
    assert 100 < stats["sold_out"] < 500 and stats["uncategorized"] == 0 and stats["low"] > 0
    assert await db.fetchval(
        "SELECT count(DISTINCT sku) = count(*) FROM product_variants WHERE sku LIKE 'SYN-%'"
    )
    leaves = await db.fetchval(
        "SELECT count(*) FROM products p WHERE " + synthetic + " AND EXISTS"
        " (SELECT 1 FROM categories c WHERE c.parent_id = p.category_id)"
    )
    assert leaves == 0, "synthetic products sit in leaf categories"
    page = await (await client.get("/api/products", params={"per_page": 100})).json()
    assert page["total"] == demo + 2500 and len(page["items"]) == 100
    found = await (await client.get("/api/products", params={"search": "walnut"})).json()
    assert found["total"] > 0
    assert all("walnut" in (item["name"] + item["description"]).lower()
               for item in found["items"])


async def test_about_a_third_of_synthetic_products_come_in_variants(db, client):
    progress = []
    assert await seed_synthetic_products(
        db, 3000, progress=lambda done, total: progress.append((done, total))
    ) == 3000
    assert progress == [(3000, 3000)]
    shapes = await db.fetch(
        "SELECT p.id, p.variant_count, p.price, p.price_max, p.stock_quantity, p.sku,"
        " ARRAY(SELECT o ->> 'name' FROM jsonb_array_elements(p.options) AS o) AS names,"
        " ARRAY(SELECT jsonb_object_keys(p.option_values)) AS names_on_sale,"
        " count(v.id) AS variants, min(v.price) AS low,"
        " max(v.price) AS high, sum(v.stock_quantity) AS stock,"
        " count(DISTINCT v.options) AS combinations, min(v.sku) AS first_sku"
        " FROM products p JOIN product_variants v ON v.product_id = p.id AND v.is_active"
        " GROUP BY p.id"
    )
    assert len(shapes) == 3000, "every product has a variant"
    multi = [row for row in shapes if row["variants"] > 1]
    assert 800 < len(multi) < 1200, "about a third"
    counts = {row["variants"] for row in multi}
    assert min(counts) == 2 and max(counts) == 12 and counts <= set(range(2, 13))
    for row in shapes:
        # What the variants' trigger keeps agrees with the variants.
        assert row["variant_count"] == row["variants"] == row["combinations"]
        assert (row["price"], row["price_max"], row["stock_quantity"]) == (
            row["low"], row["high"], row["stock"]
        )
        assert row["sku"] == (row["first_sku"] if row["variants"] == 1 else None)
        assert set(row["names_on_sale"]) == set(row["names"])
        if row["variants"] == 1:
            assert row["names"] == []
        else:
            assert row["names"] in (["Size"], ["Colour"], ["Size", "Colour"])
    titled = await db.fetchval(
        "SELECT count(*) FROM product_variants v JOIN products p ON p.id = v.product_id"
        " WHERE v.title = CASE WHEN p.variant_count = 1 THEN 'Default' ELSE"
        " (SELECT string_agg(v.options ->> (o ->> 'name'), ' / ' ORDER BY n)"
        "  FROM jsonb_array_elements(p.options) WITH ORDINALITY AS e (o, n)) END"
    )
    assert titled == sum(row["variants"] for row in shapes)
    sized = await (await client.get("/api/products", params={"option": "Size:M"})).json()
    assert 0 < sized["total"] < len(multi)


async def test_synthetic_products_without_categories(db):
    assert await seed_synthetic_products(db, 0) == 0
    assert await seed_synthetic_products(db, 50) == 50
    assert await db.fetchval("SELECT count(*) FROM products WHERE category_id IS NULL") == 50
    with pytest.raises(ValueError):
        await seed_synthetic_products(db, -1)

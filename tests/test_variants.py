"""Products sold as variants (a shirt in sizes and colours), their options and images, through
the catalog's HTTP routes as a plain client and an admin see them."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from factories import assert_problem, create_product, variant_of

SIZES = ["S", "M", "L"]
COLOURS = ["Red", "Blue"]


def shirt_body(**changes) -> dict:
    """A shirt in 3 sizes x 2 colours: S/Red is the cheapest (20.00), L/Blue the dearest."""
    variants = [
        {
            "options": {"Size": size, "Colour": colour},
            "price": str(Decimal("20.00") + 2 * s + c),
            "stock_quantity": 10 * s + c,
            "sku": f"SHIRT-{size}-{colour.upper()}",
        }
        for s, size in enumerate(SIZES)
        for c, colour in enumerate(COLOURS)
    ]
    return {
        "name": "Linen Shirt",
        "description": "Breathes.",
        "options": [{"name": "Size", "values": SIZES}, {"name": "Colour", "values": COLOURS}],
        "variants": variants,
        "images": [
            {"url": "https://img.example.com/shirt-front.jpg", "alt": "Front"},
            {"url": "https://img.example.com/shirt-back.jpg"},
        ],
        **changes,
    }


async def post_product(client, admin, body):
    return await client.post("/api/products", json=body, headers=admin.headers)


async def create_shirt(client, admin, **changes) -> dict:
    response = await post_product(client, admin, shirt_body(**changes))
    assert response.status == 201, await response.text()
    return await response.json()


async def detail(client, product_id) -> dict:
    response = await client.get(f"/api/products/{product_id}")
    assert response.status == 200, await response.text()
    return await response.json()


async def listed(client, **params) -> list[dict]:
    response = await client.get("/api/products", params=params)
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def assert_422(response, *fields) -> dict:
    body = await assert_problem(response, 422, "validation_error")
    assert set(fields) <= set(body["errors"]), body
    return body


async def counts(db) -> tuple[int, int, int]:
    """How many products, variants and images the database holds."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM products) AS products,"
        " (SELECT count(*) FROM product_variants) AS variants,"
        " (SELECT count(*) FROM product_images) AS images"
    )
    return row["products"], row["variants"], row["images"]


async def summary(db, product_id) -> dict:
    """The product columns the variants' trigger keeps, and what a variant route writes."""
    row = await db.fetchrow(
        "SELECT price, price_max, stock_quantity, variant_count, sku, option_values::text,"
        " options::text, image_url FROM products WHERE id = $1",
        product_id,
    )
    found = dict(row)
    found["option_values"] = {k: sorted(v) for k, v in json.loads(found["option_values"]).items()}
    found["options"] = json.loads(found["options"])
    return found


async def variant_row(db, variant_id) -> dict:
    row = await db.fetchrow(
        "SELECT product_id, sku, options::text, title, price, compare_at_price, stock_quantity,"
        " weight_grams, image_url, position, is_active, deleted_at"
        " FROM product_variants WHERE id = $1",
        variant_id,
    )
    found = dict(row)
    found["options"] = json.loads(found["options"])
    return found


def by_title(product: dict) -> dict[str, dict]:
    return {variant["title"]: variant for variant in product["variants"]}


# -- a shirt in sizes and colours -------------------------------------------------------------


async def test_a_shirt_in_sizes_and_colours_is_listed_from_its_lowest_price(client, admin, db):
    created = await create_shirt(client, admin)
    assert created["options"] == [
        {"name": "Size", "values": ["S", "M", "L"]},
        {"name": "Colour", "values": ["Red", "Blue"]},
    ]
    assert (created["price"], created["price_max"]) == ("20.00", "25.00")
    assert created["variant_count"] == 6
    assert created["stock_quantity"] == sum(10 * s + c for s in range(3) for c in range(2))
    assert created["in_stock"] is True
    assert created["sku"] is None, "several variants: no one SKU"
    assert created["image_url"] == "https://img.example.com/shirt-front.jpg"
    assert [(i["url"], i["alt"], i["position"]) for i in created["images"]] == [
        ("https://img.example.com/shirt-front.jpg", "Front", 0),
        ("https://img.example.com/shirt-back.jpg", "", 1),
    ]
    assert "variants" not in created, "the create answer is a Product, not its detail"

    [item] = await listed(client)
    assert item == created

    shown = await detail(client, created["id"])
    assert {k: v for k, v in shown.items() if k not in ("variants", "recent_reviews")} == created
    titles = [variant["title"] for variant in shown["variants"]]
    assert titles == ["S / Red", "S / Blue", "M / Red", "M / Blue", "L / Red", "L / Blue"]
    assert [variant["position"] for variant in shown["variants"]] == list(range(6))
    m_blue = by_title(shown)["M / Blue"]
    assert m_blue == {
        "id": m_blue["id"], "product_id": created["id"], "sku": "SHIRT-M-BLUE",
        "title": "M / Blue", "options": {"Size": "M", "Colour": "Blue"}, "price": "23.00",
        "compare_at_price": None, "currency": "USD", "stock_quantity": 11, "in_stock": True,
        "weight_grams": None, "image_url": None, "position": 3, "is_active": True,
    }
    assert by_title(shown)["S / Red"]["in_stock"] is False  # stock 0

    stored = await summary(db, created["id"])
    assert stored["option_values"] == {"Colour": ["Blue", "Red"], "Size": ["L", "M", "S"]}
    assert stored["options"] == created["options"]


async def test_the_list_sorts_and_filters_by_the_from_price(client, admin, db):
    shirt = await create_shirt(client, admin)  # from 20.00 to 25.00
    await create_product(db, name="Mug", price="22.00")
    assert [p["name"] for p in await listed(client, sort="price")] == ["Linen Shirt", "Mug"]
    assert [p["name"] for p in await listed(client, min_price="21")] == ["Mug"]
    [cheap] = await listed(client, max_price="20.00")
    assert cheap["id"] == shirt["id"] and cheap["price_max"] == "25.00"


async def test_variants_can_carry_their_own_details(client, admin):
    body = {
        "name": "Boots",
        "options": [{"name": "Size", "values": ["42"]}],
        "variants": [{
            "options": {"Size": "42"}, "price": 120, "stock_quantity": 2,
            "compare_at_price": "150.00", "weight_grams": 1400,
            "image_url": "https://img.example.com/boots-42.jpg",
        }],
    }
    created = await (await post_product(client, admin, body)).json()
    [variant] = (await detail(client, created["id"]))["variants"]
    assert (variant["price"], variant["compare_at_price"]) == ("120.00", "150.00")
    assert (variant["weight_grams"], variant["image_url"], variant["sku"]) == (
        1400, "https://img.example.com/boots-42.jpg", None
    )
    assert (created["sku"], created["images"], created["image_url"]) == (None, [], None)


async def test_values_the_options_do_not_list_are_added_in_order(client, admin, db):
    body = {
        "name": "Socks",
        "options": [{"name": "Size", "values": ["M"]}, {"name": "Colour"}],
        "variants": [
            {"options": {"Size": "L", "Colour": "Grey"}, "price": 5, "stock_quantity": 1},
            {"options": {"Size": "M", "Colour": "Black"}, "price": 5, "stock_quantity": 1},
            {"options": {"Size": "S", "Colour": "Grey"}, "price": 5, "stock_quantity": 1},
        ],
    }
    response = await post_product(client, admin, body)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["options"] == [
        {"name": "Size", "values": ["M", "L", "S"]},
        {"name": "Colour", "values": ["Grey", "Black"]},
    ]
    # A declared value no variant has stays declared, but is not on sale.
    body = {
        "name": "Hat", "options": [{"name": "Size", "values": ["S", "M"]}],
        "variants": [{"options": {"Size": "M"}, "price": 5, "stock_quantity": 1}],
    }
    hat = await (await post_product(client, admin, body)).json()
    assert hat["options"] == [{"name": "Size", "values": ["S", "M"]}]
    assert (await summary(db, hat["id"]))["option_values"] == {"Size": ["M"]}


async def test_names_and_values_are_stored_trimmed(client, admin):
    body = {
        "name": "Cap",
        "options": [{"name": " Size ", "values": [" M "]}],
        "variants": [{"options": {"Size  ": "  M"}, "price": 5, "stock_quantity": 1}],
    }
    response = await post_product(client, admin, body)
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["options"] == [{"name": "Size", "values": ["M"]}]
    [variant] = (await detail(client, created["id"]))["variants"]
    assert (variant["options"], variant["title"]) == ({"Size": "M"}, "M")


# -- the Release 1 body -------------------------------------------------------------------------


async def test_the_release_1_body_makes_one_default_variant(client, admin, db):
    response = await post_product(client, admin, {
        "name": "Ceramic Mug", "price": "12.5", "stock_quantity": 4, "sku": "MUG-1",
        "image_url": "https://img.example.com/mug.jpg",
    })
    assert response.status == 201, await response.text()
    created = await response.json()
    release_1 = {
        "name": "Ceramic Mug", "price": "12.50", "currency": "USD", "stock_quantity": 4,
        "in_stock": True, "sku": "MUG-1", "image_url": "https://img.example.com/mug.jpg",
        "category": None, "rating": {"average": None, "count": 0}, "description": "",
        "slug": "ceramic-mug",
    }
    assert {k: created[k] for k in release_1} == release_1
    assert (created["options"], created["price_max"], created["variant_count"]) == (
        [], "12.50", 1
    )
    [image] = created["images"]
    assert (image["url"], image["alt"], image["position"]) == (
        "https://img.example.com/mug.jpg", "", 0
    )
    [variant] = (await detail(client, created["id"]))["variants"]
    assert (variant["title"], variant["options"], variant["sku"], variant["price"]) == (
        "Default", {}, "MUG-1", "12.50"
    )
    assert variant["stock_quantity"] == 4 and variant["position"] == 0
    assert await counts(db) == (1, 1, 1)
    # No ledger row for the stock a product starts with, as in Release 1.
    assert await db.fetchval("SELECT count(*) FROM inventory_ledger") == 0


# -- what create refuses, changing nothing ---------------------------------------------------


def _variant(**options) -> dict:
    return {"options": options, "price": 5, "stock_quantity": 1}


@pytest.mark.parametrize("changes, field", [
    ({"price": 5}, "price"),
    ({"stock_quantity": 5}, "stock_quantity"),
    ({"sku": "SHIRT"}, "sku"),
    ({"variants": []}, "variants"),
    ({"options": [{"name": n} for n in "ABCD"]}, "options"),
    ({"options": [{"name": "Size"}, {"name": "size"}]}, "options"),
    ({"options": [{"name": "Size", "values": ["M", "M"]}]}, "options"),
    ({"options": [{"name": " "}]}, "options"),
    ({"options": [{"name": "Size", "values": [""]}]}, "options"),
    ({"options": [{"name": "Size", "colour": "Red"}]}, "options"),
    ({"images": [{"url": f"https://img.example.com/{n}.jpg"} for n in range(21)]}, "images"),
    ({"images": [{"url": "ftp://img.example.com/a.jpg"}]}, "images"),
    ({"images": [{"url": "not a url"}]}, "images"),
    ({"images": [{"url": "https://img.example.com/" + "a" * 2000}]}, "images"),
    ({"images": [{"alt": "no url"}]}, "images"),
    ({"image_url": "https://img.example.com/a.jpg"}, "image_url"),  # beside `images`
    ({"variants": [{"options": {}, "price": 5, "stock_quantity": 1, "position": 3}]},
     "variants"),
    ({"variants": [{"options": {"Size": 5}, "price": 5, "stock_quantity": 1}]}, "variants"),
    ({"variants": [{"options": {}, "price": "-1", "stock_quantity": 1}]}, "variants"),
    ({"variants": [{"options": {}, "price": 5}]}, "variants"),
    ({"variants": [{"options": {}, "price": 5, "stock_quantity": 1, "weight_grams": -1}]},
     "variants"),
    ({"variants": [{"options": {}, "price": 5, "stock_quantity": 1,
                    "image_url": "javascript:alert(1)"}]}, "variants"),
])
async def test_create_refuses_bad_bodies_with_a_422(client, admin, db, changes, field):
    await assert_422(await post_product(client, admin, shirt_body(**changes)), field)
    assert await counts(db) == (0, 0, 0)


async def test_options_without_variants_are_a_422(client, admin, db):
    body = {"name": "Mug", "price": 1, "stock_quantity": 1, "options": [{"name": "Size"}]}
    body = await assert_422(await post_product(client, admin, body), "variants")
    assert await counts(db) == (0, 0, 0)


async def test_each_variant_names_one_value_of_every_option(client, admin, db):
    body = shirt_body(variants=[
        _variant(Size="S", Colour="Red"),
        _variant(Size="M"),
        _variant(Size="L", Colour="Red", Fit="Slim"),
        _variant(),
    ])
    problem = await assert_422(await post_product(client, admin, body), "variants")
    errors = problem["errors"]["variants"]
    assert set(errors) == {"1", "2", "3"}, "list items are named by their index"
    assert errors["1"] == {"options": ["Give a value for Colour."]}
    assert errors["2"] == {"options": ["The product has no option Fit."]}
    assert errors["3"]["options"] == ["Give a value for Size.", "Give a value for Colour."]
    assert await counts(db) == (0, 0, 0)


async def test_at_most_100_variants_and_3_options(client, admin, db):
    def sized(count):
        return shirt_body(
            options=[{"name": "Size"}],
            variants=[_variant(Size=str(n)) for n in range(count)],
        )

    await assert_422(await post_product(client, admin, sized(101)), "variants")
    assert await counts(db) == (0, 0, 0)
    response = await post_product(client, admin, sized(100))
    assert response.status == 201, await response.text()
    assert (await response.json())["variant_count"] == 100
    three = [{"name": n} for n in ("Size", "Colour", "Fit")]
    response = await post_product(client, admin, shirt_body(
        name="Three", options=three, variants=[_variant(Size="M", Colour="Red", Fit="Slim")]))
    assert response.status == 201, await response.text()
    [variant] = (await detail(client, (await response.json())["id"]))["variants"]
    assert variant["title"] == "M / Red / Slim"


async def test_two_variants_with_the_same_values_are_a_409(client, admin, db):
    body = shirt_body(variants=[_variant(Size="S", Colour="Red"), _variant(Size="S", Colour="Red")])
    await assert_problem(await post_product(client, admin, body), 409, "variant_exists")
    assert await counts(db) == (0, 0, 0)


async def test_skus_are_unique_over_the_variants_of_every_product(client, admin, db):
    await create_product(db, name="Mug", sku="SHIRT-M-RED")
    before = await counts(db)
    problem = await assert_problem(await post_product(client, admin, shirt_body()), 409,
                                   "sku_taken")
    assert "sku" in problem["errors"]
    twice = shirt_body(variants=[
        {**_variant(Size="S", Colour="Red"), "sku": "TWIN"},
        {**_variant(Size="M", Colour="Red"), "sku": "TWIN"},
    ])
    await assert_problem(await post_product(client, admin, twice), 409, "sku_taken")
    assert await counts(db) == before


# -- the admin's variant routes ---------------------------------------------------------------


async def test_add_a_variant_with_a_new_value(client, admin, db):
    shirt = await create_shirt(client, admin)
    response = await client.post(
        f"/api/products/{shirt['id']}/variants", headers=admin.headers,
        json={"options": {"Size": "XL", "Colour": "Red"}, "price": "30", "stock_quantity": 7,
              "sku": "SHIRT-XL-RED", "compare_at_price": 35, "weight_grams": 300},
    )
    assert response.status == 201, await response.text()
    variant = await response.json()
    assert variant == {
        "id": variant["id"], "product_id": shirt["id"], "sku": "SHIRT-XL-RED",
        "title": "XL / Red", "options": {"Size": "XL", "Colour": "Red"}, "price": "30.00",
        "compare_at_price": "35.00", "currency": "USD", "stock_quantity": 7, "in_stock": True,
        "weight_grams": 300, "image_url": None, "position": 6, "is_active": True,
    }
    shown = await detail(client, shirt["id"])
    assert shown["options"][0] == {"name": "Size", "values": ["S", "M", "L", "XL"]}
    assert (shown["price"], shown["price_max"], shown["variant_count"]) == ("20.00", "30.00", 7)
    assert shown["stock_quantity"] == shirt["stock_quantity"] + 7
    assert shown["variants"][-1]["id"] == variant["id"]
    assert shown["updated_at"] > shirt["updated_at"]
    assert (await summary(db, shirt["id"]))["option_values"]["Size"] == ["L", "M", "S", "XL"]


async def test_a_variant_of_a_product_without_options(client, admin, db):
    mug = await create_product(db, name="Mug")
    url = f"/api/products/{mug}/variants"
    # Its one variant has the only values there are ({}): another is the same variant.
    response = await client.post(url, headers=admin.headers,
                                 json={"price": 1, "stock_quantity": 1})
    await assert_problem(response, 409, "variant_exists")
    response = await client.post(url, headers=admin.headers,
                                 json={"options": {"Size": "M"}, "price": 1, "stock_quantity": 1})
    problem = await assert_422(response, "options")
    assert problem["errors"]["options"] == ["The product has no option Size."]
    assert (await summary(db, mug))["variant_count"] == 1


async def test_add_variant_refusals_change_nothing(client, admin, db):
    shirt = await create_shirt(client, admin)
    url = f"/api/products/{shirt['id']}/variants"
    before = await summary(db, shirt["id"])
    calls = [
        ({"options": {"Size": "XL"}, "price": 1, "stock_quantity": 1}, 422, "validation_error"),
        ({"options": {"Size": "XL", "Colour": "Red", "Fit": "Slim"}, "price": 1,
          "stock_quantity": 1}, 422, "validation_error"),
        ({"options": {"Size": "XL", "Colour": "Red"}, "stock_quantity": 1}, 422,
         "validation_error"),
        ({"options": {"Size": "XL", "Colour": "Red"}, "price": 1, "stock_quantity": 1,
          "is_active": False}, 422, "validation_error"),
        ({"options": {"Size": "M", "Colour": "Red"}, "price": 1, "stock_quantity": 1}, 409,
         "variant_exists"),
        ({"options": {"Size": "XL", "Colour": "Red"}, "price": 1, "stock_quantity": 1,
          "sku": "SHIRT-S-RED"}, 409, "sku_taken"),
    ]
    for body, status, code in calls:
        await assert_problem(await client.post(url, headers=admin.headers, json=body),
                             status, code)
    assert await summary(db, shirt["id"]) == before
    assert await counts(db) == (1, 6, 2)
    missing = await client.post("/api/products/4242/variants", headers=admin.headers,
                                json={"price": 1, "stock_quantity": 1})
    await assert_problem(missing, 404, "not_found")


async def test_a_product_holds_at_most_100_variants(client, admin, db):
    body = shirt_body(options=[{"name": "Size"}],
                      variants=[_variant(Size=str(n)) for n in range(100)])
    product = await (await post_product(client, admin, body)).json()
    response = await client.post(
        f"/api/products/{product['id']}/variants", headers=admin.headers,
        json={"options": {"Size": "extra"}, "price": 1, "stock_quantity": 1},
    )
    problem = await assert_422(response, "_schema")
    assert "100" in problem["errors"]["_schema"][0]
    stored = await summary(db, product["id"])
    assert stored["variant_count"] == 100 and "extra" not in stored["options"][0]["values"]


async def test_change_a_variant(client, admin, db):
    shirt = await create_shirt(client, admin)
    m_red = by_title(await detail(client, shirt["id"]))["M / Red"]
    url = f"/api/products/{shirt['id']}/variants/{m_red['id']}"
    response = await client.put(url, headers=admin.headers, json={
        "price": "19.5", "compare_at_price": "24.00", "sku": "M-RED", "weight_grams": 250,
        "image_url": "https://img.example.com/m-red.jpg", "position": 0,
    })
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert {k: changed[k] for k in ("price", "compare_at_price", "sku", "weight_grams",
                                    "image_url", "position", "title")} == {
        "price": "19.50", "compare_at_price": "24.00", "sku": "M-RED", "weight_grams": 250,
        "image_url": "https://img.example.com/m-red.jpg", "position": 0, "title": "M / Red",
    }
    shown = await detail(client, shirt["id"])
    assert shown["price"] == "19.50", "the product's from price follows its variants"
    assert [v["title"] for v in shown["variants"]][:2] == ["S / Red", "M / Red"]  # position 0
    cleared = await (await client.put(url, headers=admin.headers, json={
        "compare_at_price": None, "sku": None, "weight_grams": None, "image_url": None,
    })).json()
    assert (cleared["compare_at_price"], cleared["sku"], cleared["weight_grams"],
            cleared["image_url"], cleared["price"]) == (None, None, None, None, "19.50")
    same = await client.put(url, headers=admin.headers, json={})
    assert same.status == 200 and (await same.json())["price"] == "19.50"


async def test_new_values_retitle_the_variant_and_extend_the_options(client, admin, db):
    shirt = await create_shirt(client, admin)
    l_blue = by_title(await detail(client, shirt["id"]))["L / Blue"]
    url = f"/api/products/{shirt['id']}/variants/{l_blue['id']}"
    response = await client.put(url, headers=admin.headers,
                                json={"options": {"Colour": "Green", "Size": "L"}})
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert (changed["title"], changed["options"]) == ("L / Green", {"Size": "L", "Colour": "Green"})
    stored = await summary(db, shirt["id"])
    assert stored["options"][1] == {"name": "Colour", "values": ["Red", "Blue", "Green"]}
    assert stored["option_values"]["Colour"] == ["Blue", "Green", "Red"]
    clash = await client.put(url, headers=admin.headers,
                             json={"options": {"Colour": "Red", "Size": "L"}, "price": 1})
    await assert_problem(clash, 409, "variant_exists")
    missing = await client.put(url, headers=admin.headers, json={"options": {"Size": "L"}})
    await assert_422(missing, "options")
    assert (await variant_row(db, l_blue["id"]))["title"] == "L / Green"
    assert await summary(db, shirt["id"]) == stored


async def test_a_variant_stock_change_goes_through_the_ledger(client, admin, db):
    shirt = await create_shirt(client, admin)
    s_blue = by_title(await detail(client, shirt["id"]))["S / Blue"]  # stock 1
    url = f"/api/products/{shirt['id']}/variants/{s_blue['id']}"
    response = await client.put(url, headers=admin.headers, json={"stock_quantity": 9})
    assert response.status == 200, await response.text()
    assert (await response.json())["stock_quantity"] == 9
    ledger = await db.fetch(
        "SELECT product_id, variant_id, delta, stock_after, actor_id, reason"
        " FROM inventory_ledger"
    )
    assert [dict(row) for row in ledger] == [{
        "product_id": shirt["id"], "variant_id": s_blue["id"], "delta": 8, "stock_after": 9,
        "actor_id": admin.id, "reason": "Variant edit.",
    }]
    assert (await summary(db, shirt["id"]))["stock_quantity"] == shirt["stock_quantity"] + 8
    # A refused change changes nothing, the stock sent with it included.
    refused = await client.put(url, headers=admin.headers,
                               json={"stock_quantity": 50, "sku": "SHIRT-M-RED"})
    await assert_problem(refused, 409, "sku_taken")
    assert (await variant_row(db, s_blue["id"]))["stock_quantity"] == 9
    assert await db.fetchval("SELECT count(*) FROM inventory_ledger") == 1
    over = await client.put(url, headers=admin.headers, json={"stock_quantity": 10**9 + 1})
    await assert_422(over, "stock_quantity")


async def test_variant_routes_find_only_the_products_own_variants_on_sale(client, admin, db):
    shirt = await create_shirt(client, admin)
    mug = await create_product(db, name="Mug")
    mug_variant = await variant_of(db, mug)
    wrong = f"/api/products/{shirt['id']}/variants/{mug_variant}"
    await assert_problem(await client.put(wrong, headers=admin.headers, json={"price": 1}),
                         404, "not_found")
    await assert_problem(await client.delete(wrong, headers=admin.headers), 404, "not_found")
    assert (await variant_row(db, mug_variant))["price"] == Decimal("10.00")
    await client.delete(f"/api/products/{mug}", headers=admin.headers)
    deleted_product = f"/api/products/{mug}/variants/{mug_variant}"
    await assert_problem(await client.put(deleted_product, headers=admin.headers,
                                          json={"price": 1}), 404, "not_found")


async def test_remove_a_variant(client, admin, db):
    shirt = await create_shirt(client, admin)
    variants = by_title(await detail(client, shirt["id"]))
    url = f"/api/products/{shirt['id']}/variants"
    for title in ("L / Red", "L / Blue"):  # the dearest, and every L
        response = await client.delete(f"{url}/{variants[title]['id']}", headers=admin.headers)
        assert response.status == 204, await response.text()
    shown = await detail(client, shirt["id"])
    assert [v["title"] for v in shown["variants"]] == ["S / Red", "S / Blue", "M / Red", "M / Blue"]
    assert (shown["price"], shown["price_max"], shown["variant_count"]) == ("20.00", "23.00", 4)
    assert shown["stock_quantity"] == 0 + 1 + 10 + 11
    assert shown["options"][0]["values"] == ["S", "M", "L"], "declared options stay"
    stored = await summary(db, shirt["id"])
    assert stored["option_values"] == {"Colour": ["Blue", "Red"], "Size": ["M", "S"]}
    [item] = await listed(client, sort="-price")
    assert item["price_max"] == "23.00"
    gone = await variant_row(db, variants["L / Red"]["id"])
    assert gone["is_active"] is False and gone["deleted_at"] is not None
    again = await client.delete(f"{url}/{variants['L / Red']['id']}", headers=admin.headers)
    await assert_problem(again, 404, "not_found")
    # Its values may be sold again; its SKU stays taken (past orders name it).
    response = await client.post(url, headers=admin.headers, json={
        "options": {"Size": "L", "Colour": "Red"}, "price": 24, "stock_quantity": 1,
        "sku": "SHIRT-L-RED"})
    await assert_problem(response, 409, "sku_taken")
    response = await client.post(url, headers=admin.headers, json={
        "options": {"Size": "L", "Colour": "Red"}, "price": 24, "stock_quantity": 1})
    assert response.status == 201, await response.text()


async def test_the_last_variant_cannot_be_removed(client, admin, db):
    mug = await create_product(db, name="Mug")
    response = await client.delete(f"/api/products/{mug}/variants/{await variant_of(db, mug)}",
                                   headers=admin.headers)
    await assert_problem(response, 409, "last_variant")
    assert (await summary(db, mug))["variant_count"] == 1
    assert await db.fetchval("SELECT count(*) FROM product_variants WHERE is_active") == 1


async def test_concurrent_removals_keep_one_variant(client, admin, db):
    body = shirt_body(options=[{"name": "Size"}],
                      variants=[_variant(Size=str(n)) for n in range(4)])
    product = await (await post_product(client, admin, body)).json()
    ids = [v["id"] for v in (await detail(client, product["id"]))["variants"]]
    responses = await asyncio.gather(*(
        client.delete(f"/api/products/{product['id']}/variants/{vid}", headers=admin.headers)
        for vid in ids
    ))
    statuses = sorted(r.status for r in responses)
    assert statuses == [204, 204, 204, 409], statuses
    assert await db.fetchval(
        "SELECT count(*) FROM product_variants WHERE product_id = $1 AND is_active",
        product["id"],
    ) == 1
    assert (await summary(db, product["id"]))["variant_count"] == 1


async def test_concurrent_new_values_all_reach_the_options(client, admin, db):
    shirt = await create_shirt(client, admin)
    sizes = [f"X{n}" for n in range(6)]
    responses = await asyncio.gather(*(
        client.post(f"/api/products/{shirt['id']}/variants", headers=admin.headers,
                    json={"options": {"Size": size, "Colour": "Red"}, "price": 1,
                          "stock_quantity": 1})
        for size in sizes
    ))
    assert [r.status for r in responses] == [201] * 6
    stored = await summary(db, shirt["id"])
    assert sorted(stored["options"][0]["values"]) == sorted(SIZES + sizes)
    assert stored["variant_count"] == 12


# -- Release 1 product edits on products with variants --------------------------------------


async def test_price_stock_and_sku_of_a_product_with_several_variants_need_a_variant(
    client, admin, db
):
    shirt = await create_shirt(client, admin)
    before = await summary(db, shirt["id"])
    url = f"/api/products/{shirt['id']}"
    for body in ({"price": 1}, {"stock_quantity": 1}, {"sku": "X"}, {"sku": None},
                 {"name": "Renamed", "price": 1}):
        problem = await assert_problem(await client.put(url, headers=admin.headers, json=body),
                                       409, "variant_required")
        assert "variants" in problem["detail"]
    assert await summary(db, shirt["id"]) == before
    assert (await detail(client, shirt["id"]))["name"] == "Linen Shirt"
    renamed = await client.put(url, headers=admin.headers, json={"name": "Renamed"})
    assert renamed.status == 200 and (await renamed.json())["name"] == "Renamed"


async def test_price_stock_and_sku_of_a_single_variant_product_change_its_variant(
    client, admin, db
):
    mug = await create_product(db, name="Mug", sku="MUG-1", stock=3)
    variant_id = await variant_of(db, mug)
    response = await client.put(f"/api/products/{mug}", headers=admin.headers,
                                json={"price": "8.25", "stock_quantity": 6, "sku": "MUG-2"})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["price"], body["price_max"], body["stock_quantity"], body["sku"]) == (
        "8.25", "8.25", 6, "MUG-2"
    )
    stored = await variant_row(db, variant_id)
    assert (stored["price"], stored["stock_quantity"], stored["sku"]) == (
        Decimal("8.25"), 6, "MUG-2"
    )
    ledger = await db.fetchrow("SELECT variant_id, delta, reason FROM inventory_ledger")
    assert dict(ledger) == {"variant_id": variant_id, "delta": 3, "reason": "Product edit."}


async def test_a_product_edit_refused_after_its_variant_changed_changes_nothing(
    client, admin, db
):
    mug = await create_product(db, name="Mug", price="5.00", stock=3)
    variant_id = await variant_of(db, mug)
    response = await client.put(f"/api/products/{mug}", headers=admin.headers, json={
        "price": "1.00", "stock_quantity": 99, "category_id": 424242,
        "image_url": "https://img.example.com/mug.jpg",
    })
    await assert_422(response, "category_id")
    stored = await variant_row(db, variant_id)
    assert (stored["price"], stored["stock_quantity"]) == (Decimal("5.00"), 3)
    assert (await summary(db, mug))["price"] == Decimal("5.00")
    assert await db.fetchval("SELECT count(*) FROM inventory_ledger") == 0
    assert await counts(db) == (1, 1, 0)


# -- images ---------------------------------------------------------------------------------------


async def test_replace_the_images(client, admin, db):
    shirt = await create_shirt(client, admin)
    url = f"/api/products/{shirt['id']}/images"
    urls = [f"https://img.example.com/{n}.jpg" for n in range(20)]
    response = await client.put(url, headers=admin.headers,
                                json={"images": [{"url": u, "alt": f"#{u[-5]}"} for u in urls]})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert [i["url"] for i in body["images"]] == urls
    assert [i["position"] for i in body["images"]] == list(range(20))
    assert body["image_url"] == urls[0]
    assert (await summary(db, shirt["id"]))["image_url"] == urls[0]
    assert [i["url"] for i in (await listed(client))[0]["images"]] == urls
    for bad in ([{"url": u} for u in urls + ["https://img.example.com/x.jpg"]],
                [{"url": "http://"}], [{"url": "https://img.example.com/a.jpg", "x": 1}],
                [{"url": "https://img.example.com/a.jpg", "alt": "a" * 501}]):
        await assert_422(await client.put(url, headers=admin.headers, json={"images": bad}),
                         "images")
    await assert_422(await client.put(url, headers=admin.headers, json={}), "images")
    assert [i["url"] for i in (await detail(client, shirt["id"]))["images"]] == urls
    emptied = await (await client.put(url, headers=admin.headers, json={"images": []})).json()
    assert (emptied["images"], emptied["image_url"]) == ([], None)
    assert (await summary(db, shirt["id"]))["image_url"] is None
    missing = await client.put("/api/products/4242/images", headers=admin.headers,
                               json={"images": []})
    await assert_problem(missing, 404, "not_found")


async def test_image_url_on_put_is_the_first_image(client, admin, db):
    shirt = await create_shirt(client, admin)  # front ("Front"), back
    url = f"/api/products/{shirt['id']}"
    body = await (await client.put(url, headers=admin.headers,
                                   json={"image_url": "https://img.example.com/new.jpg"})).json()
    assert [(i["url"], i["alt"]) for i in body["images"]] == [
        ("https://img.example.com/new.jpg", "Front"),
        ("https://img.example.com/shirt-back.jpg", ""),
    ]
    assert body["image_url"] == "https://img.example.com/new.jpg"
    body = await (await client.put(url, headers=admin.headers, json={"image_url": None})).json()
    assert [i["url"] for i in body["images"]] == ["https://img.example.com/shirt-back.jpg"]
    assert body["image_url"] == "https://img.example.com/shirt-back.jpg"
    body = await (await client.put(url, headers=admin.headers, json={"image_url": None})).json()
    assert (body["images"], body["image_url"]) == ([], None)
    body = await (await client.put(url, headers=admin.headers,
                                   json={"image_url": "https://img.example.com/a.jpg"})).json()
    assert [(i["url"], i["position"]) for i in body["images"]] == [
        ("https://img.example.com/a.jpg", 0)
    ]


async def test_concurrent_image_replacements_leave_one_of_them(client, admin, db):
    shirt = await create_shirt(client, admin)
    sets = [[{"url": f"https://img.example.com/{n}-{k}.jpg"} for k in range(n + 1)]
            for n in range(5)]
    responses = await asyncio.gather(*(
        client.put(f"/api/products/{shirt['id']}/images", headers=admin.headers,
                   json={"images": images})
        for images in sets
    ))
    assert [r.status for r in responses] == [200] * 5
    stored = [row["url"] for row in await db.fetch(
        "SELECT url FROM product_images WHERE product_id = $1 ORDER BY position", shirt["id"])]
    assert stored in [[image["url"] for image in images] for images in sets]
    assert (await summary(db, shirt["id"]))["image_url"] == stored[0]


async def test_images_written_in_sql_are_answered_too(client, admin, db):
    # The answers read the images kept on the product's row (0024): any write to
    # product_images, not only the routes', keeps them current.
    shirt = await create_shirt(client, admin)  # front ("Front"), back
    await db.execute(
        "UPDATE product_images SET alt = 'Back' WHERE product_id = $1 AND position = 1",
        shirt["id"])
    await db.execute(
        "INSERT INTO product_images (product_id, url, position)"
        " VALUES ($1, 'https://img.example.com/side.jpg', 2)", shirt["id"])
    expected = [("https://img.example.com/shirt-front.jpg", "Front"),
                ("https://img.example.com/shirt-back.jpg", "Back"),
                ("https://img.example.com/side.jpg", "")]
    for product in (await detail(client, shirt["id"]), (await listed(client))[0]):
        assert [(i["url"], i["alt"]) for i in product["images"]] == expected
    await db.execute("DELETE FROM product_images WHERE product_id = $1 AND position > 0",
                     shirt["id"])
    assert [i["url"] for i in (await detail(client, shirt["id"]))["images"]] == [expected[0][0]]
    await db.execute("TRUNCATE product_images")
    assert (await detail(client, shirt["id"]))["images"] == []


# -- everything that answers a Product -------------------------------------------------------


async def test_recommendations_answer_the_new_fields(client, admin, db):
    category = await db.fetchval(
        "INSERT INTO categories (name, slug) VALUES ('Shirts', 'shirts') RETURNING id")
    shirt = await create_shirt(client, admin, category_id=category)
    other = await create_product(db, name="Tee", category_id=category)
    response = await client.get(f"/api/products/{other}/recommendations")
    assert response.status == 200, await response.text()
    [item] = (await response.json())["items"]
    assert item == {**shirt, "updated_at": item["updated_at"]}


async def test_the_variant_routes_are_documented(client):
    document = await (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/products/{product_id}/variants"]) == {"post"}
    assert set(paths["/api/products/{product_id}/variants/{variant_id}"]) == {"put", "delete"}
    assert set(paths["/api/products/{product_id}/images"]) == {"put"}
    assert "variant_exists" in paths["/api/products"]["post"]["description"]
    assert "variant_required" in paths["/api/products/{product_id}"]["put"]["description"]
    assert "last_variant" in (
        paths["/api/products/{product_id}/variants/{variant_id}"]["delete"]["description"]
    )
    assert "409" in paths["/api/products/{product_id}/variants/{variant_id}"]["delete"][
        "responses"]
    schemas = document["components"]["schemas"]
    assert {"options", "images", "price_max", "variant_count"} <= set(
        schemas["ProductOut"]["properties"])
    assert "variants" in schemas["ProductDetailOut"]["properties"]
    assert set(schemas["VariantOut"]["required"]) == {
        "id", "product_id", "sku", "title", "options", "price", "compare_at_price", "currency",
        "stock_quantity", "in_stock", "weight_grams", "image_url", "position", "is_active",
    }

"""`GET /api/products/facets`: counts of products per category, price band, option value and
availability, each counted with every filter but its own, on a small catalog made by hand."""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal

import pytest
from factories import assert_problem, create_product, create_product_in_variants

from shop_api.domain.facets import PRICE_GRID, price_bands


async def add_category(db, name, slug, parent_id=None):
    return await db.fetchval(
        "INSERT INTO categories (name, slug, parent_id) VALUES ($1, $2, $3) RETURNING id",
        name, slug, parent_id,
    )


async def facets(client, *options, **params):
    query = [("option", option) for option in options]
    query += [(key, str(value)) for key, value in params.items()]
    response = await client.get("/api/products/facets", params=query)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/json"
    return await response.json()


def categories_of(body):
    return {entry["slug"]: entry["count"] for entry in body["categories"]}


def options_of(body):
    return {
        option["name"]: {entry["value"]: entry["count"] for entry in option["values"]}
        for option in body["options"]
    }


def bands_of(body):
    return [(band["min"], band["max"], band["count"]) for band in body["price_ranges"]]


@pytest.fixture
async def shop(db):
    """Clothing > Shirts > Dress Shirts, Clothing > Shoes, Books; seven products on sale.

    | product        | category     | variants (size, colour, price, stock) |
    | Linen Shirt    | Shirts       | S White 20 3, M White 20 0, M Blue 22 2 |
    | Oxford Shirt   | Dress Shirts | M Blue 35 0, L Red 35 0 (sold out) |
    | Sneakers       | Shoes        | 42 Black 60 1, 43 Black 60 0 |
    | Rain Jacket    | Clothing     | M Yellow 80 5 (deleted variant), L Yellow 80 1 |
    | Novel          | Books        | default, 12, stock 5 |
    | Cookbook       | Books        | default, 30, sold out |
    | Scarf          | none         | Red 15 1, Grey 15 0 |
    plus a deleted shirt that no count may see.
    """
    clothing = await add_category(db, "Clothing", "clothing")
    shirts = await add_category(db, "Shirts", "shirts", clothing)
    dress = await add_category(db, "Dress Shirts", "dress-shirts", shirts)
    shoes = await add_category(db, "Shoes", "shoes", clothing)
    books = await add_category(db, "Books", "books")
    await add_category(db, "Garden", "garden")  # empty: never listed

    def sold(*rows):
        return [({k: v for k, v in (("Size", size), ("Colour", colour)) if v}, price, stock)
                for size, colour, price, stock in rows]

    await create_product_in_variants(db, sold(
        ("S", "White", "20.00", 3), ("M", "White", "20.00", 0), ("M", "Blue", "22.00", 2),
    ), name="Linen Shirt", category_id=shirts, description="Washed linen.")
    await create_product_in_variants(db, sold(
        ("M", "Blue", "35.00", 0), ("L", "Red", "35.00", 0),
    ), name="Oxford Shirt", category_id=dress, description="Cotton oxford shirt.")
    await create_product_in_variants(db, sold(
        ("42", "Black", "60.00", 1), ("43", "Black", "60.00", 0),
    ), name="Sneakers", category_id=shoes)
    jacket = await create_product_in_variants(db, sold(
        ("M", "Yellow", "80.00", 5), ("L", "Yellow", "80.00", 1),
    ), name="Rain Jacket", category_id=clothing)
    await db.execute(
        "UPDATE product_variants SET is_active = false, deleted_at = now()"
        " WHERE product_id = $1 AND options ->> 'Size' = 'M'", jacket,
    )
    await create_product(db, name="Novel", price="12.00", stock=5, category_id=books)
    await create_product(db, name="Cookbook", price="30.00", stock=0, category_id=books)
    await create_product_in_variants(db, sold(
        (None, "Red", "15.00", 1), (None, "Grey", "15.00", 0),
    ), name="Scarf")
    await create_product_in_variants(db, sold(("M", "Red", "9.00", 9)), name="Gone Shirt",
                                     category_id=shirts, is_active=False)


EVERYTHING_BANDS = [
    ("0.00", "15.00", 1),  # Novel 12
    ("15.00", "30.00", 2),  # Scarf 15, Linen Shirt 20
    ("30.00", "60.00", 2),  # Cookbook 30, Oxford 35
    ("60.00", "75.00", 1),  # Sneakers 60
    ("75.00", "100.00", 1),  # Rain Jacket 80
]
EVERY_OPTION = {
    "Size": {"S": 1, "M": 2, "L": 2, "42": 1, "43": 1},
    "Colour": {"White": 1, "Blue": 2, "Red": 2, "Black": 1, "Grey": 1, "Yellow": 1},
}


async def test_the_whole_catalog(client, shop):
    body = await facets(client)
    assert list(body) == ["total", "total_exact", "categories", "price_ranges", "options",
                          "availability"]
    assert body["total"] == 7
    # A parent counts the products of every category below it, each once; parents first.
    assert body["categories"] == [
        {"id": body["categories"][0]["id"], "name": "Books", "slug": "books", "count": 2},
        {"id": body["categories"][1]["id"], "name": "Clothing", "slug": "clothing", "count": 4},
        *body["categories"][2:],
    ]
    assert categories_of(body) == {
        "books": 2, "clothing": 4, "shirts": 2, "shoes": 1, "dress-shirts": 1,
    }
    assert bands_of(body) == EVERYTHING_BANDS
    assert options_of(body) == EVERY_OPTION
    assert [option["name"] for option in body["options"]] == ["Colour", "Size"]
    assert [entry["value"] for entry in body["options"][1]["values"]] == [
        "L", "M", "42", "43", "S"
    ], "most products first, then by value"
    assert body["availability"] == {"in_stock": 5, "out_of_stock": 2}


async def test_an_empty_catalog(client):
    assert await facets(client) == {
        "total": 0, "total_exact": True, "categories": [], "price_ranges": [], "options": [],
        "availability": {"in_stock": 0, "out_of_stock": 0},
    }
    assert (await client.get("/api/products/facets/")).status == 200


async def test_categories_ignore_the_category_filter_and_the_rest_keep_it(client, shop):
    body = await facets(client, category="shirts")
    assert body["total"] == 2
    assert categories_of(body) == categories_of(await facets(client))
    assert body["availability"] == {"in_stock": 1, "out_of_stock": 1}
    assert options_of(body) == {
        "Size": {"S": 1, "M": 2, "L": 1}, "Colour": {"White": 1, "Blue": 2, "Red": 1},
    }
    assert bands_of(body) == [("0.00", "30.00", 1), ("30.00", "40.00", 1)]
    by_id = await facets(client, category=body["categories"][1]["id"])  # Clothing
    assert by_id["total"] == 4
    assert (await facets(client, category="no-such-thing"))["total"] == 0


async def test_price_bands_ignore_the_price_filter_and_the_rest_keep_it(client, shop):
    body = await facets(client, min_price="20", max_price="60")
    assert body["total"] == 4  # Linen Shirt, Cookbook, Oxford Shirt, Sneakers
    assert bands_of(body) == EVERYTHING_BANDS
    assert categories_of(body) == {"books": 1, "clothing": 3, "shirts": 2, "dress-shirts": 1,
                                   "shoes": 1}
    assert body["availability"] == {"in_stock": 2, "out_of_stock": 2}
    assert options_of(body)["Colour"] == {"White": 1, "Blue": 2, "Red": 1, "Black": 1}


async def test_availability_ignores_the_stock_filter_and_the_rest_keep_it(client, shop):
    for flag, total in (("true", 5), ("false", 2)):
        body = await facets(client, in_stock=flag)
        assert body["total"] == total
        assert body["availability"] == {"in_stock": 5, "out_of_stock": 2}
    sold_out = await facets(client, in_stock="false")
    assert categories_of(sold_out) == {"books": 1, "clothing": 1, "shirts": 1,
                                       "dress-shirts": 1}
    assert bands_of(sold_out) == [("0.00", "40.00", 2)], "30 and 35 share a cell of the grid"
    assert options_of(sold_out) == {"Size": {"M": 1, "L": 1}, "Colour": {"Blue": 1, "Red": 1}}


async def test_an_option_ignores_its_own_values_and_keeps_the_others(client, shop):
    body = await facets(client, "Size:M")
    assert body["total"] == 2  # the shirts: the jacket's M is deleted
    # Size is counted without the Size filter: choosing M still shows L.
    assert options_of(body)["Size"] == EVERY_OPTION["Size"]
    # Colour is counted among products with an M in that colour.
    assert options_of(body)["Colour"] == {"White": 1, "Blue": 2}
    assert categories_of(body) == {"clothing": 2, "shirts": 2, "dress-shirts": 1}
    assert body["availability"] == {"in_stock": 1, "out_of_stock": 1}
    assert bands_of(body) == [("0.00", "30.00", 1), ("30.00", "40.00", 1)]

    red = await facets(client, "Colour:Red")
    assert red["total"] == 2  # Oxford Shirt, Scarf
    assert options_of(red) == {"Colour": EVERY_OPTION["Colour"], "Size": {"L": 1}}


async def test_two_options_follow_the_single_variant_rule(client, shop):
    body = await facets(client, "Size:M", "Colour:Red")
    # The Oxford shirt has an M and a Red but no red M.
    assert body["total"] == 0
    assert body["categories"] == [] and body["price_ranges"] == []
    assert body["availability"] == {"in_stock": 0, "out_of_stock": 0}
    # Size among products with a red variant; Colour among products with an M.
    assert options_of(body) == {"Size": {"L": 1}, "Colour": {"White": 1, "Blue": 2}}

    either = await facets(client, "Size:M", "Size:L", "Colour:Red")
    assert either["total"] == 1  # the Oxford shirt's red L
    assert options_of(either) == {"Size": {"L": 1}, "Colour": {"White": 1, "Blue": 2, "Red": 1,
                                                               "Yellow": 1}}
    blue_m = await facets(client, "Size:M", "Colour:Blue", category="shirts")
    assert blue_m["total"] == 2
    assert options_of(blue_m) == {"Size": {"M": 2}, "Colour": {"White": 1, "Blue": 2}}


async def test_facets_of_a_search(client, shop):
    body = await facets(client, search="shirt")
    assert body["total"] == 2
    assert categories_of(body) == {"clothing": 2, "shirts": 2, "dress-shirts": 1}
    assert options_of(body) == {
        "Size": {"S": 1, "M": 2, "L": 1}, "Colour": {"White": 1, "Blue": 2, "Red": 1},
    }
    assert body["availability"] == {"in_stock": 1, "out_of_stock": 1}
    mixed = await facets(client, "Colour:Blue", search="shirt", in_stock="true")
    assert mixed["total"] == 1
    assert mixed["availability"] == {"in_stock": 1, "out_of_stock": 1}
    assert options_of(mixed) == {"Colour": {"White": 1, "Blue": 1}, "Size": {"M": 1}}
    none = await facets(client, search="zeppelin")
    assert none["total"] == 0 and none["options"] == [] and none["categories"] == []


async def test_bands_cover_every_matching_product_once(client, db):
    # Prices spread over several decades, some repeated, some at a band's edge.
    prices = ["0.00", "0.50", "1.00", "9.99", "10.00", "15.00", "15.00", "19.99", "99.99",
              "100.00", "250.00", "1000.00", "1499.99", "7500.00", "9999999999.99"]
    for number, price in enumerate(prices):
        await create_product(db, name=f"Thing {number}", price=price, stock=number % 2)
    for params in ({}, {"in_stock": "true"}, {"min_price": "5"}):
        body = await facets(client, **params)
        bands = body["price_ranges"]
        assert 1 <= len(bands) <= 5
        assert bands[0]["min"] == "0.00"
        assert all(a["max"] == b["min"] for a, b in zip(bands, bands[1:], strict=False))
        assert all(band["count"] > 0 for band in bands)
        matching = [Decimal(p) for n, p in enumerate(prices)
                    if params.get("in_stock") != "true" or n % 2]
        assert sum(band["count"] for band in bands) == len(matching) == (
            body["total"] if "min_price" not in params else len(matching)
        )
        for band in bands:
            inside = [p for p in matching if Decimal(band["min"]) <= p < Decimal(band["max"])]
            assert band["count"] == len(inside), band
    assert (await facets(client))["price_ranges"][-1]["max"] == "10000000000.00"


def test_price_bands_split_evenly_at_round_prices():
    def cells(*counted):  # (price, products) -> (cell of PRICE_GRID, products)
        return [(bisect_right(PRICE_GRID, Decimal(price)), n) for price, n in counted]

    def shown(bands):
        return [(str(b["min"]), str(b["max"]), b["count"]) for b in bands]

    even = cells(("12", 100), ("80", 100), ("120", 100), ("260", 100), ("900", 100))
    assert shown(price_bands(even)) == [
        ("0.00", "75.00", 100), ("75.00", "100.00", 100), ("100.00", "250.00", 100),
        ("250.00", "750.00", 100), ("750.00", "1000.00", 100),
    ]
    # A crowded cell is one band: the cuts fall between cells.
    assert [b["count"] for b in price_bands(cells(("12", 1), ("16", 1000), ("21", 1)))] == [
        1, 1000, 1
    ]
    assert shown(price_bands(cells(("16", 7)))) == [("0.00", "20.00", 7)]
    assert price_bands([]) == []
    # Thirty cells of ten products: five bands of sixty.
    assert [b["count"] for b in price_bands([(cell, 10) for cell in range(11, 41)])] == [60] * 5
    # Lopsided: every fifth is nearest to the same cut, so two bands.
    assert [b["count"] for b in price_bands(cells(("1", 1), ("2", 1), ("3", 1), ("4", 97)))] == [
        3, 97
    ]


async def test_products_with_very_long_option_values_are_counted(client, db):
    long_values = ["A" * 400, "B" * 400, "C" * 400]  # over 1,000 characters as text
    await create_product_in_variants(
        db, [({"Engraving": value}, "10.00", 1) for value in long_values], name="Long",
    )
    await create_product_in_variants(db, [({"Engraving": "short"}, "10.00", 1)], name="Short")
    body = await facets(client)
    assert options_of(body) == {"Engraving": {**dict.fromkeys(long_values, 1), "short": 1}}
    assert options_of(await facets(client, "Engraving:short")) == options_of(body)
    assert (await facets(client, "Engraving:short"))["total"] == 1


async def test_list_parameters_that_are_not_filters_are_ignored(client, shop):
    body = await facets(client, sort="price", page=7, per_page=1, cache="1")
    assert body == await facets(client)


@pytest.mark.parametrize("params", [
    {"min_price": "abc"}, {"max_price": "-1"}, {"min_price": "30", "max_price": "20"},
    {"in_stock": "yes"}, {"category": "Not A Slug"}, {"category": "0"},
    {"option": "Size"}, {"option": ":M"}, {"search": "x" * 201},
])
async def test_bad_filters_are_a_422(client, params):
    response = await client.get("/api/products/facets", params=params)
    await assert_problem(response, 422, "validation_error")


async def test_facets_are_documented(client):
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/products/facets"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert names == {"search", "category", "min_price", "max_price", "in_stock", "option"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"total", "total_exact", "categories", "price_ranges",
                                       "options", "availability"}
    assert "422" in operation["responses"]


async def test_a_connection_is_back_to_its_defaults_after_the_facets(settings):
    """The facets change their session's planner settings; the pool resets only such
    sessions, so the next borrower of that connection plans with the defaults."""
    from shop_api.db import create_pool
    from shop_api.domain.catalog import ProductFilters
    from shop_api.domain.facets import product_facets

    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        await product_facets(pool, ProductFilters())
        for _ in range(2):
            async with pool.acquire() as conn:
                assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
                assert await conn.fetchval("SHOW max_parallel_workers_per_gather") == "2"
    finally:
        await pool.close()

"""`GET /api/products/?option=Name:value`: products with one active variant having every value
named, a name given twice meaning either value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import assert_problem, create_product, create_product_in_variants

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def shirt(db, name, *variants, minutes=0, **product):
    """A product created `minutes` after T0 in `variants`, each ("M", "Red", stock) (a value
    of None leaves that option out)."""
    return await create_product_in_variants(
        db,
        [
            ({k: v for k, v in (("Size", size), ("Colour", colour)) if v is not None},
             "20.00", stock)
            for size, colour, stock in variants
        ],
        name=name, created_at=T0 + timedelta(minutes=minutes), **product,
    )


async def listed(client, *options, **params):
    """The names of the products `?option=...` lists (newest first) and the total."""
    query = [("option", option) for option in options]
    query += [(key, str(value)) for key, value in params.items()]
    response = await client.get("/api/products/", params=query)
    assert response.status == 200, await response.text()
    body = await response.json()
    return [item["name"] for item in body["items"]], body["total"]


@pytest.fixture
async def wardrobe(db):
    """Shirts whose variants make the single-variant rule matter."""
    await shirt(db, "Crossed", ("M", "Blue", 3), ("L", "Red", 3), minutes=1)
    await shirt(db, "Red M", ("M", "Red", 1), ("S", "Red", 0), minutes=2)
    await shirt(db, "Large", ("L", "Blue", 2), ("XL", "Blue", 2), minutes=3)
    await shirt(db, "Scarf", (None, "Red", 4), (None, "Grey", 4), minutes=4)
    await create_product(db, name="Mug", created_at=T0 + timedelta(minutes=5))


async def test_one_value_keeps_the_products_with_a_variant_of_it(client, wardrobe):
    assert await listed(client, "Size:M") == (["Red M", "Crossed"], 2)
    assert await listed(client, "Colour:Red") == (["Scarf", "Red M", "Crossed"], 3)
    assert await listed(client, "Size:XXL") == ([], 0)
    assert await listed(client, "Material:Wool") == ([], 0)


async def test_a_name_given_twice_means_either_value(client, wardrobe):
    assert await listed(client, "Size:M", "Size:L") == (["Large", "Red M", "Crossed"], 3)
    assert await listed(client, "Size:S", "Size:XL") == (["Large", "Red M"], 2)
    assert await listed(client, "Size:M", "Size:M") == (["Red M", "Crossed"], 2)


async def test_two_names_need_one_variant_with_both(client, wardrobe):
    # "Crossed" has an M and a Red, but no variant that is both.
    assert await listed(client, "Size:M", "Colour:Red") == (["Red M"], 1)
    assert await listed(client, "Colour:Red", "Size:M") == (["Red M"], 1)
    assert await listed(client, "Size:L", "Colour:Red") == (["Crossed"], 1)
    assert await listed(client, "Size:M", "Size:L", "Colour:Red") == (["Red M", "Crossed"], 2)
    assert await listed(client, "Size:M", "Colour:Blue", "Colour:Red") == (
        ["Red M", "Crossed"], 2
    )
    assert await listed(client, "Size:XL", "Colour:Red") == ([], 0)
    # A variant without the option never has its value.
    assert await listed(client, "Size:M", "Colour:Grey") == ([], 0)


async def test_deleted_variants_and_products_do_not_match(client, db, wardrobe):
    red_m = await db.fetchval(
        "SELECT id FROM product_variants WHERE options = '{\"Size\": \"M\", \"Colour\": \"Red\"}'"
    )
    await db.execute(
        "UPDATE product_variants SET is_active = false, deleted_at = now() WHERE id = $1", red_m
    )
    assert await listed(client, "Size:M", "Colour:Red") == ([], 0)
    assert await listed(client, "Size:M") == (["Crossed"], 1)
    assert await listed(client, "Size:S") == (["Red M"], 1), "its other variant still counts"
    await db.execute(
        "UPDATE products SET is_active = false, deleted_at = now() WHERE name = 'Crossed'"
    )
    assert await listed(client, "Size:M") == ([], 0)
    assert await listed(client, "Colour:Blue") == (["Large"], 1)


async def test_products_without_options_never_match(client, db):
    await create_product(db, name="Plain")
    assert await listed(client, "Size:M") == ([], 0)
    assert await listed(client) == (["Plain"], 1)


async def test_the_total_counts_every_match_past_the_page(client, db):
    for number in range(7):
        await shirt(db, f"Tee {number}", ("M", "Red", 1), ("L", "Red", 1), minutes=number)
    await shirt(db, "Tee L only", ("L", "Red", 1), minutes=10)
    body = await (await client.get(
        "/api/products/", params=[("option", "Size:M"), ("per_page", "3"), ("page", "3")]
    )).json()
    assert [item["name"] for item in body["items"]] == ["Tee 0"]
    assert (body["total"], body["pages"]) == (7, 3)
    past = await (await client.get(
        "/api/products/", params=[("option", "Size:M"), ("per_page", "3"), ("page", "9")]
    )).json()
    assert past["items"] == [] and past["total"] == 7
    # The unfiltered total (a counter) and a filtered one disagree as they should.
    assert (await listed(client))[1] == 8


async def test_options_combine_with_every_other_filter_and_sort(client, db):
    shirts = await db.fetchval(
        "INSERT INTO categories (name, slug) VALUES ('Shirts', 'shirts') RETURNING id"
    )
    await shirt(db, "Linen Shirt", ("M", "White", 0), ("L", "White", 2), category_id=shirts,
                description="Washed linen.", minutes=1)
    await shirt(db, "Oxford Shirt", ("M", "White", 5), category_id=shirts,
                description="Cotton oxford.", minutes=2)
    await shirt(db, "Linen Scarf", (None, "White", 5), description="Linen.", minutes=3)
    await db.execute("UPDATE product_variants SET price = 30 WHERE title = 'M / White'"
                     " AND product_id = (SELECT id FROM products WHERE name = 'Oxford Shirt')")
    assert await listed(client, "Colour:White", category="shirts") == (
        ["Oxford Shirt", "Linen Shirt"], 2
    )
    assert await listed(client, "Colour:White", search="linen") == (
        ["Linen Scarf", "Linen Shirt"], 2
    )
    assert await listed(client, "Size:M", in_stock="true") == (["Oxford Shirt", "Linen Shirt"], 2)
    assert await listed(client, "Size:M", in_stock="false") == ([], 0)
    assert await listed(client, "Size:M", min_price="25") == (["Oxford Shirt"], 1)
    assert await listed(client, "Size:M", "Colour:White", sort="-price") == (
        ["Oxford Shirt", "Linen Shirt"], 2
    )
    assert await listed(client, "Size:M", "Colour:White", sort="price", category="shirts",
                        search="shirt", max_price="25", in_stock="true") == (["Linen Shirt"], 1)


async def test_spaces_around_name_and_value_are_dropped_and_case_counts(client, wardrobe):
    assert await listed(client, " Size : M ") == (["Red M", "Crossed"], 2)
    assert await listed(client, "size:M") == ([], 0)
    assert await listed(client, "Size:m") == ([], 0)
    # Only the first ':' splits: the value may hold one.
    assert await listed(client, "Size:M:L") == ([], 0)


@pytest.mark.parametrize("options", [
    ["Size"], ["Size:"], [":M"], [" : "], ["Size:M", "Colour"], ["S:"],
    ["A:1", "B:1", "C:1", "D:1"],  # a product has at most three options
    [f"Size:{n}" for n in range(21)],  # at most 20 values in all
    ["Size:" + "M" * 200],
])
async def test_a_malformed_or_oversized_option_filter_is_a_422(client, options):
    response = await client.get("/api/products/", params=[("option", o) for o in options])
    body = await assert_problem(response, 422, "validation_error")
    assert "option" in body["errors"], body


async def test_three_names_and_twenty_values_are_accepted(client, wardrobe):
    options = ["Size:M", "Colour:Red", "Fit:Slim"] + [f"Size:{n}" for n in range(17)]
    assert await listed(client, *options) == ([], 0)
    assert await listed(client, "Size:M", "Colour:Red", "Colour:Blue") == (
        ["Red M", "Crossed"], 2
    )


async def test_the_option_filter_is_documented(client):
    document = await (await client.get("/api/openapi.json")).json()
    parameters = document["paths"]["/api/products"]["get"]["parameters"]
    (option,) = [p for p in parameters if p["name"] == "option"]
    assert option["in"] == "query" and option["schema"]["type"] == "array"
    assert option["schema"]["items"]["type"] == "string"
    assert "Name:value" in option["description"] or "Name:value" in str(option["schema"])

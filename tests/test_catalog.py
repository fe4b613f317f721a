"""The product list, detail and admin routes of /api/products, as a plain HTTP client sees them."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from factories import PROBLEM, assert_problem, create_product

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def add_category(db, name, slug, parent_id=None):
    return await db.fetchval(
        "INSERT INTO categories (name, slug, parent_id) VALUES ($1, $2, $3) RETURNING id",
        name, slug, parent_id,
    )


async def add_product(db, name, *, stock=5, minutes=0, active=True, **fields):
    """A product created `minutes` after T0 (inactive, not deleted, when `active` is False)."""
    return await create_product(
        db, name=name, slug=f"{name.lower().replace(' ', '-')}-{minutes}", stock=stock,
        is_active=active, deleted=False, created_at=T0 + timedelta(minutes=minutes), **fields,
    )


async def get_page(client, **params):
    response = await client.get("/api/products/", params={k: str(v) for k, v in params.items()})
    assert response.status == 200, await response.text()
    return await response.json()


async def names(client, **params):
    return [item["name"] for item in (await get_page(client, **params))["items"]]


async def assert_422(response, *fields):
    body = await assert_problem(response, 422, "validation_error")
    assert set(fields) <= set(body["errors"]), body
    return body


# -- the list: shape, paging --------------------------------------------------------------------


async def test_an_empty_catalog_is_an_empty_page_with_or_without_the_slash(client):
    for path in ("/api/products", "/api/products/"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 200
        assert response.content_type == "application/json"
        assert await response.json() == {
            "items": [], "page": 1, "per_page": 20, "total": 0, "total_exact": True, "pages": 0,
        }


async def test_a_product_has_exactly_the_documented_shape(client, admin, db):
    audio = await add_category(db, "Audio", "audio")
    response = await client.post("/api/products", headers=admin.headers, json={
        "name": "Studio Headphones", "price": "149.5", "stock_quantity": 3,
        "description": "Closed-back.", "category_id": audio, "sku": "AUD-1",
        "image_url": "https://img.example.com/h.jpg",
    })
    assert response.status == 201, await response.text()
    created = await response.json()
    listed = (await get_page(client))["items"]
    assert listed == [created]
    assert set(created) == {
        "id", "name", "slug", "description", "price", "currency", "stock_quantity", "in_stock",
        "sku", "image_url", "category", "rating", "created_at", "updated_at",
        # Release 2 (variants): tests/test_variants.py has what they hold.
        "price_max", "options", "images", "variant_count",
        # Release 2 (tax): tests/test_tax_admin.py.
        "tax_class",
    }
    assert created["name"] == "Studio Headphones"
    assert created["slug"] == "studio-headphones"
    assert created["price"] == "149.50"
    assert created["currency"] == "USD"
    assert created["stock_quantity"] == 3 and created["in_stock"] is True
    assert created["sku"] == "AUD-1"
    assert created["image_url"] == "https://img.example.com/h.jpg"
    assert created["category"] == {"id": audio, "name": "Audio", "slug": "audio"}
    assert created["rating"] == {"average": None, "count": 0}
    assert created["created_at"].endswith("+00:00")
    assert created["updated_at"].endswith("+00:00")


@pytest.mark.parametrize("sent, shown", [
    (10, "10.00"), ("10", "10.00"), ("0.5", "0.50"), (19.99, "19.99"), ("0", "0.00"),
    ("9999999999.99", "9999999999.99"),
])
async def test_money_is_a_string_with_two_places(client, admin, sent, shown):
    response = await client.post("/api/products", headers=admin.headers,
                                 json={"name": "Mug", "price": sent, "stock_quantity": 1})
    assert response.status == 201, await response.text()
    assert (await response.json())["price"] == shown
    assert (await get_page(client))["items"][0]["price"] == shown


async def test_pages_cover_every_product_once_with_the_right_totals(client, db):
    for n in range(45):
        await add_product(db, f"Item {n}", minutes=n)
    seen = []
    for page, size in [(1, 20), (2, 20), (3, 5)]:
        body = await get_page(client, page=page, per_page=20)
        assert (body["page"], body["per_page"], body["total"], body["pages"]) == (page, 20, 45, 3)
        assert len(body["items"]) == size
        seen += [item["id"] for item in body["items"]]
    assert len(set(seen)) == 45
    past_the_end = await get_page(client, page=4, per_page=20)
    assert past_the_end["items"] == [] and past_the_end["total"] == 45
    assert (await get_page(client, per_page=100))["pages"] == 1
    assert len((await get_page(client, per_page=1))["items"]) == 1
    assert (await get_page(client, per_page=7))["pages"] == 7


@pytest.mark.parametrize("params, field", [
    ({"per_page": 101}, "per_page"), ({"per_page": 0}, "per_page"), ({"page": 0}, "page"),
    ({"page": -1}, "page"), ({"page": "abc"}, "page"), ({"per_page": "1.5"}, "per_page"),
    ({"page": 1_000_001}, "page"),
    ({"min_price": "abc"}, "min_price"), ({"max_price": "-1"}, "max_price"),
    ({"min_price": "1.999"}, "min_price"), ({"min_price": "NaN"}, "min_price"),
    ({"min_price": "1e3"}, "min_price"),
    ({"sort": "cheapest"}, "sort"), ({"sort": "PRICE"}, "sort"),
    ({"in_stock": "yes"}, "in_stock"), ({"in_stock": "1"}, "in_stock"),
    ({"category": "Not A Slug"}, "category"), ({"category": "99999999999999999999"}, "category"),
    ({"category": "9223372036854775808"}, "category"), ({"category": "0"}, "category"),
    ({"search": "x" * 201}, "search"), ({"search": "mug\x00"}, "search"),
])
async def test_bad_query_parameters_are_a_422(client, params, field):
    await assert_422(await client.get("/api/products", params=params), field)


async def test_min_price_above_max_price_is_a_422(client):
    body = await assert_422(
        await client.get("/api/products", params={"min_price": "20", "max_price": "10"}),
        "max_price",
    )
    assert body["errors"]["max_price"] == ["Must be at least min_price."]


async def test_unknown_query_parameters_are_ignored(client, db):
    await add_product(db, "Mug")
    assert await names(client, _=12345, utm_source="mail") == ["Mug"]


# -- sorts --------------------------------------------------------------------------------------


async def catalog_to_sort(db):
    await add_product(db, "banana stand", price="30.00", minutes=1, ratings=(4, 5))
    await add_product(db, "Apple crate", price="20.00", minutes=2, ratings=(2,))
    await add_product(db, "cherry box", price="20.00", minutes=3)
    await add_product(db, "Date tin", price="5.50", minutes=4, ratings=(5,))


async def test_newest_first_is_the_default(client, db):
    await catalog_to_sort(db)
    expected = ["Date tin", "cherry box", "Apple crate", "banana stand"]
    assert await names(client) == expected
    assert await names(client, sort="newest") == expected
    # Without a search there is nothing to rank: relevance is newest.
    assert await names(client, sort="relevance") == expected


async def test_newest_breaks_ties_by_id(client, db):
    first = await add_product(db, "First", minutes=5)
    second = await add_product(db, "Second", minutes=5)
    assert [item["id"] for item in (await get_page(client))["items"]] == [second, first]


async def test_price_sorts_both_ways_with_ties_in_a_stable_order(client, db):
    await catalog_to_sort(db)
    assert await names(client, sort="price") == [
        "Date tin", "Apple crate", "cherry box", "banana stand"
    ]
    assert await names(client, sort="-price") == [
        "banana stand", "cherry box", "Apple crate", "Date tin"
    ]


async def test_name_sort_ignores_case(client, db):
    await catalog_to_sort(db)
    assert await names(client, sort="name") == [
        "Apple crate", "banana stand", "cherry box", "Date tin"
    ]


async def test_rating_sort_puts_the_best_average_first_and_unrated_last(client, db):
    await catalog_to_sort(db)
    body = await get_page(client, sort="rating")
    assert [item["name"] for item in body["items"]] == [
        "Date tin", "banana stand", "Apple crate", "cherry box"
    ]
    assert [item["rating"] for item in body["items"]] == [
        {"average": "5.00", "count": 1},
        {"average": "4.50", "count": 2},
        {"average": "2.00", "count": 1},
        {"average": None, "count": 0},
    ]


async def test_sorted_pages_do_not_overlap(client, db):
    for n in range(30):
        await add_product(db, f"P{n:02d}", price=f"{n % 7}.00", minutes=n % 4)
    for sort in ("newest", "price", "-price", "name", "rating"):
        first = await get_page(client, sort=sort, per_page=10, page=1)
        rest = [await get_page(client, sort=sort, per_page=10, page=p) for p in (2, 3)]
        ids = [item["id"] for page in [first, *rest] for item in page["items"]]
        assert len(ids) == len(set(ids)) == 30, sort


# -- filters ------------------------------------------------------------------------------------


async def test_price_bounds_are_inclusive(client, db):
    await catalog_to_sort(db)
    assert await names(client, min_price="20", sort="price") == [
        "Apple crate", "cherry box", "banana stand"
    ]
    assert await names(client, max_price="20.00", sort="price") == [
        "Date tin", "Apple crate", "cherry box"
    ]
    assert await names(client, min_price="20", max_price="20", sort="name") == [
        "Apple crate", "cherry box"
    ]
    assert await names(client, min_price="5.51", max_price="19.99") == []
    assert (await get_page(client, min_price=0))["total"] == 4


async def test_in_stock_true_and_false(client, db):
    await add_product(db, "Plenty", stock=100, minutes=1)
    await add_product(db, "Last one", stock=1, minutes=2)
    await add_product(db, "Sold out", stock=0, minutes=3)
    assert await names(client, in_stock="true") == ["Last one", "Plenty"]
    body = await get_page(client, in_stock="false")
    assert [item["name"] for item in body["items"]] == ["Sold out"]
    assert body["items"][0]["in_stock"] is False and body["total"] == 1
    assert len(await names(client)) == 3


async def category_tree(db):
    """home > kitchen > knives, home > garden, and toys."""
    home = await add_category(db, "Home", "home")
    kitchen = await add_category(db, "Kitchen", "kitchen", home)
    knives = await add_category(db, "Knives", "knives", kitchen)
    garden = await add_category(db, "Garden", "garden", home)
    toys = await add_category(db, "Toys", "toys")
    await add_product(db, "Sofa", category_id=home, minutes=1)
    await add_product(db, "Pan", category_id=kitchen, minutes=2)
    await add_product(db, "Santoku", category_id=knives, minutes=3)
    await add_product(db, "Rake", category_id=garden, minutes=4)
    await add_product(db, "Kite", category_id=toys, minutes=5)
    await add_product(db, "Gift card", minutes=6)
    return {"home": home, "kitchen": kitchen, "knives": knives, "garden": garden, "toys": toys}


async def test_a_category_includes_every_descendant(client, db):
    ids = await category_tree(db)
    assert await names(client, category="home") == ["Rake", "Santoku", "Pan", "Sofa"]
    assert await names(client, category=ids["home"]) == ["Rake", "Santoku", "Pan", "Sofa"]
    assert await names(client, category="kitchen") == ["Santoku", "Pan"]
    assert await names(client, category=ids["knives"]) == ["Santoku"]
    assert await names(client, category="toys") == ["Kite"]
    body = await get_page(client, category="home", per_page=2)
    assert body["total"] == 4 and body["pages"] == 2
    assert len(await names(client)) == 6


async def test_an_unknown_category_matches_nothing(client, db):
    await category_tree(db)
    assert (await get_page(client, category="no-such-thing"))["total"] == 0
    assert (await get_page(client, category=987654))["total"] == 0


async def test_every_filter_and_sort_combined(client, db):
    ids = await category_tree(db)
    await add_product(db, "Chef knife steel", price="80.00", category_id=ids["knives"],
                      minutes=10, ratings=(5,))
    await add_product(db, "Bread knife steel", price="40.00", category_id=ids["knives"],
                      minutes=11, stock=0)
    await add_product(db, "Paring knife steel", price="15.00", category_id=ids["kitchen"],
                      minutes=12, ratings=(3,))
    await add_product(db, "Garden knife steel", price="30.00", category_id=ids["garden"],
                      minutes=13)
    await add_product(db, "Toy knife steel", price="25.00", category_id=ids["toys"], minutes=14)
    query = {"search": "knife", "category": "kitchen", "min_price": "10", "max_price": "90",
             "in_stock": "true"}
    assert await names(client, **query, sort="price") == ["Paring knife steel", "Chef knife steel"]
    assert await names(client, **query, sort="-price") == [
        "Chef knife steel", "Paring knife steel"
    ]
    assert await names(client, **query, sort="rating") == [
        "Chef knife steel", "Paring knife steel"
    ]
    assert await names(client, **query, sort="newest") == [
        "Paring knife steel", "Chef knife steel"
    ]
    body = await get_page(client, **query, per_page=1, page=2, sort="name")
    assert [item["name"] for item in body["items"]] == ["Paring knife steel"]
    assert (body["total"], body["pages"]) == (2, 2)
    assert await names(client, search="knife", category="home", in_stock="false") == [
        "Bread knife steel"
    ]
    assert await names(client, search="knife", max_price="30", sort="price") == [
        "Paring knife steel", "Toy knife steel", "Garden knife steel"
    ]


# -- search -------------------------------------------------------------------------------------


async def search_catalog(db):
    await add_product(db, "Blue ceramic mug", description="Holds 350 ml of coffee.", minutes=1)
    await add_product(db, "Coffee grinder", description="Steel burrs for an even grind.",
                      minutes=2)
    await add_product(db, "Travel bottle", description="Keeps coffee hot; fits a cup holder.",
                      minutes=3)
    await add_product(db, "Tea kettle", description="Whistles when the water boils.", minutes=4)
    await add_product(db, "Espresso cups", description="Two small cups for strong coffee.",
                      minutes=5)


async def test_search_covers_name_and_description(client, db):
    await search_catalog(db)
    assert set(await names(client, search="coffee")) == {
        "Blue ceramic mug", "Coffee grinder", "Travel bottle", "Espresso cups"
    }
    assert await names(client, search="whistles") == ["Tea kettle"]
    assert await names(client, search="MUG") == ["Blue ceramic mug"]
    # Stemming: the English configuration finds "cups" for "cup" and "grind" for "grinding".
    assert set(await names(client, search="cup")) == {"Travel bottle", "Espresso cups"}
    assert set(await names(client, search="grinding")) == {"Coffee grinder"}


async def test_a_name_match_outranks_a_description_match(client, db):
    await search_catalog(db)
    ranked = await names(client, search="coffee")
    assert ranked[0] == "Coffee grinder"
    assert await names(client, search="coffee", sort="relevance") == ranked
    # Another sort wins over relevance when asked for.
    assert (await names(client, search="coffee", sort="name"))[0] == "Blue ceramic mug"


async def test_search_ranks_newer_first_among_equals(client, db):
    await add_product(db, "Lamp one", minutes=1)
    await add_product(db, "Lamp two", minutes=2)
    assert await names(client, search="lamp") == ["Lamp two", "Lamp one"]


async def test_search_understands_minus_quotes_and_or(client, db):
    await search_catalog(db)
    # "-cups" excludes "cup" too (stemmed): the travel bottle "fits a cup holder".
    assert set(await names(client, search="coffee -cups")) == {"Blue ceramic mug", "Coffee grinder"}
    assert set(await names(client, search="coffee -espresso")) == {
        "Blue ceramic mug", "Coffee grinder", "Travel bottle"
    }
    assert await names(client, search='"strong coffee"') == ["Espresso cups"]
    assert await names(client, search='"coffee strong"') == []
    assert set(await names(client, search="kettle or grinder")) == {"Tea kettle", "Coffee grinder"}
    assert await names(client, search="coffee steel") == ["Coffee grinder"]


@pytest.mark.parametrize("text", [
    '"', "'", "&", "|", "!", "!!", "()", "(((", "a:*", "coffee:*", "-", "--", "- -coffee",
    '"unclosed', "or", "and", "the", "*", "\\", "%", "_", "a & b | !c", "<->", "coffee <-> cup",
    "😀", "кофе", "咖啡", "' OR 1=1 --", "$1", ":search", "x" * 200, "\t\n", "café",
])
async def test_any_search_text_is_an_answer_never_an_error(client, db, text):
    await search_catalog(db)
    body = await get_page(client, search=text)
    assert body["total"] == len(body["items"])


async def test_text_with_no_searchable_word_matches_nothing(client, db):
    await search_catalog(db)
    for text in ("the", "!!!", "&&"):
        assert (await get_page(client, search=text))["total"] == 0, text


async def test_a_blank_search_is_no_search(client, db):
    await search_catalog(db)
    assert len(await names(client, search="")) == 5
    assert len(await names(client, search="   ")) == 5


async def test_search_with_a_category_and_pages(client, db):
    ids = await category_tree(db)
    for n in range(7):
        await add_product(db, f"Oak bowl {n}", category_id=ids["kitchen"], minutes=20 + n)
    await add_product(db, "Oak toy", category_id=ids["toys"], minutes=30)
    body = await get_page(client, search="oak", category="home", per_page=5, page=2)
    assert body["total"] == 7 and body["pages"] == 2
    assert [item["name"] for item in body["items"]] == ["Oak bowl 1", "Oak bowl 0"]


# -- soft delete --------------------------------------------------------------------------------


async def test_a_deleted_product_disappears_but_its_row_stays(client, admin, db):
    keep = await add_product(db, "Keep", minutes=1)
    gone = await add_product(db, "Gone pan", minutes=2, sku="GONE-1")
    response = await client.delete(f"/api/products/{gone}", headers=admin.headers)
    assert response.status == 204
    assert await response.read() == b""
    body = await get_page(client)
    assert [item["id"] for item in body["items"]] == [keep] and body["total"] == 1
    assert (await get_page(client, search="pan"))["total"] == 0
    assert (await get_page(client, in_stock="true"))["total"] == 1
    assert (await client.get(f"/api/products/{gone}")).status == 404
    assert (await client.get(f"/api/products/{gone}/reviews")).status == 404
    again = await client.delete(f"/api/products/{gone}", headers=admin.headers)
    await assert_problem(again, 404, "not_found")
    put = await client.put(f"/api/products/{gone}", headers=admin.headers, json={"price": 1})
    assert put.status == 404
    row = await db.fetchrow("SELECT is_active, deleted_at, sku FROM products WHERE id = $1", gone)
    assert row["is_active"] is False and row["deleted_at"] is not None and row["sku"] == "GONE-1"


async def test_inactive_rows_never_show_in_any_sort_or_filter(client, db):
    await add_product(db, "Hidden coffee", active=False, ratings=(5,))
    await add_product(db, "Shown coffee", minutes=1)
    for sort in ("newest", "price", "-price", "name", "rating", "relevance"):
        assert await names(client, sort=sort, search="coffee") == ["Shown coffee"]
        assert await names(client, sort=sort) == ["Shown coffee"]
    assert await names(client, in_stock="true") == ["Shown coffee"]


# -- detail -------------------------------------------------------------------------------------


async def test_detail_has_the_product_and_its_five_newest_reviews(client, db):
    product = await add_product(db, "Kettle", price="45.00")
    await add_product(db, "Other")
    for n in range(7):
        user = await db.fetchval(
            "INSERT INTO users (email, password_hash, full_name) VALUES ($1, 'x', $2) RETURNING id",
            f"r{n}@example.com", f"Reviewer {n}",
        )
        await db.execute(
            "INSERT INTO reviews (product_id, user_id, rating, title, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            product, user, 1 + n % 5, f"Review {n}", T0 + timedelta(days=n),
        )
    response = await client.get(f"/api/products/{product}")
    assert response.status == 200
    body = await response.json()
    assert body["id"] == product and body["name"] == "Kettle" and body["price"] == "45.00"
    reviews = body.pop("recent_reviews")
    body.pop("variants")  # detail only, like the reviews (tests/test_variants.py)
    listed = (await get_page(client, search="kettle"))["items"][0]
    assert body == listed
    assert [review["title"] for review in reviews] == [f"Review {n}" for n in (6, 5, 4, 3, 2)]
    assert set(reviews[0]) == {
        "id", "product_id", "user", "rating", "title", "comment", "verified_purchase",
        "created_at",
    }
    assert reviews[0]["user"]["full_name"] == "Reviewer 6"
    assert reviews[0]["product_id"] == product
    assert reviews[0]["verified_purchase"] is False
    assert reviews[0]["comment"] == ""


async def test_detail_without_reviews_and_of_missing_products(client, db):
    product = await add_product(db, "Quiet")
    body = await (await client.get(f"/api/products/{product}")).json()
    assert body["recent_reviews"] == []
    for path in ("/api/products/999999", "/api/products/99999999999999999999999",
                 "/api/products/0"):
        response = await client.get(path)
        assert response.status == 404, path
        assert response.content_type == PROBLEM
        assert (await response.json())["code"] == "not_found"


async def test_categories_route_is_not_taken_for_a_product_id(client, db):
    await add_category(db, "Toys", "toys")
    response = await client.get("/api/products/categories")
    assert response.status == 200
    assert (await response.json())["items"][0]["slug"] == "toys"
    assert (await client.get("/api/products/abc")).status == 404


# -- admin: who may ----------------------------------------------------------------------------


async def test_admin_routes_refuse_anonymous_and_customers(client, customer, db):
    product = await add_product(db, "Mug")
    calls = [
        ("POST", "/api/products", {"name": "X", "price": 1, "stock_quantity": 1}),
        ("POST", "/api/products/", {"name": "X", "price": 1, "stock_quantity": 1}),
        ("PUT", f"/api/products/{product}", {"price": 1}),
        ("DELETE", f"/api/products/{product}", None),
        ("POST", "/api/products/categories", {"name": "New"}),
    ]
    for method, path, body in calls:
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status == 401, (method, path)
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await anonymous.json())["code"] == "unauthorized"
        refused = await client.request(method, path, json=body, headers=customer.headers)
        assert refused.status == 403, (method, path)
        assert (await refused.json())["code"] == "forbidden"
    row = await db.fetchrow("SELECT price, is_active FROM products WHERE id = $1", product)
    assert row["price"] == Decimal("10.00") and row["is_active"] is True
    assert await db.fetchval("SELECT count(*) FROM products") == 1
    assert await db.fetchval("SELECT count(*) FROM categories") == 0


# -- admin: create ------------------------------------------------------------------------------


async def test_create_needs_name_price_and_stock(client, admin):
    body = await assert_422(
        await client.post("/api/products", headers=admin.headers, json={}),
        "name", "price", "stock_quantity",
    )
    assert body["errors"]["name"] == ["Missing data for required field."]


@pytest.mark.parametrize("change, field", [
    ({"price": -1}, "price"), ({"price": "-0.01"}, "price"), ({"price": "1.001"}, "price"),
    ({"price": "ten"}, "price"), ({"price": None}, "price"), ({"price": True}, "price"),
    ({"price": "10000000000.00"}, "price"),
    ({"stock_quantity": -1}, "stock_quantity"), ({"stock_quantity": 1.5}, "stock_quantity"),
    ({"stock_quantity": "3"}, "stock_quantity"), ({"stock_quantity": 2**31}, "stock_quantity"),
    ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "x" * 201}, "name"),
    ({"name": 5}, "name"), ({"category_id": "1"}, "category_id"),
    ({"category_id": 0}, "category_id"), ({"category_id": 2**63}, "category_id"),
    ({"sku": ""}, "sku"), ({"sku": "has space"}, "sku"), ({"image_url": "not a url"}, "image_url"),
    ({"image_url": "javascript:alert(1)"}, "image_url"), ({"description": None}, "description"),
    # No mass assignment: what the route does not document cannot be set.
    ({"is_active": False}, "is_active"), ({"slug": "mine"}, "slug"),
    ({"rating_sum": 50}, "rating_sum"), ({"currency": "EUR"}, "currency"),
])
async def test_create_validates_every_field(client, admin, db, change, field):
    body = {"name": "Mug", "price": "9.99", "stock_quantity": 2, **change}
    await assert_422(await client.post("/api/products", headers=admin.headers, json=body), field)
    assert await db.fetchval("SELECT count(*) FROM products") == 0


async def test_create_with_an_unknown_category_is_a_422_on_category_id(client, admin, db):
    body = await assert_422(
        await client.post("/api/products", headers=admin.headers, json={
            "name": "Mug", "price": 1, "stock_quantity": 1, "category_id": 4242}),
        "category_id",
    )
    assert body["errors"] == {"category_id": ["No such category."]}
    assert await db.fetchval("SELECT count(*) FROM products") == 0


async def test_a_taken_sku_is_a_409_even_when_the_product_was_deleted(client, admin, db):
    first = {"name": "Mug", "price": 5, "stock_quantity": 1, "sku": "MUG-1"}
    assert (await client.post("/api/products", headers=admin.headers, json=first)).status == 201
    response = await client.post("/api/products", headers=admin.headers,
                                 json={**first, "name": "Other mug"})
    body = await assert_problem(response, 409, "sku_taken")
    assert "sku" in body["errors"]
    await db.execute("UPDATE products SET is_active = false")
    again = await client.post("/api/products", headers=admin.headers, json=first)
    assert (await again.json())["code"] == "sku_taken"
    assert await db.fetchval("SELECT count(*) FROM products") == 1


async def test_slugs_are_made_from_names_and_kept_unique(client, admin):
    async def create(name):
        response = await client.post("/api/products", headers=admin.headers,
                                     json={"name": name, "price": 1, "stock_quantity": 1})
        assert response.status == 201, await response.text()
        return (await response.json())["slug"]

    assert await create("Blue Mug") == "blue-mug"
    assert await create("blue mug") == "blue-mug-2"
    assert await create("  Blue   MUG!  ") == "blue-mug-3"
    assert await create("Café Crème, 250 ml") == "cafe-creme-250-ml"
    assert await create("Men's Shirt") == "mens-shirt"
    assert await create("Smørrebrød Straße") == "smorrebrod-strasse"
    assert await create("!!!") == "product"
    assert await create("咖啡") == "product-2"
    long_slug = await create("word " * 40)
    assert len(long_slug) <= 80 and long_slug.startswith("word-word")


async def test_concurrent_creates_of_one_name_get_distinct_slugs(client, admin):
    responses = await asyncio.gather(*(
        client.post("/api/products", headers=admin.headers,
                    json={"name": "Race Mug", "price": 1, "stock_quantity": 1})
        for _ in range(6)
    ))
    assert [r.status for r in responses] == [201] * 6
    slugs = {(await r.json())["slug"] for r in responses}
    assert len(slugs) == 6 and "race-mug" in slugs


async def test_the_name_is_stored_trimmed(client, admin):
    response = await client.post("/api/products", headers=admin.headers,
                                 json={"name": "  Mug  ", "price": 1, "stock_quantity": 0})
    body = await response.json()
    assert body["name"] == "Mug" and body["in_stock"] is False


# -- admin: update ------------------------------------------------------------------------------


async def test_update_changes_only_what_is_sent(client, admin, db):
    kitchen = await add_category(db, "Kitchen", "kitchen")
    product = await add_product(db, "Mug", price="5.00", stock=3, sku="MUG-1",
                                description="Plain.", category_id=kitchen)
    before = await (await client.get(f"/api/products/{product}")).json()
    response = await client.put(f"/api/products/{product}", headers=admin.headers,
                                json={"price": "6.5"})
    assert response.status == 200
    after = await response.json()
    assert after["price"] == "6.50"
    assert after["updated_at"] > before["updated_at"]
    # price_max follows the price of its one variant.
    changed = ("price", "price_max", "updated_at")
    unchanged = {k: v for k, v in after.items() if k not in changed}
    before.pop("recent_reviews")
    before.pop("variants")
    assert unchanged == {k: v for k, v in before.items() if k not in changed}


async def test_update_every_field_and_clear_the_nullable_ones(client, admin, db):
    kitchen = await add_category(db, "Kitchen", "kitchen")
    product = await add_product(db, "Mug", sku="MUG-1")
    response = await client.put(f"/api/products/{product}", headers=admin.headers, json={
        "name": "Big Mug", "price": 7, "stock_quantity": 0, "description": "Bigger.",
        "category_id": kitchen, "sku": "MUG-2", "image_url": "http://img.example.com/m.png",
    })
    body = await response.json()
    assert response.status == 200, body
    assert (body["name"], body["price"], body["stock_quantity"], body["in_stock"]) == (
        "Big Mug", "7.00", 0, False
    )
    assert body["description"] == "Bigger." and body["sku"] == "MUG-2"
    assert body["category"]["slug"] == "kitchen"
    assert body["image_url"] == "http://img.example.com/m.png"
    assert body["slug"] == "mug-0", "a rename keeps the slug"
    cleared = await (await client.put(
        f"/api/products/{product}", headers=admin.headers,
        json={"category_id": None, "sku": None, "image_url": None},
    )).json()
    assert (cleared["category"], cleared["sku"], cleared["image_url"]) == (None, None, None)
    assert cleared["name"] == "Big Mug"
    same = await client.put(f"/api/products/{product}", headers=admin.headers, json={})
    assert same.status == 200 and (await same.json())["name"] == "Big Mug"


async def test_update_validates_like_create(client, admin, db):
    product = await add_product(db, "Mug", sku="MUG-1")
    await add_product(db, "Cup", sku="CUP-1")
    url = f"/api/products/{product}"
    for body, field in [({"price": -5}, "price"), ({"stock_quantity": -1}, "stock_quantity"),
                        ({"name": None}, "name"), ({"is_active": True}, "is_active"),
                        ({"category_id": 999}, "category_id"), ({"price": None}, "price")]:
        await assert_422(await client.put(url, headers=admin.headers, json=body), field)
    taken = await client.put(url, headers=admin.headers, json={"sku": "CUP-1"})
    await assert_problem(taken, 409, "sku_taken")
    missing = await client.put("/api/products/424242", headers=admin.headers, json={"price": 1})
    assert missing.status == 404
    row = await db.fetchrow("SELECT price, sku, stock_quantity FROM products WHERE id = $1",
                            product)
    assert (row["price"], row["sku"], row["stock_quantity"]) == (Decimal("10.00"), "MUG-1", 5)


async def test_update_with_a_bad_body_is_a_400(client, admin, db):
    product = await add_product(db, "Mug")
    for raw in (b"{oops", b"[]", b""):
        response = await client.put(f"/api/products/{product}", headers={
            **admin.headers, "Content-Type": "application/json"}, data=raw)
        await assert_problem(response, 400, "invalid_json")


async def test_delete_of_a_missing_product_is_a_404(client, admin):
    assert (await client.delete("/api/products/31337", headers=admin.headers)).status == 404


# -- the OpenAPI document ------------------------------------------------------------------------


async def test_the_catalog_routes_are_documented(client):
    document = await (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/products"]) == {"get", "post"}
    assert set(paths["/api/products/{product_id}"]) == {"get", "put", "delete"}
    assert set(paths["/api/products/categories"]) == {"get", "post"}
    assert set(paths["/api/products/{product_id}/reviews"]) == {"get", "post"}
    parameters = {p["name"] for p in paths["/api/products"]["get"]["parameters"]}
    assert parameters == {"search", "category", "min_price", "max_price", "in_stock", "option",
                          "sort", "page", "per_page"}
    assert "409" in paths["/api/products"]["post"]["responses"]
    assert "sku_taken" in paths["/api/products"]["post"]["description"]
    review = document["components"]["schemas"]["ReviewOut"]
    assert "paid" in review["properties"]["verified_purchase"]["description"]
    assert set(paths["/api/products/{product_id}/recommendations"]) == {"get"}


# -- every combination against a reference ----------------------------------------------------


async def test_every_filter_combination_and_sort_matches_a_reference(client, db):
    """A storefront may send any mix of filters with any sort: compare each with plain Python."""
    rng = random.Random(7)
    tree = await category_tree(db)  # adds six products of its own
    leaves = [tree["knives"], tree["garden"], tree["toys"], tree["kitchen"], None]
    for n in range(40):
        ratings = tuple(rng.randint(1, 5) for _ in range(rng.choice([0, 0, 1, 2, 3])))
        await add_product(
            db, f"{rng.choice('ABCDEFGH')}{rng.choice('aeiou')} item {n}",
            price=f"{rng.choice([5, 10, 10, 20, 35, 50])}.{rng.choice(['00', '50'])}",
            stock=rng.choice([0, 0, 1, 7]), category_id=rng.choice(leaves),
            minutes=rng.randint(0, 15), ratings=ratings, active=rng.random() > 0.1,
        )
    rows = await db.fetch(
        "SELECT id, name, price, stock_quantity, category_id, created_at, rating_count,"
        " rating_sum FROM products WHERE is_active"
    )
    under = {
        None: None,
        "home": {tree["home"], tree["kitchen"], tree["knives"], tree["garden"]},
        "knives": {tree["knives"]},
    }
    sort_keys = {
        "newest": lambda r: (-r["created_at"].timestamp(), -r["id"]),
        "price": lambda r: (r["price"], r["id"]),
        "-price": lambda r: (-r["price"], -r["id"]),
        "name": lambda r: (r["name"].lower(), r["id"]),
        "rating": lambda r: (
            r["rating_count"] == 0,
            -Fraction(r["rating_sum"], r["rating_count"]) if r["rating_count"] else 0,
            r["id"],
        ),
    }
    prices = [(None, None), (Decimal("10"), None), (None, Decimal("20.00")),
              (Decimal("10.50"), Decimal("35"))]
    checked = 0
    for category, (low, high), in_stock, sort in itertools.product(
        under, prices, (None, True, False), sort_keys
    ):
        expected = [
            r["id"] for r in sorted(rows, key=sort_keys[sort])
            if (under[category] is None or r["category_id"] in under[category])
            and (low is None or r["price"] >= low) and (high is None or r["price"] <= high)
            and (in_stock is None or (r["stock_quantity"] > 0) == in_stock)
        ]
        params = {"sort": sort, "per_page": 100}
        for name, value in (("category", category), ("min_price", low), ("max_price", high),
                            ("in_stock", None if in_stock is None else str(in_stock).lower())):
            if value is not None:
                params[name] = value
        body = await get_page(client, **params)
        assert [item["id"] for item in body["items"]] == expected, params
        assert body["total"] == len(expected), params
        checked += len(expected) > 1
        if len(expected) > 4:
            second = await get_page(client, **{**params, "per_page": 3, "page": 2})
            assert [item["id"] for item in second["items"]] == expected[3:6], params
    assert checked > 100, "most combinations must match several products to prove an order"


async def test_the_unfiltered_total_follows_creates_deletes_and_bulk_loads(client, db, admin):
    from shop_api.ops.seed import seed_synthetic_products

    async def total() -> int:
        return (await (await client.get("/api/products")).json())["total"]

    assert await total() == 0
    created = await client.post(
        "/api/products", json={"name": "Lamp", "price": "20.00", "stock_quantity": 3},
        headers=admin.headers,
    )
    product_id = (await created.json())["id"]
    assert await total() == 1
    await seed_synthetic_products(db, 250)
    assert await total() == 251
    await client.delete(f"/api/products/{product_id}", headers=admin.headers)
    assert await total() == 250
    await db.execute("UPDATE products SET stock_quantity = 0")  # stock changes do not count
    assert await total() == 250
    counted = await db.fetchval("SELECT count(*) FROM products WHERE is_active")
    assert counted == 250
    # A filtered list still counts what matches.
    in_stock = await (await client.get("/api/products?in_stock=true")).json()
    assert in_stock["total"] == 0


async def test_a_stock_change_through_the_product_route_is_in_the_ledger(client, db, admin):
    created = await client.post(
        "/api/products", json={"name": "Kettle", "price": "30.00", "stock_quantity": 4},
        headers=admin.headers,
    )
    product_id = (await created.json())["id"]
    updated = await client.put(
        f"/api/products/{product_id}", json={"stock_quantity": 9, "price": "31.00"},
        headers=admin.headers,
    )
    assert updated.status == 200
    body = await updated.json()
    assert body["stock_quantity"] == 9 and body["price"] == "31.00" and body["in_stock"]
    ledger = await db.fetchrow(
        "SELECT delta, stock_after, actor_id, reason FROM inventory_ledger WHERE product_id = $1",
        product_id,
    )
    assert dict(ledger) == {
        "delta": 5, "stock_after": 9, "actor_id": admin.id, "reason": "Product edit."
    }
    # A price-only edit leaves the ledger alone.
    await client.put(
        f"/api/products/{product_id}", json={"price": "32.00"}, headers=admin.headers
    )
    assert await db.fetchval("SELECT count(*) FROM inventory_ledger") == 1

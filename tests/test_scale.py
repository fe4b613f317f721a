"""API.md, "Scale": totals exact up to 10,000 and `total_exact`, `page_too_deep`, facet counts
capped the same way; on 12,000 synthetic products (seeded by COPY in about two seconds)."""

from __future__ import annotations

import re
from pathlib import Path

from factories import assert_problem, create_product

from shop_api.domain.limits import TOTAL_CAP
from shop_api.ops.seed import seed_synthetic_products

SQL = Path(__file__).resolve().parent.parent / "sql"
SEEDED = 12_000


async def get_json(client, path, **params):
    response = await client.get(path, params={k: str(v) for k, v in params.items()})
    assert response.status == 200, await response.text()
    return await response.json()


def envelope(page: dict) -> dict:
    return {key: page[key] for key in ("page", "per_page", "total", "total_exact", "pages")}


async def test_totals_are_exact_up_to_the_cap_and_capped_past_it(client, db):
    await seed_synthetic_products(db, SEEDED)
    active = await db.fetchval("SELECT count(*) FROM products WHERE is_active")
    in_stock = await db.fetchval(
        "SELECT count(*) FROM products WHERE is_active AND stock_quantity > 0")
    sold_out = active - in_stock
    walnut = await db.fetchval("SELECT count(*) FROM products WHERE name LIKE '% Walnut %'")
    assert active == SEEDED and in_stock > TOTAL_CAP and 0 < sold_out < TOTAL_CAP
    assert 0 < walnut < TOTAL_CAP

    # Unfiltered (the catalog counter), filtered (a capped count), searched by relevance.
    for params in ({}, {"in_stock": "true"}, {"min_price": "0"}, {"search": "made"},
                   {"search": "made", "sort": "price"}):
        page = await get_json(client, "/api/products", **params)
        assert envelope(page) == {"page": 1, "per_page": 20, "total": TOTAL_CAP,
                                  "total_exact": False, "pages": TOTAL_CAP // 20}, params
        assert len(page["items"]) == 20, params
    # Below the cap, exact.
    page = await get_json(client, "/api/products", in_stock="false", per_page=100)
    assert envelope(page) == {"page": 1, "per_page": 100, "total": sold_out,
                              "total_exact": True, "pages": -(-sold_out // 100)}
    searched = await get_json(client, "/api/products", search="walnut")
    assert (searched["total"], searched["total_exact"]) == (walnut, True)

    # The last page a client may ask for is full; relevance pages come from its candidates
    # without repeats.
    last = await get_json(client, "/api/products", page=TOTAL_CAP // 100, per_page=100)
    assert len(last["items"]) == 100 and last["total_exact"] is False
    ranked = [await get_json(client, "/api/products", search="made", page=n, per_page=100)
              for n in (1, 2, TOTAL_CAP // 100)]
    ids = [item["id"] for page in ranked for item in page["items"]]
    assert len(ids) == len(set(ids)) == 300

    # Facets: the total and every count capped; below the cap exact.
    broad = await get_json(client, "/api/products/facets")
    assert (broad["total"], broad["total_exact"]) == (TOTAL_CAP, False)
    assert broad["availability"] == {"in_stock": TOTAL_CAP, "out_of_stock": sold_out}
    counts = [band["count"] for band in broad["price_ranges"]]
    counts += [value["count"] for option in broad["options"] for value in option["values"]]
    assert counts and max(counts) <= TOTAL_CAP
    narrow = await get_json(client, "/api/products/facets", in_stock="false")
    assert (narrow["total"], narrow["total_exact"]) == (sold_out, True)
    assert sum(band["count"] for band in narrow["price_ranges"]) == sold_out
    assert narrow["availability"] == {"in_stock": TOTAL_CAP, "out_of_stock": sold_out}


async def test_a_page_past_the_cap_is_page_too_deep_on_every_paginated_list(
    client, db, admin, customer
):
    product = await create_product(db, name="Lamp")
    deepest = {"page": TOTAL_CAP // 20, "per_page": 20}
    too_deep = {"page": TOTAL_CAP // 20 + 1, "per_page": 20}
    for path, headers in (
        ("/api/products", None),
        (f"/api/products/{product}/reviews", None),
        ("/api/orders", customer.headers),
        ("/api/admin/users", admin.headers),
        ("/api/admin/orders", admin.headers),
        ("/api/admin/inventory", admin.headers),
    ):
        allowed = await client.get(path, params={k: str(v) for k, v in deepest.items()},
                                   headers=headers)
        assert allowed.status == 200, (path, await allowed.text())
        body = await allowed.json()
        assert body["items"] == [] and body["total_exact"] is True, path
        refused = await client.get(path, params={k: str(v) for k, v in too_deep.items()},
                                   headers=headers)
        problem = await assert_problem(refused, 422, "page_too_deep")
        assert "10,000" in problem["detail"], path
    # per_page counts too, and the other 422s are unchanged.
    await assert_problem(await client.get("/api/products?page=101&per_page=100"), 422,
                         "page_too_deep")
    assert (await client.get("/api/products?page=100&per_page=100")).status == 200
    await assert_problem(await client.get("/api/products?page=0"), 422, "validation_error")
    await assert_problem(await client.get("/api/products?per_page=101"), 422,
                         "validation_error")


def test_every_list_counts_at_most_one_past_the_cap():
    """The number in the SQL is TOTAL_CAP + 1: every page query's total is a capped count."""
    page_queries = 0
    for path in sorted(SQL.glob("*.sql")):
        text = path.read_text()
        page_queries += text.count("AS total")
        for limit in re.findall(r"count\(\*\)[^;]*?LIMIT (\d+)\) AS capped", text, re.S):
            assert int(limit) == TOTAL_CAP + 1, path.name
        uncapped = re.findall(r"count\(\*\) AS total FROM matching\)", text)
        assert not uncapped, path.name
    assert page_queries >= 9


async def test_the_openapi_page_envelope_documents_total_exact(client):
    document = await get_json(client, "/api/openapi.json")
    schemas = document["components"]["schemas"]
    for name in ("ProductPage", "FacetsOut"):
        assert "total_exact" in schemas[name]["required"], name
        assert schemas[name]["properties"]["total_exact"]["type"] == "boolean"

"""/api/admin/tax-rates, the products' tax class and tax.rates_for, through HTTP and real rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import assert_problem, create_product

from shop_api.domain.tax import rates_for

RATES = "/api/admin/tax-rates"


async def add_rate(client, admin, **fields) -> dict:
    body = {"country": "DE", "rate": "0.19", "name": "MwSt", **fields}
    response = await client.post(RATES, headers=admin.headers, json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def stored_rates(db) -> list[tuple]:
    rows = await db.fetch(
        "SELECT country, region, tax_class, rate, name FROM tax_rates ORDER BY id"
    )
    return [tuple(row) for row in rows]


# -- the admin routes -------------------------------------------------------------------------


async def test_an_admin_adds_changes_lists_and_removes_rates(client, admin, db):
    for path in (RATES, RATES + "/"):
        empty = await client.get(path, headers=admin.headers)
        assert empty.status == 200
        assert await empty.json() == {
            "items": [],
            "page": 1,
            "per_page": 20,
            "total": 0,
            "total_exact": True,
            "pages": 0,
        }
    vat = await add_rate(client, admin)
    assert vat == {
        "id": vat["id"],
        "country": "DE",
        "region": None,
        "tax_class": "standard",
        "rate": "0.1900",
        "name": "MwSt",
    }
    reduced = await add_rate(client, admin, tax_class="reduced", rate=0.07, name="MwSt 7")
    assert reduced["rate"] == "0.0700"
    california = await add_rate(
        client, admin, country="us", region=" CA ", rate="0.0725", name="California"
    )
    assert (california["country"], california["region"]) == ("US", "CA")

    listed = await (await client.get(RATES, headers=admin.headers)).json()
    assert [item["id"] for item in listed["items"]] == [vat["id"], reduced["id"], california["id"]]
    assert listed["items"][0] == vat
    only_us = await (
        await client.get(RATES, params={"country": "US"}, headers=admin.headers)
    ).json()
    assert [item["id"] for item in only_us["items"]] == [california["id"]]
    assert only_us["total"] == 1
    paged = await (
        await client.get(RATES, params={"per_page": "2", "page": "2"}, headers=admin.headers)
    ).json()
    assert ([item["id"] for item in paged["items"]], paged["pages"]) == ([california["id"]], 2)

    changed = await client.put(
        f"{RATES}/{california['id']}",
        headers=admin.headers,
        json={"rate": "0.08", "name": "California 2027"},
    )
    assert changed.status == 200
    assert await changed.json() == {**california, "rate": "0.0800", "name": "California 2027"}
    countrywide = await client.put(
        f"{RATES}/{california['id']}", headers=admin.headers, json={"region": None}
    )
    assert (await countrywide.json())["region"] is None

    removed = await client.delete(f"{RATES}/{reduced['id']}", headers=admin.headers)
    assert removed.status == 204
    assert await stored_rates(db) == [
        ("DE", None, "standard", Decimal("0.1900"), "MwSt"),
        ("US", None, "standard", Decimal("0.0800"), "California 2027"),
    ]
    for method, path in (
        ("PUT", f"{RATES}/{reduced['id']}"),
        ("DELETE", f"{RATES}/{reduced['id']}"),
        ("PUT", f"{RATES}/99999999"),
    ):
        response = await client.request(
            method, path, headers=admin.headers, json={"name": "x"} if method == "PUT" else None
        )
        await assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    "second",
    [
        {"country": "DE"},
        {"country": "de", "rate": "0.16", "name": "Another"},
        {"country": "US", "region": "ca"},  # regions compare regardless of case
    ],
)
async def test_one_rate_per_country_region_and_class(client, admin, db, second):
    await add_rate(client, admin)
    await add_rate(client, admin, country="US", region="CA")
    before = await stored_rates(db)
    response = await client.post(
        RATES, headers=admin.headers, json={"rate": "0.05", "name": "Again", **second}
    )
    body = await assert_problem(response, 409, "tax_rate_exists")
    assert "tax_class" in body["errors"]
    assert await stored_rates(db) == before


async def test_a_change_onto_another_rates_place_is_refused(client, admin, db):
    await add_rate(client, admin)
    reduced = await add_rate(client, admin, tax_class="reduced", rate="0.07")
    before = await stored_rates(db)
    response = await client.put(
        f"{RATES}/{reduced['id']}", headers=admin.headers, json={"tax_class": "standard"}
    )
    await assert_problem(response, 409, "tax_rate_exists")
    assert await stored_rates(db) == before
    # Another region, or another class, is another place.
    await add_rate(client, admin, region="Bayern")
    await add_rate(client, admin, tax_class="zero", rate="0")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate": "1"}, "rate"),
        ({"rate": 1}, "rate"),
        ({"rate": "1.5"}, "rate"),
        ({"rate": "-0.1"}, "rate"),
        ({"rate": -0.1}, "rate"),
        ({"rate": "0.1234567"}, "rate"),
        ({"rate": 0.1234567}, "rate"),
        ({"rate": "19%"}, "rate"),
        ({"rate": "1e-1"}, "rate"),
        ({"country": "XX"}, "country"),
        ({"country": "DEU"}, "country"),
        ({"country": "*"}, "country"),
        ({"country": "ß"}, "country"),
        ({"tax_class": "luxury"}, "tax_class"),
        ({"region": "  "}, "region"),
        ({"region": "x" * 101}, "region"),
        ({"name": ""}, "name"),
        ({"id": 5}, "id"),
    ],
)
async def test_invalid_rates_are_422s(client, admin, db, body, field):
    response = await client.post(
        RATES, headers=admin.headers, json={"country": "DE", "rate": "0.19", "name": "VAT", **body}
    )
    problem = await assert_problem(response, 422, "validation_error")
    assert field in problem["errors"], problem
    assert await stored_rates(db) == []


async def test_missing_fields_are_422s(client, admin):
    response = await client.post(RATES, headers=admin.headers, json={})
    problem = await assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]) == {"country", "rate", "name"}


async def test_rates_are_for_admins_only(client, customer, admin):
    rate = await add_rate(client, admin)
    for method, path, body in (
        ("GET", RATES, None),
        ("POST", RATES, {"country": "FR", "rate": "0.2", "name": "TVA"}),
        ("PUT", f"{RATES}/{rate['id']}", {"rate": "0.01"}),
        ("DELETE", f"{RATES}/{rate['id']}", None),
    ):
        response = await client.request(method, path, json=body, headers=customer.headers)
        await assert_problem(response, 403, "forbidden")
        anonymous = await client.request(method, path, json=body)
        await assert_problem(anonymous, 401, "unauthorized")
    listed = await (await client.get(RATES, headers=admin.headers)).json()
    assert listed["items"] == [rate]


# -- rates_for --------------------------------------------------------------------------------


async def test_a_regions_rate_beats_the_countrys(client, admin, db):
    await add_rate(client, admin, country="US", region="CA", rate="0.0725", name="California")
    await add_rate(client, admin, country="US", rate="0.05", name="Federal")
    await add_rate(client, admin, country="US", tax_class="reduced", rate="0.02", name="Food")
    await add_rate(
        client, admin, country="US", region="NY", tax_class="zero", rate="0.01", name="Odd"
    )
    zero = Decimal("0")
    assert await rates_for(db, country="US", region="ca") == {
        "standard": Decimal("0.0725"),
        "reduced": Decimal("0.0200"),
        "zero": zero,
    }
    assert await rates_for(db, country="US", region="NY") == {
        "standard": Decimal("0.0500"),
        "reduced": Decimal("0.0200"),
        "zero": Decimal("0.0100"),
    }
    country_only = {"standard": Decimal("0.0500"), "reduced": Decimal("0.0200"), "zero": zero}
    assert await rates_for(db, country="US", region=None) == country_only
    assert await rates_for(db, country="US", region=" ") == country_only
    assert await rates_for(db, country="US", region="Texas") == country_only
    assert await rates_for(db, country="us", region="CA") == {
        **country_only,
        "standard": Decimal("0.0725"),
    }


async def test_a_country_without_rates_is_taxed_at_zero(client, admin, db):
    nothing = {"standard": Decimal("0"), "reduced": Decimal("0"), "zero": Decimal("0")}
    assert await rates_for(db, country="DE", region=None) == nothing
    await add_rate(client, admin, country="FR", rate="0.2", name="TVA")
    assert await rates_for(db, country="DE", region="Berlin") == nothing
    # A region's rate never stands in for its country's.
    await add_rate(client, admin, country="DE", region="Berlin", rate="0.19")
    assert await rates_for(db, country="DE", region=None) == nothing


# -- the products' tax class ------------------------------------------------------------------


async def test_a_products_tax_class_is_set_changed_and_shown(client, admin, db):
    default = await client.post(
        "/api/products",
        headers=admin.headers,
        json={"name": "Mug", "price": "8.00", "stock_quantity": 3},
    )
    assert (await default.json())["tax_class"] == "standard"
    created = await client.post(
        "/api/products",
        headers=admin.headers,
        json={
            "name": "Cookbook",
            "price": "20.00",
            "stock_quantity": 5,
            "tax_class": "reduced",
        },
    )
    assert created.status == 201
    book = await created.json()
    assert book["tax_class"] == "reduced"
    detail = await (await client.get(f"/api/products/{book['id']}")).json()
    assert detail["tax_class"] == "reduced"

    changed = await client.put(
        f"/api/products/{book['id']}", headers=admin.headers, json={"tax_class": "zero"}
    )
    assert changed.status == 200
    assert (await changed.json())["tax_class"] == "zero"
    listed = await (await client.get("/api/products")).json()
    assert {item["name"]: item["tax_class"] for item in listed["items"]} == {
        "Mug": "standard",
        "Cookbook": "zero",
    }
    # Other changes leave it alone.
    renamed = await client.put(
        f"/api/products/{book['id']}", headers=admin.headers, json={"name": "The Cookbook"}
    )
    assert (await renamed.json())["tax_class"] == "zero"
    assert await db.fetchval("SELECT tax_class FROM products WHERE id = $1", book["id"]) == "zero"


async def test_an_unknown_tax_class_is_a_422(client, admin, db):
    product = await create_product(db)
    response = await client.put(
        f"/api/products/{product}", headers=admin.headers, json={"tax_class": "luxury"}
    )
    problem = await assert_problem(response, 422, "validation_error")
    assert "tax_class" in problem["errors"]
    created = await client.post(
        "/api/products",
        headers=admin.headers,
        json={
            "name": "Yacht",
            "price": "1.00",
            "stock_quantity": 1,
            "tax_class": None,
        },
    )
    await assert_problem(created, 422, "validation_error")
    assert await db.fetchval("SELECT tax_class FROM products WHERE id = $1", product) == (
        "standard"
    )

"""The address book, /api/addresses: own addresses only, real countries, one default, at most 20."""

from __future__ import annotations

import asyncio

import pytest
from factories import assert_problem, create_account
from scratch_database import apply, roll_back, schema, scratch_database

BEFORE, ADDRESSES = "0020.facets", "0021.addresses"

HOME = {
    "full_name": "Erika Mustermann",
    "line1": "Heidestraße 17",
    "city": "Köln",
    "postal_code": "51103",
    "country": "DE",
}
WORK = {
    "full_name": "Erika Mustermann",
    "company": "Example GmbH",
    "line1": "Domkloster 4",
    "line2": "3. Etage",
    "city": "Köln",
    "region": "DE-NW",
    "postal_code": "50667",
    "country": "DE",
    "phone": "+49 221 1234567",
}
OPTIONAL = ("company", "line2", "region", "postal_code", "phone")


def _answer(address: dict, *, id: int, is_default: bool) -> dict:  # noqa: A002 - the field
    """What the API answers for an address created from `address`."""
    return {
        "id": id,
        **{field: None for field in OPTIONAL},
        **address,
        "is_default": is_default,
    }


async def _create(client, account, body: dict, status: int = 201) -> dict:
    response = await client.post("/api/addresses", json=body, headers=account.headers)
    assert response.status == status, await response.text()
    return await response.json()


async def _book(client, account) -> list[dict]:
    response = await client.get("/api/addresses", headers=account.headers)
    assert response.status == 200
    return (await response.json())["items"]


async def _defaults(db, user_id: int) -> list[int]:
    rows = await db.fetch(
        "SELECT id FROM addresses WHERE user_id = $1 AND is_default ORDER BY id", user_id
    )
    return [row["id"] for row in rows]


async def test_create_read_replace_delete(client, db, customer):
    home = await _create(client, customer, HOME)
    assert home == _answer(HOME, id=home["id"], is_default=True)  # the first is the default
    work = await _create(client, customer, WORK)
    assert work == _answer(WORK, id=work["id"], is_default=False)

    assert await _book(client, customer) == [home, work]  # the default first, then the newest
    for path in ("/api/addresses/", f"/api/addresses/{work['id']}"):
        response = await client.get(path, headers=customer.headers)
        assert response.status == 200
    assert await response.json() == work

    # PUT replaces the whole address: the optional fields it leaves out become null.
    moved = {**HOME, "line1": "Neue Straße 1", "city": "Bonn", "postal_code": "53111"}
    response = await client.put(
        f"/api/addresses/{work['id']}", json=moved, headers=customer.headers
    )
    assert response.status == 200, await response.text()
    assert await response.json() == _answer(moved, id=work["id"], is_default=False)
    stored = await db.fetchrow("SELECT * FROM addresses WHERE id = $1", work["id"])
    assert (stored["city"], stored["company"], stored["phone"]) == ("Bonn", None, None)

    response = await client.delete(f"/api/addresses/{work['id']}", headers=customer.headers)
    assert response.status == 204
    response = await client.get(f"/api/addresses/{work['id']}", headers=customer.headers)
    await assert_problem(response, 404, "not_found")
    assert await _book(client, customer) == [home]


async def test_both_spellings_of_the_collection(client, customer):
    created = await client.post("/api/addresses/", json=HOME, headers=customer.headers)
    assert created.status == 201
    listed = await client.get("/api/addresses/", headers=customer.headers)
    assert (await listed.json())["items"] == [await created.json()]


async def test_another_users_address_is_a_404(client, db, customer, settings):
    other = await create_account(db, "other@example.com", settings=settings)
    theirs = await _create(client, other, WORK)
    path = f"/api/addresses/{theirs['id']}"

    await assert_problem(await client.get(path, headers=customer.headers), 404, "not_found")
    response = await client.put(path, json=HOME, headers=customer.headers)
    await assert_problem(response, 404, "not_found")
    response = await client.delete(path, headers=customer.headers)
    await assert_problem(response, 404, "not_found")
    assert await _book(client, customer) == []
    assert await _book(client, other) == [theirs]  # untouched
    response = await client.get("/api/addresses/424242", headers=customer.headers)
    await assert_problem(response, 404, "not_found")


async def test_signed_in_only(client):
    for method, path in [
        ("GET", "/api/addresses"),
        ("POST", "/api/addresses"),
        ("PUT", "/api/addresses/1"),
        ("DELETE", "/api/addresses/1"),
    ]:
        response = await client.request(method, path, json=HOME)
        await assert_problem(response, 401, "unauthorized")


async def test_at_most_twenty(client, db, customer):
    for number in range(20):
        await _create(client, customer, {**HOME, "line1": f"Heidestraße {number}"})
    problem = await _create(client, customer, HOME, status=422)
    assert problem["code"] == "validation_error"
    assert "addresses" in problem["errors"]
    assert await db.fetchval("SELECT count(*) FROM addresses") == 20

    # Deleting one makes room again.
    first = (await _book(client, customer))[-1]
    await client.delete(f"/api/addresses/{first['id']}", headers=customer.headers)
    await _create(client, customer, HOME)


async def test_concurrent_creates_never_pass_twenty(client, db, customer):
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/addresses", json={**HOME, "line1": f"Weg {n}"}, headers=customer.headers
            )
            for n in range(30)
        )
    )
    statuses = sorted(response.status for response in responses)
    assert statuses == [201] * 20 + [422] * 10
    assert await db.fetchval("SELECT count(*) FROM addresses") == 20
    assert len(await _defaults(db, customer.id)) == 1


async def test_one_default_that_moves(client, db, customer):
    home = await _create(client, customer, HOME)
    work = await _create(client, customer, {**WORK, "is_default": True})
    assert work["is_default"] is True
    assert await _defaults(db, customer.id) == [work["id"]]
    assert [a["id"] for a in await _book(client, customer)] == [work["id"], home["id"]]

    # Made the default by an update, which leaves the rest of its standing to the body.
    response = await client.put(
        f"/api/addresses/{home['id']}", json={**HOME, "is_default": True}, headers=customer.headers
    )
    assert (await response.json())["is_default"] is True
    assert await _defaults(db, customer.id) == [home["id"]]

    # An update without is_default keeps the address's standing.
    response = await client.put(f"/api/addresses/{home['id']}", json=HOME, headers=customer.headers)
    assert (await response.json())["is_default"] is True

    # Unset: the book has no default until an address is added or made the default.
    response = await client.put(
        f"/api/addresses/{home['id']}",
        json={**HOME, "is_default": False},
        headers=customer.headers,
    )
    assert (await response.json())["is_default"] is False
    assert await _defaults(db, customer.id) == []
    third = await _create(client, customer, {**HOME, "line1": "Dritte 3", "is_default": False})
    assert third["is_default"] is True  # a book without a default takes the new address


async def test_deleting_the_default_makes_the_newest_remaining_one_the_default(
    client, db, customer
):
    first = await _create(client, customer, HOME)
    second = await _create(client, customer, WORK)
    third = await _create(client, customer, {**HOME, "line1": "Dritte 3"})
    await client.delete(f"/api/addresses/{first['id']}", headers=customer.headers)
    assert await _defaults(db, customer.id) == [third["id"]]
    # Deleting one that is not the default leaves the default alone.
    await client.delete(f"/api/addresses/{second['id']}", headers=customer.headers)
    assert await _defaults(db, customer.id) == [third["id"]]
    await client.delete(f"/api/addresses/{third['id']}", headers=customer.headers)
    assert await _book(client, customer) == []


async def test_concurrent_defaults_leave_exactly_one(client, db, customer):
    addresses = [await _create(client, customer, {**HOME, "line1": f"Weg {n}"}) for n in range(6)]
    responses = await asyncio.gather(
        *(
            client.put(
                f"/api/addresses/{a['id']}",
                json={**HOME, "line1": a["line1"], "is_default": True},
                headers=customer.headers,
            )
            for a in addresses
        )
    )
    assert [response.status for response in responses] == [200] * 6
    assert len(await _defaults(db, customer.id)) == 1


@pytest.mark.parametrize("country", ["XX", "USA", "zz", "UK", "EU", "U", "", "D€", 49, None])
async def test_a_country_is_a_real_iso_3166_alpha_2_code(client, db, customer, country):
    problem = await _create(client, customer, {**HOME, "country": country}, status=422)
    assert problem["code"] == "validation_error"
    assert set(problem["errors"]) == {"country"}
    assert await db.fetchval("SELECT count(*) FROM addresses") == 0


async def test_a_lower_case_country_is_read_as_upper_case(client, customer):
    created = await _create(client, customer, {**HOME, "country": "gb", "city": "London"})
    assert created["country"] == "GB"


async def test_a_region_code_must_be_one_of_the_country(client, customer):
    us = {**HOME, "country": "US", "city": "Los Angeles", "postal_code": "90012"}
    assert (await _create(client, customer, {**us, "region": "us-ca"}))["region"] == "US-CA"
    assert (await _create(client, customer, {**us, "region": "California"}))["region"] == (
        "California"
    )
    for region in ["US-ZZ", "DE-BY"]:
        problem = await _create(client, customer, {**us, "region": region}, status=422)
        assert set(problem["errors"]) == {"region"}, region


@pytest.mark.parametrize(
    "body",
    [
        {**HOME, "id": 7},
        {**HOME, "user_id": 1},
        {**HOME, "created_at": "2026-01-01T00:00:00+00:00"},
        {**HOME, "is_default": "true"},
        {**HOME, "is_default": 1},
    ],
)
async def test_unknown_fields_and_loose_booleans_are_refused(client, db, customer, body):
    problem = await _create(client, customer, body, status=422)
    assert problem["code"] == "validation_error"
    assert await db.fetchval("SELECT count(*) FROM addresses") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("full_name", "   "),
        ("line1", ""),
        ("city", None),
        ("line1", "Heidestraße 17\nKöln"),
        ("line2", "a\tb"),
        ("postal_code", "1" * 21),
        ("region", "R" * 101),
        ("full_name", "E" * 201),
        ("phone", 4922112345),
    ],
)
async def test_lines_are_one_line_of_bounded_text(client, db, customer, field, value):
    problem = await _create(client, customer, {**HOME, field: value}, status=422)
    assert set(problem["errors"]) == {field}
    assert await db.fetchval("SELECT count(*) FROM addresses") == 0


async def test_missing_required_fields(client, customer):
    problem = await _create(client, customer, {"company": "Example GmbH"}, status=422)
    assert set(problem["errors"]) == {"full_name", "line1", "city", "country"}
    # PUT replaces the whole address, so it needs the required fields too.
    created = await _create(client, customer, HOME)
    response = await client.put(
        f"/api/addresses/{created['id']}", json={"city": "Bonn"}, headers=customer.headers
    )
    problem = await assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]) == {"full_name", "line1", "country"}


async def test_spaces_are_trimmed_and_empty_optional_lines_are_null(client, db, customer):
    created = await _create(
        client, customer, {**HOME, "full_name": "  Erika  ", "company": "  ", "line2": ""}
    )
    assert (created["full_name"], created["company"], created["line2"]) == ("Erika", None, None)
    assert await db.fetchval("SELECT company FROM addresses") is None


async def test_migration_0021_rolls_back_to_the_0020_schema(services):
    async with scratch_database(services.database_url, BEFORE) as database:
        conn = database.conn
        before = await schema(conn)
        await apply(database.url, ADDRESSES)
        user_id = await conn.fetchval(
            "INSERT INTO users (email, password_hash, deleted_at) "
            "VALUES ('gone@example.com', '!', now()) RETURNING id"
        )
        await conn.execute(
            "INSERT INTO addresses (user_id, full_name, line1, city, country, is_default) "
            "VALUES ($1, 'A', '1 Main Street', 'Springfield', 'US', true)",
            user_id,
        )
        await roll_back(database.url, ADDRESSES)
        assert await schema(conn) == before
        assert await conn.fetchval("SELECT email FROM users") == "gone@example.com"

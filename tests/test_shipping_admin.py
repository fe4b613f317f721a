"""/api/admin/shipping-zones and shipping-methods, and shipping.methods_for, through HTTP and
real rows."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
import pytest
from factories import assert_problem, eventually

from shop_api.domain.shipping import methods_for

ZONES = "/api/admin/shipping-zones"
METHODS = "/api/admin/shipping-methods"

STANDARD = {"name": "Standard", "price": "4.90", "min_delivery_days": 2, "max_delivery_days": 4}


async def add_zone(client, admin, name: str, countries: list[str]) -> dict:
    response = await client.post(
        ZONES, headers=admin.headers, json={"name": name, "countries": countries}
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def add_method(client, admin, zone_id: int, **fields) -> dict:
    response = await client.post(
        f"{ZONES}/{zone_id}/methods", headers=admin.headers, json={**STANDARD, **fields}
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def zones(client, admin) -> list[dict]:
    response = await client.get(ZONES, headers=admin.headers)
    assert response.status == 200
    return (await response.json())["items"]


async def zone_countries(db) -> dict[str, int]:
    rows = await db.fetch("SELECT country, zone_id FROM shipping_zone_countries")
    return {row["country"]: row["zone_id"] for row in rows}


# -- zones ------------------------------------------------------------------------------------


async def test_an_admin_adds_changes_and_removes_zones(client, admin, db):
    for path in (ZONES, ZONES + "/"):
        response = await client.get(path, headers=admin.headers)
        assert await response.json() == {"items": []}
    created = await client.post(
        ZONES + "/",
        headers=admin.headers,
        json={"name": " North America ", "countries": ["us", "CA", "US"]},
    )
    assert created.status == 201
    america = await created.json()
    assert america == {
        "id": america["id"],
        "name": "North America",
        "countries": ["CA", "US"],
        "methods": [],
    }
    world = await add_zone(client, admin, "Everywhere else", ["*"])
    assert world["countries"] == ["*"]
    assert await zones(client, admin) == [america, world]

    renamed = await client.put(
        f"{ZONES}/{america['id']}",
        headers=admin.headers,
        json={"name": "USA and Mexico", "countries": ["MX", "US"]},
    )
    assert renamed.status == 200
    assert await renamed.json() == {**america, "name": "USA and Mexico", "countries": ["MX", "US"]}
    # Canada left the zone, so another zone may take it.
    canada = await add_zone(client, admin, "Canada", ["CA"])
    only_name = await client.put(
        f"{ZONES}/{canada['id']}", headers=admin.headers, json={"name": "Kanada"}
    )
    assert (await only_name.json())["countries"] == ["CA"]

    removed = await client.delete(f"{ZONES}/{america['id']}", headers=admin.headers)
    assert removed.status == 204
    assert [zone["id"] for zone in await zones(client, admin)] == [world["id"], canada["id"]]
    assert await zone_countries(db) == {"*": world["id"], "CA": canada["id"]}
    # Its countries are free again.
    await add_zone(client, admin, "USA", ["US"])
    for method, path, body in (
        ("PUT", f"{ZONES}/{america['id']}", {"name": "x"}),
        ("DELETE", f"{ZONES}/{america['id']}", None),
        ("POST", f"{ZONES}/{america['id']}/methods", STANDARD),
        ("PUT", f"{ZONES}/99999999", {"name": "x"}),
    ):
        response = await client.request(method, path, headers=admin.headers, json=body)
        await assert_problem(response, 404, "not_found")


async def test_a_country_is_in_one_zone_at_most(client, admin, db):
    europe = await add_zone(client, admin, "Europe", ["DE", "FR"])
    other = await add_zone(client, admin, "Nordics", ["SE"])
    before = await zone_countries(db)
    response = await client.post(
        ZONES, headers=admin.headers, json={"name": "DACH", "countries": ["AT", "CH", "DE"]}
    )
    body = await assert_problem(response, 409, "country_in_zone")
    assert body["errors"] == {"countries": ["DE is already in zone “Europe”."]}
    moved = await client.put(
        f"{ZONES}/{other['id']}",
        headers=admin.headers,
        json={"name": "Renamed", "countries": ["SE", "FR"]},
    )
    await assert_problem(moved, 409, "country_in_zone")
    assert await zone_countries(db) == before
    assert (await zones(client, admin))[1]["name"] == "Nordics"  # nothing changed
    assert await db.fetchval("SELECT count(*) FROM shipping_zones") == 2
    # A zone keeping its own countries is no conflict.
    same = await client.put(
        f"{ZONES}/{europe['id']}", headers=admin.headers, json={"countries": ["FR", "DE", "IT"]}
    )
    assert (await same.json())["countries"] == ["DE", "FR", "IT"]


async def test_one_zone_at_most_is_the_rest_of_the_world(client, admin, db):
    await add_zone(client, admin, "World", ["*"])
    response = await client.post(
        ZONES, headers=admin.headers, json={"name": "Also the world", "countries": ["*"]}
    )
    body = await assert_problem(response, 409, "country_in_zone")
    assert body["errors"] == {"countries": ["Zone “World” is already the rest of the world."]}
    mixed = await client.post(
        ZONES, headers=admin.headers, json={"name": "Mixed", "countries": ["US", "*"]}
    )
    problem = await assert_problem(mixed, 422, "validation_error")
    assert "countries" in problem["errors"]
    assert await db.fetchval("SELECT count(*) FROM shipping_zones") == 1


async def test_concurrent_zones_with_the_same_country_one_wins(client, admin, db):
    # The primary key decides; whichever request passes the friendly check second still loses.
    # The two name the same countries in opposite orders: neither may deadlock the other.
    for attempt in range(5):
        countries = [f"F{'IJKRO'[attempt]}", "GB"]
        responses = await asyncio.gather(
            *(
                client.post(
                    ZONES,
                    headers=admin.headers,
                    json={"name": f"Zone {attempt}-{n}", "countries": order},
                )
                for n, order in enumerate((countries, countries[::-1]))
            )
        )
        statuses = sorted(response.status for response in responses)
        assert statuses == [201, 409], [await r.text() for r in responses]
        loser = next(response for response in responses if response.status == 409)
        await assert_problem(loser, 409, "country_in_zone")
        await client.delete(
            f"{ZONES}/{(await zones(client, admin))[0]['id']}", headers=admin.headers
        )
    assert await db.fetchval("SELECT count(*) FROM shipping_zones") == 5
    assert await db.fetchval("SELECT count(*) FROM shipping_zones WHERE deleted_at IS NULL") == 0


async def test_a_race_past_the_check_is_still_a_409(client, admin, db, services):
    """Another transaction takes GB after this request's check: its insert waits for that
    transaction, then the primary key refuses it."""
    europe = await add_zone(client, admin, "Europe", ["DE"])
    watcher = await asyncpg.connect(services.database_url)
    try:
        async with db.transaction():
            await db.execute(
                "INSERT INTO shipping_zone_countries (country, zone_id) VALUES ('GB', $1)",
                europe["id"],
            )
            request = asyncio.create_task(
                client.post(
                    ZONES, headers=admin.headers, json={"name": "UK", "countries": ["GB", "IE"]}
                )
            )
            await eventually(
                lambda: watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = 'shop-api' AND wait_event_type = 'Lock'"
                )
            )
        response = await request
    finally:
        await watcher.close()
    body = await assert_problem(response, 409, "country_in_zone")
    assert list(body["errors"]) == ["countries"]
    assert await zone_countries(db) == {"DE": europe["id"], "GB": europe["id"]}
    assert await db.fetchval("SELECT count(*) FROM shipping_zones") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"countries": []}, "countries"),
        ({"countries": ["XX"]}, "countries"),
        ({"countries": ["USA"]}, "countries"),
        ({"countries": ["ß"]}, "countries"),
        ({"countries": "US"}, "countries"),
        ({"countries": ["*", "*", "DE"]}, "countries"),
        ({"name": " "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"methods": []}, "methods"),
    ],
)
async def test_invalid_zones_are_422s(client, admin, db, body, field):
    response = await client.post(
        ZONES, headers=admin.headers, json={"name": "Zone", "countries": ["DE"], **body}
    )
    problem = await assert_problem(response, 422, "validation_error")
    assert field in problem["errors"], problem
    assert await db.fetchval("SELECT count(*) FROM shipping_zones") == 0


async def test_zones_and_methods_are_for_admins_only(client, customer, admin):
    zone = await add_zone(client, admin, "Europe", ["DE"])
    method = await add_method(client, admin, zone["id"])
    for http_method, path, body in (
        ("GET", ZONES, None),
        ("POST", ZONES, {"name": "X", "countries": ["FR"]}),
        ("PUT", f"{ZONES}/{zone['id']}", {"name": "X"}),
        ("DELETE", f"{ZONES}/{zone['id']}", None),
        ("POST", f"{ZONES}/{zone['id']}/methods", STANDARD),
        ("PUT", f"{METHODS}/{method['id']}", {"price": "0"}),
        ("DELETE", f"{METHODS}/{method['id']}", None),
    ):
        response = await client.request(http_method, path, json=body, headers=customer.headers)
        await assert_problem(response, 403, "forbidden")
        anonymous = await client.request(http_method, path, json=body)
        await assert_problem(anonymous, 401, "unauthorized")
    assert await zones(client, admin) == [{**zone, "methods": [method]}]


# -- methods ----------------------------------------------------------------------------------


async def test_an_admin_adds_changes_and_removes_methods(client, admin, db):
    zone = await add_zone(client, admin, "Europe", ["DE", "FR"])
    express = await add_method(
        client,
        admin,
        zone["id"],
        name="Express",
        price=12,
        free_over="150",
        max_weight_grams=5000,
        min_delivery_days=1,
        max_delivery_days=1,
    )
    assert express == {
        "id": express["id"],
        "zone_id": zone["id"],
        "name": "Express",
        "price": "12.00",
        "free_over": "150.00",
        "max_weight_grams": 5000,
        "min_delivery_days": 1,
        "max_delivery_days": 1,
        "is_active": True,
    }
    standard = await add_method(client, admin, zone["id"], is_active=False)
    assert (standard["free_over"], standard["max_weight_grams"]) == (None, None)
    listed = (await zones(client, admin))[0]["methods"]
    assert listed == [standard, express]  # cheapest first, inactive ones included

    changed = await client.put(
        f"{METHODS}/{express['id']}",
        headers=admin.headers,
        json={
            "free_over": None,
            "max_weight_grams": None,
            "max_delivery_days": 2,
            "is_active": False,
        },
    )
    assert changed.status == 200
    assert await changed.json() == {
        **express,
        "free_over": None,
        "max_weight_grams": None,
        "max_delivery_days": 2,
        "is_active": False,
    }
    kept = await client.put(
        f"{METHODS}/{express['id']}", headers=admin.headers, json={"price": "11.5"}
    )
    assert (await kept.json())["free_over"] is None and (await kept.json())["price"] == "11.50"

    removed = await client.delete(f"{METHODS}/{standard['id']}", headers=admin.headers)
    assert removed.status == 204
    assert [m["id"] for m in (await zones(client, admin))[0]["methods"]] == [express["id"]]
    # Retired, not gone: an order may point at it.
    row = await db.fetchrow(
        "SELECT name, is_active, deleted_at FROM shipping_methods WHERE id = $1", standard["id"]
    )
    assert (row["name"], row["is_active"]) == ("Standard", False) and row["deleted_at"]
    for method, path in (
        ("PUT", f"{METHODS}/{standard['id']}"),
        ("DELETE", f"{METHODS}/{standard['id']}"),
        ("PUT", f"{METHODS}/99999999"),
    ):
        response = await client.request(
            method, path, headers=admin.headers, json={"price": "1"} if method == "PUT" else None
        )
        await assert_problem(response, 404, "not_found")


async def test_removing_a_zone_retires_its_methods(client, admin, db):
    zone = await add_zone(client, admin, "Europe", ["DE"])
    method = await add_method(client, admin, zone["id"])
    assert (await client.delete(f"{ZONES}/{zone['id']}", headers=admin.headers)).status == 204
    row = await db.fetchrow(
        "SELECT is_active, deleted_at FROM shipping_methods WHERE id = $1", method["id"]
    )
    assert row["is_active"] is False and row["deleted_at"] is not None
    response = await client.put(
        f"{METHODS}/{method['id']}", headers=admin.headers, json={"is_active": True}
    )
    await assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": "-1"}, "price"),
        ({"price": -1}, "price"),
        ({"price": "4.999"}, "price"),
        ({"free_over": "-0.01"}, "free_over"),
        ({"max_weight_grams": -1}, "max_weight_grams"),
        ({"max_weight_grams": 2.5}, "max_weight_grams"),
        ({"min_delivery_days": 5, "max_delivery_days": 3}, "max_delivery_days"),
        ({"min_delivery_days": -1}, "min_delivery_days"),
        ({"max_delivery_days": "3"}, "max_delivery_days"),
        ({"is_active": 1}, "is_active"),
        ({"is_active": "true"}, "is_active"),
        ({"name": ""}, "name"),
        ({"zone_id": 3}, "zone_id"),
    ],
)
async def test_invalid_methods_are_422s(client, admin, db, body, field):
    zone = await add_zone(client, admin, "Europe", ["DE"])
    response = await client.post(
        f"{ZONES}/{zone['id']}/methods", headers=admin.headers, json={**STANDARD, **body}
    )
    problem = await assert_problem(response, 422, "validation_error")
    assert field in problem["errors"], problem
    assert await db.fetchval("SELECT count(*) FROM shipping_methods") == 0


async def test_a_partial_change_keeps_min_days_at_most_max_days(client, admin, db):
    zone = await add_zone(client, admin, "Europe", ["DE"])
    method = await add_method(client, admin, zone["id"])  # 2 to 4 days
    for body in ({"min_delivery_days": 5}, {"max_delivery_days": 1}):
        response = await client.put(f"{METHODS}/{method['id']}", headers=admin.headers, json=body)
        problem = await assert_problem(response, 422, "validation_error")
        assert "max_delivery_days" in problem["errors"]
    assert tuple(
        await db.fetchrow("SELECT min_delivery_days, max_delivery_days FROM shipping_methods")
    ) == (2, 4)


# -- methods_for ------------------------------------------------------------------------------


async def test_no_zone_at_all_means_free_shipping(client, admin, db):
    assert await methods_for(db, country="US") is None
    zone = await add_zone(client, admin, "Europe", ["DE"])
    assert await methods_for(db, country="US") == []
    await client.delete(f"{ZONES}/{zone['id']}", headers=admin.headers)
    assert await methods_for(db, country="DE") is None


async def test_a_destination_gets_its_zones_active_methods_cheapest_first(client, admin, db):
    europe = await add_zone(client, admin, "Europe", ["DE", "FR"])
    express = await add_method(
        client,
        admin,
        europe["id"],
        name="Express",
        price="15",
        free_over="200",
        max_weight_grams=2000,
        min_delivery_days=1,
        max_delivery_days=1,
    )
    cheap = await add_method(client, admin, europe["id"], name="Economy", price="3.5")
    also_cheap = await add_method(client, admin, europe["id"], name="Letter", price="3.50")
    await add_method(client, admin, europe["id"], name="Paused", price="1", is_active=False)
    retired = await add_method(client, admin, europe["id"], name="Gone", price="0")
    await client.delete(f"{METHODS}/{retired['id']}", headers=admin.headers)
    await add_zone(client, admin, "Nowhere near", ["JP"])

    found = await methods_for(db, country="de")
    assert [row["id"] for row in found] == [cheap["id"], also_cheap["id"], express["id"]]
    first = dict(found[-1])
    assert first == {
        "id": express["id"],
        "name": "Express",
        "price": Decimal("15.00"),
        "free_over": Decimal("200.00"),
        "max_weight_grams": 2000,
        "min_delivery_days": 1,
        "max_delivery_days": 1,
    }
    # Zones exist, none for this destination and no rest of the world: nothing to choose.
    assert await methods_for(db, country="US") == []
    # A zone with no active method offers nothing.
    assert await methods_for(db, country="JP") == []


async def test_the_rest_of_the_world_serves_every_unlisted_country(client, admin, db):
    europe = await add_zone(client, admin, "Europe", ["DE"])
    await add_method(client, admin, europe["id"], name="Europe post", price="5")
    world = await add_zone(client, admin, "World", ["*"])
    worldwide = await add_method(client, admin, world["id"], name="World post", price="25")
    empty = await add_zone(client, admin, "Quiet", ["NZ"])
    assert [row["name"] for row in await methods_for(db, country="DE")] == ["Europe post"]
    assert [row["id"] for row in await methods_for(db, country="BR")] == [worldwide["id"]]
    # The zone listing the country decides, even with nothing to offer.
    assert await methods_for(db, country="NZ") == []
    await client.delete(f"{ZONES}/{empty['id']}", headers=admin.headers)
    assert [row["id"] for row in await methods_for(db, country="NZ")] == [worldwide["id"]]

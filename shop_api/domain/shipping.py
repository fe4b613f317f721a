"""Shipping zones and their methods: what the admin sets up, and what a destination may choose.

Deleting a zone or a method retires it (deleted_at; a method also stops being active) instead
of removing its row: orders snapshot the method's name and may keep a reference to it, which
stays valid whatever that reference's ON DELETE says. A retired zone's countries are free for
other zones at once.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, queries
from shop_api.domain.countries import REST_OF_WORLD
from shop_api.errors import Conflict, NotFound

ZONE_COUNTRY_KEY = "shipping_zone_countries_pkey"
COUNTRY_IN_ZONE = "country_in_zone"


async def methods_for(conn: Queryable, *, country: str) -> list[dict[str, Any]] | None:
    """The active methods a destination in `country` (alpha-2) can choose from, cheapest first
    (then by id): those of the zone listing the country, else those of the rest-of-the-world
    zone, else none ([]). None when no zone is set up at all: shipping is then free.

    Each method has id, name, price (Decimal), free_over (Decimal or None), max_weight_grams
    (int or None), min_delivery_days and max_delivery_days. One round trip, the one
    quotes.charges_for also reads the tax rates in.
    """
    country = country.strip().upper()
    return methods_of(
        await fetch_all(queries.destination_charges(conn, country=country, region=None))
    )


METHOD_FIELDS = (
    "id", "name", "price", "free_over", "max_weight_grams", "min_delivery_days",
    "max_delivery_days",
)


def methods_of(charges: list[asyncpg.Record]) -> list[dict[str, Any]] | None:
    """methods_for's answer, from the rows of destination_charges (sql/quotes.sql)."""
    if any(row["part"] == "no_zones" for row in charges):
        return None
    return [
        {name: row[name] for name in METHOD_FIELDS} for row in charges if row["part"] == "method"
    ]


# -- zones ----------------------------------------------------------------------------------


async def list_zones(conn: Queryable) -> list[asyncpg.Record]:
    return await fetch_all(queries.shipping_zones(conn, zone_id=None))


async def get_zone(conn: Queryable, zone_id: int) -> asyncpg.Record:
    rows = await fetch_all(queries.shipping_zones(conn, zone_id=zone_id))
    if not rows:
        raise NotFound("No such shipping zone.")
    return rows[0]


async def create_zone(conn: Queryable, *, name: str, countries: list[str]) -> asyncpg.Record:
    """A zone of `countries` (distinct alpha-2 codes, or ["*"] for the rest of the world); a
    country another zone lists is a 409 `country_in_zone`."""
    await _refuse_taken(conn, countries, zone_id=None)
    zone_id = await queries.insert_shipping_zone(conn, name=name.strip(), countries=countries)
    return await get_zone(conn, zone_id)


async def update_zone(
    conn: asyncpg.Connection, zone_id: int, changes: dict[str, Any]
) -> asyncpg.Record:
    """Rename the zone and/or replace its countries (only what `changes` holds)."""
    async with atomic(conn):
        if await queries.lock_shipping_zone(conn, zone_id=zone_id) is None:
            raise NotFound("No such shipping zone.")
        name = changes.get("name")
        await queries.rename_shipping_zone(
            conn, zone_id=zone_id, name=name.strip() if name is not None else None
        )
        if "countries" in changes:
            await _refuse_taken(conn, changes["countries"], zone_id=zone_id)
            await queries.clear_zone_countries(conn, zone_id=zone_id)
            await queries.add_zone_countries(conn, zone_id=zone_id, countries=changes["countries"])
        return await get_zone(conn, zone_id)


async def delete_zone(conn: asyncpg.Connection, zone_id: int) -> None:
    """Retire a zone and its methods; its countries are free for other zones."""
    async with atomic(conn):
        # Locked first: a method being added to the zone (which holds the zone's row FOR
        # SHARE) commits before this, and is retired with the others.
        if await queries.lock_shipping_zone(conn, zone_id=zone_id) is None:
            raise NotFound("No such shipping zone.")
        await queries.retire_shipping_zone(conn, zone_id=zone_id)


async def _refuse_taken(conn: Queryable, countries: list[str], *, zone_id: int | None) -> None:
    """A 409 naming the countries other zones already list. Only for the message: two
    requests racing for a country both pass here, and the primary key of
    shipping_zone_countries refuses the second (the same 409, shop_api/errors.py)."""
    taken = await fetch_all(
        queries.taken_zone_countries(conn, countries=countries, zone_id=zone_id)
    )
    if not taken:
        return
    messages = [
        (
            f"Zone “{row['zone_name']}” is already the rest of the world."
            if row["country"] == REST_OF_WORLD
            else f"{row['country']} is already in zone “{row['zone_name']}”."
        )
        for row in taken
    ]
    raise Conflict(" ".join(messages), code=COUNTRY_IN_ZONE, errors={"countries": messages})


# -- methods --------------------------------------------------------------------------------


async def add_method(conn: Queryable, zone_id: int, fields: dict[str, Any]) -> asyncpg.Record:
    """A method of a zone in use; min above max delivery days is a 422."""
    row = await queries.insert_shipping_method(
        conn,
        zone_id=zone_id,
        name=fields["name"].strip(),
        price=fields["price"],
        free_over=fields.get("free_over"),
        max_weight_grams=fields.get("max_weight_grams"),
        min_delivery_days=fields["min_delivery_days"],
        max_delivery_days=fields["max_delivery_days"],
        is_active=fields.get("is_active", True),
    )
    if row is None:
        raise NotFound("No such shipping zone.")
    return row


async def update_method(conn: Queryable, method_id: int, changes: dict[str, Any]) -> asyncpg.Record:
    """Change the fields sent; null clears free_over or max_weight_grams."""
    name = changes.get("name")
    row = await queries.update_shipping_method(
        conn,
        method_id=method_id,
        name=name.strip() if name is not None else None,
        price=changes.get("price"),
        set_free_over="free_over" in changes,
        free_over=changes.get("free_over"),
        set_max_weight_grams="max_weight_grams" in changes,
        max_weight_grams=changes.get("max_weight_grams"),
        min_delivery_days=changes.get("min_delivery_days"),
        max_delivery_days=changes.get("max_delivery_days"),
        is_active=changes.get("is_active"),
    )
    if row is None:
        raise NotFound("No such shipping method.")
    return row


async def delete_method(conn: Queryable, method_id: int) -> None:
    """Retire a method: it is never offered again, and orders keep pointing at it."""
    if await queries.retire_shipping_method(conn, method_id=method_id) is None:
        raise NotFound("No such shipping method.")

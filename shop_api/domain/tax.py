"""Tax rates by destination and tax class, as the admin keeps them and the pricing reads them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from shop_api.db import Queryable, fetch_all, fetch_page, queries
from shop_api.errors import NotFound

# A product's tax class (products.tax_class), in the order the admin is shown them.
TAX_CLASSES = ("standard", "reduced", "zero")
DEFAULT_TAX_CLASS = "standard"

_NO_RATE = Decimal("0")


async def rates_for(conn: Queryable, *, country: str, region: str | None) -> dict[str, Decimal]:
    """The rate of every tax class for a destination: that of (country, region), else that of
    (country, no region), else 0. One round trip, the one quotes.charges_for also reads the
    shipping methods in; the region is matched regardless of case and of its country prefix
    ("US-CA" is "CA"), and a blank region is none."""
    country = country.strip().upper()
    return rates_of(
        await fetch_all(
            queries.destination_charges(
                conn, country=country, region=region_of(country, region)
            )
        )
    )


def region_of(country: str, region: str | None) -> str | None:
    """The region as destination_charges matches it, in `country` (upper-cased, stripped):
    without its country prefix, None when blank."""
    region = region.strip() if region is not None else None
    # An ISO 3166-2 code ("US-CA") and the bare subdivision ("CA") name one region.
    if region and region.upper().startswith(f"{country}-"):
        region = region[len(country) + 1 :]
    return region or None


def rates_of(charges: list[asyncpg.Record]) -> dict[str, Decimal]:
    """rates_for's answer, from the rows of destination_charges (sql/quotes.sql)."""
    found = {row["tax_class"]: row["rate"] for row in charges if row["part"] == "rate"}
    return {tax_class: found.get(tax_class, _NO_RATE) for tax_class in TAX_CLASSES}


async def list_rates(
    conn: Queryable, *, country: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        queries.tax_rates_page(conn, country=country, limit=limit, offset=offset)
    )


async def create_rate(
    conn: Queryable,
    *,
    country: str,
    region: str | None,
    tax_class: str,
    rate: Decimal,
    name: str,
) -> asyncpg.Record:
    """A new rate; one for the same country, region and class is a 409 `tax_rate_exists` (the
    database's unique index decides, so concurrent requests cannot both add it)."""
    return await queries.insert_tax_rate(
        conn, country=country, region=region, tax_class=tax_class, rate=rate, name=name
    )


async def update_rate(conn: Queryable, rate_id: int, changes: dict[str, Any]) -> asyncpg.Record:
    """Change the fields sent (`changes`); null `region` makes the rate country-wide."""
    row = await queries.update_tax_rate(
        conn,
        rate_id=rate_id,
        country=changes.get("country"),
        set_region="region" in changes,
        region=changes.get("region"),
        tax_class=changes.get("tax_class"),
        rate=changes.get("rate"),
        name=changes.get("name"),
    )
    if row is None:
        raise NotFound("No such tax rate.")
    return row


async def delete_rate(conn: Queryable, rate_id: int) -> None:
    if await queries.delete_tax_rate(conn, rate_id=rate_id) is None:
        raise NotFound("No such tax rate.")

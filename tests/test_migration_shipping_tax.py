"""Migration 0022 (shipping zones and methods, tax rates, the products' tax class) and its
rollback, on a scratch database of the test's own."""

from __future__ import annotations

import asyncpg
import pytest
from scratch_database import apply, roll_back, schema, scratch_database

BEFORE = "0021.addresses"
SHIPPING_TAX = "0022.shipping_tax"


@pytest.fixture
async def scratch(services):
    """A fresh database at the migration before 0022, and a connection to it."""
    async with scratch_database(services.database_url, BEFORE) as database:
        yield database


async def test_the_rollback_gives_the_schema_before_back(scratch):
    url, conn = scratch.url, scratch.conn
    await conn.execute("INSERT INTO products (name, slug, price) VALUES ('Mug', 'mug', 8)")
    before = await schema(conn)
    await apply(url, SHIPPING_TAX)
    # Existing products are standard-rated; the tables take rows.
    assert await conn.fetchval("SELECT tax_class FROM products") == "standard"
    await conn.execute(
        "WITH zone AS (INSERT INTO shipping_zones (name) VALUES ('EU') RETURNING id), "
        "c AS (INSERT INTO shipping_zone_countries (country, zone_id) SELECT 'DE', id FROM zone) "
        "INSERT INTO shipping_methods (zone_id, name, price, min_delivery_days, "
        "max_delivery_days) SELECT id, 'Post', 5, 1, 3 FROM zone"
    )
    await conn.execute(
        "INSERT INTO tax_rates (country, tax_class, rate, name) VALUES ('DE', 'standard', 0.19, "
        "'MwSt')"
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE products SET tax_class = 'luxury'")

    await roll_back(url, SHIPPING_TAX)
    assert await schema(conn) == before
    assert await conn.fetchval("SELECT name FROM products") == "Mug"

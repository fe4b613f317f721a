"""Migration 0025 (promotions, their targets, per-customer counters and redemptions) and its
rollback, on a scratch database of the test's own; and the CHECKs that are the last word on a
promotion's uses."""

from __future__ import annotations

import asyncpg
import pytest
from scratch_database import apply, roll_back, schema, scratch_database

BEFORE = "0024.catalog_read_costs"
PROMOTIONS = "0025.promotions"


@pytest.fixture
async def scratch(services):
    async with scratch_database(services.database_url, BEFORE) as database:
        yield database


async def test_the_rollback_gives_the_schema_before_back(scratch):
    url, conn = scratch.url, scratch.conn
    before = await schema(conn)
    await apply(url, PROMOTIONS)
    promotion = await conn.fetchval(
        "INSERT INTO promotions (name, code, kind, value, target, usage_limit)"
        " VALUES ('Ten', 'Ten', 'percentage', 10, 'order', 1) RETURNING id"
    )
    await conn.execute("UPDATE promotions SET times_used = 1 WHERE id = $1", promotion)
    # The uses never pass the limit nor go below zero, whatever code runs.
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE promotions SET times_used = 2 WHERE id = $1", promotion)
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE promotions SET times_used = -1 WHERE id = $1", promotion)
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO promotions (name, code, kind, value, target)"
            " VALUES ('x', 'TEN', 'fixed', 1, 'order')"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO promotions (name, kind, value, target)"
            " VALUES ('x', 'free_shipping', 0, 'order')"
        )

    await roll_back(url, PROMOTIONS)
    assert await schema(conn) == before

"""'Bought together' scores, kept in the recommendations table."""

from __future__ import annotations

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, queries
from shop_api.errors import NotFound


async def refresh_for_order(conn: asyncpg.Connection, order_id: int) -> None:
    """Recompute the scores of every product of one order (after it was paid).

    Takes the scores' locks first (sql/recommendations.sql says in which order), so any number
    of refreshes and rebuilds may run at once.
    """
    async with atomic(conn):
        await queries.lock_recommendations_shared(conn)
        await queries.lock_recommendations_of_order(conn, order_id=order_id)
        await queries.forget_recommendations_of_order(conn, order_id=order_id)
        await queries.score_recommendations_of_order(conn, order_id=order_id)


async def rebuild(conn: asyncpg.Connection) -> int:
    """Recompute every score from every paid order; returns how many pairs there are.

    Waits for the refreshes in flight, and refreshes wait for it.
    """
    async with atomic(conn):
        await queries.lock_recommendations_exclusive(conn)
        await queries.forget_all_recommendations(conn)
        await queries.score_all_recommendations(conn)
        return await queries.count_recommendations(conn)


async def for_product(conn: Queryable, product_id: int) -> list:
    """Up to 10 active products to show beside an active one (404 for any other)."""
    rows = await fetch_all(queries.product_recommendations(conn, product_id=product_id))
    if not rows and not await queries.product_is_active(conn, product_id=product_id):
        raise NotFound("No such product.")
    return rows

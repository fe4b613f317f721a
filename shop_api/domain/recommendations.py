"""'Bought together' scores, kept in the recommendations table."""

from __future__ import annotations

import asyncpg

from ..db import atomic, queries


async def refresh_for_order(conn: asyncpg.Connection, order_id: int) -> None:
    """Recompute the scores of every product of one order (after it was paid)."""
    async with atomic(conn):
        await queries.forget_recommendations_of_order(conn, order_id=order_id)
        await queries.score_recommendations_of_order(conn, order_id=order_id)


async def rebuild(conn: asyncpg.Connection) -> int:
    """Recompute every score from every paid order; returns how many pairs there are."""
    async with atomic(conn):
        await queries.forget_all_recommendations(conn)
        await queries.score_all_recommendations(conn)
        return await queries.count_recommendations(conn)

"""Everything stored about a user, read at one instant: GET /api/auth/me/export."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shop_api.db import fetch_all, queries
from shop_api.domain import addresses, orders

# Orders are read a page at a time through the customer's own order list, so the export shows
# an order exactly as GET /api/orders does, whatever an order gains later.
ORDERS_PER_READ = 500


@dataclass(frozen=True)
class AccountData:
    user: asyncpg.Record
    addresses: list[asyncpg.Record]
    orders: list[asyncpg.Record]  # newest first, as orders_page reads them
    payments: list[asyncpg.Record]  # every payment of those orders, oldest first
    reviews: list[asyncpg.Record]


async def export_account(conn: asyncpg.Connection, *, user_id: int) -> AccountData:
    """A transaction of its own, REPEATABLE READ: one snapshot for every read, so an order
    placed meanwhile is in both the orders and the payments, or in neither."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        user = await queries.get_user_by_id(conn, id=user_id)
        return AccountData(
            user=user,
            addresses=await addresses.list_addresses(conn, user_id=user_id),
            orders=await _every_order(conn, user_id),
            payments=await fetch_all(queries.export_payments(conn, user_id=user_id)),
            reviews=await fetch_all(queries.export_reviews(conn, user_id=user_id)),
        )


async def _every_order(conn: asyncpg.Connection, user_id: int) -> list[asyncpg.Record]:
    found: list[asyncpg.Record] = []
    while True:
        page, total = await orders.list_orders(
            conn, user_id=user_id, status=None, limit=ORDERS_PER_READ, offset=len(found)
        )
        found.extend(page)
        if not page or len(found) >= total:
            return found

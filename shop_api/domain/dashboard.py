"""The admin dashboard: the shop's figures, each computed by PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg

from shop_api.db import fetch_all, queries
from shop_api.domain.order_status import STATUSES

TOP_PRODUCTS = 10
LOW_STOCK_SHOWN = 20


async def figures(
    conn: asyncpg.Connection, *, low_stock_threshold: int, currency: str
) -> dict[str, Any]:
    """Five aggregate queries in one read-only snapshot, so the figures agree with each other
    (an order paid between two of them is counted by both or by neither).

    A transaction of its own, not `atomic`: the snapshot needs its isolation level, which only
    the first statement of a transaction can choose.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        orders = await queries.dashboard_orders(conn, statuses=list(STATUSES))
        customers = await queries.dashboard_customers(conn)
        days = await fetch_all(queries.dashboard_revenue_by_day(conn))
        top = await fetch_all(queries.dashboard_top_products(conn, limit=TOP_PRODUCTS))
        low = await fetch_all(
            queries.dashboard_low_stock(conn, threshold=low_stock_threshold, limit=LOW_STOCK_SHOWN)
        )
    return {
        "revenue_total": orders["revenue_total"],
        "currency": currency,
        "orders_total": orders["orders_total"],
        "orders_by_status": orders["orders_by_status"],
        "customers_total": customers["customers_total"],
        "new_customers_30d": customers["new_customers_30d"],
        "revenue_by_day": [dict(day) for day in days],
        "top_products": [dict(product) for product in top],
        "low_stock": [dict(product) for product in low],
    }

"""Stock levels as the admin counts and corrects them, every change kept in the ledger."""

from __future__ import annotations

import asyncpg

from shop_api.db import Queryable, atomic, fetch_page, queries
from shop_api.domain import outbox, topics
from shop_api.domain.admin import contains_pattern
from shop_api.domain.stock_errors import insufficient_stock, shortage
from shop_api.errors import NotFound

STOCK_COUNT_REASON = "Stock count."


def falls_low(before: int, after: int, threshold: int) -> bool:
    """Whether a stock change is the one that makes a variant low: from above the threshold to
    at or below it. So a variant is announced once per crossing (one already low that drops
    further is not; one refilled above and dropping again is). Checkout spells the same rule in
    its SQL (place_order)."""
    return before > threshold >= after


async def list_stock(
    conn: Queryable,
    *,
    low_stock: bool | None,
    search: str | None,
    threshold: int,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        queries.inventory_page(
            conn,
            low_stock=low_stock,
            pattern=contains_pattern(search),
            threshold=threshold,
            limit=limit,
            offset=offset,
        ),
        key="variant_id",
    )


async def change_stock(
    conn: asyncpg.Connection,
    *,
    variant_id: int,
    admin_id: int | None,
    threshold: int,
    stock_quantity: int | None = None,
    adjustment: int | None = None,
    reason: str | None = None,
) -> asyncpg.Record:
    """Set a variant's stock (`stock_quantity`) or change it by `adjustment`, in the caller's
    transaction or a new one.

    The variant row stays locked from the read to the commit, so concurrent adjustments (and
    checkouts) apply one after the other and none is lost. Stock never goes below 0: such an
    adjustment is a 409 `insufficient_stock` in checkout's shape (`requested` is what it would
    take away) and changes nothing; stock above the limit is the database's 409 `stock_limit`
    (product_variants_stock_limit). A change of 0 writes nothing, not even a ledger row.
    Deleted products and variants can be restocked too. A variant on sale that the change makes
    low (`falls_low`) is announced as `inventory.low_stock`; a withdrawn one is no alarm.
    """
    async with atomic(conn):
        variant = await queries.inventory_lock(conn, variant_id=variant_id, threshold=threshold)
        if variant is None:
            raise NotFound("No such product variant.")
        current = variant["stock_quantity"]
        new_stock = stock_quantity if stock_quantity is not None else current + (adjustment or 0)
        if new_stock < 0:
            raise insufficient_stock(
                [shortage(variant["product_id"], variant_id, current - new_stock, current)]
            )
        if new_stock == current:
            return variant
        changed = await queries.inventory_set_stock(
            conn,
            variant_id=variant_id,
            stock_quantity=new_stock,
            delta=new_stock - current,
            reason=reason or STOCK_COUNT_REASON,
            actor_id=admin_id,
            threshold=threshold,
        )
        if changed["is_active"] and falls_low(current, new_stock, threshold):
            await outbox.publish(
                conn,
                topics.INVENTORY_LOW_STOCK,
                {"variant_id": variant_id, "product_id": changed["product_id"],
                 "stock": new_stock, "threshold": threshold},
            )
        return changed

"""Stock levels as the admin counts and corrects them, every change kept in the ledger."""

from __future__ import annotations

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, fetch_page, queries
from shop_api.domain.admin import contains_pattern
from shop_api.domain.stock_errors import insufficient_stock, shortage
from shop_api.errors import Conflict, NotFound

STOCK_COUNT_REASON = "Stock count."


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


async def sole_variant(conn: Queryable, product_id: int) -> int:
    """The variant a Release 1 client means by a product: its only active one (or, for a
    product without active variants, e.g. a deleted one, its only variant at all). A product
    with several is a 409 `variant_required`, since the client must say which; no such
    product (no variant at all) is a 404."""
    found = await fetch_all(queries.inventory_product_variants(conn, product_id=product_id))
    if not found:
        raise NotFound("No such product.")
    if len(found) > 1 and found[1]["is_active"] == found[0]["is_active"]:
        raise Conflict(
            "This product has several variants: change the stock of one of them with "
            "PUT /api/admin/inventory/variants/<variant_id>.",
            code="variant_required",
        )
    return found[0]["id"]


async def change_stock(
    conn: asyncpg.Connection,
    *,
    product_id: int,
    admin_id: int,
    threshold: int,
    stock_quantity: int | None = None,
    adjustment: int | None = None,
    reason: str | None = None,
) -> asyncpg.Record:
    """Set the stock (`stock_quantity`) or change it by `adjustment`, in the caller's
    transaction or a new one.

    The product row stays locked from the read to the commit, so concurrent adjustments (and
    checkouts) apply one after the other and none is lost. Stock never goes below 0: such an
    adjustment is a 409 `insufficient_stock` in checkout's shape (`requested` is what it would
    take away) and changes nothing; stock above the limit is the database's 409 `stock_limit`
    (products_stock_limit). A change of 0 writes nothing, not even a ledger row.
    Deleted products can be restocked too.
    """
    async with atomic(conn):
        product = await queries.inventory_lock(conn, product_id=product_id, threshold=threshold)
        if product is None:
            raise NotFound("No such product.")
        current = product["stock_quantity"]
        new_stock = stock_quantity if stock_quantity is not None else current + (adjustment or 0)
        if new_stock < 0:
            raise insufficient_stock([shortage(product_id, current - new_stock, current)])
        if new_stock == current:
            return product
        return await queries.inventory_set_stock(
            conn,
            product_id=product_id,
            stock_quantity=new_stock,
            delta=new_stock - current,
            reason=reason or STOCK_COUNT_REASON,
            actor_id=admin_id,
            threshold=threshold,
        )

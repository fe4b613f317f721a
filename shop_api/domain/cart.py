"""The cart: one per user, live prices, stock checked on every change.

Every change locks the user's cart row first (`lock_cart`), the same lock checkout takes, so a
change either lands before a checkout reads the cart or waits until it has emptied it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from shop_api.db import Queryable, atomic, queries
from shop_api.domain import variants
from shop_api.domain.stock_errors import insufficient_stock, product_unavailable, shortage
from shop_api.errors import NotFound, Unprocessable


async def view(conn: Queryable, *, user_id: int) -> asyncpg.Record:
    """The cart with its items and totals (a user's first look creates the empty cart)."""
    row = await queries.cart_view(conn, user_id=user_id)
    if row is None:
        await queries.ensure_cart(conn, user_id=user_id)
        row = await queries.cart_view(conn, user_id=user_id)
    return row


async def _change(
    conn: asyncpg.Connection,
    user_id: int,
    change: Callable[[asyncpg.Connection, int], Awaitable[None]],
) -> asyncpg.Record:
    """Run `change(conn, cart_id)` under the cart lock, in the caller's transaction or a new
    one, then read the cart as it now is.

    Every change of the cart goes through here, so each takes the lock checkout takes.
    """
    async with atomic(conn):
        await change(conn, await queries.lock_cart(conn, user_id=user_id))
    return await view(conn, user_id=user_id)


async def add_item(
    conn: asyncpg.Connection,
    *,
    user_id: int,
    quantity: int,
    variant_id: int | None = None,
    product_id: int | None = None,
) -> asyncpg.Record:
    """Add `quantity` of a variant, on top of what the cart already holds of it.

    A Release 1 client names the product instead: that stands for its one active variant, and
    is a 422 `variant_required` when it has several. A missing or withdrawn product or variant
    is a 404, as it is in the catalog.
    """
    if variant_id is None:
        variant_id = await variants.sole_variant_id(
            conn, product_id=product_id, several=Unprocessable
        )

    async def add(conn: asyncpg.Connection, cart_id: int) -> None:
        row = await queries.add_cart_item(
            conn, cart_id=cart_id, variant_id=variant_id, quantity=quantity
        )
        if row is None:
            raise NotFound("No such product variant.")
        if row["item_id"] is None:
            raise insufficient_stock([
                shortage(row["product_id"], variant_id, row["requested"], row["available"])
            ])

    return await _change(conn, user_id, add)


async def set_quantity(
    conn: asyncpg.Connection, *, user_id: int, item_id: int, quantity: int
) -> asyncpg.Record:
    async def set_(conn: asyncpg.Connection, cart_id: int) -> None:
        row = await queries.set_cart_item_quantity(
            conn, cart_id=cart_id, item_id=item_id, quantity=quantity
        )
        if row is None:
            raise NotFound("No such cart item.")
        if row["item_id"] is None:
            line = (row["product_id"], row["variant_id"], quantity)
            if not row["is_active"]:
                raise product_unavailable([shortage(*line, 0)])
            raise insufficient_stock([shortage(*line, row["available"])])

    return await _change(conn, user_id, set_)


async def remove_item(
    conn: asyncpg.Connection, *, user_id: int, item_id: int
) -> asyncpg.Record:
    async def remove(conn: asyncpg.Connection, cart_id: int) -> None:
        if await queries.delete_cart_item(conn, cart_id=cart_id, item_id=item_id) is None:
            raise NotFound("No such cart item.")

    return await _change(conn, user_id, remove)


async def clear(conn: asyncpg.Connection, *, user_id: int) -> None:
    async with atomic(conn):
        cart_id = await queries.lock_cart(conn, user_id=user_id)
        await queries.clear_cart(conn, cart_id=cart_id)

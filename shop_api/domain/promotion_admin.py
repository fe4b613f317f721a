"""Promotions as the admin keeps them: create, replace, list with their use counts, deactivate.

times_used is never written here: only checkout's uses and cancellation's give-backs move it
(domain/promotions.py). A promotion is never deleted, only deactivated: orders and redemption
rows keep pointing at it.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from shop_api.db import Queryable, atomic, fetch_page, queries
from shop_api.errors import NotFound

KINDS = ("percentage", "fixed", "free_shipping")
TARGETS = ("order", "items", "shipping")

# What a create or replace writes (PromotionIn's fields).
FIELDS = (
    "name",
    "code",
    "kind",
    "value",
    "target",
    "min_subtotal",
    "starts_at",
    "ends_at",
    "usage_limit",
    "usage_limit_per_customer",
    "is_active",
    "product_ids",
    "category_ids",
)


async def list_promotions(
    conn: Queryable, *, is_active: bool | None, q: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        queries.promotions_page(conn, is_active=is_active, q=q, limit=limit, offset=offset)
    )


async def get_promotion(conn: Queryable, promotion_id: int) -> asyncpg.Record:
    row = await queries.promotion_by_id(conn, promotion_id=promotion_id)
    if row is None:
        raise NotFound("No such promotion.")
    return row


async def create_promotion(conn: asyncpg.Connection, fields: dict[str, Any]) -> asyncpg.Record:
    """A new promotion; a code taken in any case is a 409 `code_taken`, a product or category
    that does not exist a 422 (the database decides both)."""
    async with atomic(conn):
        created = await queries.insert_promotion(conn, **{k: fields[k] for k in FIELDS})
        return await get_promotion(conn, created["id"])


async def replace_promotion(
    conn: asyncpg.Connection, promotion_id: int, fields: dict[str, Any]
) -> asyncpg.Record:
    """Every field replaced but times_used; a usage limit below it is a 422."""
    async with atomic(conn):
        changed = await queries.update_promotion(
            conn, promotion_id=promotion_id, **{k: fields[k] for k in FIELDS}
        )
        if changed is None:
            raise NotFound("No such promotion.")
        return await get_promotion(conn, promotion_id)


async def deactivate_promotion(conn: Queryable, promotion_id: int) -> None:
    if await queries.deactivate_promotion(conn, promotion_id=promotion_id) is None:
        raise NotFound("No such promotion.")

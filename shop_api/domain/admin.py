"""The admin's hand on users and on every user's orders."""

from __future__ import annotations

import re

import asyncpg

from shop_api.db import Queryable, fetch_page, queries
from shop_api.domain import order_status
from shop_api.errors import Conflict, NotFound

_LIKE_SPECIAL = re.compile(r"([\\%_])")


def contains_pattern(search: str | None) -> str | None:
    """A LIKE pattern matching `search` anywhere, its own % and _ taken literally; None for no
    search (absent or blank)."""
    if search is None or not search.strip():
        return None
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", search.strip()) + "%"


async def list_users(
    conn: Queryable,
    *,
    search: str | None,
    role: str | None,
    is_active: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        queries.admin_users_page(
            conn,
            pattern=contains_pattern(search),
            role=role,
            is_active=is_active,
            limit=limit,
            offset=offset,
        )
    )


async def toggle_user_status(
    conn: Queryable, *, user_id: int, admin_id: int
) -> asyncpg.Record:
    """Deactivate an active user or reactivate a deactivated one; either way every token the
    user holds stops working."""
    user, _ = await set_user_active(conn, user_id=user_id, admin_id=admin_id, active=None)
    return user


async def set_user_active(
    conn: Queryable, *, user_id: int, admin_id: int, active: bool | None
) -> tuple[asyncpg.Record, bool]:
    """Set is_active (None flips it); returns the user and whether this call changed them.

    A change ends every token the user holds. The calling admin is active (they just
    authenticated), so changing themself could only lock them out: refused, 409
    `cannot_deactivate_self`. Setting the state a user already has changes nothing, in one
    statement, so two admins (or two clicks) asking for the same thing act once. An account its
    owner deleted is refused, 409 `account_deleted`.
    """
    if user_id == admin_id:
        raise Conflict("You cannot deactivate your own account.", code="cannot_deactivate_self")
    user = await queries.admin_toggle_user(conn, user_id=user_id, active=active)
    if user is not None:
        return user, True
    current = await queries.get_user_by_id(conn, id=user_id)
    if current is None:
        raise NotFound("No such user.")
    if current["deleted_at"] is not None:
        # Its owner deleted it: it stays inactive, as the record of orders nobody can sign in to.
        raise Conflict("This account was deleted by its owner.", code="account_deleted")
    return current, False


async def list_orders(
    conn: Queryable,
    *,
    user_id: int | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        queries.admin_orders_page(
            conn, user_id=user_id, status=status, limit=limit, offset=offset
        )
    )


async def change_order_status(
    conn: asyncpg.Connection,
    *,
    order_id: int,
    to_status: str,
    admin_id: int | None,
    reason: str,
) -> asyncpg.Record:
    """Move any user's order through the state machine, then read it as the admin sees it
    (`admin_id` None: an API key did, which is no user)."""
    await order_status.change_status(conn, order_id, to_status, actor_id=admin_id, reason=reason)
    return await queries.admin_order(conn, order_id=order_id)

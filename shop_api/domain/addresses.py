"""A customer's address book: at most MAX_ADDRESSES addresses, one default at most.

Every change locks the user's row first (`lock_address_book`), so concurrent changes of one book
take turns: the limit holds under concurrency, and the default moves in one transaction. The
partial unique index of 0021 is the database's last word on the one default.

The default: a new address is the default when asked (`is_default` true) or when the book has
none, so the first address always is; an update may unset it (the book then has none until an
address is added or made the default); deleting the default makes the newest remaining address
the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, queries
from shop_api.domain.limits import MAX_ADDRESSES
from shop_api.errors import NotFound, Unauthorized, ValidationFailed

# What an address holds besides its id and default flag; an optional one may be None.
ADDRESS_FIELDS = (
    "full_name",
    "company",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
)


async def list_addresses(conn: Queryable, *, user_id: int) -> list[asyncpg.Record]:
    """The user's addresses, the default first, then the newest."""
    return await fetch_all(queries.list_addresses(conn, user_id=user_id))


async def get_address(conn: Queryable, *, user_id: int, address_id: int) -> asyncpg.Record:
    """One of the user's addresses; NotFound for none, or another user's."""
    row = await queries.get_address(conn, user_id=user_id, address_id=address_id)
    if row is None:
        raise NotFound("No such address.")
    return row


async def create_address(
    conn: asyncpg.Connection,
    *,
    user_id: int,
    address: Mapping[str, Any],
    is_default: bool | None = None,
) -> asyncpg.Record:
    """Add an address (ADDRESS_FIELDS of `address`) to the user's book; 422 when it is full.

    It is the default when `is_default` is true or the book has no default yet.
    """
    async with atomic(conn):
        await _lock_book(conn, user_id)
        state = await queries.address_book_state(conn, user_id=user_id)
        if state["addresses"] >= MAX_ADDRESSES:
            raise ValidationFailed(
                {"addresses": [f"At most {MAX_ADDRESSES} addresses; delete one to add another."]},
                detail="The address book is full.",
            )
        default = bool(is_default) or not state["has_default"]
        if default:
            await queries.clear_default_address(conn, user_id=user_id, except_id=None)
        return await queries.insert_address(
            conn, user_id=user_id, is_default=default, **_fields(address)
        )


async def replace_address(
    conn: asyncpg.Connection,
    *,
    user_id: int,
    address_id: int,
    address: Mapping[str, Any],
    is_default: bool | None = None,
) -> asyncpg.Record:
    """Replace every field of one of the user's addresses; `is_default` None keeps its
    standing, true makes it the default (unsetting the previous one), false unsets it."""
    async with atomic(conn):
        await _lock_book(conn, user_id)
        await get_address(conn, user_id=user_id, address_id=address_id)
        if is_default:
            await queries.clear_default_address(conn, user_id=user_id, except_id=address_id)
        return await queries.replace_address(
            conn,
            user_id=user_id,
            address_id=address_id,
            is_default=is_default,
            **_fields(address),
        )


async def delete_address(conn: asyncpg.Connection, *, user_id: int, address_id: int) -> None:
    """Delete one of the user's addresses; the newest remaining one becomes the default when
    it was the default."""
    async with atomic(conn):
        await _lock_book(conn, user_id)
        was_default = await queries.delete_address(conn, user_id=user_id, address_id=address_id)
        if was_default is None:
            raise NotFound("No such address.")
        if was_default:
            await queries.promote_newest_address(conn, user_id=user_id)


async def _lock_book(conn: asyncpg.Connection, user_id: int) -> None:
    if await queries.lock_address_book(conn, user_id=user_id) is None:
        # Authenticated a moment ago, deleted since (its deletion committed while we waited).
        raise Unauthorized("The token is no longer valid.")


def _fields(address: Mapping[str, Any]) -> dict[str, Any]:
    return {name: address.get(name) for name in ADDRESS_FIELDS}

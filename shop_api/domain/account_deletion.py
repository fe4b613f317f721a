"""An account deleted by its owner: anonymised, with its accounting records kept.

What goes: the profile (email, name and password replaced), the addresses, the cart, the
stored idempotent answers, every token. What stays: the orders and payments (accounting
records, still in the admin views) and the reviews, shown as by FORMER_CUSTOMER. Pending orders
are cancelled as the customer's own cancel would be (stock back, history, the cancellation
email, sent to the address the account had). The email is free to register again at once.
"""

from __future__ import annotations

import uuid

import asyncpg

from shop_api.db import fetch_all, queries
from shop_api.domain import accounts, order_status
from shop_api.errors import Conflict, Unauthorized
from shop_api.security.passwords import UNUSABLE_PASSWORD_HASH
from shop_api.settings import Settings

FORMER_CUSTOMER = "Former customer"
# RFC 2606 reserves .invalid: no mail is ever delivered there.
DELETED_EMAIL_DOMAIN = "deleted.invalid"
DELETION_REASON = "The customer deleted their account."


class CannotDeleteAdmin(Conflict):
    code = "cannot_delete_admin"


async def delete_account(
    pool: asyncpg.Pool, settings: Settings, *, user: asyncpg.Record, current_password: str
) -> None:
    """Delete the signed-in user's account, after asking for its password again (422 on
    `current_password`, as a password change does).

    An admin's account is staff, not a customer's: refused (409 `cannot_delete_admin`), so
    the shop never loses its last admin this way. One transaction, which takes the user's row
    first, as every change of the address book does.
    """
    if user["role"] == "admin":
        raise CannotDeleteAdmin("An admin account cannot be deleted; an admin can deactivate it.")
    await accounts.check_current_password(
        pool, settings, user_id=user["id"], password=current_password
    )
    user_id = user["id"]
    async with pool.acquire() as conn, conn.transaction():
        erased = await queries.anonymise_user(
            conn,
            id=user_id,
            # Unique (the unique index is on lower(email)) and unguessable, so the real address
            # is free again and nobody can claim the placeholder first.
            email=f"deleted-{uuid.uuid4().hex}@{DELETED_EMAIL_DOMAIN}",
            full_name=FORMER_CUSTOMER,
            password_hash=UNUSABLE_PASSWORD_HASH,
        )
        if erased is None:
            raise Unauthorized("The token is no longer valid.")  # a deletion just before this one
        await queries.revoke_user_refresh_tokens(conn, user_id=user_id)
        # Before the pending orders are read: a checkout in flight commits its order first.
        await queries.delete_user_cart(conn, user_id=user_id)
        await _cancel_pending_orders(conn, user_id, recipient=erased["previous_email"])
        await queries.delete_user_addresses(conn, user_id=user_id)
        await queries.delete_user_idempotency_keys(conn, user_id=user_id)


async def _cancel_pending_orders(conn: asyncpg.Connection, user_id: int, *, recipient: str) -> None:
    for row in await fetch_all(queries.pending_order_ids(conn, user_id=user_id)):
        order = await order_status.lock(conn, row["id"], owner_id=user_id)
        # Paid since it was read: a paid order is kept, and shipped, as any other.
        if order["status"] != order_status.PENDING:
            continue
        await order_status.change_locked(
            conn,
            order,
            order_status.CANCELLED,
            actor_id=user_id,
            reason=DELETION_REASON,
            recipient=recipient,
        )

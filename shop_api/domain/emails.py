"""One email per event: what it says is read from the database when it is sent."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from .. import mail
from ..db import queries
from ..settings import Settings

log = logging.getLogger("shop_api.emails")


class NothingToSend(Exception):
    """The email's subject is gone (a deleted user, say): permanent, never retried."""


def _found(row: asyncpg.Record | None, what: str) -> dict[str, Any]:
    if row is None:
        raise NothingToSend(f"{what} does not exist")
    return dict(row)


async def _context(conn: asyncpg.Connection, subject: dict[str, Any]) -> dict[str, Any]:
    """The payment, order and user the email is about: each found through the one before."""
    context: dict[str, Any] = {"refund": bool(subject.get("refund"))}
    order_id = subject.get("order_id")
    user_id = subject.get("user_id")
    if (payment_id := subject.get("payment_id")) is not None:
        payment = await queries.get_payment(conn, id=payment_id, user_id=None)
        context["payment"] = _found(payment, f"payment {payment_id}")
        order_id = payment["order_id"]
    if order_id is not None:
        order = await queries.order_detail(conn, order_id=order_id, user_id=None)
        context["order"] = _found(order, f"order {order_id}")
        user_id = order["user_id"]
    user = await queries.get_user_by_id(conn, id=user_id) if user_id is not None else None
    context["user"] = _found(user, f"user {user_id}")
    context.update(_addressing(context["user"], subject))
    return context


def _addressing(user: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
    """Whom the email goes to: the user's address, except the notice of an email change, which
    goes to the address it replaced (the new one may be an attacker's); the event carries it,
    since the database only holds the new one."""
    old_email = subject.get("old_email")
    return {"recipient": old_email or user["email"], "old_email": old_email}


async def send_once(
    pool: asyncpg.Pool, settings: Settings, *, kind: str, event_key: str, subject: dict
) -> bool:
    """Send the `kind` email of one event unless it was sent; returns whether this call sent it.

    The sent_emails row is claimed in a transaction held open while the message goes out: the
    lock is on that row alone, and it is what lets a redelivered message find the email sent.
    """
    async with pool.acquire() as conn:
        context = await _context(conn, subject)
        recipient = context["recipient"]
        message = mail.build_message(
            settings, to=recipient, rendered=mail.render(kind, context), event_key=event_key
        )
        async with conn.transaction():
            claimed = await queries.claim_email_event(
                conn, event_key=event_key, kind=kind, recipient=recipient
            )
            if claimed is None:
                log.info("%s email of %s already sent", kind, event_key)
                return False
            await mail.deliver(settings, message)
    return True

"""One email per event: what it says is read from the database when it is sent."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from shop_api.db import queries, retry_while_unavailable
from shop_api.domain import mail, outbox
from shop_api.domain.outbox import TaskRef
from shop_api.settings import Settings

log = logging.getLogger("shop_api.emails")




class NothingToSend(Exception):
    """The email's subject is gone (a deleted user, say): permanent, never retried."""


class EmailInFlight(Exception):
    """Another attempt claimed this email and may be sending it: try again later."""


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
    """Whom the email goes to: the user's address, except where the event names another, as
    the database no longer holds it. The notice of an email change goes to the address it
    replaced (the new one may be an attacker's); the cancellations of an account's deletion go
    to the address the account had. Nothing else goes to a deleted account: its address is a
    placeholder that no mail reaches."""
    old_email = subject.get("old_email")
    recipient = subject.get("recipient") or old_email
    if recipient is None and user["deleted_at"] is not None:
        raise NothingToSend(f"user {user['id']} deleted their account")
    return {"recipient": recipient or user["email"], "old_email": old_email}


async def send_once(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    kind: str,
    event_key: str,
    subject: dict,
    task: TaskRef | None = None,
) -> bool:
    """Send the `kind` email of one event unless it was sent; returns whether this call sent it.

    Claimed in one short statement, sent with no transaction open and no pool connection held,
    marked sent after. A crash between the server's 250 and the mark leaves the claim, which a
    retry takes over once it is older than the longest send, sending with the same Message-ID.
    """
    async with pool.acquire() as conn:
        try:
            context = await _context(conn, subject)
        except NothingToSend:
            await outbox.complete(conn, task)  # nothing will ever be sent for this event
            raise
        recipient = context["recipient"]
        claimed = await queries.claim_email_event(
            conn,
            event_key=event_key,
            kind=kind,
            recipient=recipient,
            message_id=mail.message_id_for(settings, event_key),
            lease_seconds=email_lease_seconds(settings),
        )
        if claimed is None:
            if await queries.email_status(conn, event_key=event_key) != "sent":
                raise EmailInFlight(f"{kind} email of {event_key} is being sent by another attempt")
            log.info("%s email of %s already sent", kind, event_key)
            await outbox.complete(conn, task)
            return False
    if claimed["attempts"] > 1:
        log.warning("%s email of %s: sending again after an attempt that did not finish",
                    kind, event_key)
    message = mail.build_message(
        settings,
        to=recipient,
        rendered=mail.render(kind, context),
        event_key=event_key,
        message_id=claimed["message_id"],
    )
    await mail.deliver(settings, message)

    async def mark_sent() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await queries.mark_email_sent(conn, event_key=event_key)
            await outbox.complete(conn, task)

    await retry_while_unavailable(mark_sent)
    return True


def email_lease_seconds(settings: Settings) -> float:
    """How long a claim is left to the attempt that made it: longer than any send can take."""
    return mail.send_deadline_seconds(settings) + settings.smtp_timeout

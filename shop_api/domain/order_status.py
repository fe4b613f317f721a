"""The order state machine: the one place that knows which status may follow which.

Customer cancellation, the admin status route and the payment workers all move orders through
`change_status`, so the rules, the history, the stock put back on cancellation and the outbox
messages are the same whoever asks.

    pending    -> paid | cancelled
    paid       -> processing | cancelled
    processing -> shipped | cancelled
    shipped    -> delivered
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from .. import outbox, topics
from ..db import atomic, queries
from ..errors import Conflict, NotFound

PENDING, PAID, PROCESSING = "pending", "paid", "processing"
SHIPPED, DELIVERED, CANCELLED = "shipped", "delivered", "cancelled"
STATUSES = (PENDING, PAID, PROCESSING, SHIPPED, DELIVERED, CANCELLED)

TRANSITIONS: Mapping[str, frozenset[str]] = {
    PENDING: frozenset({PAID, CANCELLED}),
    PAID: frozenset({PROCESSING, CANCELLED}),
    PROCESSING: frozenset({SHIPPED, CANCELLED}),
    SHIPPED: frozenset({DELIVERED}),
    DELIVERED: frozenset(),
    CANCELLED: frozenset(),
}

# The customer's money has been taken in these: cancelling one of them refunds the payment.
REFUNDABLE = frozenset({PAID, PROCESSING})


class InvalidTransition(Conflict):
    code = "invalid_transition"


@dataclass(frozen=True)
class StatusChange:
    order_id: int
    user_id: int
    from_status: str
    to_status: str


def can_change(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


async def change_status(
    conn: asyncpg.Connection,
    order_id: int,
    to_status: str,
    *,
    actor_id: int | None,
    reason: str = "",
    owner_id: int | None = None,
) -> StatusChange:
    """Move an order to `to_status`, in the caller's transaction or a new one.

    Locks the order, refuses a transition the machine does not allow (409 `invalid_transition`),
    records the history row, puts the stock back on cancellation (with inventory ledger rows)
    and writes the outbox message the workers act on. `owner_id` limits it to that user's orders
    (another user's order is a 404); `actor_id` is who asked (None for the system).
    """
    async with atomic(conn):
        order = await queries.lock_order(conn, order_id=order_id, user_id=owner_id)
        if order is None:
            raise NotFound("No such order.")
        current = order["status"]
        if not can_change(current, to_status):
            raise InvalidTransition(f"An order that is {current} cannot become {to_status}.")
        await queries.set_order_status(
            conn,
            order_id=order_id,
            from_status=current,
            to_status=to_status,
            actor_id=actor_id,
            reason=reason,
        )
        if to_status == CANCELLED:
            await queries.restock_order(
                conn, order_id=order_id, actor_id=actor_id, reason="cancellation"
            )
        message = _message(order_id, current, to_status)
        if message is not None:
            await outbox.publish(conn, *message)
    return StatusChange(order_id, order["user_id"], current, to_status)


def _message(order_id: int, from_status: str, to_status: str) -> tuple[str, dict[str, Any]] | None:
    """The outbox message announcing a change, for the changes a worker acts on."""
    if to_status == CANCELLED:
        return topics.ORDER_CANCELLED, {"order_id": order_id, "refund": from_status in REFUNDABLE}
    if to_status == PAID:
        return topics.ORDER_PAID, {"order_id": order_id}
    if to_status == SHIPPED:
        return topics.ORDER_SHIPPED, {"order_id": order_id}
    if to_status == DELIVERED:
        return topics.ORDER_DELIVERED, {"order_id": order_id}
    return None

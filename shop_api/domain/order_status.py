"""The order state machine: the one place that knows which status may follow which.

Customer cancellation, the admin status route and the payment workers all move orders through
`change_status` (or `change_locked`, for a caller that locked the order first), so the rules, the
history, the stock put back on cancellation and the outbox messages are the same whoever asks.

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

from shop_api.db import atomic, queries
from shop_api.domain import outbox, promotions, topics
from shop_api.errors import Conflict, NotFound

PENDING, PAID, PROCESSING = "pending", "paid", "processing"
SHIPPED, DELIVERED, CANCELLED = "shipped", "delivered", "cancelled"
STATUSES = (PENDING, PAID, PROCESSING, SHIPPED, DELIVERED, CANCELLED)

# A payment's statuses (payments.status): pending until settled, then succeeded or failed; a
# succeeded one may become refunded. A failed one may still turn out charged (a late answer).
PAYMENT_PENDING, PAYMENT_SUCCEEDED = "pending", "succeeded"
PAYMENT_FAILED, PAYMENT_REFUNDED = "failed", "refunded"
PAYMENT_STATUSES = (PAYMENT_PENDING, PAYMENT_SUCCEEDED, PAYMENT_FAILED, PAYMENT_REFUNDED)

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


def payable(status: str) -> bool:
    """Whether an order in `status` may be paid: exactly when it may become paid."""
    return can_change(status, PAID)


async def lock(
    conn: asyncpg.Connection, order_id: int, *, owner_id: int | None = None
) -> asyncpg.Record:
    """The order, locked until the caller's transaction ends; `owner_id` limits it to that
    user's orders (another user's order is a 404).

    Every path that locks an order and its payments takes the order first.
    """
    order = await queries.lock_order(conn, order_id=order_id, user_id=owner_id)
    if order is None:
        raise NotFound("No such order.")
    return order


async def change_status(
    conn: asyncpg.Connection,
    order_id: int,
    to_status: str,
    *,
    actor_id: int | None,
    reason: str = "",
    owner_id: int | None = None,
) -> StatusChange:
    """Lock an order and move it to `to_status`, in the caller's transaction or a new one.

    `owner_id` limits it to that user's orders (another user's order is a 404); `actor_id` is
    who asked (None for the system). See `change_locked` for the rest.
    """
    async with atomic(conn):
        order = await lock(conn, order_id, owner_id=owner_id)
        return await change_locked(conn, order, to_status, actor_id=actor_id, reason=reason)


async def change_locked(
    conn: asyncpg.Connection,
    order: asyncpg.Record,
    to_status: str,
    *,
    actor_id: int | None,
    reason: str = "",
    recipient: str | None = None,
) -> StatusChange:
    """Move an order the caller's transaction has locked (`lock`) to `to_status`.

    Refuses a transition the machine does not allow (409 `invalid_transition`) before writing
    anything, so the caller's transaction may go on after it. Otherwise records the history
    row, puts the stock back on cancellation (with inventory ledger rows) and gives back the
    promotion uses the order took, and writes the outbox message the workers act on.
    `recipient`: where the change's email goes when the user's address will not do (an account
    deleted in the same transaction), else the user's.
    """
    order_id, current = order["id"], order["status"]
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
        # After the restock: promotion rows are locked after stock, as checkout locks them.
        await promotions.give_back(conn, order_id=order_id)
    message = _message(order_id, current, to_status)
    if message is not None:
        topic, payload = message
        if recipient is not None:
            payload["recipient"] = recipient
        await outbox.publish(conn, topic, payload)
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

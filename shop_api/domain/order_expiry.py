"""Unpaid orders expire, so stock never stays held by orders nobody pays.

A pending order not paid within `ORDER_PAYMENT_TIMEOUT_MINUTES` is cancelled by the relay's
periodic job through the order state machine, exactly as a customer's cancel (stock back, history,
the `order.cancelled` message and its email), unless a payment of it is pending: then the
settlement decides, and a failed payment leaves the order to expire on a later run.
"""

from __future__ import annotations

import asyncpg

from shop_api.db import queries
from shop_api.domain import order_status

PAYMENT_TIMEOUT = "payment_timeout"
BATCH_SIZE = 100


async def expire_unpaid_orders(
    conn: asyncpg.Connection, *, timeout_minutes: int, batch: int = BATCH_SIZE
) -> list[int]:
    """Cancel up to `batch` pending orders older than `timeout_minutes` (0: none); their ids.

    One short transaction per order, each locking only that order and its products, so the job
    never holds many locks at once and any number of jobs may run together.
    """
    expired: list[int] = []
    if timeout_minutes <= 0:
        return expired
    for _ in range(batch):
        async with conn.transaction():
            order_id = await queries.claim_unpaid_order(conn, timeout_minutes=timeout_minutes)
            if order_id is None:
                break
            # request_payment locks the order before it inserts the payment: under this lock a
            # payment is either committed and seen here, or not yet begun.
            if await queries.pending_payment_exists(conn, order_id=order_id):
                continue
            await order_status.change_status(
                conn, order_id, order_status.CANCELLED, actor_id=None, reason=PAYMENT_TIMEOUT
            )
        expired.append(order_id)
    return expired

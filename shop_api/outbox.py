"""The transactional outbox: messages written in the transaction of the change they announce.

A request never talks to the broker inside its transaction; it writes a row here, so a rolled-back
change announces nothing and a committed one is announced even if the broker is down. The relay
of the workers drains the table.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from .db import queries

ORDER_PLACED = "order.placed"  # {order_id}
ORDER_PAID = "order.paid"  # {order_id}
ORDER_CANCELLED = "order.cancelled"  # {order_id, refund}
ORDER_SHIPPED = "order.shipped"  # {order_id}
ORDER_DELIVERED = "order.delivered"  # {order_id}
USER_REGISTERED = "user.registered"  # {user_id}
PASSWORD_CHANGED = "password.changed"  # {user_id}
EMAIL_CHANGED = "email.changed"  # {user_id, old_email}: the notice goes to old_email
PAYMENT_REQUESTED = "payment.requested"  # {payment_id}
PAYMENT_SUCCEEDED = "payment.succeeded"  # {payment_id, order_id}
PAYMENT_FAILED = "payment.failed"  # {payment_id}
REFUND_DUE = "refund.due"  # {order_id}: paid after it was cancelled


async def publish(conn: asyncpg.Connection, topic: str, payload: dict[str, Any]) -> None:
    """Queue a message; call it inside the transaction of the change it announces."""
    await queries.outbox_insert(conn, topic=topic, payload=payload)

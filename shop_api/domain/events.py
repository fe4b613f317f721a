"""What each outbox topic sets in motion: the Dramatiq messages the relay sends for it.

The web app never imports actor modules (they need the worker's broker and pool); it names
actors here instead, and the worker process defines them under the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shop_api.domain.topics import (
    EMAIL_CHANGED,
    ORDER_CANCELLED,
    ORDER_DELIVERED,
    ORDER_PAID,
    ORDER_PLACED,
    ORDER_SHIPPED,
    PASSWORD_CHANGED,
    PAYMENT_FAILED,
    PAYMENT_REQUESTED,
    PAYMENT_SUCCEEDED,
    REFUND_DUE,
    USER_REGISTERED,
)
from shop_api.domain.webhook_events import EVENT_OF_TOPIC

SEND_EMAIL = "send_email"
SETTLE_PAYMENT = "settle_payment"
REFUND_ORDER = "refund_order"
REFUND_PAYMENT = "refund_payment"
UPDATE_RECOMMENDATIONS = "update_recommendations"
DELIVER_WEBHOOK = "deliver_webhook"
# Not a broker message: the relay itself turns the row into webhook deliveries (one statement,
# idempotent), then hands each delivery to DELIVER_WEBHOOK. Named here so the row stays open
# until that is done, like any task.
WEBHOOK_FAN_OUT = "webhook_fan_out"
RELAY_TASKS = frozenset({WEBHOOK_FAN_OUT})

QUEUES = {
    SEND_EMAIL: "emails",
    SETTLE_PAYMENT: "payments",
    REFUND_ORDER: "payments",
    REFUND_PAYMENT: "payments",
    UPDATE_RECOMMENDATIONS: "recommendations",
    # Its own queue: a slow receiver (10 s each) must not hold up emails or payments.
    DELIVER_WEBHOOK: "webhooks",
}


@dataclass(frozen=True)
class Task:
    actor_name: str
    args: tuple[Any, ...]
    # `outbox_id`: the row the task reports back to when its effect is done.
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def queue_name(self) -> str:
        return QUEUES[self.actor_name]


_EMAIL_OF_TOPIC = {
    USER_REGISTERED: "welcome",
    PASSWORD_CHANGED: "password_changed",
    EMAIL_CHANGED: "email_changed",
    ORDER_PLACED: "order_confirmation",
    ORDER_SHIPPED: "order_shipped",
    ORDER_DELIVERED: "order_delivered",
    ORDER_CANCELLED: "order_cancelled",
    PAYMENT_SUCCEEDED: "payment_receipt",
    PAYMENT_FAILED: "payment_failed",
}


def tasks_for(outbox_id: int, topic: str, payload: dict[str, Any]) -> list[Task]:
    """The messages one outbox row becomes. Keys derive from the row id, so a row sent twice
    produces the same email event key and the email goes out once."""
    report = {"outbox_id": outbox_id}
    tasks: list[Task] = []
    kind = _EMAIL_OF_TOPIC.get(topic)
    if kind is not None:
        subject = {key: payload[key]
                   for key in ("user_id", "order_id", "payment_id", "refund", "old_email",
                               "recipient")
                   if key in payload}
        tasks.append(Task(SEND_EMAIL, (kind, f"outbox:{outbox_id}", subject), report))
    if topic == PAYMENT_REQUESTED:
        tasks.append(Task(SETTLE_PAYMENT, (payload["payment_id"],), report))
    if topic == REFUND_DUE and "payment_id" in payload:
        tasks.append(Task(REFUND_PAYMENT, (payload["payment_id"],), report))
    elif (topic == ORDER_CANCELLED and payload.get("refund")) or topic == REFUND_DUE:
        tasks.append(Task(REFUND_ORDER, (payload["order_id"],), report))
    if topic == ORDER_PAID:  # paid through a payment or offline (admin)
        tasks.append(Task(UPDATE_RECOMMENDATIONS, (payload["order_id"],), report))
    if topic in EVENT_OF_TOPIC:
        tasks.append(Task(WEBHOOK_FAN_OUT, (), report))
    return tasks

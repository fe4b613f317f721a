"""The webhook events of API.md, and which endpoints subscribe to one.

An endpoint subscribes with names and patterns: "order.paid", "order.*" or "*". An event
matches an endpoint when one of these three spellings of it is among the endpoint's patterns,
which is also how the fan-out's SQL reads it (`events && subscriptions_of(type)`), with no
pattern language to get wrong.
"""

from __future__ import annotations

from shop_api.domain.topics import (
    INVENTORY_LOW_STOCK,
    ORDER_CANCELLED,
    ORDER_DELIVERED,
    ORDER_PAID,
    ORDER_PLACED,
    ORDER_SHIPPED,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PAYMENT_SUCCEEDED,
    PRODUCT_CREATED,
    PRODUCT_DELETED,
    PRODUCT_UPDATED,
    USER_REGISTERED,
)

CUSTOMER_CREATED = "customer.created"

# Outbox topic -> the webhook event it is. Topics not here (password.changed, ...) are internal.
EVENT_OF_TOPIC = {
    ORDER_PLACED: ORDER_PLACED,
    ORDER_PAID: ORDER_PAID,
    ORDER_CANCELLED: ORDER_CANCELLED,
    ORDER_SHIPPED: ORDER_SHIPPED,
    ORDER_DELIVERED: ORDER_DELIVERED,
    PAYMENT_SUCCEEDED: PAYMENT_SUCCEEDED,
    PAYMENT_FAILED: PAYMENT_FAILED,
    PAYMENT_REFUNDED: PAYMENT_REFUNDED,
    PRODUCT_CREATED: PRODUCT_CREATED,
    PRODUCT_UPDATED: PRODUCT_UPDATED,
    PRODUCT_DELETED: PRODUCT_DELETED,
    INVENTORY_LOW_STOCK: INVENTORY_LOW_STOCK,
    USER_REGISTERED: CUSTOMER_CREATED,
}

EVENT_TYPES: tuple[str, ...] = tuple(EVENT_OF_TOPIC.values())
PATTERNS: frozenset[str] = frozenset(
    {"*", *EVENT_TYPES, *(f"{event.split('.', 1)[0]}.*" for event in EVENT_TYPES)}
)


def event_type_of(topic: str) -> str | None:
    """The webhook event an outbox topic announces, or None for an internal topic."""
    return EVENT_OF_TOPIC.get(topic)


def subscriptions_of(event_type: str) -> list[str]:
    """Every pattern that subscribes to `event_type`: itself, its family, everything."""
    return [event_type, f"{event_type.split('.', 1)[0]}.*", "*"]


def matches(patterns: list[str], event_type: str) -> bool:
    return not set(patterns).isdisjoint(subscriptions_of(event_type))

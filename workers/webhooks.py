"""Webhook deliveries: one message per attempt, handed out by the relay."""

from __future__ import annotations

import dramatiq

from shop_api.domain import events
from shop_api.integrations import webhook_delivery

from .resources import resources


@dramatiq.actor(
    actor_name=events.DELIVER_WEBHOOK,
    queue_name=events.QUEUES[events.DELIVER_WEBHOOK],
    # A receiver's failures are recorded and rescheduled by `deliver`, never raised; what is
    # raised is our own trouble (the database away for longer than the record waits). Few
    # retries: the claim runs out and the relay hands the delivery out again anyway.
    max_retries=3,
    min_backoff=5_000,
    max_backoff=60_000,
)
async def deliver_webhook(delivery_id: int, lease: int) -> None:
    current = resources()
    await webhook_delivery.deliver(
        current.pool, current.settings, current.webhook_session, delivery_id, lease
    )

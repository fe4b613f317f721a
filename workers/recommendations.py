"""Keeps "bought together" recommendations current as orders are paid."""

from __future__ import annotations

import dramatiq

from shop_api.domain import events, outbox, recommendations

from .resources import resources, task_of


@dramatiq.actor(
    actor_name=events.UPDATE_RECOMMENDATIONS,
    queue_name=events.QUEUES[events.UPDATE_RECOMMENDATIONS],
    max_retries=5,
)
async def update_recommendations(order_id: int, outbox_id: int | None = None) -> None:
    async with resources().pool.acquire() as conn, conn.transaction():
        await recommendations.refresh_for_order(conn, order_id)
        await outbox.complete(conn, task_of(events.UPDATE_RECOMMENDATIONS, outbox_id))

"""Transactional emails: one actor, one message per email event."""

from __future__ import annotations

import dramatiq

from shop_api.domain import emails, events

from .resources import resources, task_of


@dramatiq.actor(
    actor_name=events.SEND_EMAIL,
    queue_name=events.QUEUES[events.SEND_EMAIL],
    # An SMTP server that is down or refusing recovers within minutes to hours.
    max_retries=12,
    min_backoff=2_000,
    max_backoff=15 * 60_000,
    throws=(emails.NothingToSend,),
)
async def send_email(kind: str, event_key: str, subject: dict, outbox_id: int | None = None
                     ) -> None:
    current = resources()
    await emails.send_once(
        current.pool,
        current.settings,
        kind=kind,
        event_key=event_key,
        subject=subject,
        task=task_of(events.SEND_EMAIL, outbox_id),
    )

"""The transactional outbox: messages written in the transaction of the change they announce.

A request never talks to the broker inside its transaction; it writes a row here, so a rolled-back
change announces nothing and a committed one is announced even if the broker is down. The relay
sends each row's tasks to the broker; the row stays open until every task has reported its
effect done (`complete`), and the relay sends what is still open again after a while. So a
message the broker loses is sent again, and the only durability the broker needs is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from shop_api.db import queries
from shop_api.domain import events


@dataclass(frozen=True)
class TaskRef:
    """Which outbox row asked for a task, so the task can close its part of the row."""

    outbox_id: int
    actor_name: str


def task_names(topic: str, payload: dict[str, Any]) -> list[str]:
    """The tasks a row of `topic` asks for: what must report done before the row closes."""
    return [task.actor_name for task in events.tasks_for(0, topic, payload)]


async def publish(conn: asyncpg.Connection, topic: str, payload: dict[str, Any]) -> None:
    """Queue a message; call it inside the transaction of the change it announces."""
    await queries.outbox_insert(
        conn, topic=topic, payload=payload, tasks=task_names(topic, payload)
    )


async def complete(conn: asyncpg.Connection | asyncpg.Pool, task: TaskRef | None) -> None:
    """The task's effect is done (or can never be): close its part of the outbox row.

    Call it in the transaction that records the effect, so the two commit together. None (a
    task sent by hand, not by the relay) closes nothing.
    """
    if task is not None:
        await queries.outbox_complete_task(conn, ids=[task.outbox_id], task=task.actor_name)

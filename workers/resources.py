"""What every actor of a worker process shares: settings, an asyncpg pool, the payment gateway,
the webhook delivery client.

Opened on the worker's event loop before the worker boots its consumers (so no message is taken
before there is a pool to handle it), closed when it stops, like the web app's cleanup_ctx. A
worker process runs one Dramatiq worker, so one set per process.

With RELAY_IN_WORKER (the default) the process also relays its own outbox rows right after each
message, as a web process does after each write: the order.paid and payment.succeeded of a
settled payment go out in milliseconds instead of at the relay process's next poll.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
import asyncpg
import dramatiq
from dramatiq.asyncio import get_event_loop_thread

from shop_api.db import create_pool
from shop_api.domain.gateway import PaymentGateway, get_gateway
from shop_api.domain.outbox import TaskRef
from shop_api.integrations.webhook_delivery import client_session
from shop_api.relay import Redelivery, broker_dispatch, run_relay
from shop_api.settings import Settings
from shop_api.shutdown import stop_task

# The worker's relay runs when a message is done; its own poll is only a backstop (the relay
# process polls every second).
WORKER_RELAY_POLL_SECONDS = 30.0


@dataclass(frozen=True)
class Resources:
    settings: Settings
    pool: asyncpg.Pool
    gateway: PaymentGateway
    # One per process, for its connection pool (keep-alive to the same receivers).
    webhook_session: aiohttp.ClientSession


_current: Resources | None = None


def resources() -> Resources:
    if _current is None:
        raise RuntimeError("worker resources are opened when the Dramatiq worker boots")
    return _current


def task_of(actor_name: str, outbox_id: int | None) -> TaskRef | None:
    """The outbox task a message reports to; None for a message not sent by the relay."""
    return None if outbox_id is None else TaskRef(outbox_id, actor_name)


class WorkerResources(dramatiq.Middleware):
    """Added after the AsyncIO middleware, whose before_worker_boot starts the event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._relay: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Before, not after: Worker.start() starts the consumers between the two hooks.
        global _current
        settings = self.settings
        pool = get_event_loop_thread().run_coroutine(
            create_pool(
                settings.database_url,
                min_size=1,
                max_size=settings.db_pool_max,
                command_timeout=settings.db_command_timeout,
            )
        )
        gateway = get_gateway(
            settings.payment_gateway, pool, sandbox_latency_seconds=settings.sandbox_latency_seconds
        )
        session = get_event_loop_thread().run_coroutine(_open_session(settings))
        _current = Resources(settings, pool, gateway, session)
        if settings.relay_in_worker:
            get_event_loop_thread().run_coroutine(self._start_relay(broker, pool))

    async def _start_relay(self, broker: dramatiq.Broker, pool: asyncpg.Pool) -> None:
        # On the worker's event loop, like the pool it drains with.
        self._wake = asyncio.Event()
        self._relay = asyncio.create_task(
            run_relay(
                pool,
                broker_dispatch(broker),
                self._wake,
                poll_seconds=WORKER_RELAY_POLL_SECONDS,
                redelivery=Redelivery.from_settings(self.settings),
            ),
            name="worker outbox relay",
        )

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result=None, exception=None
    ) -> None:
        # On a worker thread: hand the wake-up to the event loop.
        if self._wake is not None:
            get_event_loop_thread().loop.call_soon_threadsafe(self._wake.set)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        global _current
        if self._relay is not None:
            get_event_loop_thread().run_coroutine(stop_task(self._relay))
            self._relay = self._wake = None
        if _current is not None:
            get_event_loop_thread().run_coroutine(_current.webhook_session.close())
            get_event_loop_thread().run_coroutine(_current.pool.close())
            _current = None


async def _open_session(settings: Settings) -> aiohttp.ClientSession:
    # On the worker's event loop, where the actors will use it.
    return client_session(settings)

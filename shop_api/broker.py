"""Dramatiq brokers: Redis or RabbitMQ, picked by `BROKER_URL` (default: `REDIS_URL`).

No side effects here: the worker package makes the global broker from this (workers/broker.py),
and the web app makes one of its own for the outbox relay, which enqueues by actor name.
"""

from __future__ import annotations

import dramatiq
from dramatiq.asyncio import EventLoopThread, set_event_loop_thread
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO

from .settings import SettingsError

REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
AMQP_SCHEMES = frozenset({"amqp", "amqps"})


class DaemonLoopAsyncIO(AsyncIO):
    """Dramatiq's AsyncIO middleware, with a daemon event loop thread.

    When a whole process group gets SIGTERM (honcho in `shop-api dev`, Heroku dynos), each worker
    process receives it twice: directly, then forwarded by the dramatiq main process. The second
    one makes it exit at once, skipping `after_worker_shutdown`; with the stock non-daemon loop
    thread the process would then hang until SIGKILL. Redelivery covers the interrupted messages.
    """

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        event_loop_thread = EventLoopThread(self.logger)
        event_loop_thread.daemon = True
        event_loop_thread.start(timeout=1.0)
        set_event_loop_thread(event_loop_thread)


def create_broker(url: str) -> dramatiq.Broker:
    scheme = url.partition("://")[0].lower()
    if scheme in REDIS_SCHEMES:
        broker: dramatiq.Broker = RedisBroker(url=url)
    elif scheme in AMQP_SCHEMES:
        # The outbox relay marks a row sent once enqueue returns; publisher confirms make that
        # mean RabbitMQ has the message, not just that it left this process.
        broker = RabbitmqBroker(url=url, confirm_delivery=True)
    else:
        raise SettingsError(
            f"BROKER_URL must start with redis://, rediss://, unix:// or amqp://, not {scheme!r}"
        )
    # Actors are async functions sharing the domain code with the web app; this middleware
    # gives each worker process the event loop they run on.
    broker.add_middleware(DaemonLoopAsyncIO())
    return broker


def close_broker(broker: dramatiq.Broker) -> None:
    """Close the broker's connections to its server.

    Dramatiq's `RedisBroker.close()` does nothing: its connections stayed open until the process
    ended. Disconnecting its pool also shuts down the socket of an enqueue in flight, so a thread
    blocked on an unresponsive Redis fails instead of holding the process up at exit.
    """
    broker.close()
    if isinstance(broker, RedisBroker):
        broker.client.connection_pool.disconnect(inuse_connections=True)

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

from shop_api.settings import SettingsError

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


# Dramatiq's Redis broker gives a dead worker's unacknowledged messages back only in its
# "maintenance", run by a random share of broker commands (0.1% by default, which took 5 to 10
# minutes here). A worker's consumers poll each queue about once a second, refreshing its
# heartbeat; at 20% of commands some live process runs maintenance on each queue every few
# seconds, so a worker killed mid-message has its messages back heartbeat + a few seconds later.
# The cost is a few cheap Redis calls per maintenance (a KEYS only while a dead worker is found).
MAINTENANCE_CHANCE = 200_000  # out of dramatiq.brokers.redis.MAINTENANCE_SCALE (a million)
DEFAULT_HEARTBEAT_SECONDS = 20.0


def create_broker(url: str, *, heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
                  ) -> dramatiq.Broker:
    """The broker at `url`. `heartbeat_seconds`: how long a Redis worker may stay silent before
    its messages go to another (RabbitMQ gives them back as soon as the connection drops)."""
    scheme = url.partition("://")[0].lower()
    if scheme in REDIS_SCHEMES:
        broker: dramatiq.Broker = RedisBroker(
            url=url,
            heartbeat_timeout=int(heartbeat_seconds * 1000),
            maintenance_chance=MAINTENANCE_CHANCE,
        )
    elif scheme in AMQP_SCHEMES:
        # Publisher confirms: an enqueue that returns means RabbitMQ has the message.
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

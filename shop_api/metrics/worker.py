"""The workers' series: messages handled by actor and outcome, from each worker process."""

from __future__ import annotations

import dramatiq
from prometheus_client import Counter

# First: it checks the directory the metrics below are written to, when there is one.
from shop_api.metrics import exposition  # noqa: F401

OUTCOMES = ("succeeded", "failed", "skipped")
# outcome: succeeded, failed (the actor raised; each attempt of a retried message counts) or
# skipped (a middleware dropped it before the actor ran, an expired age limit say).
WORKER_MESSAGES = Counter(
    "shop_worker_messages",
    "Messages the workers handled, by actor and outcome.",
    ("actor", "outcome"),
)


class WorkerMetrics(dramatiq.Middleware):
    """Counts each message a worker thread is done with. With PROMETHEUS_MULTIPROC_DIR shared
    with the web processes, the web's /metrics shows these series: no server of its own."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Every series from the start at 0, so a rate (of failures, say) has a first point
        # before the first message, and an actor that never fails still shows it.
        for actor in broker.get_declared_actors():
            for outcome in OUTCOMES:
                WORKER_MESSAGES.labels(actor, outcome)

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.Message, *, result=None, exception=None
    ) -> None:
        outcome = "succeeded" if exception is None else "failed"
        WORKER_MESSAGES.labels(message.actor_name, outcome).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        WORKER_MESSAGES.labels(message.actor_name, "skipped").inc()

"""Payment settlement and refunds with the gateway, outside any database transaction."""

from __future__ import annotations

import logging

import dramatiq

from shop_api.domain import events, payments
from shop_api.domain.gateway import GatewayRefused, TransientGatewayError
from shop_api.outages import is_dependency_down

from .resources import resources, task_of

log = logging.getLogger("workers.payments")

# Worth trying again: the gateway or the database is away, or another attempt holds the payment.
# What fails a payment is its own counter of gateway charges (payments.attempts, see
# domain/payments.py); this only bounds how long one message lives, about 25 minutes of
# backoff. A message that runs out goes to the dead-letter queue and fails nothing: its outbox
# row stays open and is sent again, and the reconciler redrives a payment left pending.
RETRYABLE = (TransientGatewayError, payments.PaymentInFlight)
MAX_MESSAGE_RETRIES = 30


def _retry(retries: int, exception: BaseException) -> bool:
    transient = isinstance(exception, RETRYABLE) or is_dependency_down(exception)
    return retries < MAX_MESSAGE_RETRIES and transient


@dramatiq.actor(
    actor_name=events.SETTLE_PAYMENT,
    queue_name=events.QUEUES[events.SETTLE_PAYMENT],
    retry_when=_retry,
    throws=(GatewayRefused,),
    min_backoff=500,
    max_backoff=60_000,
)
async def settle_payment(payment_id: int, outbox_id: int | None = None) -> None:
    current = resources()
    try:
        status = await payments.settle(
            current.pool,
            current.gateway,
            payment_id,
            lease_seconds=current.settings.payment_lease_seconds,
            task=task_of(events.SETTLE_PAYMENT, outbox_id),
        )
    except TransientGatewayError:
        log.info("payment %s: transient gateway error, will retry", payment_id)
        raise
    log.info("payment %s settled: %s", payment_id, status or "nothing to do")


# Both refund actors: a refund can wait longer than a charge, nobody is watching a spinner.
REFUND_RETRIES = {
    "retry_when": _retry,
    "throws": (GatewayRefused,),
    "min_backoff": 1_000,
    "max_backoff": 10 * 60_000,
}


@dramatiq.actor(
    actor_name=events.REFUND_ORDER, queue_name=events.QUEUES[events.REFUND_ORDER], **REFUND_RETRIES
)
async def refund_order(order_id: int, outbox_id: int | None = None) -> None:
    current = resources()
    refunded = await payments.refund_order(
        current.pool,
        current.gateway,
        order_id,
        lease_seconds=current.settings.payment_lease_seconds,
        task=task_of(events.REFUND_ORDER, outbox_id),
    )
    log.info("order %s: %d payments refunded", order_id, refunded)


@dramatiq.actor(
    actor_name=events.REFUND_PAYMENT,
    queue_name=events.QUEUES[events.REFUND_PAYMENT],
    **REFUND_RETRIES,
)
async def refund_payment(payment_id: int, outbox_id: int | None = None) -> None:
    current = resources()
    refunded = await payments.refund_payment(
        current.pool,
        current.gateway,
        payment_id,
        lease_seconds=current.settings.payment_lease_seconds,
        task=task_of(events.REFUND_PAYMENT, outbox_id),
    )
    log.info("payment %s refund: %s", payment_id, "done" if refunded else "nothing to refund")

"""Payment settlement and refunds with the gateway, outside any database transaction."""

from __future__ import annotations

import logging

import dramatiq

from shop_api import events
from shop_api.domain import payments
from shop_api.gateway import GatewayRefused, TransientGatewayError
from shop_api.outages import is_dependency_down

from .resources import resources, task_of

log = logging.getLogger("workers.payments")

# Worth trying again: the gateway or the database is away, or another attempt holds the payment.
# Gateway charges are counted by the payment itself (MAX_SETTLEMENT_ATTEMPTS), so a database
# outage spends none of them; this bounds the messages, about 25 minutes of backoff.
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
    on_retry_exhausted="settlement_exhausted",
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


@dramatiq.actor(queue_name=events.QUEUES[events.SETTLE_PAYMENT], max_retries=3)
async def settlement_exhausted(message: dict, info: dict) -> None:
    """Every retry failed. One more settlement, which records a failure only after the gateway
    says it holds no charge for the payment; if even that cannot run, the payment stays pending
    and its outbox row is sent again later (the message itself is in the dead-letter queue)."""
    payment_id = message["args"][0]
    log.error("payment %s: settlement retries exhausted after %s", payment_id, info.get("retries"))
    current = resources()
    status = await payments.settle(
        current.pool,
        current.gateway,
        payment_id,
        lease_seconds=current.settings.payment_lease_seconds,
        max_attempts=0,
        task=task_of(events.SETTLE_PAYMENT, message["kwargs"].get("outbox_id")),
    )
    log.error("payment %s after exhausted retries: %s", payment_id, status or "already settled")


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

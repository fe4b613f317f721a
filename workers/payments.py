"""Payment settlement and refunds with the gateway, outside any database transaction."""

from __future__ import annotations

import logging

import dramatiq

from shop_api import events
from shop_api.domain import payments
from shop_api.gateway import ChargeResult, TransientGatewayError

from .resources import resources

log = logging.getLogger("workers.payments")


def _retry(retries: int, exception: BaseException) -> bool:
    # Declines are results, not exceptions: what raises (gateway timeouts, a database restart)
    # is transient. settle() itself turns the last transient gateway error into a failure.
    return retries < payments.MAX_SETTLEMENT_ATTEMPTS


@dramatiq.actor(
    actor_name=events.SETTLE_PAYMENT,
    queue_name=events.QUEUES[events.SETTLE_PAYMENT],
    retry_when=_retry,
    min_backoff=500,
    max_backoff=60_000,
    on_retry_exhausted="settlement_exhausted",
)
async def settle_payment(payment_id: int) -> None:
    current = resources()
    try:
        status = await payments.settle(current.pool, current.gateway, payment_id)
    except TransientGatewayError:
        log.info("payment %s: transient gateway error, will retry", payment_id)
        raise
    log.info("payment %s settled: %s", payment_id, status or "already settled")


@dramatiq.actor(queue_name=events.QUEUES[events.SETTLE_PAYMENT], max_retries=3)
async def settlement_exhausted(message: dict, info: dict) -> None:
    """Every retry failed: the payment fails and the order stays payable (the message itself is
    in the dead-letter queue for inspection)."""
    payment_id = message["args"][0]
    current = resources()
    async with current.pool.acquire() as conn:
        await payments.record_charge(
            conn, payment_id, ChargeResult(False, failure_reason="processing_error")
        )
    log.error("payment %s failed after %s retries", payment_id, info.get("retries"))


@dramatiq.actor(
    actor_name=events.REFUND_ORDER,
    queue_name=events.QUEUES[events.REFUND_ORDER],
    max_retries=10,
    min_backoff=1_000,
    max_backoff=10 * 60_000,
)
async def refund_order(order_id: int) -> None:
    current = resources()
    refunded = await payments.refund_order(current.pool, current.gateway, order_id)
    log.info("order %s refund: %s", order_id, "done" if refunded else "nothing to refund")

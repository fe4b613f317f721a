"""Payments: recorded by the request, settled with the gateway by a worker, refunded on cancel.

The gateway is called outside every transaction; what it answered is then recorded, and the
order moved, in one short transaction. Each step re-reads the payment's state first, so a message
delivered twice settles (or refunds) once.
"""

from __future__ import annotations

import logging

import asyncpg

from .. import outbox
from ..db import atomic, fetch_all, queries
from ..errors import Conflict, NotFound
from ..gateway import ChargeResult, PaymentGateway, TransientGatewayError
from . import order_status

log = logging.getLogger("shop_api.payments")

# A transient failure on the last allowed attempt is final: the payment fails and the order
# stays payable.
MAX_SETTLEMENT_ATTEMPTS = 5


class OrderNotPayable(Conflict):
    code = "order_not_payable"


class PaymentInProgress(Conflict):
    code = "payment_in_progress"


async def request_payment(
    conn: asyncpg.Connection, *, user_id: int, order_id: int, payment_token: str, gateway: str
) -> asyncpg.Record:
    """Record a pending payment of a pending order and ask a worker to settle it."""
    async with atomic(conn):
        order = await queries.lock_order(conn, order_id=order_id, user_id=user_id)
        if order is None:
            raise NotFound("No such order.")
        if order["status"] != order_status.PENDING:
            raise OrderNotPayable(
                f"Only pending orders can be paid; this one is {order['status']}."
            )
        if await queries.pending_payment_exists(conn, order_id=order_id):
            raise PaymentInProgress("A payment of this order is already being processed.")
        payment = await queries.insert_payment(
            conn, order_id=order_id, gateway=gateway, payment_token=payment_token
        )
        await outbox.publish(conn, outbox.PAYMENT_REQUESTED, {"payment_id": payment["id"]})
    return payment


async def settle(
    pool: asyncpg.Pool,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    max_attempts: int = MAX_SETTLEMENT_ATTEMPTS,
) -> str | None:
    """Charge a pending payment; returns its new status, None if it was already settled.

    Raises TransientGatewayError for the caller (the actor) to retry, until the last attempt.
    """
    payment = await queries.start_settlement_attempt(pool, id=payment_id)
    if payment is None:
        return None
    try:
        result = await gateway.charge(
            payment_id=payment["id"],
            token=payment["payment_token"],
            amount=payment["amount"],
            currency=payment["currency"],
            attempt=payment["attempts"],
        )
    except TransientGatewayError as exc:
        if payment["attempts"] < max_attempts:
            raise
        log.warning("payment %s failed after %s attempts: %s", payment_id, max_attempts, exc)
        result = ChargeResult(False, failure_reason="processing_error")
    async with pool.acquire() as conn:
        return await record_charge(conn, payment_id, result)


async def record_charge(
    conn: asyncpg.Connection, payment_id: int, result: ChargeResult
) -> str | None:
    async with atomic(conn):
        payment = await queries.lock_payment(conn, id=payment_id)
        if payment is None or payment["status"] != "pending":
            return None
        status = "succeeded" if result.succeeded else "failed"
        await queries.settle_payment(
            conn,
            id=payment_id,
            status=status,
            failure_reason=result.failure_reason,
            gateway_reference=result.reference,
        )
        if not result.succeeded:
            await outbox.publish(conn, outbox.PAYMENT_FAILED, {"payment_id": payment_id})
            return status
        order = await queries.lock_order(conn, order_id=payment["order_id"], user_id=None)
        if order["status"] == order_status.PENDING:
            await order_status.change_status(
                conn, payment["order_id"], order_status.PAID,
                actor_id=None, reason=f"payment {payment_id} succeeded",
            )
            await outbox.publish(
                conn,
                outbox.PAYMENT_SUCCEEDED,
                {"payment_id": payment_id, "order_id": payment["order_id"]},
            )
        else:
            # The order was cancelled while its payment was in flight: give the money back.
            log.warning("payment %s succeeded for %s order %s; refunding",
                        payment_id, order["status"], payment["order_id"])
            await outbox.publish(conn, outbox.REFUND_DUE, {"order_id": payment["order_id"]})
    return status


async def refund_order(pool: asyncpg.Pool, gateway: PaymentGateway, order_id: int) -> bool:
    """Refund the order's succeeded payment, once; returns whether this call refunded it."""
    payment = await queries.refundable_payment_of_order(pool, order_id=order_id)
    if payment is None:
        return False
    # The gateway gets the payment id as its idempotency key: a retry never refunds twice.
    await gateway.refund(
        payment_id=payment["id"], amount=payment["amount"], currency=payment["currency"]
    )
    refunded = await queries.mark_payment_refunded(pool, id=payment["id"])
    return refunded is not None


async def reconcile(conn: asyncpg.Connection, *, older_than_seconds: float = 300) -> list[int]:
    """Ask again for the settlement of payments stuck in pending; returns their ids."""
    rows = await fetch_all(queries.redrive_stuck_payments(
        conn, older_than_seconds=older_than_seconds, topic=outbox.PAYMENT_REQUESTED))
    return [row["id"] for row in rows]

"""Payments: recorded by the request, settled with the gateway by a worker, refunded on cancel.

A charge (or a refund) is asked of the gateway at most once per payment, whatever the broker
redelivers or a worker's crash leaves behind, by two means (Brandur Leach's "atomic phases"):

1. The payment records that a charge is in flight, in a committed transaction, before the
   gateway is called. A second copy of the message that finds it in flight does not call: it
   retries later (`PaymentInFlight`). Only a copy that finds the flight older than the lease
   (the attempt that started it died) takes over, and it first asks the gateway what it did
   for the payment's key.
2. Every gateway call carries an idempotency key derived from the payment, so even a takeover
   that guessed wrong moves no money twice.

The gateway is called outside every transaction; what it answered is then recorded, and the
order moved, in one short transaction. The locks are taken order first, then payment, the
order every other path (payment request, cancellation) keeps.

Whether an order may be paid is the order state machine's to say (`order_status.payable`, and
`change_locked` refusing a charged order that may no longer become paid). What fails a payment
whose gateway keeps failing is one counter, `payments.attempts` (gateway charge calls, so a
database outage spends none): a worker's message retries bound how long one message lives, and
running out of them fails nothing (the outbox sends the request again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, queries, retry_while_unavailable
from shop_api.domain import order_status, outbox, topics
from shop_api.domain.gateway import (
    ChargeResult,
    PaymentGateway,
    TransientGatewayError,
    charge_key,
    refund_key,
)
from shop_api.domain.order_status import PAYMENT_FAILED, PAYMENT_PENDING, PAYMENT_SUCCEEDED
from shop_api.domain.outbox import TaskRef
from shop_api.errors import Conflict

log = logging.getLogger("shop_api.payments")

# Gateway charge calls per payment: a transient failure on the last one is final once the
# gateway confirms it holds no charge for the payment's key.
MAX_SETTLEMENT_ATTEMPTS = 5
DEFAULT_LEASE_SECONDS = 90.0
# The failure of a payment whose order stopped being payable before it was charged: the
# customer cancelled it, so no "payment failed" email follows.
NOT_PAYABLE = "order_not_payable"


class OrderNotPayable(Conflict):
    code = "order_not_payable"


class PaymentInProgress(Conflict):
    code = "payment_in_progress"


class PaymentInFlight(Exception):
    """Another attempt is charging or refunding this payment: try again after it."""


async def request_payment(
    conn: asyncpg.Connection, *, user_id: int, order_id: int, payment_token: str, gateway: str
) -> asyncpg.Record:
    """Record a pending payment of a pending order and ask a worker to settle it."""
    async with atomic(conn):
        order = await order_status.lock(conn, order_id, owner_id=user_id)
        if not order_status.payable(order["status"]):
            raise OrderNotPayable(
                f"Only pending orders can be paid; this one is {order['status']}."
            )
        if await queries.pending_payment_exists(conn, order_id=order_id):
            raise PaymentInProgress("A payment of this order is already being processed.")
        payment = await queries.insert_payment(
            conn, order_id=order_id, gateway=gateway, payment_token=payment_token
        )
        await outbox.publish(conn, topics.PAYMENT_REQUESTED, {"payment_id": payment["id"]})
    return payment


@dataclass(frozen=True)
class _Charging:
    payment: asyncpg.Record
    # An earlier attempt may have reached the gateway: ask it before charging.
    ask_first: bool
    # Why no charge may be made, when none may: only what the gateway already did counts.
    refusal: str | None


async def settle(
    pool: asyncpg.Pool,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    max_attempts: int = MAX_SETTLEMENT_ATTEMPTS,
    task: TaskRef | None = None,
) -> str | None:
    """Charge a pending payment; returns its new status, None if there was nothing to do.

    Raises TransientGatewayError (the gateway failed, an attempt is used), PaymentInFlight
    (another attempt holds it) or a database error, for the caller to retry.
    """
    async with pool.acquire() as conn:
        charging = await _begin_charge(
            conn, payment_id, lease_seconds=lease_seconds, max_attempts=max_attempts, task=task
        )
    if charging is None:
        return None
    payment = charging.payment
    key = charge_key(payment_id)
    result = await gateway.lookup_charge(key) if charging.ask_first else None
    if result is None and charging.refusal is not None:
        log.warning("payment %s fails without a charge: %s", payment_id, charging.refusal)
        result = ChargeResult(False, failure_reason=charging.refusal)
    if result is None:
        try:
            result = await gateway.charge(
                idempotency_key=key,
                token=payment["payment_token"],
                amount=payment["amount"],
                currency=payment["currency"],
            )
        except TransientGatewayError:
            await retry_while_unavailable(lambda: queries.release_charge(pool, id=payment_id))
            raise

    async def record() -> str | None:
        async with pool.acquire() as conn:
            return await record_charge(conn, payment_id, result, task=task)

    return await retry_while_unavailable(record)


async def _begin_charge(
    conn: asyncpg.Connection,
    payment_id: int,
    *,
    lease_seconds: float,
    max_attempts: int,
    task: TaskRef | None,
) -> _Charging | None:
    """Mark the charge in flight, or say there is nothing to settle (None)."""
    async with conn.transaction():
        order_id = await queries.payment_order_id(conn, id=payment_id)
        if order_id is None:
            await outbox.complete(conn, task)
            return None
        order = await order_status.lock(conn, order_id)
        payment = await queries.lock_payment(conn, id=payment_id, lease_seconds=lease_seconds)
        if payment["status"] != PAYMENT_PENDING:
            await outbox.complete(conn, task)  # a copy of a message already acted on
            return None
        in_flight = payment["charge_started_at"] is not None
        if in_flight and not payment["charge_lease_expired"]:
            raise PaymentInFlight(f"payment {payment_id} is being charged by another attempt")
        if not order_status.payable(order["status"]):
            # Cancelled (or paid offline) before the charge: nothing is charged.
            refusal: str | None = NOT_PAYABLE
        elif payment["attempts"] >= max_attempts:
            refusal = "processing_error"  # every transient failure used up
        else:
            refusal = None
        await queries.start_charge(conn, id=payment_id, counts=refusal is None)
    if in_flight:
        log.warning("payment %s: taking over a charge left in flight", payment_id)
    return _Charging(payment, ask_first=in_flight or refusal is not None, refusal=refusal)


async def record_charge(
    conn: asyncpg.Connection,
    payment_id: int,
    result: ChargeResult,
    *,
    task: TaskRef | None = None,
) -> str | None:
    """Record the gateway's answer and move the order; returns the payment's new status.

    A charge the order cannot keep (cancelled meanwhile, or already paid by another payment: the
    state machine refuses to make it paid) is recorded as what it is, a success, and refunded.
    """
    async with atomic(conn):
        order_id = await queries.payment_order_id(conn, id=payment_id)
        order = await order_status.lock(conn, order_id)
        payment = await queries.lock_payment(
            conn, id=payment_id, lease_seconds=DEFAULT_LEASE_SECONDS
        )
        # A payment recorded failed can still turn out charged (a late answer): the truth wins.
        recordable = payment["status"] == PAYMENT_PENDING or (
            payment["status"] == PAYMENT_FAILED and result.succeeded
        )
        if not recordable:
            await outbox.complete(conn, task)
            return None
        status = PAYMENT_SUCCEEDED if result.succeeded else PAYMENT_FAILED
        await queries.settle_payment(
            conn,
            id=payment_id,
            status=status,
            failure_reason=result.failure_reason,
            gateway_reference=result.reference,
        )
        if not result.succeeded:
            if result.failure_reason != NOT_PAYABLE:
                await outbox.publish(conn, topics.PAYMENT_FAILED, {"payment_id": payment_id})
        else:
            await _keep_or_refund(conn, order, payment_id)
        await outbox.complete(conn, task)
    return status


async def _keep_or_refund(conn: asyncpg.Connection, order: asyncpg.Record, payment_id: int
                          ) -> None:
    """A charge succeeded: the locked order becomes paid, or, if it may not, the charge is due
    back. The state machine refuses before writing anything, so the transaction goes on."""
    topic = topics.PAYMENT_SUCCEEDED
    try:
        await order_status.change_locked(
            conn, order, order_status.PAID, actor_id=None, reason=f"payment {payment_id} succeeded"
        )
    except order_status.InvalidTransition:
        log.warning("payment %s succeeded for %s order %s; refunding",
                    payment_id, order["status"], order["id"])
        topic = topics.REFUND_DUE
    await outbox.publish(conn, topic, {"payment_id": payment_id, "order_id": order["id"]})


async def refund_payment(
    pool: asyncpg.Pool,
    gateway: PaymentGateway,
    payment_id: int,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    task: TaskRef | None = None,
) -> bool:
    """Give a succeeded payment's money back, once; returns whether this call refunded it
    (and so announced `payment.refunded`)."""
    async with pool.acquire() as conn, conn.transaction():
        payment = await queries.lock_payment(conn, id=payment_id, lease_seconds=lease_seconds)
        if payment is None or payment["status"] != PAYMENT_SUCCEEDED:
            await outbox.complete(conn, task)
            return False
        in_flight = payment["refund_started_at"] is not None
        if in_flight and not payment["refund_lease_expired"]:
            raise PaymentInFlight(f"payment {payment_id} is being refunded by another attempt")
        await queries.start_refund(conn, id=payment_id)
    key = refund_key(payment_id)
    refunded = await gateway.lookup_refund(key) if in_flight else None
    if refunded is None:
        refunded = await gateway.refund(
            idempotency_key=key,
            charge_reference=payment["gateway_reference"],
            amount=payment["amount"],
            currency=payment["currency"],
        )

    async def record() -> bool:
        async with pool.acquire() as conn, conn.transaction():
            marked = await queries.mark_payment_refunded(
                conn, id=payment_id, refund_reference=refunded.reference
            )
            # Only the call that marks it refunded announces it: a copy of the message, or a
            # takeover after a crash, finds it refunded already and marks nothing.
            if marked is not None:
                await outbox.publish(
                    conn,
                    topics.PAYMENT_REFUNDED,
                    {"payment_id": payment_id, "order_id": payment["order_id"]},
                )
            await outbox.complete(conn, task)
            return marked is not None

    return await retry_while_unavailable(record)


async def refund_order(
    pool: asyncpg.Pool,
    gateway: PaymentGateway,
    order_id: int,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    task: TaskRef | None = None,
) -> int:
    """Refund every successful charge of a cancelled order; returns how many this call did."""
    payment_ids = [
        row["id"] for row in
        await fetch_all(queries.refundable_payments_of_cancelled_order(pool, order_id=order_id))
    ]
    refunded = 0
    for payment_id in payment_ids:
        refunded += await refund_payment(pool, gateway, payment_id, lease_seconds=lease_seconds)
    await outbox.complete(pool, task)
    return refunded


async def reconcile(
    conn: Queryable,
    *,
    older_than_seconds: float = 300,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> list[int]:
    """Ask again for the settlement of payments that are stuck, not slow; returns their ids.

    Stuck: pending for longer than `older_than_seconds`, no charge in flight (or only a dead
    one), and no open settlement request in the outbox. So one message per stuck payment, and
    none for a payment whose request the relay is still sending.
    """
    rows = await fetch_all(queries.redrive_stuck_payments(
        conn,
        older_than_seconds=older_than_seconds,
        lease_seconds=lease_seconds,
        topic=topics.PAYMENT_REQUESTED,
        tasks=outbox.task_names(topics.PAYMENT_REQUESTED, {"payment_id": 0}),
    ))
    return [row["id"] for row in rows]

"""Payment gateways: one interface, a built-in sandbox, chosen by the PAYMENT_GATEWAY setting.

Every call carries an idempotency key derived from the payment (`charge_key`, `refund_key`),
the way Stripe's API takes one: a provider that sees a key again answers with its first answer
and moves no money twice. `lookup` asks what the gateway did for a key, so a settlement that
lost an answer (its worker died, its database went away) can recover it instead of guessing.
A real provider is one more class with these three methods.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import asyncpg

from shop_api.db import queries


class TransientGatewayError(Exception):
    """The gateway could not answer (timeout, 5xx, processing error): try again later."""


class GatewayRefused(Exception):
    """The gateway refused the request itself (not a decline): retrying cannot help."""


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    failure_reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class RefundResult:
    reference: str


def charge_key(payment_id: int) -> str:
    return f"shop-payment-{payment_id}-charge"


def refund_key(payment_id: int) -> str:
    return f"shop-payment-{payment_id}-refund"


class PaymentGateway(Protocol):
    name: str

    async def charge(
        self, *, idempotency_key: str, token: str, amount: Decimal, currency: str
    ) -> ChargeResult: ...

    async def refund(
        self, *, idempotency_key: str, charge_reference: str | None, amount: Decimal,
        currency: str,
    ) -> RefundResult: ...

    async def lookup_charge(self, idempotency_key: str) -> ChargeResult | None:
        """The final answer given for this key, None if it never gave one."""

    async def lookup_refund(self, idempotency_key: str) -> RefundResult | None: ...


class SandboxGateway:
    """Test tokens only, never card numbers (API.md, "Payments").

    A peer with a memory: each key's request and answer is a row of
    `sandbox_gateway_operations`, written in one statement that also answers a repeated key, so
    copies racing each other get one answer and `requests` counts how often it was asked.
    """

    name = "sandbox"
    DECLINES = {
        "tok_chargeDeclined": "card_declined",
        "tok_insufficientFunds": "insufficient_funds",
    }
    SUCCEEDS = frozenset({"tok_visa", "tok_mastercard"})
    FLAKY = "tok_processingError"  # fails its first attempt, succeeds when retried

    def __init__(self, pool: asyncpg.Pool, *, latency_seconds: float = 0.0) -> None:
        self.pool = pool
        self.latency_seconds = latency_seconds

    def _first_answer(self, token: str) -> tuple[str, str | None]:
        if token in self.SUCCEEDS:
            return "succeeded", None
        if token == self.FLAKY:
            return "transient", "processing_error"
        return "failed", self.DECLINES.get(token, "invalid_token")

    async def charge(
        self, *, idempotency_key: str, token: str, amount: Decimal, currency: str
    ) -> ChargeResult:
        status, reason = self._first_answer(token)
        row = await queries.sandbox_charge(
            self.pool,
            idempotency_key=idempotency_key,
            payment_token=token,
            amount=amount,
            currency=currency,
            status=status,
            failure_reason=reason,
            reference=_reference("ch", idempotency_key),
        )
        # The money has moved (or not) by now; the answer takes a while to travel back.
        await asyncio.sleep(self.latency_seconds)
        if (row["payment_token"], row["amount"], row["currency"]) != (token, amount, currency):
            raise GatewayRefused(f"idempotency key {idempotency_key} was used for another charge")
        if row["status"] == "transient":
            raise TransientGatewayError("processing_error")
        return _charge_result(row)

    async def refund(
        self, *, idempotency_key: str, charge_reference: str | None, amount: Decimal,
        currency: str,
    ) -> RefundResult:
        row = await queries.sandbox_refund(
            self.pool,
            idempotency_key=idempotency_key,
            charge_reference=charge_reference,
            amount=amount,
            currency=currency,
            reference=_reference("re", idempotency_key),
        )
        await asyncio.sleep(self.latency_seconds)
        return RefundResult(row["reference"])

    async def lookup_charge(self, idempotency_key: str) -> ChargeResult | None:
        row = await queries.sandbox_operation(self.pool, idempotency_key=idempotency_key)
        if row is None or row["operation"] != "charge" or row["status"] == "transient":
            return None
        return _charge_result(row)

    async def lookup_refund(self, idempotency_key: str) -> RefundResult | None:
        row = await queries.sandbox_operation(self.pool, idempotency_key=idempotency_key)
        if row is None or row["operation"] != "refund":
            return None
        return RefundResult(row["reference"])


def _reference(prefix: str, idempotency_key: str) -> str:
    return f"sandbox_{prefix}_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]}"


def _charge_result(row: asyncpg.Record) -> ChargeResult:
    if row["status"] == "succeeded":
        return ChargeResult(True, reference=row["reference"])
    return ChargeResult(False, failure_reason=row["failure_reason"])


def get_gateway(name: str, pool: asyncpg.Pool, *, sandbox_latency_seconds: float = 0.0
                ) -> PaymentGateway:
    if name == SandboxGateway.name:
        return SandboxGateway(pool, latency_seconds=sandbox_latency_seconds)
    raise ValueError(f"unknown PAYMENT_GATEWAY {name!r}; known: ['sandbox']")

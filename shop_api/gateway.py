"""Payment gateways: one interface, a built-in sandbox, chosen by the PAYMENT_GATEWAY setting.

A real provider is one more class with `charge` and `refund`; both receive the payment id as an
idempotency key, so a retried call never charges twice at a provider that honours it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


class TransientGatewayError(Exception):
    """The gateway could not answer (timeout, 5xx, processing error): try again later."""


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    failure_reason: str | None = None
    reference: str | None = None


class PaymentGateway(Protocol):
    name: str

    async def charge(
        self, *, payment_id: int, token: str, amount: Decimal, currency: str, attempt: int
    ) -> ChargeResult: ...

    async def refund(self, *, payment_id: int, amount: Decimal, currency: str) -> None: ...


class SandboxGateway:
    """Test tokens only, never card numbers (API.md, "Payments")."""

    name = "sandbox"
    DECLINES = {
        "tok_chargeDeclined": "card_declined",
        "tok_insufficientFunds": "insufficient_funds",
    }
    SUCCEEDS = frozenset({"tok_visa", "tok_mastercard"})
    FLAKY = "tok_processingError"  # fails its first attempt, succeeds when retried

    async def charge(
        self, *, payment_id: int, token: str, amount: Decimal, currency: str, attempt: int
    ) -> ChargeResult:
        if token in self.SUCCEEDS:
            return ChargeResult(True, reference=f"sandbox_ch_{payment_id}")
        if token == self.FLAKY:
            if attempt <= 1:
                raise TransientGatewayError("processing_error")
            return ChargeResult(True, reference=f"sandbox_ch_{payment_id}")
        return ChargeResult(False, failure_reason=self.DECLINES.get(token, "invalid_token"))

    async def refund(self, *, payment_id: int, amount: Decimal, currency: str) -> None:
        return None


GATEWAYS: dict[str, type] = {"sandbox": SandboxGateway}


def get_gateway(name: str) -> PaymentGateway:
    try:
        return GATEWAYS[name]()
    except KeyError:
        raise ValueError(f"unknown PAYMENT_GATEWAY {name!r}; known: {sorted(GATEWAYS)}") from None

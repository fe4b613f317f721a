"""Promotions as quote and checkout apply them, and the uses checkout takes of them.

`offer` reads, in one round trip, the promotions a cart may get (the automatic ones that are on,
and the coupon the customer gave, checked: 422 `coupon_invalid`, 409 `coupon_exhausted`);
`check_coupon` refuses a coupon that cannot apply to the priced lines (422
`coupon_not_applicable`). The limits themselves are the database's (0025): `take_uses`, inside
the checkout transaction after the stock locks, takes a use of each counted promotion that gave
a discount, and `give_back` returns them when the order is cancelled, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from shop_api.db import Queryable, fetch_all, queries
from shop_api.domain import pricing
from shop_api.errors import Conflict, Unprocessable


class CouponInvalid(Unprocessable):
    code = "coupon_invalid"


class CouponNotApplicable(Unprocessable):
    code = "coupon_not_applicable"


class CouponExhausted(Conflict):
    code = "coupon_exhausted"


_WHY_INVALID = {
    "inactive": "is no longer active",
    "not_started": "has not started yet",
    "expired": "has expired",
}


@dataclass(frozen=True)
class Offer:
    """What pricing may apply to a cart, read from the database."""

    promotions: tuple[pricing.Promotion, ...] = ()
    # category id -> itself and its ancestors, for the cart's products' categories.
    ancestors: Mapping[int, frozenset[int]] = field(default_factory=dict)
    # The promotion whose code the customer gave, if any.
    coupon: pricing.Promotion | None = None
    # The promotions whose uses checkout counts: those with a code or any limit. An automatic
    # one without limits is not counted, so a shop-wide sale is no lock every checkout waits on.
    counted: frozenset[int] = frozenset()

    def categories_of(self, category_id: int | None) -> frozenset[int]:
        return frozenset() if category_id is None else self.ancestors.get(category_id, frozenset())

    def covers(self, category_ids: Iterable[int | None]) -> bool:
        """Whether the ancestors read are enough to match these categories: they are when no
        promotion targets a category."""
        if not any(promotion.category_ids for promotion in self.promotions):
            return True
        return all(c is None or c in self.ancestors for c in category_ids)


NO_OFFER = Offer()


def _exhausted(row: Mapping[str, Any]) -> bool:
    limit, per_customer = row["usage_limit"], row["usage_limit_per_customer"]
    return (limit is not None and row["times_used"] >= limit) or (
        per_customer is not None and row["customer_uses"] >= per_customer
    )


def _promotion(row: Mapping[str, Any]) -> pricing.Promotion:
    min_subtotal = row["min_subtotal"]
    return pricing.Promotion(
        id=row["id"],
        name=row["name"],
        code=row["code"],
        kind=row["kind"],
        # Fixed amounts are cents to the pricing function; a percentage stays as it is.
        value=Decimal(pricing.to_cents(row["value"])) if row["kind"] == "fixed" else row["value"],
        target=row["target"],
        product_ids=frozenset(row["product_ids"]),
        category_ids=frozenset(row["category_ids"]),
        min_subtotal=None if min_subtotal is None else pricing.to_cents(min_subtotal),
    )


async def offer(
    conn: Queryable,
    *,
    user_id: int,
    coupon_code: str | None,
    category_ids: Iterable[int | None] | None = None,
    automatic: bool = True,
) -> Offer:
    """The promotions the cart of `user_id` may get, with `coupon_code` checked: unknown,
    inactive, not yet started or expired is 422 `coupon_invalid` (the detail says which), its
    usage limit or the caller's reached is 409 `coupon_exhausted`. Used-up automatic ones are
    left out (checkout would refuse them). The ancestors read are those of `category_ids`, or
    of the categories in the user's cart now when None. `automatic` False says no automatic
    promotion is on (quotes.Charges read it): without a coupon, nothing is read then."""
    if coupon_code is None and not automatic:
        return NO_OFFER
    wanted = None if category_ids is None else sorted({c for c in category_ids if c is not None})
    rows = await fetch_all(
        queries.promotions_for_cart(
            conn, user_id=user_id, code=coupon_code, category_ids=wanted
        )
    )
    coupon_row = None
    if coupon_code is not None:
        wanted = coupon_code.lower()
        coupon_row = next((r for r in rows if r["code"] and r["code"].lower() == wanted), None)
        if coupon_row is None:
            raise CouponInvalid(f"There is no coupon {coupon_code!r}.")
        if coupon_row["unavailable"] is not None:
            why = _WHY_INVALID[coupon_row["unavailable"]]
            raise CouponInvalid(f"The coupon {coupon_code!r} {why}.")
        if _exhausted(coupon_row):
            raise CouponExhausted(f"The coupon {coupon_code!r} has been used up.")
    usable = [r for r in rows if (r["code"] is None and not _exhausted(r)) or r is coupon_row]
    ancestors = (rows[0]["category_ancestors"] or {}) if rows else {}
    return Offer(
        promotions=tuple(_promotion(r) for r in usable),
        ancestors={int(k): frozenset(v) for k, v in ancestors.items()},
        coupon=None if coupon_row is None else _promotion(coupon_row),
        counted=frozenset(
            r["id"]
            for r in usable
            if r["code"] is not None
            or r["usage_limit"] is not None
            or r["usage_limit_per_customer"] is not None
        ),
    )


def check_coupon(offer: Offer, lines: Sequence[pricing.Line]) -> None:
    """422 `coupon_not_applicable` when the coupon cannot apply to these lines."""
    coupon = offer.coupon
    if coupon is None or pricing.is_applicable(coupon, lines):
        return
    if (
        coupon.min_subtotal is not None
        and sum(line.unit_price * line.quantity for line in lines) < coupon.min_subtotal
    ):
        raise CouponNotApplicable(
            f"The coupon {coupon.code!r} needs a subtotal of at least "
            f"{pricing.from_cents(coupon.min_subtotal):.2f}."
        )
    raise CouponNotApplicable(f"The coupon {coupon.code!r} applies to nothing in the cart.")


async def take_uses(
    conn: asyncpg.Connection,
    *,
    offer: Offer,
    quote: pricing.Quote,
    order_id: int,
    user_id: int,
) -> None:
    """Take a use of each counted promotion that gave a discount to order `order_id`, in
    promotion id order (the order every transaction locks promotion rows in); 409
    `coupon_exhausted` when a limit is reached, 422 `coupon_invalid` when the promotion is no
    longer on (switched off or out of its window since `offer` read it): the caller's
    transaction must then roll back."""
    for applied in quote.discounts:  # in promotion id order
        if applied.promotion_id not in offer.counted:
            continue
        row = await queries.take_promotion_use(
            conn,
            promotion_id=applied.promotion_id,
            order_id=order_id,
            user_id=user_id,
            amount=pricing.from_cents(applied.amount),
        )
        if row["off"]:
            raise CouponInvalid(f"The promotion {applied.name!r} is no longer on.")
        if not row["taken"]:
            raise CouponExhausted(f"The promotion {applied.name!r} has been used up.")
        if not row["redeemed"]:
            raise CouponExhausted(
                f"You have used the promotion {applied.name!r} as often as it allows."
            )


async def give_back(conn: asyncpg.Connection, *, order_id: int) -> None:
    """Give back the uses order `order_id` took, in the cancelling transaction (which locked
    the order and restocked first); a second call gives back nothing."""
    released = await fetch_all(queries.release_redemptions(conn, order_id=order_id))
    for row in sorted(released, key=lambda r: r["promotion_id"]):
        await queries.give_back_promotion_use(
            conn,
            promotion_id=row["promotion_id"],
            user_id=row["user_id"],
            per_customer=row["per_customer"],
        )

"""The one pricing function: a cart's lines, discounts, shipping and tax, in integer cents.

Quote and checkout both call `price_cart` on plain values (ARCHITECTURE.md, "One pricing
function"), so a quote is what the checkout after it charges. It does no I/O: the caller has
resolved each line's tax rate for the destination, the shipping methods of the destination's
zone, and which promotions may apply at all (active, in their window, the coupon given).

Money is integer cents. Each rounding is ROUND_HALF_UP to the cent, once per line and once for
shipping, never on a total: totals are sums of what was rounded, so the lines add up to them.

Lines. subtotal = unit_price × quantity; discount = its item discount + its share of the order
discount. Tax-exclusive shop: net = subtotal − discount, tax = half-up(net × rate),
total = net + tax. Tax-inclusive shop: gross = subtotal − discount, tax = half-up(gross × rate /
(1 + rate)) (extracted, not added), total = gross.

Promotions. One applies when the subtotal before any discount reaches its min_subtotal (if any);
an "items" one also needs a line it matches (product in product_ids, or the product's categories,
ancestors included, meeting category_ids; both empty match nothing) and discounts only those
lines. For each target the single best discount wins: the largest amount, the lower id on a tie.
- items, per line: percentage → half-up(line subtotal × value / 100); fixed → value cents off
  each unit, at most the line subtotal.
- order, once, after the item discounts, on what remains, R = Σ (subtotal − item discount):
  percentage → half-up(R × value / 100); fixed → min(value, R); spread over the lines by largest
  remainder in proportion to what remains of each (`largest_remainder`).
- shipping, once, on the chosen method's price for this cart: free_shipping → all of it;
  percentage → half-up(price × value / 100); fixed → min(value, price).
Nothing goes below zero. `discounts` lists each promotion that gave a non-zero amount, with the
total it gave (summed over its lines), in promotion id order.

Shipping. shipping_methods None means the shop has no zones: shipping is free, no method is
offered, shipping_method_id is ignored. Otherwise the active methods whose max_weight_grams is
not below the cart's weight (Σ weight_grams × quantity) are offered, each at its price, or 0 when
subtotal − discount_total reaches its free_over, cheapest first (that price, then id). The first
is taken unless shipping_method_id names another. None offered, or shipping_method_id not
offered → ShippingUnavailable (422). Shipping promotions then lower shipping_total; shipping_tax
is added to it (exclusive) or extracted from it (inclusive) at shipping_tax_rate.

Totals. subtotal, discount_total and tax_total are sums of the lines (tax_total plus
shipping_tax); discount_total counts line discounts only, the shipping discount shows in
shipping_total and `discounts`. total = Σ line totals + shipping_total + (shipping_tax when
exclusive), so always total == subtotal − discount_total + shipping_total + (0 if tax_included
else tax_total).

Bad input (quantity < 1, a negative amount or rate, a percentage over 100, a fixed amount that is
not whole cents, free_shipping aimed elsewhere than shipping) is a ValueError: the routes
validate first, so it is a programming error, not a client's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

from shop_api.errors import Unprocessable


def to_cents(amount: Decimal) -> int:
    """Exact: Decimal("19.99") → 1999; an amount finer than a cent is a ValueError."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"not an amount of money: {amount!r}")
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of cents")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """1999 → Decimal("19.99"), always with two places (0 → Decimal("0.00"))."""
    return Decimal(cents).scaleb(-2)


def half_up(amount: Decimal) -> int:
    """`amount` cents rounded to a whole cent, a half cent up."""
    return int(amount.to_integral_value(rounding=ROUND_HALF_UP))


def tax_of(amount: int, rate: Decimal, *, included: bool) -> int:
    """The tax on `amount` cents at `rate`: added on top, or extracted when it is included."""
    # 50 digits: the quotient is then exact far below a cent, and an exact half cent is a
    # terminating decimal that stays exact, so half-up rounds the true value.
    with localcontext() as context:
        context.prec = 50
        return half_up(amount * rate / (1 + rate) if included else amount * rate)


def largest_remainder(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` cents split in proportion to `weights` (0 ≤ amount ≤ Σ weights).

    Each share is the floor of its exact part; the cents left over go one each to the largest
    fractional parts, the earlier on a tie. The shares sum to `amount` exactly and none exceeds
    its weight: the leftover is less than the number of parts with a fraction, so only those
    get a cent, and their floor is below their weight.
    """
    whole = sum(weights)
    if not 0 <= amount <= whole or any(w < 0 for w in weights):
        raise ValueError(f"cannot spread {amount} over {list(weights)}")
    if amount == 0:
        return [0] * len(weights)
    parts = [divmod(amount * weight, whole) for weight in weights]  # (floor, remainder / whole)
    shares = [floor for floor, _ in parts]
    by_remainder = sorted(range(len(parts)), key=lambda i: (-parts[i][1], i))
    for i in by_remainder[: amount - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class Line:
    variant_id: int
    product_id: int
    quantity: int
    unit_price: int  # cents, as listed (tax included when prices_include_tax)
    tax_rate: Decimal  # e.g. Decimal("0.19"), resolved by the caller for the destination
    category_ids: frozenset[int] = frozenset()  # the product's category and all its ancestors
    weight_grams: int = 0  # per unit


@dataclass(frozen=True)
class ShippingMethod:
    id: int
    name: str
    price: int  # cents, as listed (tax included when prices_include_tax)
    free_over: int | None  # cents; free when subtotal - discount_total >= free_over
    max_weight_grams: int | None  # not offered when the cart's weight is over it
    min_delivery_days: int
    max_delivery_days: int
    is_active: bool = True  # an inactive method is never offered


@dataclass(frozen=True)
class Promotion:
    id: int
    name: str
    code: str | None  # None: automatic
    kind: Literal["percentage", "fixed", "free_shipping"]
    value: Decimal  # percentage: 0..100; fixed: cents (Decimal(500) = 5.00); free_shipping: unused
    target: Literal["order", "items", "shipping"]
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    min_subtotal: int | None = None  # cents, compared with the subtotal before any discount


@dataclass(frozen=True)
class QuoteLine:
    variant_id: int
    product_id: int
    quantity: int
    unit_price: int
    subtotal: int
    discount: int
    tax: int
    total: int


@dataclass(frozen=True)
class OfferedMethod:
    id: int
    name: str
    price: int  # for this cart (0 when free_over is reached), before shipping promotions
    min_delivery_days: int
    max_delivery_days: int


@dataclass(frozen=True)
class AppliedDiscount:
    promotion_id: int
    name: str
    code: str | None
    target: str
    amount: int


@dataclass(frozen=True)
class Quote:
    lines: tuple[QuoteLine, ...]
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_tax: int
    tax_total: int
    total: int
    shipping_method: OfferedMethod | None
    shipping_methods: tuple[OfferedMethod, ...]
    discounts: tuple[AppliedDiscount, ...]
    tax_included: bool


class ShippingUnavailable(Unprocessable):
    code = "shipping_unavailable"


def is_applicable(promotion: Promotion, lines: Sequence[Line]) -> bool:
    """Whether `promotion` applies to these lines (what `coupon_not_applicable` asks). Applying
    is not winning: a better promotion of the same target may still take its place."""
    subtotal = sum(_subtotal(line) for line in lines)
    return _reached(promotion, subtotal) and (
        promotion.target != "items" or any(_matches(promotion, line) for line in lines)
    )


def price_cart(
    lines: Sequence[Line],
    *,
    prices_include_tax: bool,
    shipping_methods: Sequence[ShippingMethod] | None,
    shipping_method_id: int | None = None,
    shipping_tax_rate: Decimal = Decimal(0),
    promotions: Sequence[Promotion] = (),
) -> Quote:
    """The quote of a cart; the module's docstring gives every rule."""
    _check(lines, shipping_methods, shipping_tax_rate, promotions)
    subtotal = sum(_subtotal(line) for line in lines)
    live = [p for p in promotions if _reached(p, subtotal)]
    line_discounts, awards = _line_discounts(lines, live)
    quote_lines = tuple(
        _quote_line(line, discount, prices_include_tax)
        for line, discount in zip(lines, line_discounts, strict=True)
    )
    discount_total = sum(line_discounts)

    offered: tuple[OfferedMethod, ...] = ()
    chosen = None
    if shipping_methods is not None:
        weight = sum(line.weight_grams * line.quantity for line in lines)
        offered = _offered(shipping_methods, weight, subtotal - discount_total)
        chosen = _chosen(offered, shipping_method_id, weight, bool(shipping_methods))
    price = chosen.price if chosen else 0
    shipping_award = _best((p, _amount(p, price)) for p in live if p.target == "shipping")
    shipping_total = price - shipping_award[1]
    shipping_tax = tax_of(shipping_total, shipping_tax_rate, included=prices_include_tax)

    lines_total = sum(q.total for q in quote_lines)
    return Quote(
        lines=quote_lines,
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping_total,
        shipping_tax=shipping_tax,
        tax_total=sum(q.tax for q in quote_lines) + shipping_tax,
        total=lines_total + shipping_total + (0 if prices_include_tax else shipping_tax),
        shipping_method=chosen,
        shipping_methods=offered,
        discounts=_applied([*awards, shipping_award]),
        tax_included=prices_include_tax,
    )


def _line_discounts(
    lines: Sequence[Line], live: Sequence[Promotion]
) -> tuple[list[int], list[tuple[Promotion | None, int]]]:
    """Each line's discount (its best item discount plus its share of the best order discount,
    taken on what the item discounts left), and the winning (promotion, amount) of each."""
    awards = [
        _best(
            (p, _amount(p, _subtotal(line), units=line.quantity))
            for p in live
            if p.target == "items" and _matches(p, line)
        )
        for line in lines
    ]
    remaining = [_subtotal(line) - off for line, (_, off) in zip(lines, awards, strict=True)]
    order_award = _best((p, _amount(p, sum(remaining))) for p in live if p.target == "order")
    shares = largest_remainder(order_award[1], remaining)
    discounts = [off + share for (_, off), share in zip(awards, shares, strict=True)]
    return discounts, [*awards, order_award]


def _subtotal(line: Line) -> int:
    return line.unit_price * line.quantity


def _reached(promotion: Promotion, subtotal: int) -> bool:
    return promotion.min_subtotal is None or subtotal >= promotion.min_subtotal


def _matches(promotion: Promotion, line: Line) -> bool:
    return line.product_id in promotion.product_ids or not promotion.category_ids.isdisjoint(
        line.category_ids
    )


def _amount(promotion: Promotion, base: int, *, units: int = 1) -> int:
    """What `promotion` takes off `base` cents (`units` units, for a fixed amount per unit)."""
    if promotion.kind == "free_shipping":
        return base
    if promotion.kind == "percentage":
        return half_up(base * promotion.value / 100)  # value ≤ 100, so never more than base
    return min(int(promotion.value) * units, base)


def _best(offers: Iterable[tuple[Promotion, int]]) -> tuple[Promotion | None, int]:
    """The winning offer: the largest amount, the lower id on a tie; none when nothing is off."""
    promotion, amount = max(offers, key=lambda offer: (offer[1], -offer[0].id), default=(None, 0))
    return (promotion, amount) if amount > 0 else (None, 0)


def _applied(awards: Iterable[tuple[Promotion | None, int]]) -> tuple[AppliedDiscount, ...]:
    """One entry per promotion that won something, its amounts summed, in id order."""
    won: dict[int, tuple[Promotion, int]] = {}
    for promotion, amount in awards:
        if promotion is not None:
            won[promotion.id] = (promotion, won.get(promotion.id, (promotion, 0))[1] + amount)
    return tuple(
        AppliedDiscount(p.id, p.name, p.code, p.target, amount)
        for p, amount in (won[key] for key in sorted(won))
    )


def _quote_line(line: Line, discount: int, included: bool) -> QuoteLine:
    subtotal = _subtotal(line)
    after = subtotal - discount  # the gross when prices include tax, else the net
    tax = tax_of(after, line.tax_rate, included=included)
    total = after if included else after + tax
    return QuoteLine(
        line.variant_id,
        line.product_id,
        line.quantity,
        line.unit_price,
        subtotal,
        discount,
        tax,
        total,
    )


def _offered(
    methods: Sequence[ShippingMethod], weight: int, discounted: int
) -> tuple[OfferedMethod, ...]:
    offered = (
        OfferedMethod(
            m.id,
            m.name,
            0 if m.free_over is not None and discounted >= m.free_over else m.price,
            m.min_delivery_days,
            m.max_delivery_days,
        )
        for m in methods
        if m.is_active and (m.max_weight_grams is None or weight <= m.max_weight_grams)
    )
    return tuple(sorted(offered, key=lambda m: (m.price, m.id)))


def _chosen(
    offered: tuple[OfferedMethod, ...], wanted: int | None, weight: int, zoned: bool
) -> OfferedMethod:
    if not offered:
        raise ShippingUnavailable(
            f"No shipping method can carry this cart ({weight} g) to this address."
            if zoned
            else "No shipping method delivers to this address."
        )
    if wanted is None:
        return offered[0]
    for method in offered:
        if method.id == wanted:
            return method
    raise ShippingUnavailable(
        f"Shipping method {wanted} is not available for this address and cart; "
        f"available: {', '.join(str(m.id) for m in offered)}."
    )


def _check(
    lines: Sequence[Line],
    methods: Sequence[ShippingMethod] | None,
    shipping_tax_rate: Decimal,
    promotions: Sequence[Promotion],
) -> None:
    for line in lines:
        _require(line.quantity >= 1, f"quantity {line.quantity} of variant {line.variant_id}")
        _require(line.unit_price >= 0 and line.weight_grams >= 0, f"line {line}")
        _require(_is_rate(line.tax_rate), f"tax rate {line.tax_rate!r}")
    for m in methods or ():
        _require(m.price >= 0 and (m.free_over or 0) >= 0, f"shipping method {m}")
    _require(_is_rate(shipping_tax_rate), f"shipping tax rate {shipping_tax_rate!r}")
    for p in promotions:
        _require(p.kind in ("percentage", "fixed", "free_shipping"), f"kind of {p}")
        _require(p.target in ("order", "items", "shipping"), f"target of {p}")
        _require(p.kind != "free_shipping" or p.target == "shipping", f"free shipping {p}")
        _require((p.min_subtotal or 0) >= 0, f"min_subtotal of {p}")
        if p.kind == "percentage":
            _require(0 <= p.value <= 100, f"percentage of {p}")
        elif p.kind == "fixed":
            _require(p.value >= 0 and p.value == p.value.to_integral_value(), f"amount of {p}")


def _is_rate(rate: Decimal) -> bool:
    return isinstance(rate, Decimal) and rate.is_finite() and rate >= 0


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"invalid pricing input: {what}")

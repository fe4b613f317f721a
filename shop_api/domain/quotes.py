"""What a cart costs delivered somewhere: the pricing function's inputs read from the database.

The quote route and checkout both come through `charges_for` and `price`, so a quote is what a
checkout with the same body would charge now: checkout prices the rows it locked, inside its
transaction; the quote the same rows read without locks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from shop_api.db import Queryable, fetch_all, queries
from shop_api.domain import addresses, pricing, promotions, shipping, tax
from shop_api.domain.limits import MAX_MONEY
from shop_api.errors import Conflict, Unprocessable, ValidationFailed


class TotalChanged(Conflict):
    code = "total_changed"


@dataclass(frozen=True)
class Destination:
    country: str
    region: str | None
    # The address kept on the order; None for a Release 1 free-text delivery_address.
    address: dict[str, Any] | None
    # orders.delivery_address: the free text, or the address on one line.
    text: str


def _address_text(address: Mapping[str, Any]) -> str:
    given = (str(address[name]) for name in addresses.ADDRESS_FIELDS if address.get(name))
    return ", ".join(given)[:1000]


async def destination(
    conn: Queryable, *, user_id: int, store_country: str, given: Mapping[str, Any]
) -> Destination:
    """Where the order goes, from whichever of a quote's or checkout's ways of saying it the
    body `given` uses (the schemas allow one at most).

    An address-book entry (`address_id`; another user's is a 404), an address in full
    (`shipping_address`), a bare `country` and `region` (quotes only), or a Release 1 free-text
    `delivery_address`, which ships to STORE_COUNTRY: so does a quote that names no
    destination, as a free-text checkout would be charged.
    """
    shipping_address = given.get("shipping_address")
    if given.get("address_id") is not None:
        row = await addresses.get_address(conn, user_id=user_id, address_id=given["address_id"])
        shipping_address = {name: row[name] for name in addresses.ADDRESS_FIELDS}
    if shipping_address is not None:
        kept = {name: shipping_address.get(name) for name in addresses.ADDRESS_FIELDS}
        return Destination(kept["country"], kept["region"], kept, _address_text(kept))
    if given.get("country") is not None:
        return Destination(given["country"], given.get("region"), None, "")
    return Destination(store_country, None, None, given.get("delivery_address") or "")


@dataclass(frozen=True)
class Charges:
    """What a destination is charged by: its shipping methods (None when the shop has no
    zones) and its tax rate of each class; and whether an automatic promotion is on."""

    methods: list[pricing.ShippingMethod] | None
    rates: Mapping[str, Decimal]
    automatic_promotions: bool = True


async def charges_for(conn: Queryable, to: Destination) -> Charges:
    """The shop's settings for `to`, in one round trip, read before checkout takes its locks:
    they are not the rows checkout locks, and every round trip after the locks is one more the
    stock waits for."""
    country = to.country.strip().upper()
    rows = await fetch_all(
        queries.destination_charges(
            conn, country=country, region=tax.region_of(country, to.region)
        )
    )
    methods = shipping.methods_of(rows)
    return Charges(
        None if methods is None else [_method(row) for row in methods],
        tax.rates_of(rows),
        automatic_promotions=any(row["part"] == "automatic_promotions" for row in rows),
    )


def price(
    lines: Sequence[Mapping[str, Any]],
    charges: Charges,
    *,
    shipping_method_id: int | None,
    prices_include_tax: bool,
    tax_shipping: bool,
    offer: promotions.Offer = promotions.NO_OFFER,
) -> pricing.Quote:
    """The quote of cart lines (rows of checkout_cart or quote_lines) under `charges`, with
    the promotions of `offer` (422 `coupon_not_applicable` when its coupon cannot apply)."""
    priced = [
        pricing.Line(
            variant_id=line["variant_id"],
            product_id=line["product_id"],
            quantity=line["quantity"],
            unit_price=pricing.to_cents(line["price"]),
            tax_rate=charges.rates[line["tax_class"]],
            category_ids=offer.categories_of(line["category_id"]),
            weight_grams=line["weight_grams"] or 0,
        )
        for line in lines
    ]
    promotions.check_coupon(offer, priced)
    quote = pricing.price_cart(
        priced,
        prices_include_tax=prices_include_tax,
        shipping_methods=charges.methods,
        shipping_method_id=shipping_method_id,
        shipping_tax_rate=charges.rates["standard"] if tax_shipping else Decimal(0),
        promotions=offer.promotions,
    )
    if pricing.from_cents(quote.total) > MAX_MONEY:
        raise ValidationFailed(
            {"items": [f"An order can total at most {MAX_MONEY}."]},
            detail="The order is too large.",
        )
    return quote


def _method(row: Mapping[str, Any]) -> pricing.ShippingMethod:
    return pricing.ShippingMethod(
        id=row["id"],
        name=row["name"],
        price=pricing.to_cents(row["price"]),
        free_over=None if row["free_over"] is None else pricing.to_cents(row["free_over"]),
        max_weight_grams=row["max_weight_grams"],
        min_delivery_days=row["min_delivery_days"],
        max_delivery_days=row["max_delivery_days"],
    )


async def quote_cart(
    conn: asyncpg.Connection,
    *,
    user_id: int,
    to: Destination,
    shipping_method_id: int | None,
    prices_include_tax: bool,
    tax_shipping: bool,
    coupon_code: str | None = None,
) -> pricing.Quote:
    """POST /api/cart/quote: the user's cart priced now; changes nothing."""
    lines = await fetch_all(queries.quote_lines(conn, user_id=user_id))
    if not lines:
        raise Unprocessable("The cart is empty.", code="cart_empty")
    charges = await charges_for(conn, to)
    return price(
        lines,
        charges,
        shipping_method_id=shipping_method_id,
        prices_include_tax=prices_include_tax,
        tax_shipping=tax_shipping,
        offer=await promotions.offer(
            conn,
            user_id=user_id,
            coupon_code=coupon_code,
            category_ids=(line["category_id"] for line in lines),
            automatic=charges.automatic_promotions,
        ),
    )


def money(cents: int) -> Decimal:
    """Cents as the two-place Decimal every JSON answer writes as a string."""
    return pricing.from_cents(cents).quantize(Decimal("0.01"))


def _method_json(method: pricing.OfferedMethod) -> dict[str, Any]:
    return {
        "id": method.id,
        "name": method.name,
        "price": money(method.price),
        "min_delivery_days": method.min_delivery_days,
        "max_delivery_days": method.max_delivery_days,
    }


def discounts_json(quote: pricing.Quote) -> list[dict[str, Any]]:
    """What applied, as the order keeps it (jsonb: money as text, like every answer)."""
    return [
        {
            "promotion_id": each.promotion_id,
            "name": each.name,
            "code": each.code,
            "target": each.target,
            "amount": str(money(each.amount)),
        }
        for each in quote.discounts
    ]


def quote_json(quote: pricing.Quote, currency: str) -> dict[str, Any]:
    """The Quote of API.md."""
    return {
        "items": [
            {
                "variant_id": line.variant_id,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
                "subtotal": money(line.subtotal),
                "discount": money(line.discount),
                "tax": money(line.tax),
                "total": money(line.total),
            }
            for line in quote.lines
        ],
        "subtotal": money(quote.subtotal),
        "discount_total": money(quote.discount_total),
        "shipping_total": money(quote.shipping_total),
        "shipping_tax": money(quote.shipping_tax),
        "tax_total": money(quote.tax_total),
        "total": money(quote.total),
        "currency": currency,
        "shipping_method": None
        if quote.shipping_method is None
        else _method_json(quote.shipping_method),
        "shipping_methods": [_method_json(method) for method in quote.shipping_methods],
        "discounts": discounts_json(quote),
        "tax_included": quote.tax_included,
    }


def check_expected_total(
    quote: pricing.Quote, expected_total: Decimal | None, currency: str
) -> None:
    """409 `total_changed`, carrying the new quote, when the client agreed to another total."""
    if expected_total is not None and money(quote.total) != expected_total:
        raise TotalChanged(
            f"The total is now {money(quote.total)} {currency}, not {expected_total}.",
            errors={"quote": quote_json(quote, currency)},
        )

"""The quote: what the cart costs delivered somewhere (the pricing function's answer)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shop_api.web.schemas.addresses import ShippingAddressIn
from shop_api.web.schemas.common import CountryCode, Id, MoneyOutput, StrictSchema


def at_most_one(data: dict, names: tuple[str, ...], *, required: bool) -> None:
    given = [name for name in names if name in data]
    if len(given) > 1:
        raise ValidationError(f"Send one of {', '.join(names)}, not several.", given[1])
    if required and not given:
        raise ValidationError(f"Send one of {', '.join(names)}.", names[0])


class DestinationIn(StrictSchema):
    """Where the order goes: an address-book entry or an address given in full."""

    address_id = Id(strict=True, metadata={"description": "One of your addresses."})
    shipping_address = fields.Nested(ShippingAddressIn)
    shipping_method_id = Id(
        strict=True,
        metadata={
            "description": (
                "One of the quote's `shipping_methods`; the cheapest is taken when none is "
                "named. 422 `shipping_unavailable` when it does not serve the destination."
            )
        },
    )
    coupon_code = fields.String(
        validate=validate.Length(1, 100),
        metadata={
            "example": "SPRING15",
            "description": (
                "A promotion's code, in any case. 422 `coupon_invalid` (unknown, inactive, not "
                "yet started or expired: the detail says which), 422 `coupon_not_applicable`, "
                "409 `coupon_exhausted`."
            ),
        },
    )


class QuoteIn(DestinationIn):
    country = CountryCode(
        metadata={"description": "Instead of an address: the country alone (ISO 3166-1 alpha-2)."}
    )
    region = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "With `country`: a region or ISO 3166-2 subdivision code."},
    )

    @validates_schema
    def _one_destination(self, data: dict, **_: Any) -> None:
        at_most_one(data, ("address_id", "shipping_address", "country"), required=False)
        if "region" in data and "country" not in data:
            raise ValidationError("A region goes with a country.", "region")


class DiscountOut(Schema):
    promotion_id = fields.Integer(required=True)
    name = fields.String(required=True)
    code = fields.String(required=True, allow_none=True)
    target = fields.String(required=True, validate=validate.OneOf(["order", "items", "shipping"]))
    amount = MoneyOutput(required=True)


class QuoteItemOut(Schema):
    variant_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    unit_price = MoneyOutput(required=True)
    subtotal = MoneyOutput(required=True, description="unit_price × quantity.")
    discount = MoneyOutput(required=True)
    tax = MoneyOutput(required=True)
    total = MoneyOutput(required=True, description="subtotal − discount, plus tax unless included.")


class ShippingMethodOfferOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    price = MoneyOutput(required=True, description="For this cart: 0.00 once free_over is reached.")
    min_delivery_days = fields.Integer(required=True)
    max_delivery_days = fields.Integer(required=True)


class QuoteOut(Schema):
    items = fields.List(fields.Nested(QuoteItemOut), required=True)
    subtotal = MoneyOutput(required=True)
    discount_total = MoneyOutput(required=True)
    shipping_total = MoneyOutput(required=True)
    shipping_tax = MoneyOutput(required=True, description="The part of tax_total on shipping.")
    tax_total = MoneyOutput(required=True)
    total = MoneyOutput(
        required=True,
        description="subtotal − discount_total + shipping_total, plus tax_total unless included.",
    )
    currency = fields.String(required=True, metadata={"example": "USD"})
    shipping_method = fields.Nested(ShippingMethodOfferOut, required=True, allow_none=True)
    shipping_methods = fields.List(
        fields.Nested(ShippingMethodOfferOut),
        required=True,
        metadata={"description": "Every method that serves the destination and this cart."},
    )
    discounts = fields.List(fields.Nested(DiscountOut), required=True)
    tax_included = fields.Boolean(
        required=True, metadata={"description": "Prices contain the tax (PRICES_INCLUDE_TAX)."}
    )

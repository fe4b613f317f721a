"""Orders: checkout input, and orders with their item snapshots."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate, validates_schema

from shop_api.domain.order_status import STATUSES
from shop_api.web.schemas.addresses import ShippingAddressOut
from shop_api.web.schemas.common import (
    MoneyInput,
    MoneyOutput,
    NonBlank,
    PaginationQuery,
    page_of,
    shaped,
)
from shop_api.web.schemas.quotes import DestinationIn, DiscountOut, at_most_one


class CheckoutIn(DestinationIn):
    delivery_address = NonBlank(
        1000,
        metadata={
            "example": "1 Main Street, Springfield",
            "description": "Release 1: a free-text address, shipped to as STORE_COUNTRY.",
        },
    )
    notes = fields.String(load_default="", validate=validate.Length(max=2000))
    expected_total = MoneyInput(
        description=(
            "The quote's `total` the customer agreed to: any other total is a 409 "
            "`total_changed` with the new quote in `errors.quote`, and nothing changes."
        )
    )

    @validates_schema
    def _one_destination(self, data: dict, **_: Any) -> None:
        # Keyed on delivery_address when none is given, as Release 1 clients know the error.
        at_most_one(data, ("delivery_address", "address_id", "shipping_address"), required=True)


class OrdersQuery(PaginationQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))


class OrderItemOut(Schema):
    product_id = fields.Integer(required=True)
    product_name = fields.String(required=True, metadata={"description": "As it was at checkout."})
    variant_id = fields.Integer(required=True)
    variant_title = fields.String(required=True, metadata={"description": "As it was at checkout."})
    sku = fields.String(required=True, allow_none=True)
    quantity = fields.Integer(required=True)
    price_at_purchase = MoneyOutput(required=True)
    discount = MoneyOutput(required=True, description="The line's share of every discount.")
    tax = MoneyOutput(required=True, description="Added to the line, or contained in it.")
    line_total = MoneyOutput(
        required=True,
        description="price × quantity − discount, plus tax unless `tax_included`.",
    )


class OrderShippingMethodOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "As it was at checkout."})


class OrderPaymentOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)


class OrderOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    items = fields.List(fields.Nested(OrderItemOut), required=True)
    subtotal = MoneyOutput(required=True, description="The lines' prices times quantities.")
    discount_total = MoneyOutput(required=True, description="The lines' discounts.")
    shipping_total = MoneyOutput(required=True)
    shipping_tax = MoneyOutput(required=True, description="The part of tax_total on shipping.")
    tax_total = MoneyOutput(required=True)
    total_amount = MoneyOutput(
        required=True,
        description=(
            "What is charged: subtotal − discount_total + shipping_total, plus tax_total "
            "unless `tax_included`. The lines' line_total plus shipping always add up to it."
        ),
    )
    tax_included = fields.Boolean(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    delivery_address = fields.String(
        required=True,
        metadata={"description": "The free text, or the shipping address on one line."},
    )
    shipping_address = fields.Nested(
        ShippingAddressOut,
        required=True,
        allow_none=True,
        metadata={"description": "A snapshot; null for a Release 1 free-text address."},
    )
    shipping_method = fields.Nested(OrderShippingMethodOut, required=True, allow_none=True)
    discounts = fields.List(fields.Nested(DiscountOut), required=True)
    notes = fields.String(required=True)
    payment = fields.Nested(
        OrderPaymentOut,
        required=True,
        allow_none=True,
        metadata={"description": "The order's latest payment; null until one is made."},
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


OrderPage = page_of(OrderOut, "OrderPage")


def order_out(row, schema: type[Schema] = OrderOut, **given) -> dict:
    """An order row (sql/orders.sql builds its items' and payment's JSON)."""
    # A just-placed order has no payment yet (and its query reads none).
    return shaped(schema, row, payment=row.get("payment"), **given)

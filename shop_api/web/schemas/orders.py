"""Orders: checkout input, and orders with their item snapshots."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shop_api.domain.order_status import STATUSES
from shop_api.web.schemas.common import (
    MoneyOutput,
    NonBlank,
    PaginationQuery,
    StrictSchema,
    page_of,
    shaped,
)


class CheckoutIn(StrictSchema):
    delivery_address = NonBlank(
        1000, required=True, metadata={"example": "1 Main Street, Springfield"}
    )
    notes = fields.String(load_default="", validate=validate.Length(max=2000))


class OrdersQuery(PaginationQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))


class OrderItemOut(Schema):
    product_id = fields.Integer(required=True)
    product_name = fields.String(required=True, metadata={"description": "As it was at checkout."})
    quantity = fields.Integer(required=True)
    price_at_purchase = MoneyOutput(required=True)
    line_total = MoneyOutput(required=True)


class OrderPaymentOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)


class OrderOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    items = fields.List(fields.Nested(OrderItemOut), required=True)
    subtotal = MoneyOutput(required=True)
    total_amount = MoneyOutput(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    delivery_address = fields.String(required=True)
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

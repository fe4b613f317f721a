"""Payments."""

from marshmallow import Schema, fields, validate

from shop_api.domain.order_status import PAYMENT_STATUSES
from shop_api.web.schemas.common import Id, MoneyOutput, StrictSchema, shaped


class PaymentIn(StrictSchema):
    order_id = Id(strict=True, required=True)
    payment_token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={"example": "tok_visa", "description": "A gateway token, never a card number."},
    )


class PaymentOut(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    amount = MoneyOutput(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(PAYMENT_STATUSES))
    failure_reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    settled_at = fields.DateTime(required=True, allow_none=True)


def payment_out(row) -> dict:
    return shaped(PaymentOut, row)

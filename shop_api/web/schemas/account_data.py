"""The account data routes: the export of everything stored about a user, and the deletion."""

from __future__ import annotations

from collections import defaultdict

from marshmallow import Schema, fields, validate

from shop_api.domain.account_export import AccountData
from shop_api.web.schemas.addresses import AddressOut, address_out
from shop_api.web.schemas.catalog import ReviewOut, review_out
from shop_api.web.schemas.common import StrictSchema
from shop_api.web.schemas.orders import OrderOut, order_out
from shop_api.web.schemas.payments import PaymentOut, payment_out
from shop_api.web.schemas.users import UserOut, user_out


class DeleteAccountIn(StrictSchema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class ExportedOrderOut(OrderOut):
    payments = fields.List(
        fields.Nested(PaymentOut),
        required=True,
        metadata={"description": "Every payment of the order, oldest first."},
    )


class AccountExportOut(Schema):
    user = fields.Nested(UserOut, required=True)
    addresses = fields.List(fields.Nested(AddressOut), required=True)
    orders = fields.List(
        fields.Nested(ExportedOrderOut),
        required=True,
        metadata={"description": "Newest first, each as GET /api/orders/<id> shows it."},
    )
    reviews = fields.List(fields.Nested(ReviewOut), required=True)


def account_export_out(data: AccountData) -> dict:
    payments = defaultdict(list)
    for payment in data.payments:
        payments[payment["order_id"]].append(payment_out(payment))
    return {
        "user": user_out(data.user),
        "addresses": [address_out(row) for row in data.addresses],
        "orders": [
            order_out(row, ExportedOrderOut, payments=payments[row["id"]]) for row in data.orders
        ],
        "reviews": [review_out(row) for row in data.reviews],
    }

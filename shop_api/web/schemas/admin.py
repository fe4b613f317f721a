"""The admin's views: the dashboard, users, every user's orders, and inventory."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shop_api.domain.order_status import STATUSES
from shop_api.web.schemas.catalog import MAX_STOCK
from shop_api.web.schemas.common import (
    MAX_SEARCH_LENGTH,
    Id,
    MoneyOutput,
    NonBlank,
    PaginationQuery,
    QueryFlag,
    StrictSchema,
    page_of,
    shaped,
)
from shop_api.web.schemas.orders import OrderOut, OrdersQuery, order_out
from shop_api.web.schemas.users import ROLES, UserOut

MAX_REASON_LENGTH = 500  # order_status_history.reason and inventory_ledger.reason


def _search(what: str) -> fields.String:
    return fields.String(
        validate=validate.Length(max=MAX_SEARCH_LENGTH),
        metadata={
            "description": f"Case-insensitive substring of {what}; empty means no filter.",
        },
    )


# -- dashboard ------------------------------------------------------------------------------

OrdersByStatusOut = Schema.from_dict(
    {status: fields.Integer(required=True) for status in STATUSES}, name="OrdersByStatusOut"
)


class RevenueDayOut(Schema):
    date = fields.Date(required=True, metadata={"description": "A UTC day."})
    revenue = MoneyOutput(required=True)
    orders = fields.Integer(
        required=True, metadata={"description": "Orders placed that day that count as revenue."}
    )


class TopProductOut(Schema):
    product_id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "The product's current name."})
    units_sold = fields.Integer(required=True)
    revenue = MoneyOutput(required=True)


class LowStockOut(Schema):
    """A variant on sale at or below the threshold."""

    variant_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "The product's name."})
    variant_title = fields.String(required=True, metadata={"example": "M / Red"})
    sku = fields.String(
        required=True, allow_none=True, metadata={"description": "The variant's SKU."}
    )
    stock_quantity = fields.Integer(
        required=True, metadata={"description": "The variant's stock."}
    )


class DashboardOut(Schema):
    """Revenue is the total of the orders that are paid, processing, shipped or delivered."""

    revenue_total = MoneyOutput(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    orders_total = fields.Integer(required=True, metadata={"description": "Every order."})
    orders_by_status = fields.Nested(OrdersByStatusOut, required=True)
    customers_total = fields.Integer(required=True)
    new_customers_30d = fields.Integer(
        required=True, metadata={"description": "Customers registered in the last 30 days."}
    )
    revenue_by_day = fields.List(
        fields.Nested(RevenueDayOut),
        required=True,
        metadata={
            "description": (
                "30 rows, oldest first, ending today (UTC); days without sales have zeros. "
                "An order counts on the day it was placed."
            )
        },
    )
    top_products = fields.List(
        fields.Nested(TopProductOut),
        required=True,
        metadata={"description": "Up to 10 best sellers of all time, by units in revenue orders."},
    )
    low_stock = fields.List(
        fields.Nested(LowStockOut),
        required=True,
        metadata={
            "description": (
                "Up to 20 variants on sale (the variant and its product active) at or below the "
                "low-stock threshold, emptiest first; `GET /api/admin/inventory?low_stock=true` "
                "lists them all."
            )
        },
    )


# -- users ----------------------------------------------------------------------------------


class UsersQuery(PaginationQuery):
    search = _search("the email or the full name")
    role = fields.String(validate=validate.OneOf(ROLES))
    is_active = QueryFlag("`true`: active accounts only; `false`: deactivated ones only.")


UserPage = page_of(UserOut, "UserPage")


# -- orders ---------------------------------------------------------------------------------


class AdminOrdersQuery(OrdersQuery):
    user_id = Id(metadata={"description": "Only this user's orders."})


class OrderOwnerOut(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)


class AdminOrderOut(OrderOut):
    user = fields.Nested(OrderOwnerOut, required=True, metadata={"description": "The customer."})


AdminOrderPage = page_of(AdminOrderOut, "AdminOrderPage")


class OrderStatusIn(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=MAX_REASON_LENGTH),
        metadata={"description": "Kept in the order's status history."},
    )


def admin_order_out(row) -> dict:
    # `owner`, as the admin pages' templates call the customer.
    return order_out(row, AdminOrderOut, user=row["owner"])


# -- inventory ------------------------------------------------------------------------------


class InventoryQuery(PaginationQuery):
    low_stock = QueryFlag("`true`: only variants low on stock; `false`: only the others.")
    search = _search("the product name or the variant's SKU")


class InventoryOut(Schema):
    """One variant's stock. A single-variant product's row is also its Release 1 row: the
    variant's SKU, stock and state are then the product's."""

    variant_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "The product's name."})
    variant_title = fields.String(
        required=True,
        metadata={"description": "The option values joined with \" / \", or \"Default\"."},
    )
    sku = fields.String(
        required=True, allow_none=True, metadata={"description": "The variant's SKU."}
    )
    stock_quantity = fields.Integer(
        required=True, metadata={"description": "The variant's stock."}
    )
    is_active = fields.Boolean(
        required=True,
        metadata={"description": "false once the variant or its product was deleted."},
    )
    low_stock = fields.Boolean(
        required=True,
        metadata={"description": "Active and at or below the low-stock threshold."},
    )


InventoryPage = page_of(InventoryOut, "InventoryPage")


def inventory_out(row) -> dict:
    return shaped(InventoryOut, row)


class InventoryUpdateIn(StrictSchema):
    """Exactly one of `stock_quantity` (the new stock) and `adjustment` (a change)."""

    stock_quantity = fields.Integer(
        strict=True,
        validate=validate.Range(0, MAX_STOCK),
        metadata={"description": "The counted stock: replaces the current one."},
    )
    adjustment = fields.Integer(
        strict=True,
        validate=validate.Range(-MAX_STOCK, MAX_STOCK),
        metadata={"description": "Added to the current stock (negative to take away)."},
    )
    reason = NonBlank(
        MAX_REASON_LENGTH,
        metadata={"description": "Why; kept in the inventory ledger. Required with `adjustment`."},
    )

    @validates_schema
    def _one_form(self, data: dict, **_: Any) -> None:
        absolute, relative = "stock_quantity" in data, "adjustment" in data
        if absolute and relative:
            raise ValidationError(
                "Send either stock_quantity or adjustment, not both.", "adjustment"
            )
        if not absolute and not relative:
            raise ValidationError(
                "Send stock_quantity (the new stock) or adjustment (a change) with a reason.",
                "stock_quantity",
            )
        if relative and "reason" not in data:
            raise ValidationError("Required with adjustment.", "reason")

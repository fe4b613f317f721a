"""The cart: what the customer is about to buy, at live prices."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shop_api.web.schemas.common import Id, MoneyOutput, StrictSchema, shaped

# cart_items.quantity is an integer column; more than the stock is refused anyway (409).
MAX_QUANTITY = 2**31 - 1


def Quantity(**kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_QUANTITY), **kwargs)


class CartItemIn(StrictSchema):
    variant_id = Id(strict=True, metadata={"description": "The variant to buy."})
    product_id = Id(
        strict=True,
        metadata={
            "description": (
                "Instead of `variant_id`, for a product with a single active variant (the "
                "Release 1 body); 422 `variant_required` for a product with several."
            )
        },
    )
    quantity = Quantity(
        load_default=1, metadata={"description": "Added to the quantity already in the cart."}
    )

    @validates_schema
    def _one_of(self, data: dict, **_: Any) -> None:
        if "variant_id" in data and "product_id" in data:
            raise ValidationError("Send variant_id or product_id, not both.", "variant_id")
        if "variant_id" not in data and "product_id" not in data:
            # Keyed as Release 1 clients know it.
            raise ValidationError(
                "Missing data for required field (variant_id, or product_id for a product "
                "without variants).",
                "product_id",
            )


class CartItemUpdateIn(StrictSchema):
    quantity = Quantity(required=True)


class CartProductOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    price = MoneyOutput(required=True)
    image_url = fields.String(required=True, allow_none=True)
    stock_quantity = fields.Integer(
        required=True, metadata={"description": "What can be bought now; 0 once withdrawn."}
    )
    in_stock = fields.Boolean(required=True)


class CartVariantOut(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True, metadata={"example": "M / Red"})
    sku = fields.String(required=True, allow_none=True)
    options = fields.Dict(
        keys=fields.String(), values=fields.String(), required=True,
        metadata={"example": {"Size": "M", "Colour": "Red"}},
    )
    price = MoneyOutput(required=True)
    stock_quantity = fields.Integer(
        required=True, metadata={"description": "What can be bought now; 0 once withdrawn."}
    )
    in_stock = fields.Boolean(required=True)


class CartItemOut(Schema):
    id = fields.Integer(required=True)
    product = fields.Nested(CartProductOut, required=True)
    variant = fields.Nested(CartVariantOut, required=True)
    quantity = fields.Integer(required=True)
    unit_price = MoneyOutput(required=True)  # the variant's price
    line_total = MoneyOutput(required=True)


class CartOut(Schema):
    id = fields.Integer(required=True)
    items = fields.List(fields.Nested(CartItemOut), required=True)
    item_count = fields.Integer(
        required=True, metadata={"description": "Units in the cart (sum of the quantities)."}
    )
    subtotal = MoneyOutput(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})


def cart_out(row, currency: str) -> dict:
    """A cart_view row (sql/cart.sql builds the items' JSON) in the shop's currency."""
    return shaped(CartOut, row, currency=currency)

"""Promotions, as the admin routes (and pages) take and answer them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from shop_api.domain.promotion_admin import KINDS, TARGETS
from shop_api.web.schemas.common import (
    Id,
    Integer,
    JsonBoolean,
    MoneyInput,
    MoneyOutput,
    NonBlank,
    PaginationQuery,
    QueryFlag,
    StrictSchema,
    page_of,
    shaped,
)

CODE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_TARGETS = 1000

_HUNDRED = Decimal(100)


def _ids(what: str) -> fields.List:
    return fields.List(
        Id(strict=True),
        load_default=list,
        validate=validate.Length(max=MAX_TARGETS),
        metadata={"description": f"With target `items`: the {what} it discounts."},
    )


class PromotionIn(StrictSchema):
    """A whole promotion (create and replace); times_used is the database's, never sent."""

    name = NonBlank(200, required=True, metadata={"example": "Spring sale"})
    code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(CODE_PATTERN, error="Letters, digits, - and _, up to 64."),
        metadata={
            "example": "SPRING15",
            "description": "Null: applies automatically. Unique regardless of case.",
        },
    )
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    value = MoneyInput(
        load_default=Decimal(0),
        description="A percentage (15 = 15 %, 0 to 100) or an amount of money; unused for "
        "free_shipping.",
    )
    target = fields.String(required=True, validate=validate.OneOf(TARGETS))
    product_ids = _ids("products")
    category_ids = _ids("categories (and their sub-categories)")
    min_subtotal = MoneyInput(
        load_default=None, allow_none=True, description="The subtotal before discounts needed."
    )
    starts_at = fields.AwareDateTime(load_default=None, allow_none=True)
    ends_at = fields.AwareDateTime(load_default=None, allow_none=True)
    usage_limit = Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(0, 2**31 - 1)
    )
    usage_limit_per_customer = Integer(
        strict=True, load_default=None, allow_none=True, validate=validate.Range(1, 2**31 - 1)
    )
    is_active = JsonBoolean(load_default=True)

    @validates_schema
    def _consistent(self, data: dict, **_: Any) -> None:
        kind, target = data.get("kind"), data.get("target")
        if kind == "percentage" and data.get("value", 0) > _HUNDRED:
            raise ValidationError("A percentage is at most 100.", "value")
        if kind == "free_shipping" and target not in (None, "shipping"):
            raise ValidationError("free_shipping goes with target shipping.", "target")
        targeted = data.get("product_ids") or data.get("category_ids")
        if target == "items" and not targeted:
            raise ValidationError("An items promotion needs products or categories.", "product_ids")
        if target not in (None, "items") and targeted:
            raise ValidationError("Only an items promotion targets products.", "product_ids")
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts is not None and ends is not None and starts >= ends:
            raise ValidationError("Must be after starts_at.", "ends_at")

    @post_load
    def _tidy(self, data: dict, **_: Any) -> dict:
        data["name"] = data["name"].strip()
        data["product_ids"] = sorted(set(data["product_ids"]))
        data["category_ids"] = sorted(set(data["category_ids"]))
        if data["kind"] == "free_shipping":
            data["value"] = Decimal(0)
        return data


class PromotionOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    code = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    value = MoneyOutput(required=True, description="A percentage or an amount of money.")
    target = fields.String(required=True, validate=validate.OneOf(TARGETS))
    product_ids = fields.List(fields.Integer(), required=True)
    category_ids = fields.List(fields.Integer(), required=True)
    min_subtotal = MoneyOutput(required=True, allow_none=True)
    starts_at = fields.DateTime(required=True, allow_none=True)
    ends_at = fields.DateTime(required=True, allow_none=True)
    usage_limit = fields.Integer(required=True, allow_none=True)
    usage_limit_per_customer = fields.Integer(required=True, allow_none=True)
    times_used = fields.Integer(
        required=True, metadata={"description": "Uses taken by orders not cancelled."}
    )
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class PromotionsQuery(PaginationQuery):
    is_active = QueryFlag("Only the active (true) or the deactivated (false) ones.")
    q = fields.String(
        validate=validate.Length(1, 200),
        metadata={"description": "In the name or the code, regardless of case."},
    )


PromotionPage = page_of(PromotionOut, "PromotionPage")


def promotion_out(row: Any) -> dict:
    return shaped(PromotionOut, row)

"""Shipping zones and methods, as the admin routes (and pages) take and answer them."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from shop_api.domain.countries import CODES, REST_OF_WORLD
from shop_api.domain.limits import MAX_WEIGHT_GRAMS
from shop_api.web.schemas.common import (
    CountryCode,
    JsonBoolean,
    MoneyInput,
    MoneyOutput,
    NonBlank,
    StrictSchema,
    shaped,
)

MAX_ZONE_NAME_LENGTH = 200
MAX_METHOD_NAME_LENGTH = 200
MAX_DELIVERY_DAYS = 365


def _one_rest_of_world(countries: list[str]) -> None:
    if REST_OF_WORLD in countries and len(set(countries)) > 1:
        raise ValidationError(f'"{REST_OF_WORLD}" (the rest of the world) stands alone.')


def _zone_name(**kwargs: Any) -> fields.String:
    return NonBlank(MAX_ZONE_NAME_LENGTH, metadata={"example": "North America"}, **kwargs)


def _countries(**kwargs: Any) -> fields.List:
    return fields.List(
        CountryCode(extra=(REST_OF_WORLD,)),
        validate=[validate.Length(1, len(CODES)), _one_rest_of_world],
        metadata={
            "description": (
                "ISO 3166-1 alpha-2 codes (any case; answered in upper case), each in one zone "
                'at most; or `["*"]`: every country no other zone lists. Repeats count once.'
            ),
            "example": ["US", "CA"],
        },
        **kwargs,
    )


class ZoneUpdateIn(StrictSchema):
    """Every field optional: only what is sent changes; `countries` replaces the zone's."""

    name = _zone_name()
    countries = _countries()

    @post_load
    def _distinct(self, data: dict, **_: Any) -> dict:
        if "countries" in data:
            data["countries"] = list(dict.fromkeys(data["countries"]))
        return data


class ZoneIn(ZoneUpdateIn):
    name = _zone_name(required=True)
    countries = _countries(required=True)


def _method_name(**kwargs: Any) -> fields.String:
    return NonBlank(MAX_METHOD_NAME_LENGTH, metadata={"example": "Standard"}, **kwargs)


def _free_over(**kwargs: Any) -> fields.Decimal:
    return MoneyInput(
        description="Free when the cart's subtotal after discounts reaches this; null: never.",
        allow_none=True,
        **kwargs,
    )


def _max_weight_grams(**kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(0, MAX_WEIGHT_GRAMS),
        metadata={"description": "Not offered for a heavier cart; null: no limit."},
        **kwargs,
    )


def _min_days(**kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(0, MAX_DELIVERY_DAYS),
        metadata={"description": "Business days, at least."},
        **kwargs,
    )


def _max_days(**kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(0, MAX_DELIVERY_DAYS),
        metadata={"description": "Business days, at most; not less than `min_delivery_days`."},
        **kwargs,
    )


def _is_active(**kwargs: Any) -> fields.Boolean:
    return JsonBoolean(metadata={"description": "An inactive method is never offered."}, **kwargs)


class MethodUpdateIn(StrictSchema):
    """Every field optional: only what is sent changes; null clears `free_over` or
    `max_weight_grams`."""

    name = _method_name()
    price = MoneyInput()
    free_over = _free_over()
    max_weight_grams = _max_weight_grams()
    min_delivery_days = _min_days()
    max_delivery_days = _max_days()
    is_active = _is_active()

    @validates_schema
    def _days_in_order(self, data: dict, **_: Any) -> None:
        # Both sent; with one of them, the database checks it against the stored other.
        low, high = data.get("min_delivery_days"), data.get("max_delivery_days")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must not be less than min_delivery_days.", "max_delivery_days")


class MethodIn(MethodUpdateIn):
    name = _method_name(required=True)
    price = MoneyInput(required=True)
    free_over = _free_over(load_default=None)
    max_weight_grams = _max_weight_grams(load_default=None)
    min_delivery_days = _min_days(required=True)
    max_delivery_days = _max_days(required=True)
    is_active = _is_active(load_default=True)


class MethodOut(Schema):
    id = fields.Integer(required=True)
    zone_id = fields.Integer(required=True)
    name = fields.String(required=True)
    price = MoneyOutput(required=True)
    free_over = MoneyOutput(required=True, allow_none=True)
    max_weight_grams = fields.Integer(required=True, allow_none=True)
    min_delivery_days = fields.Integer(required=True)
    max_delivery_days = fields.Integer(required=True)
    is_active = fields.Boolean(required=True)


class ZoneOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    countries = fields.List(
        fields.String(),
        required=True,
        metadata={"description": '"*" first, then by code.', "example": ["CA", "US"]},
    )
    methods = fields.List(
        fields.Nested(MethodOut),
        required=True,
        metadata={"description": "Inactive ones included; cheapest first."},
    )


class ZoneListOut(Schema):
    items = fields.List(fields.Nested(ZoneOut), required=True)


def method_out(row: Any) -> dict:
    return shaped(MethodOut, row)


def zone_out(row: Any) -> dict:
    """A row of shipping_zones (sql/shipping.sql): its methods built as JSON."""
    return shaped(ZoneOut, row, methods=[method_out(method) for method in row["methods"]])

"""Tax rates, as the admin routes (and pages) take and answer them."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from shop_api.domain.tax import DEFAULT_TAX_CLASS, TAX_CLASSES
from shop_api.web.schemas.common import (
    CountryCode,
    NonBlank,
    PaginationQuery,
    RateInput,
    RateOutput,
    StrictSchema,
    page_of,
    rate_text,
    shaped,
)

MAX_REGION_LENGTH = 100
MAX_TAX_NAME_LENGTH = 100

_TAX_CLASS_RULE = "`standard`, `reduced` or `zero`: the rate applies to the products of this class."


def TaxClass(**kwargs: Any) -> fields.String:  # noqa: N802 - reads like a field
    return fields.String(
        validate=validate.OneOf(TAX_CLASSES),
        metadata={"description": _TAX_CLASS_RULE, **kwargs.pop("metadata", {})},
        **kwargs,
    )


def _region(**kwargs: Any) -> fields.String:
    return NonBlank(
        MAX_REGION_LENGTH,
        allow_none=True,
        metadata={
            "description": (
                "A state, province or other region (free text or an ISO 3166-2 code such as "
                "`US-CA`), matched regardless of case against the destination's; null: the "
                "whole country. A region's rate beats the country's."
            ),
            "example": "CA",
        },
        **kwargs,
    )


def _name(**kwargs: Any) -> fields.String:
    return NonBlank(MAX_TAX_NAME_LENGTH, metadata={"example": "VAT"}, **kwargs)


class TaxRateUpdateIn(StrictSchema):
    """Every field optional: only what is sent changes; null `region` makes it country-wide."""

    country = CountryCode()
    region = _region()
    tax_class = TaxClass()
    rate = RateInput()
    name = _name()

    @post_load
    def _trim(self, data: dict, **_: Any) -> dict:
        for key in ("region", "name"):
            if isinstance(data.get(key), str):
                data[key] = data[key].strip()
        return data


class TaxRateIn(TaxRateUpdateIn):
    country = CountryCode(required=True)
    region = _region(load_default=None)
    tax_class = TaxClass(load_default=DEFAULT_TAX_CLASS)
    rate = RateInput(required=True)
    name = _name(required=True)


class TaxRateOut(Schema):
    id = fields.Integer(required=True)
    country = fields.String(required=True, metadata={"example": "DE"})
    region = fields.String(required=True, allow_none=True)
    tax_class = fields.String(required=True, validate=validate.OneOf(TAX_CLASSES))
    rate = RateOutput(required=True)
    name = fields.String(required=True)


class TaxRatesQuery(PaginationQuery):
    country = CountryCode(metadata={"description": "Only this country's rates."})


TaxRatePage = page_of(TaxRateOut, "TaxRatePage")


def tax_rate_out(row: Any) -> dict:
    return shaped(TaxRateOut, row, rate=rate_text(row["rate"]))

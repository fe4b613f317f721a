"""Pieces every resource shares: ids, money, pages, problems."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

MAX_ID = 2**63 - 1
MAX_MONEY = Decimal("9999999999.99")  # numeric(12,2)


class StrictSchema(Schema):
    """Request bodies: an unknown field is an error, so nothing can be mass-assigned."""

    class Meta:
        unknown = RAISE


class QuerySchema(Schema):
    """Query strings: unknown parameters (cache busters and the like) are ignored."""

    class Meta:
        unknown = EXCLUDE


def Id(**kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    return fields.Integer(strict=False, validate=validate.Range(1, MAX_ID), **kwargs)


def _at_most_two_places(value: Decimal) -> None:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValidationError("Use at most two decimal places.")


def MoneyInput(**kwargs) -> fields.Decimal:  # noqa: N802
    """A string or a number, at most two decimal places, never negative."""
    return fields.Decimal(
        allow_nan=False,
        validate=[validate.Range(Decimal("0"), MAX_MONEY), _at_most_two_places],
        metadata={"example": "19.99"},
        **kwargs,
    )


def MoneyOutput(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(metadata={"pattern": r"^-?\d+\.\d{2}$", "example": "19.99"}, **kwargs)


class PaginationQuery(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class PageSchema(Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def page_of(item_schema: type[Schema], name: str) -> type[Schema]:
    """The schema of `{"items": [...], "page", "per_page", "total", "pages"}`."""
    return type(name, (PageSchema,), {"items": fields.List(fields.Nested(item_schema), required=True)})


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(required=True)
    detail = fields.String()
    errors = fields.Raw(metadata={"description": "Field errors: {field: [message]}"})
    request_id = fields.String()


def page_body(items: list, *, page: int, per_page: int, total: int) -> dict:
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": (total + per_page - 1) // per_page,
    }

"""Pieces every resource shares: ids, money, pages, problems."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

MAX_ID = 2**63 - 1
MAX_MONEY = Decimal("9999999999.99")  # numeric(12,2)
MAX_SEARCH_LENGTH = 200


def _refuse_nul(value: Any, path: str = "") -> None:
    # PostgreSQL text cannot hold U+0000: refuse it here rather than fail in the database.
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError({path or "_schema": ["NUL characters are not allowed."]})
    elif isinstance(value, Mapping):  # a JSON object, or the MultiDict of a query string
        for key, item in value.items():
            _refuse_nul(item, str(key))
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item, path)


class _InputSchema(Schema):
    @pre_load
    def _no_nul_characters(self, data: Any, **_: Any) -> Any:
        _refuse_nul(data)
        return data


class StrictSchema(_InputSchema):
    """Request bodies: an unknown field is an error, so nothing can be mass-assigned."""

    class Meta:
        unknown = RAISE


class QuerySchema(_InputSchema):
    """Query strings: unknown parameters (cache busters and the like) are ignored."""

    class Meta:
        unknown = EXCLUDE


def Id(*, strict: bool = False, **kwargs) -> fields.Integer:  # noqa: N802 - reads like a field
    """An id; `strict=True` in JSON bodies, where "7" is a string and not an id."""
    return fields.Integer(strict=strict, validate=validate.Range(1, MAX_ID), **kwargs)


_NOT_BLANK = re.compile(r"\S")


def _not_blank(value: str) -> None:
    if not _NOT_BLANK.search(value):
        raise ValidationError("Must not be blank.")


def NonBlank(max_length: int, *, metadata: dict | None = None, **kwargs) -> fields.String:  # noqa: N802
    """1 to `max_length` characters, not all of them whitespace."""
    return fields.String(
        validate=[validate.Length(1, max_length), _not_blank],
        metadata={"pattern": _NOT_BLANK.pattern, **(metadata or {})},
        **kwargs,
    )


def QueryFlag(description: str) -> fields.Boolean:  # noqa: N802
    """A `?flag=true|false` filter; any other spelling is a 422."""
    return fields.Boolean(truthy={"true"}, falsy={"false"}, metadata={"description": description})


def _at_most_two_places(value: Decimal) -> None:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValidationError("Use at most two decimal places.")


_MONEY_TEXT = re.compile(r"^\d{1,10}(\.\d{1,2})?$")


class _Money(fields.Decimal):
    default_error_messages = {
        "invalid": 'Not a valid amount: use a number or a decimal string such as "19.99".'
    }

    # Decimal() alone would take "1e2" or " 5": a string must be the plain form the document shows.
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not _MONEY_TEXT.match(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def MoneyInput(**kwargs) -> fields.Decimal:  # noqa: N802
    """A string or a number, at most two decimal places, never negative."""
    return _Money(
        allow_nan=False,
        validate=[validate.Range(Decimal("0"), MAX_MONEY), _at_most_two_places],
        # Documented by hand: apispec would say "number" only, with Decimal bounds that
        # serialize as strings, which is not valid JSON Schema.
        metadata={
            "type": ["string", "number"],
            "pattern": _MONEY_TEXT.pattern,
            "minimum": 0,
            "maximum": float(MAX_MONEY),
            "example": "19.99",
        },
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
    items = fields.List(fields.Nested(item_schema), required=True)
    return type(name, (PageSchema,), {"items": items})


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(required=True)
    detail = fields.String()
    errors = fields.Raw(metadata={"description": "Field errors: {field: [message]}"})
    request_id = fields.String()


def page_body(items: list, paging: Mapping[str, int], total: int) -> dict:
    """A page answer; `paging` holds the `page` and `per_page` of a loaded PaginationQuery."""
    page, per_page = paging["page"], paging["per_page"]
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": (total + per_page - 1) // per_page,
    }

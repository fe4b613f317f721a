"""Pieces every resource shares: ids, money, pages, problems."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from itertools import islice
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
)

from shop_api.domain.countries import is_country
from shop_api.domain.limits import MAX_MONEY, TOTAL_CAP, capped_total
from shop_api.errors import MAX_FIELD_ERRORS, Unprocessable

MAX_ID = 2**63 - 1
MAX_SEARCH_LENGTH = 200


def _refuse_nul(value: Any) -> None:
    # PostgreSQL text cannot hold U+0000: refuse it here rather than fail in the database.
    # A loop, not recursion: the depth of what comes in is not this function's to trust.
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValidationError({path or "_schema": ["NUL characters are not allowed."]})
        elif isinstance(item, Mapping):  # a JSON object, or the MultiDict of a query string
            stack.extend((child, str(key)) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, path) for child in item)


class _InputSchema(Schema):
    @pre_load
    def _screen(self, data: Any, **_: Any) -> Any:
        self.screen(data)
        return data

    def screen(self, data: Any) -> None:
        """Refuse what no field may hold, before any field is read."""
        _refuse_nul(data)


class StrictSchema(_InputSchema):
    """Request bodies: an unknown field is an error, so nothing can be mass-assigned."""

    class Meta:
        unknown = RAISE

    def screen(self, data: Any) -> None:
        # More unknown fields than an answer lists (MAX_FIELD_ERRORS): stop at the first ones
        # instead of building an error per field of a body made of nothing else.
        if isinstance(data, Mapping):
            known = {field.data_key or name for name, field in self.load_fields.items()}
            unknown = list(islice((key for key in data if key not in known), MAX_FIELD_ERRORS + 1))
            if len(unknown) > MAX_FIELD_ERRORS:
                message = self.error_messages["unknown"]
                raise ValidationError({str(key): [message] for key in unknown})
        super().screen(data)


class QuerySchema(_InputSchema):
    """Query strings: unknown parameters (cache busters and the like) are ignored."""

    class Meta:
        unknown = EXCLUDE


_ASCII_INTEGER = re.compile(r"-?[0-9]{1,19}")


def ascii_integer(text: str) -> int | None:
    """The integer `text` spells in ASCII digits (a minus allowed), else None.

    int() alone also reads "1_0", " 5" and "٢٠١" (Arabic-Indic digits), which no document
    of ours calls an integer: paths, query strings and forms all read numbers through here.
    """
    return int(text) if _ASCII_INTEGER.fullmatch(text) else None


class Integer(fields.Integer):
    """An integer; as text (a query string), ASCII digits only."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not self.strict:  # strict: a string is never a number
            number = ascii_integer(value)
            if number is None:
                raise self.make_error("invalid")
            value = number
        return super()._deserialize(value, attr, data, **kwargs)


def Id(*, strict: bool = False, **kwargs) -> fields.Integer:  # noqa: N802 - reads like a field
    """An id; `strict=True` in JSON bodies, where "7" is a string and not an id."""
    return Integer(strict=strict, validate=validate.Range(1, MAX_ID), **kwargs)


_NOT_BLANK = re.compile(r"\S")
# The rule as the document says it, with U+0000 (which every input schema refuses) left out.
_NOT_BLANK_DOCUMENTED = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def _not_blank(value: str) -> None:
    if not _NOT_BLANK.search(value):
        raise ValidationError("Must not be blank.")


def NonBlank(max_length: int, *, metadata: dict | None = None, **kwargs) -> fields.String:  # noqa: N802
    """1 to `max_length` characters, not all of them whitespace."""
    return fields.String(
        validate=[validate.Length(1, max_length), _not_blank],
        metadata={"pattern": _NOT_BLANK_DOCUMENTED, **(metadata or {})},
        **kwargs,
    )


class JsonBoolean(fields.Boolean):
    """`true` or `false` in a JSON body: marshmallow's Boolean also takes 1, "yes" and "on",
    which the document (type boolean) does not call booleans."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def QueryFlag(description: str) -> fields.Boolean:  # noqa: N802
    """A `?flag=true|false` filter; any other spelling is a 422."""
    return fields.Boolean(truthy={"true"}, falsy={"false"}, metadata={"description": description})


def _at_most_two_places(value: Decimal) -> None:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(Decimal("0.01")):
        raise ValidationError("Use at most two decimal places.")


_MONEY_TEXT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,2})?$")


class _Money(fields.Decimal):
    default_error_messages = {
        "invalid": 'Not a valid amount: use a number or a decimal string such as "19.99".'
    }
    text = _MONEY_TEXT

    # Decimal() alone would take "1e2" or " 5": a string must be the plain form the document shows.
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not self.text.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def MoneyInput(*, description: str | None = None, **kwargs) -> fields.Decimal:  # noqa: N802
    """A string or a number, at most two decimal places, never negative."""
    described = {"description": description} if description else {}
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
            # A number is read exactly (never through a float): 1.005 is refused like "1.005".
            "multipleOf": 0.01,
            "example": "19.99",
            **described,
        },
        **kwargs,
    )


# Six places: US combined sales-tax rates need five (New York City's 8.875 % is 0.08875).
_RATE_TEXT = re.compile(r"^0(\.[0-9]{1,6})?$")
_RATE_PLACES = Decimal("0.000001")
# Rates are answered with four places at least ("0.1900"), more only when they have them.
_RATE_SHOWN = Decimal("0.0001")


class _Rate(_Money):
    default_error_messages = {
        "invalid": 'Not a valid rate: use a number or a decimal string such as "0.19".'
    }
    text = _RATE_TEXT


def _at_most_six_places(value: Decimal) -> None:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6 and value != value.quantize(_RATE_PLACES):
        raise ValidationError("Use at most six decimal places.")


def _below_one(value: Decimal) -> None:
    if not Decimal("0") <= value < 1:
        raise ValidationError("Must be at least 0 and less than 1 (0.19 is 19 %).")


def RateInput(*, description: str | None = None, **kwargs) -> fields.Decimal:  # noqa: N802
    """A fraction from 0 up to (not including) 1, at most six places: a string or a number."""
    described = {"description": description} if description else {}
    return _Rate(
        allow_nan=False,
        validate=[_below_one, _at_most_six_places],
        metadata={
            "type": ["string", "number"],
            "pattern": _RATE_TEXT.pattern,
            "minimum": 0,
            "exclusiveMaximum": 1,
            "multipleOf": 0.000001,
            "example": "0.19",
            **described,
        },
        **kwargs,
    )


def RateOutput(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(
        metadata={
            "pattern": r"^0\.\d{4,6}$",
            "example": "0.1900",
            "description": "A fraction, four places or more: 0.1900 is 19 %, 0.08875 8.875 %.",
        },
        **kwargs,
    )


def rate_text(rate: Decimal) -> str:
    """0.190000 → "0.1900", 0.088750 → "0.08875"."""
    shown = rate.normalize()
    return str(shown.quantize(_RATE_SHOWN) if shown.as_tuple().exponent >= -4 else shown)


def _real_country(value: str) -> None:
    if not is_country(value):
        # Named when short enough to be a code someone mistyped, so a list's error says which.
        named = f"“{value}” is not" if len(value) <= 3 else "Not"
        raise ValidationError(f"{named} an ISO 3166-1 alpha-2 country code.")


_TWO_LETTERS = re.compile(r"[A-Za-z]{2}")


class _CountryCode(fields.String):
    """Read regardless of case, kept in upper case. ASCII letters only: "ß".upper() is "SS"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text.upper() if _TWO_LETTERS.fullmatch(text) else text


def CountryCode(*, extra: tuple[str, ...] = (), **kwargs) -> fields.String:  # noqa: N802
    """An assigned ISO 3166-1 alpha-2 code ("DE"), checked against pycountry's list; `extra`
    names codes of our own it also takes ("*")."""

    def check(value: str) -> None:
        if value not in extra:
            _real_country(value)

    pattern = "^([A-Za-z]{2}" + "".join(f"|{re.escape(code)}" for code in extra) + ")$"
    return _CountryCode(
        validate=check,
        metadata={"pattern": pattern, "example": "DE", **kwargs.pop("metadata", {})},
        **kwargs,
    )


def MoneyOutput(*, description: str | None = None, **kwargs) -> fields.String:  # noqa: N802
    described = {"description": description} if description else {}
    return fields.String(
        metadata={"pattern": r"^-?\d+\.\d{2}$", "example": "19.99", **described}, **kwargs
    )


class PaginationQuery(QuerySchema):
    """`page` and `per_page`, loaded with the `limit` and `offset` every page query takes."""

    page = Integer(load_default=1, validate=validate.Range(1, 1_000_000))
    per_page = Integer(load_default=20, validate=validate.Range(1, 100))

    @post_load
    def _window(self, data: dict, **_: Any) -> dict:
        # Past the cap the total is no longer exact, and an OFFSET that deep costs ever more:
        # a client narrows its filters instead (API.md, "Scale").
        if data["page"] * data["per_page"] > TOTAL_CAP:
            raise Unprocessable(
                f"page × per_page may not exceed {TOTAL_CAP:,}: narrow the filters to go "
                "further.",
                code="page_too_deep",
            )
        data["limit"] = data["per_page"]
        data["offset"] = (data["page"] - 1) * data["per_page"]
        return data


# What PaginationQuery adds to a query; the rest of it is the resource's own filters.
PAGING_KEYS = ("page", "per_page", "limit", "offset")


def page_count(total: int, per_page: int) -> int:
    """How many pages of `per_page` hold `total` items (0 for none)."""
    return (total + per_page - 1) // per_page


class PageSchema(Schema):
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(
        required=True,
        metadata={"description": f"The matches, counted exactly up to {TOTAL_CAP:,}; past "
                                 f"that {TOTAL_CAP:,} (see `total_exact`)."},
    )
    total_exact = fields.Boolean(
        required=True,
        metadata={"description": f"false when more than {TOTAL_CAP:,} match and `total` "
                                 f"says {TOTAL_CAP:,}, like a search engine's "
                                 f"\"{TOTAL_CAP:,}+\"."},
    )
    pages = fields.Integer(
        required=True, metadata={"description": "Pages of `per_page` in `total`."}
    )


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
    truncated = fields.Boolean(
        metadata={"description": f"true when `errors` lists only the first {MAX_FIELD_ERRORS}."}
    )
    request_id = fields.String()


def page_body(items: list, paging: Mapping[str, int], counted: int) -> dict:
    """A page answer; `paging` holds the `page` and `per_page` of a loaded PaginationQuery,
    `counted` what the list's SQL counted (at most TOTAL_CAP + 1)."""
    total, exact = capped_total(counted)
    return {
        "items": items,
        "page": paging["page"],
        "per_page": paging["per_page"],
        "total": total,
        "total_exact": exact,
        "pages": page_count(total, paging["per_page"]),
    }


@cache
def _answer_columns(schema: type[Schema], prefix: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, prefix + name) for name in schema().dump_fields)


def shaped(schema: type[Schema], row: Mapping[str, Any], prefix: str = "", **given: Any) -> dict:
    """The answer `schema` documents, in its field order (the order of the keys in the body),
    each field read from the row's column of that name (after `prefix`) unless `given`.

    The values are the row's own: json_response writes them (money as Decimal strings, times
    as ISO 8601) as the schema documents them. Measured on a page of 20 products (same bytes
    each way): hand-written dicts took 45-65 us, these 105-155 us, marshmallow's dump of the
    schema 0.7-1.0 ms.
    """
    return {
        name: given[name] if name in given else row[column]
        for name, column in _answer_columns(schema, prefix)
    }

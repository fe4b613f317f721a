"""JSON in and out: orjson for speed, money as exact decimal strings, numbers read exactly."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import web

from shop_api.errors import BadRequest
from shop_api.web.body_deadline import read_body

JSON_CONTENT_TYPE = "application/json"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# API.md, Hardening: a body nested deeper than this is a 400 `invalid_json`.
MAX_JSON_DEPTH = 64


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def json_response(
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = JSON_CONTENT_TYPE,
) -> web.Response:
    return web.Response(
        body=dumps(body),
        status=status,
        headers=headers,
        content_type=content_type,
        charset="utf-8",
    )


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/408/413 problem."""
    raw = await read_body(request)
    if not raw:
        raise BadRequest("The request needs a JSON object body.")
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object.")
    return value


def parse_json(raw: bytes) -> Any:
    """A JSON document whose numbers keep their exact value (a fraction is a Decimal, never a
    float), nested at most MAX_JSON_DEPTH deep; anything else is a 400 `invalid_json`.

    orjson reads every document first: it is the fast path (bodies without a fraction, nearly
    all of them, are done after it) and the judge of what is JSON (UTF-8, surrogates, NaN).
    A document with a fraction, or one orjson reads as a float or not at all (an integer past
    64 bits, `1e400`), is read again by the standard library with exact numbers.
    """
    try:
        value, vouched = orjson.loads(raw), True
    except orjson.JSONDecodeError:
        value, vouched = None, False
    if vouched and not _shape(value, strict_strings=False):
        return value
    value = _exact(raw)
    _shape(value, strict_strings=not vouched)
    return value


def _exact(raw: bytes) -> Any:
    try:
        return json.loads(
            raw.decode("utf-8"),
            parse_float=_exact_number,
            parse_int=_exact_integer,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        raise BadRequest("The body is not valid JSON.") from None


def _shape(value: Any, *, strict_strings: bool) -> bool:
    """Check the depth (and, with `strict_strings`, that every string is valid UTF-8, which
    the standard library does not); True when a float is inside.

    One level at a time, looking only at types: this runs on every body, up to a MiB of it.
    """
    has_float = False
    level, depth = [value], 1
    while level:
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"The body is nested deeper than {MAX_JSON_DEPTH} levels.")
        below = []
        for item in level:
            kind = type(item)
            if kind is dict:
                children = item.values()
                if strict_strings:
                    _check_strings(item)
            elif kind is list:
                children = item
            else:
                continue
            for child in children:
                kind = type(child)
                if kind is dict or kind is list:
                    below.append(child)
                elif kind is float:
                    has_float = True
                elif strict_strings and kind is str:
                    _check_strings((child,))
        level, depth = below, depth + 1
    return has_float


def _check_strings(texts: Any) -> None:
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate written as an escape
            raise BadRequest("The body is not valid JSON.") from None


def _exact_number(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        # An exponent past what Decimal holds (1e99999999999999999999): an infinite amount,
        # which every number field refuses with a 422, as it does 1e400.
        return Decimal("-Infinity" if text.startswith("-") else "Infinity")


def _exact_integer(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # more digits than int() converts (4,300)
        return Decimal("-Infinity" if text.startswith("-") else "Infinity")


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")

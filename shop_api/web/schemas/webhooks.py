"""Webhook endpoints and their deliveries, as the admin routes (and pages) take and answer them."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from shop_api.domain.webhook_admin import (
    DELIVERY_STATUSES,
    MAX_DESCRIPTION_LENGTH,
    MAX_EVENTS,
    MAX_URL_LENGTH,
    PATTERN_CHOICES,
    unique_events,
)
from shop_api.domain.webhook_events import PATTERNS
from shop_api.web.schemas.common import JsonBoolean, PaginationQuery, StrictSchema, page_of, shaped

# Quoted in full when it is short enough to be a pattern someone mistyped; a long one is cut,
# so an error never echoes a megabyte back.
_NAMED_UP_TO = 64
_SPACE = re.compile(r"\s")


def _known_pattern(value: str) -> None:
    if value not in PATTERNS:
        shown = value if len(value) <= _NAMED_UP_TO else value[:_NAMED_UP_TO] + "…"
        raise ValidationError(
            f"“{shown}” is not an event or a pattern: use an event name (order.paid), a "
            "family (order.*) or *."
        )


def _url_text(value: str) -> None:
    # The guard (url_not_allowed) judges where a URL points; a space or a control character
    # would not survive to the request line, so it is refused as a malformed field here.
    if _SPACE.search(value) or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError("A URL has no spaces or control characters.")


def _url(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[validate.Length(1, MAX_URL_LENGTH), _url_text],
        metadata={
            "example": "https://example.com/hooks/shop",
            "pattern": r"^[^\s\u0000-\u001f\u007f]+$",
            "description": "https, to a host that resolves to public addresses only "
            "(422 `url_not_allowed` otherwise, unless the server allows private ones).",
        },
        **kwargs,
    )


def _events(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.String(validate=_known_pattern, metadata={"enum": list(PATTERN_CHOICES)}),
        validate=validate.Length(
            1, MAX_EVENTS, error=f"Give 1 to {MAX_EVENTS} events or patterns."
        ),
        metadata={
            "description": "Event names and patterns: `order.paid`, `order.*`, `*`. Repeats "
            "count once.",
            "example": ["order.paid", "payment.*"],
        },
        **kwargs,
    )


def _description(**kwargs: Any) -> fields.String:
    return fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Length(max=MAX_DESCRIPTION_LENGTH),
        metadata={"description": "For the admin; null is empty.", "example": "ERP sync"},
        **kwargs,
    )


class _EndpointFields(StrictSchema):
    @post_load
    def _tidy(self, data: dict, **_: Any) -> dict:
        data["events"] = unique_events(data["events"])
        if data.get("description") is None:
            data["description"] = ""
        return data


class WebhookIn(_EndpointFields):
    """A new endpoint; its secret is the server's to make."""

    url = _url(required=True)
    events = _events(required=True)
    description = _description()


class WebhookReplaceIn(_EndpointFields):
    """Every field of an endpoint the admin sets (a missing description is empty)."""

    url = _url(required=True)
    events = _events(required=True)
    description = _description()
    is_active = JsonBoolean(
        required=True,
        metadata={
            "description": "false disables the endpoint (nothing is sent to it); true enables "
            "it again, with its failures in a row back to 0."
        },
    )


class WebhookOut(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    description = fields.String(required=True)
    is_active = fields.Boolean(
        required=True,
        metadata={"description": "false once disabled, by an admin or after 20 failures."},
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    failures_in_a_row = fields.Integer(
        required=True, metadata={"description": "Failed attempts since the last success."}
    )
    disabled_at = fields.DateTime(required=True, allow_none=True)


class WebhookWithSecretOut(WebhookOut):
    secret = fields.String(
        required=True,
        metadata={
            "description": "Signs every delivery (`Shop-Signature`); shown only in this answer.",
            "example": "whsec_3mAvYqB0oV7mC2pL9xK1tQ8rZ5nE6wH4jF0sD2gU1yI",
        },
    )


class WebhookListOut(Schema):
    items = fields.List(fields.Nested(WebhookOut), required=True)


class DeliveryOut(Schema):
    id = fields.Integer(required=True)
    event_id = fields.Integer(required=True)
    event_type = fields.String(required=True, metadata={"example": "order.paid"})
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer(required=True)
    last_status_code = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Null when no answer came."}
    )
    last_error = fields.String(required=True, allow_none=True)
    next_attempt_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "Null unless pending."}
    )
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(required=True, allow_none=True)


DeliveryPage = page_of(DeliveryOut, "WebhookDeliveryPage")


class DeliveriesQuery(PaginationQuery):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))


def webhook_out(row: Any) -> dict:
    return shaped(WebhookOut, row)


def webhook_with_secret_out(row: Any) -> dict:
    return shaped(WebhookWithSecretOut, row)


def delivery_out(row: Any) -> dict:
    return shaped(DeliveryOut, row)

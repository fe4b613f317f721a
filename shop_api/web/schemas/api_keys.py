"""API keys, as the admin routes take and answer them."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from shop_api.domain.api_keys import MAX_NAME_LENGTH, SCOPES, ordered_scopes
from shop_api.web.schemas.common import NonBlank, StrictSchema, shaped


class ApiKeyIn(StrictSchema):
    name = NonBlank(
        MAX_NAME_LENGTH,
        required=True,
        metadata={"example": "Warehouse sync", "description": "Tells the keys apart."},
    )
    scopes = fields.List(
        fields.String(validate=validate.OneOf(SCOPES)),
        required=True,
        validate=validate.Length(1, len(SCOPES), error="Choose 1 to {max}."),
        metadata={"description": "What the key opens: " + ", ".join(f"`{s}`" for s in SCOPES)},
    )

    @post_load
    def _tidy(self, data: dict, **_: Any) -> dict:
        data["name"] = data["name"].strip()
        data["scopes"] = ordered_scopes(data["scopes"])
        return data


class ApiKeyOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(
        required=True, metadata={"description": "The key's first 12 characters.",
                                 "example": "sk_a1B2c3D4e"}
    )
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "Kept to the minute: written at most once a minute."},
    )


class NewApiKeyOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)
    key = fields.String(
        required=True,
        metadata={"description": "`sk_` and 40 letters and digits. Shown only in this answer: "
                  "only its hash is kept."},
    )
    created_at = fields.DateTime(required=True)


class ApiKeyListOut(Schema):
    items = fields.List(fields.Nested(ApiKeyOut), required=True)


def api_key_out(row: Any) -> dict:
    return shaped(ApiKeyOut, row)


def new_api_key_out(row: Any, key: str) -> dict:
    return shaped(NewApiKeyOut, row, key=key)

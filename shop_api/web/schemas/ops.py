"""Operations: health."""

from marshmallow import Schema, fields


class HealthOut(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})
    database = fields.String(required=True, metadata={"example": "ok"})
    broker = fields.String(required=True, metadata={"example": "ok"})
    version = fields.String(required=True)
    outbox_lag_seconds = fields.Float(
        allow_none=True,
        metadata={"description": "Age of the oldest message the relay has not sent yet (0: none)"},
    )

"""Users, logins and tokens."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shop_api.security.passwords import MAX_PASSWORD_BYTES
from shop_api.web.schemas.common import StrictSchema, shaped

ROLES = ("customer", "admin")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")


# The rule below as a JSON Schema pattern can say it: lengths count characters there, so the
# byte limit is three cases (1-byte, up to 2-byte, any characters), each under 72 bytes.
_PASSWORD_DOCUMENTED = (
    r"^(?=[\s\S]*[A-Za-z])(?=[\s\S]*[0-9])"
    r"(?:[\u0001-\u007f]{8,72}|[\u0001-\u07ff]{8,36}|[^\u0000]{8,18})$"
)


def check_new_password(value: str) -> None:
    size = len(value.encode())
    if size < 8 or size > MAX_PASSWORD_BYTES:
        raise ValidationError(f"Use 8 to {MAX_PASSWORD_BYTES} bytes.")
    if not _LETTER.search(value) or not _DIGIT.search(value):
        raise ValidationError("Use at least one letter and one digit.")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_deliverable(value: str) -> None:
    """Refuse what marshmallow's syntax check lets through but no email could be sent to:
    control characters (valid inside quotes, but they break the To: header of every message),
    and non-ASCII addresses, which need SMTPUTF8 on every relay down to the recipient's."""
    if _CONTROL.search(value):
        raise ValidationError("Control characters are not allowed in an email address.")
    if not value.isascii():
        raise ValidationError(
            "Use an ASCII email address (an internationalised domain in its xn-- form)."
        )


def EmailField(**kwargs) -> fields.Email:  # noqa: N802 - reads like a field class
    return fields.Email(
        validate=[validate.Length(max=254), check_deliverable],
        metadata={"pattern": r"^[\x21-\x7e]+$", "description": "An ASCII mailbox address."},
        **kwargs,
    )


def FullName(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.Length(max=200), **kwargs)


def NewPassword(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(
        validate=check_new_password,
        metadata={
            "minLength": 8,
            "maxLength": MAX_PASSWORD_BYTES,
            "pattern": _PASSWORD_DOCUMENTED,
            "description": (
                f"8 to {MAX_PASSWORD_BYTES} bytes of UTF-8 (72 ASCII characters, fewer "
                "otherwise), with a letter and a digit."
            ),
        },
        **kwargs,
    )


class RegisterIn(StrictSchema):
    email = EmailField(required=True)
    password = NewPassword(required=True)
    full_name = FullName(load_default="")


class LoginIn(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RefreshIn(StrictSchema):
    refresh_token = fields.String(validate=validate.Length(min=1, max=4096))


class ProfileIn(StrictSchema):
    full_name = FullName()
    email = EmailField()
    current_password = fields.String(
        load_only=True,
        validate=validate.Length(min=1, max=1024),
        metadata={"description": "Required with `email`: an email change needs the password."},
    )

    @validates_schema
    def _password_with_email(self, data: dict, **_) -> None:
        if "email" in data and "current_password" not in data:
            raise ValidationError(
                "Required to change the email.", field_name="current_password"
            )


class ChangePasswordIn(StrictSchema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = NewPassword(required=True)


class UserOut(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    full_name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class TokenPairOut(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Access token seconds"})


class LoginOut(TokenPairOut):
    user = fields.Nested(UserOut, required=True)


def user_out(row) -> dict:
    return shaped(UserOut, row)

"""Addresses: the address book's input and answers, and the fields checkout and the quote reuse.

`ShippingAddressIn` is an address as a body field (`shipping_address` of checkout and the quote);
`AddressIn` is that plus the book's `is_default`; countries are schemas.common's `CountryCode`.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load

from shop_api.domain.countries import subdivision_codes
from shop_api.web.schemas.common import CountryCode, JsonBoolean, StrictSchema, shaped

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_CLASS = r"\u0000-\u001f\u007f"
_ONE_LINE = rf"^[^{_CONTROL_CLASS}]*$"
_ONE_LINE_NOT_BLANK = rf"^[^{_CONTROL_CLASS}]*[^\s{_CONTROL_CLASS}][^{_CONTROL_CLASS}]*$"


class AddressLine(fields.String):
    """One line of an address label: at most `max_length` characters as sent, no control
    characters (a line break would split the label), spaces around it dropped.

    A required line must hold more than spaces; an optional one may be null, and one that is
    empty or only spaces is stored as null, so "no company" has one spelling.
    """

    def __init__(
        self,
        max_length: int,
        *,
        required: bool = False,
        example: str | None = None,
        metadata: dict | None = None,
        **kwargs: Any,
    ) -> None:
        self.max_length = max_length
        documented: dict[str, Any] = {
            "maxLength": max_length,
            "pattern": _ONE_LINE_NOT_BLANK if required else _ONE_LINE,
            **(metadata or {}),
        }
        if example is not None:
            documented["example"] = example
        if required:
            documented["minLength"] = 1
        else:
            kwargs.setdefault("load_default", None)
        super().__init__(required=required, allow_none=not required, metadata=documented, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        # Measured as sent, as the document's maxLength measures it.
        if len(text) > self.max_length:
            raise ValidationError(f"Use at most {self.max_length} characters.")
        if _CONTROL.search(text):
            raise ValidationError("Control characters (line breaks, tabs) are not allowed.")
        text = text.strip()
        if text:
            return text
        if self.required:
            raise ValidationError("Must not be blank.")
        return None


# e.g. "US-CA", "de-by", "FR-75C": what an ISO 3166-2 code looks like, whether or not it is one.
_SUBDIVISION_SHAPE = re.compile(r"([A-Za-z]{2})-([A-Za-z0-9]{1,3})")


def _checked_region(region: str, country: str) -> str:
    """The region as stored: an ISO 3166-2 code of the country in upper case, else the text.

    Text shaped like a code is a code when it names the country ("us-ca" is US-CA, and
    "US-ZZ" is refused as no subdivision of US) or is a real code of another country
    ("DE-BY" in a US address is refused); anything else ("NY-5") is free text.
    """
    shape = _SUBDIVISION_SHAPE.fullmatch(region)
    if shape is None:
        return region
    code = region.upper()
    if shape.group(1).upper() == country:
        if code not in subdivision_codes():
            raise ValidationError(f"{code} is not an ISO 3166-2 subdivision of {country}.")
        return code
    if code in subdivision_codes():
        raise ValidationError(f"{code} is a subdivision of {code[:2]}, not of {country}.")
    return region


class ShippingAddressIn(StrictSchema):
    """An address: where an order goes (checkout's and the quote's `shipping_address`)."""

    full_name = AddressLine(200, required=True, example="Erika Mustermann")
    company = AddressLine(200)
    line1 = AddressLine(200, required=True, example="Heidestraße 17")
    line2 = AddressLine(200)
    city = AddressLine(100, required=True, example="Köln")
    region = AddressLine(
        100,
        example="DE-NW",
        metadata={
            "description": (
                'Free text ("California"), or an ISO 3166-2 code of the address\'s country '
                "(`US-CA`, answered in upper case). A code of another country is refused."
            )
        },
    )
    postal_code = AddressLine(20, example="51103")
    country = CountryCode(required=True)
    phone = AddressLine(40, example="+49 221 1234567")

    @post_load
    def _region_of_country(self, data: dict, **_: Any) -> dict:
        if data.get("region") is not None:
            try:
                data["region"] = _checked_region(data["region"], data["country"])
            except ValidationError as exc:
                raise ValidationError(exc.messages, "region") from None
        return data


class AddressIn(ShippingAddressIn):
    """An address of the book: the address, and whether it is the default."""

    is_default = JsonBoolean(
        metadata={
            "description": (
                "true makes this the default address (the previous default stops being it, in "
                "the same transaction). A new address is also the default when the book has "
                "none, so the first address always is. On an update, false makes the address "
                "not the default (leaving the book without one) and omitting it keeps the "
                "address's standing."
            )
        }
    )


class ShippingAddressOut(Schema):
    """An address as an order keeps it (a snapshot of the book's entry or of the body)."""

    full_name = fields.String(required=True)
    company = fields.String(required=True, allow_none=True)
    line1 = fields.String(required=True)
    line2 = fields.String(required=True, allow_none=True)
    city = fields.String(required=True)
    region = fields.String(required=True, allow_none=True)
    postal_code = fields.String(required=True, allow_none=True)
    country = fields.String(required=True, metadata={"example": "DE"})
    phone = fields.String(required=True, allow_none=True)


class AddressOut(ShippingAddressOut):
    id = fields.Integer(required=True)
    is_default = fields.Boolean(required=True)


class AddressListOut(Schema):
    items = fields.List(fields.Nested(AddressOut), required=True)


def address_out(row: Any) -> dict:
    return shaped(AddressOut, row)

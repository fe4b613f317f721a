"""Typed domain errors; the error middleware turns each into problem+json (RFC 9457)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

# API.md, Hardening: a 422 lists at most this many field errors, with "truncated": true when cut.
MAX_FIELD_ERRORS = 20

# RFC 9110 15.5.2: every 401 names the scheme that would work, invalid_credentials included.
BEARER_CHALLENGE = 'Bearer realm="shop-api"'


class ApiError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code or self.code)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = errors
        self.headers = dict(headers or {})
        if self.status == 401:
            self.headers.setdefault("WWW-Authenticate", BEARER_CHALLENGE)

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class BadRequest(ApiError):
    status, code = 400, "invalid_json"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str | None = "Authentication required.", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"

    def __init__(self, detail: str | None = "Not found.", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class RequestTimeout(ApiError):
    status, code = 408, "request_timeout"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class ValidationFailed(ApiError):
    status, code = 422, "validation_error"

    def __init__(self, errors: Any, detail: str = "The request has invalid fields.", **kw: Any):
        errors, self.truncated = _capped(errors, MAX_FIELD_ERRORS)
        super().__init__(detail, errors=errors, **kw)

    def to_problem(self) -> dict[str, Any]:
        body = super().to_problem()
        if self.truncated:
            body["truncated"] = True
        return body


def _capped(errors: Any, budget: int) -> tuple[Any, bool]:
    """The first `budget` field errors of `errors` ({field: [message]}, nested for nested
    fields: each list of messages is one entry), and whether any were left out. Keys become
    strings: marshmallow names the items of a list by their index, and JSON keys are text."""
    if not isinstance(errors, Mapping):
        return errors, False
    kept: dict[Any, Any] = {}
    used = 0
    for field, messages in errors.items():
        if used == budget:
            return kept, True
        if isinstance(messages, Mapping):
            inner, cut = _capped(messages, budget - used)
            kept[str(field)] = inner
            used += _entries(inner)
            if cut:
                return kept, True
        else:
            kept[str(field)] = messages
            used += 1
    return kept, False


def _entries(errors: Any) -> int:
    if isinstance(errors, Mapping):
        return sum(_entries(messages) for messages in errors.values())
    return 1


class Unprocessable(ApiError):
    """A 422 with a code of its own, e.g. `cart_empty`."""

    status, code = 422, "unprocessable"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many attempts; try again in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )


class Unavailable(ApiError):
    status, code = 503, "unavailable"


# A violated database constraint is a client error when its name is listed here:
# constraint name -> (error class, code, field, message). The database is the last word on
# uniqueness, so a race between two requests still ends in a clean 409, never a 500.
CONSTRAINT_ERRORS: dict[str, tuple[type[ApiError], str, str, str]] = {
    "users_email_lower_key": (
        Conflict, "email_taken", "email", "This email is already registered."
    ),
    "product_variants_sku_key": (
        Conflict, "sku_taken", "sku", "Another variant (perhaps a deleted one) has this SKU."
    ),
    "product_variants_options_key": (
        Conflict, "variant_exists", "options", "Another variant has these option values."
    ),
    "products_category_id_fkey": (
        Unprocessable, "validation_error", "category_id", "No such category."
    ),
    "categories_parent_name_key": (
        Conflict, "category_exists", "name", "A category of this name already exists here."
    ),
    # Only reached by a race: creation picks a free slug first.
    "categories_slug_key": (
        Conflict, "category_exists", "name", "A category with this slug already exists."
    ),
    "categories_parent_id_fkey": (
        Unprocessable, "validation_error", "parent_id", "No such category."
    ),
    "reviews_one_per_user_product": (
        Conflict, "already_reviewed", "product_id", "You have already reviewed this product."
    ),
    # Whatever adds the stock (an adjustment, a product edit, a cancellation's restock).
    "product_variants_stock_limit": (
        Conflict, "stock_limit", "stock_quantity", "The stock would exceed 1,000,000,000."
    ),
    # Reached by a race only: the zone routes name the taken countries first (domain/shipping).
    "shipping_zone_countries_pkey": (
        Conflict, "country_in_zone", "countries",
        "Another zone already lists one of these countries (or is the rest of the world).",
    ),
    # A partial update may send one of the two: checked on the row as it ends up.
    "shipping_methods_delivery_days_check": (
        Unprocessable, "validation_error", "max_delivery_days",
        "Must not be less than min_delivery_days.",
    ),
    "promotions_code_lower_key": (
        Conflict, "code_taken", "code", "Another promotion has this code (in some case)."
    ),
    "promotion_products_product_id_fkey": (
        Unprocessable, "validation_error", "product_ids", "No such product."
    ),
    "promotion_categories_category_id_fkey": (
        Unprocessable, "validation_error", "category_ids", "No such category."
    ),
    "promotions_times_used_range": (
        Unprocessable, "validation_error", "usage_limit", "Must not be below times_used."
    ),
    "tax_rates_place_class_key": (
        Conflict, "tax_rate_exists", "tax_class",
        "A rate for this country, region and tax class already exists.",
    ),
}


def from_constraint(constraint_name: str | None) -> ApiError | None:
    known = CONSTRAINT_ERRORS.get(constraint_name or "")
    if known is None:
        return None
    error_class, code, field, message = known
    return error_class(message, code=code, errors={field: [message]})

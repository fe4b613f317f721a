"""The one error ladder: what an exception raised while answering a request tells the client.

Both front ends climb it and differ only in how they show the answer (the API's error
middleware as problem+json, the admin pages as an HTML page), so one exception can never be a
409 on one and a 500 on the other.
"""

from __future__ import annotations

import logging
from typing import TypeGuard

import asyncpg
from aiohttp import web
from marshmallow import ValidationError

from shop_api.errors import (
    ApiError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    ValidationFailed,
    from_constraint,
)
from shop_api.outages import is_dependency_down

log = logging.getLogger("shop_api.errors")


def is_answer(exc: BaseException) -> TypeGuard[web.HTTPException]:
    """An HTTPException below 400 (a redirect, say) is an answer raised, not an error: the
    caller lets it through."""
    return isinstance(exc, web.HTTPException) and exc.status < 400


def to_api_error(exc: Exception, request: web.Request, *, asked_for: str = "request") -> (
    ApiError | None
):
    """The `ApiError` that `exc` means to the client, or None when it means nothing to them (a
    bug: the caller answers 500). Bugs and unreachable dependencies are logged here, with their
    traceback; client errors are not. `asked_for` is what the 503 says was asked ("page").
    Call it for an error only, never for what `is_answer` lets through."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return ValidationFailed(exc.normalized_messages())
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        mapped = from_constraint(exc.constraint_name)
        if mapped is not None:
            return mapped
    elif isinstance(exc, web.HTTPException):
        return from_http_exception(exc)
    elif is_dependency_down(exc):
        log.error("dependency unavailable on %s %s", request.method, request.path, exc_info=exc)
        return Unavailable(f"A service this {asked_for} needs is unavailable; try again shortly.")
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return None


def from_http_exception(exc: web.HTTPException) -> ApiError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound()
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return MethodNotAllowed(
            f"{exc.method} is not allowed here.", headers={"Allow": allowed}
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("The body is larger than the configured limit.")
    error = ApiError(exc.reason, code=exc.reason.lower().replace(" ", "_"))
    error.status = exc.status
    return error

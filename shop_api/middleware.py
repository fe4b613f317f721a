"""The one place every error becomes problem+json, and every response gets a request id."""

from __future__ import annotations

import logging
import re
import uuid

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler
from marshmallow import ValidationError

from .errors import (
    ApiError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    ValidationFailed,
    from_constraint,
)
from .jsonio import PROBLEM_CONTENT_TYPE, json_response
from .keys import outbox_wake_key
from .logs import request_id_var

# DEPENDENCY_DOWN is re-exported for older imports; it lives in outages.py now.
from .outages import DEPENDENCY_DOWN as DEPENDENCY_DOWN
from .outages import is_dependency_down

log = logging.getLogger("shop_api.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

def problem_response(error: ApiError, request_id: str) -> web.Response:
    headers = {REQUEST_ID_HEADER: request_id, **error.headers}
    return json_response(
        error.to_problem(),
        status=error.status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


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


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request_id_var.set(request_id)
    try:
        response = await handler(request)
    except ApiError as exc:
        return problem_response(exc, request_id)
    except ValidationError as exc:
        return problem_response(ValidationFailed(exc.normalized_messages()), request_id)
    except asyncpg.IntegrityConstraintViolationError as exc:
        mapped = from_constraint(exc.constraint_name)
        if mapped is None:
            return _internal_error(request, request_id)
        return problem_response(mapped, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(from_http_exception(exc), request_id)
    except Exception as exc:
        if not is_dependency_down(exc):
            return _internal_error(request, request_id)
        log.exception("dependency unavailable on %s %s", request.method, request.path)
        return problem_response(
            Unavailable("A service this request needs is unavailable; try again shortly."),
            request_id,
        )
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _internal_error(request: web.Request, request_id: str) -> web.Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "code": "internal_error",
        "request_id": request_id,
    }
    return json_response(
        body,
        status=500,
        headers={REQUEST_ID_HEADER: request_id},
        content_type=PROBLEM_CONTENT_TYPE,
    )


@web.middleware
async def wake_relay_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a successful write, wake this process's relay: its outbox rows go out at once
    instead of at the next poll. Setting an event costs nothing when nothing was written."""
    response = await handler(request)
    if request.method not in ("GET", "HEAD", "OPTIONS") and response.status < 400:
        request.app[outbox_wake_key].set()
    return response

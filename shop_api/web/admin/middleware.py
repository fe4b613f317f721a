"""The admin pages' errors as HTML pages instead of problem+json, and the headers a browser UI
needs.

The admin application's own middleware: the main app's `api_middleware` still runs around it
(every response gets its request id) but, with this one answering every error first, never
renders an admin page's error as problem+json.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from shop_api.errors import ApiError
from shop_api.logs import request_id_var
from shop_api.web.admin.templating import render
from shop_api.web.error_ladder import is_answer, to_api_error

STATIC_PREFIX = "/admin/static/"

# Everything is served by the app itself: no inline script, no other origin, no framing
# (clickjacking), forms post only back here. The chart is inline SVG markup, which needs none.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@web.middleware
async def admin_pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except Exception as exc:
        if is_answer(exc):
            _secure(request, exc)
            raise
        error = to_api_error(exc, request, asked_for="page")
        if error is None:
            response = await _internal_error(request)
        else:
            response = await _error_page(request, error)
    _secure(request, response)
    return response


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(STATIC_PREFIX):
        # Pages show customers' data and carry CSRF tokens: never kept by a shared cache, nor
        # shown again from the back/forward history of a signed-out browser.
        headers["Cache-Control"] = "no-store"


async def _error_page(request: web.Request, error: ApiError) -> web.Response:
    # A bearer challenge would make no sense to a browser showing an HTML page.
    headers = {k: v for k, v in error.headers.items() if k != "WWW-Authenticate"}
    response = await render(
        request,
        "error.html",
        {
            "status": error.status,
            "title": error.title,
            "detail": error.detail or "",
            "errors": readable_errors(error.errors),
            "request_id": "",
        },
        status=error.status,
    )
    response.headers.update(headers)
    return response


async def _internal_error(request: web.Request) -> web.Response:
    return await render(
        request,
        "error.html",
        {
            "status": 500,
            "title": "Something went wrong",
            "detail": "The error has been logged. Quote this reference if you report it:",
            "errors": [],
            "request_id": request_id_var.get(),
        },
        status=500,
    )


def readable_errors(errors: object) -> list[str]:
    """Field errors ({field: [message]}) as lines a person can read. The errors of a list's
    items ({field: {index: [message]}}) are the field's."""
    if not isinstance(errors, dict):
        return []
    lines = []
    for field, messages in errors.items():
        name = str(field).replace("_", " ").capitalize()
        lines.extend(f"{name}: {message}" for message in _messages(messages))
    return lines


def _messages(messages: object) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, list):
        return [message for message in messages if isinstance(message, str)]
    if isinstance(messages, dict):
        return [message for inner in messages.values() for message in _messages(inner)]
    return []

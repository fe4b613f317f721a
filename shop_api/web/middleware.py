"""Every error of the API as problem+json, every response with a request id, every request
counted.

What an exception means to a client is `error_ladder`'s to say; here it is only rendered.
"""

from __future__ import annotations

import asyncio
import os
import re
import time

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from shop_api.errors import ApiError
from shop_api.logs import request_id_var
from shop_api.metrics.web import UNMATCHED, record_request
from shop_api.web.error_ladder import is_answer, to_api_error
from shop_api.web.jsonio import PROBLEM_CONTENT_TYPE, json_response
from shop_api.web.keys import outbox_wake_key

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


# nginx's status for a client that hung up before its answer: the handler was cancelled.
CLIENT_CLOSED = 499


# The methods that write nothing, so wake no relay.
_READS = frozenset(("GET", "HEAD", "OPTIONS"))


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Around every request, in one middleware (one link of aiohttp's chain, not three): count
    it, give it a request id, answer its errors as problem+json, and wake the relay after a
    write.

    The count sees the status of the problem+json an error becomes. Labels are the route's
    template and a known method, never what the client wrote. After a successful write this
    process's relay wakes, so its outbox rows go out at once instead of at the next poll.
    """
    started = time.perf_counter()
    status = 500
    incoming = request.headers.get(REQUEST_ID_HEADER)
    request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else new_request_id()
    request_id_var.set(request_id)
    try:
        try:
            response = await handler(request)
        except Exception as exc:
            if is_answer(exc):
                raise
            error = to_api_error(exc, request)
            if error is None:
                response = _internal_error(request_id)
            else:
                response = problem_response(error, request_id)
        else:
            response.headers[REQUEST_ID_HEADER] = request_id
            if response.status < 400 and request.method not in _READS:
                request.app[outbox_wake_key].set()
        status = response.status
        return response
    except web.HTTPException as exc:  # an answer raised (a redirect), let through
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        resource = request.match_info.route.resource
        # One series per route: a collection answers with and without its trailing slash.
        route = UNMATCHED if resource is None else resource.canonical.rstrip("/") or "/"
        method = request.method if request.method in hdrs.METH_ALL else "other"
        record_request(route, method, status, time.perf_counter() - started)


def new_request_id() -> str:
    """32 random hex digits, as uuid4().hex spells them, for a fifth of its cost."""
    return os.urandom(16).hex()


def problem_response(error: ApiError, request_id: str) -> web.Response:
    headers = {REQUEST_ID_HEADER: request_id, **error.headers}
    return json_response(
        error.to_problem(),
        status=error.status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _internal_error(request_id: str) -> web.Response:
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

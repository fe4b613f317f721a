"""REQUEST_BODY_TIMEOUT: a request's body arrives in time, or the request is a 408.

aiohttp waits for a body as long as its client keeps sending, so a body trickled a byte at a
time would hold a connection and its handler forever. Every reader of a body (JSON, admin
forms) goes through `read_body`; aiohttp keeps what it read, so a later `post()` answers from
memory. A handler that never reads its body is not held: aiohttp discards the rest after the
answer, for at most its lingering time (10 s), then closes the connection.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from shop_api.errors import PayloadTooLarge, RequestTimeout
from shop_api.web.keys import settings_key


async def read_body(request: web.Request) -> bytes:
    """The whole body, or 408 `request_timeout` / 413 `payload_too_large`."""
    seconds = request.config_dict[settings_key].request_body_timeout
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {seconds:g} seconds."
        ) from None
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(
            f"The body is larger than {request.client_max_size} bytes."
        ) from None

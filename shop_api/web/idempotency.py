"""Idempotency-Key: a retried request gets the first answer again instead of doing the work twice.

A route opts in with `@endpoint(..., idempotent=True)`; that word is all it takes. The endpoint
validates and documents the header, then runs the handler through `respond_once`: the handler
gets `conn`, a connection inside the transaction that claimed the key, does its work on it and
returns its JSON response as any handler does. This module is the HTTP half (the header, the
replayed answer); `idempotency_keys.py` stores the keys and imports no web code.

The rules (API.md, "Idempotency"):
- a key is scoped to the user and the route (method and path, with its ids), 1..255
  characters, and kept at least `idempotency_keys.KEEP_FOR`; an older key may be used again
  for a new request;
- the same key with the same body answers the stored status and body, plus
  `Idempotent-Replayed: true`;
- the same key with another body, or while the first request with it is still running, is a
  409 `idempotency_conflict`, answered at once (the second request never waits for the first);
- the key row is claimed in the transaction of the work and completed before that transaction
  commits, so there is exactly one piece of work per key, whatever the concurrency.

A request that fails (its work raises, e.g. a 409 `insufficient_stock` or a 422 `cart_empty`)
rolls back together with its claim: only successful answers are stored, and the client may send
the same key again once it has fixed the cause. Storing the refusal instead would replay a stale
"out of stock" for a day after the stock came back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from shop_api.db import atomic
from shop_api.domain.idempotency_keys import Claim, Stored, claim, complete, fingerprint
from shop_api.errors import ValidationFailed
from shop_api.web.jsonio import JSON_CONTENT_TYPE

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def key_from(request: web.Request) -> str | None:
    """The request's Idempotency-Key, None without one; a 422 when it is empty or too long."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValidationFailed({HEADER: [f"Use 1 to {MAX_KEY_LENGTH} characters."]})
    try:
        # aiohttp hands bytes that are not UTF-8 over as surrogates, which no text column takes.
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed({HEADER: ["Use UTF-8 text."]}) from None
    return key


def replay(stored: Stored) -> web.Response:
    return web.Response(
        body=stored.body_text.encode(),
        status=stored.status,
        content_type=JSON_CONTENT_TYPE,
        charset="utf-8",
        headers={REPLAYED_HEADER: "true"},
    )


async def respond_once(
    pool: asyncpg.Pool,
    *,
    user_id: int,
    route: str,
    key: str | None,
    request_body: Any,
    work: Callable[[asyncpg.Connection], Awaitable[web.Response]],
) -> web.Response:
    """Run `work` in one transaction with the key's claim (or alone without a key).

    `route` names the operation the key is scoped to, e.g. "POST /api/orders". `work` answers
    a JSON response (`json_response`); its status and body are what a retry replays.
    """
    async with pool.acquire() as conn, atomic(conn):
        claimed: Claim | None = None
        if key is not None:
            found = await claim(
                conn,
                user_id=user_id,
                route=route,
                key=key,
                request_hash=fingerprint(request_body),
            )
            if isinstance(found, Stored):
                return replay(found)
            claimed = found
        response = await work(conn)
        if not isinstance(response.body, bytes) or response.content_type != JSON_CONTENT_TYPE:
            raise RuntimeError("an idempotent route answers with json_response, as a replay does")
        if claimed is not None:
            await complete(conn, claimed, status=response.status, body=response.body)
    return response

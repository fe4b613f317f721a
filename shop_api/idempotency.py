"""Idempotency-Key: a retried request gets the first answer again instead of doing the work twice.

A route opts in with `@endpoint(..., idempotent=True)`, which validates the header, documents it,
and passes the key to the handler as `idempotency_key` (None without the header). The handler
then runs its work through `respond_once`:

    return await idempotency.respond_once(
        pool, user_id=user["id"], route="POST /api/orders", key=idempotency_key,
        request_body=body, work=place,  # async (conn) -> Outcome, runs in the claim's transaction
    )

The rules (API.md, "Idempotency"):
- a key is scoped to the user and the route, 1..255 characters, and kept at least `KEEP_FOR`;
  an older key may be used again for a new request;
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

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from .db import atomic, queries
from .errors import Conflict, ValidationFailed
from .jsonio import JSON_CONTENT_TYPE, dumps

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
KEEP_FOR = timedelta(hours=24)


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


@dataclass(frozen=True)
class Outcome:
    """What the work answers: stored under the key, then sent."""

    status: int
    body: Any


@dataclass(frozen=True)
class Claim:
    """A key this transaction owns; `complete` it with the answer before commit."""

    id: int


@dataclass(frozen=True)
class Stored:
    """The answer of an earlier request with the same key and body."""

    status: int
    body_text: str


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


def fingerprint(request_body: Any) -> str:
    """A hash of what the request asks for, key order and formatting aside."""
    canonical = orjson.dumps(request_body, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def claim(
    conn: asyncpg.Connection, *, user_id: int, route: str, key: str, request_hash: str
) -> Claim | Stored:
    """Claim `key` in the caller's transaction, or find the answer stored under it.

    Raises 409 `idempotency_conflict` when a request with the key is in flight or the stored
    request had another body.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("claim the key in the transaction of the work it protects")
    params = {
        "user_id": user_id,
        "route": route,
        "key": key,
        "request_hash": request_hash,
        "keep_seconds": KEEP_FOR.total_seconds(),
    }
    for _ in range(3):
        row = await queries.claim_idempotency_key(conn, **params)
        if not row["acquired"]:
            raise IdempotencyConflict(
                "A request with this Idempotency-Key is still in progress; retry it shortly."
            )
        if row["claimed_id"] is not None:
            return Claim(row["claimed_id"])
        if row["request_hash"] is not None:
            break
        # The request that held the key committed between this statement's snapshot and its
        # lock: the row exists but this snapshot missed it. The next statement sees it.
    else:
        raise IdempotencyConflict("This Idempotency-Key is busy; retry the request shortly.")
    if row["request_hash"] != request_hash:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body."
        )
    if row["response_status"] is None:
        raise IdempotencyConflict("A request with this Idempotency-Key is still in progress.")
    return Stored(row["response_status"], row["response_text"])


async def complete(conn: asyncpg.Connection, claimed: Claim, *, status: int, body: bytes) -> None:
    """Store the answer under the claimed key; call it before the work's transaction commits."""
    await queries.complete_idempotency_key(
        conn, id=claimed.id, response_status=status, response_text=body.decode()
    )


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
    work: Callable[[asyncpg.Connection], Awaitable[Outcome]],
) -> web.Response:
    """Run `work` in one transaction with the key's claim (or alone without a key) and answer.

    `route` names the operation the key is scoped to, e.g. "POST /api/orders"; a route with
    path parameters puts them in it.
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
        outcome = await work(conn)
        body = dumps(outcome.body)
        if claimed is not None:
            await complete(conn, claimed, status=outcome.status, body=body)
    return web.Response(
        body=body, status=outcome.status, content_type=JSON_CONTENT_TYPE, charset="utf-8"
    )


async def purge_expired(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """Delete keys older than `KEEP_FOR`; returns how many. For a periodic maintenance job."""
    return await queries.purge_idempotency_keys(conn, keep_seconds=KEEP_FOR.total_seconds())

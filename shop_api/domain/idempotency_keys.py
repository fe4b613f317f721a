"""The idempotency_keys table: claim a key with the work it protects, store the answer, purge.

This is the storage half of Idempotency-Key (the HTTP half, header and replay, is
`idempotency.py`); it imports no web code, so maintenance jobs and the domain can use it.

- a key is scoped to the user and the route and kept at least `KEEP_FOR`; an older key may be
  used again for a new request;
- the same key with another body, or while the first request with it is still running, is a
  409 `idempotency_conflict`, raised at once (the second request never waits for the first);
- the key row is claimed in the transaction of the work and completed before that transaction
  commits, so there is exactly one piece of work per key, whatever the concurrency, and work
  that fails rolls back together with its claim.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from shop_api.db import queries
from shop_api.errors import Conflict

KEEP_FOR = timedelta(hours=24)


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


@dataclass(frozen=True)
class Claim:
    """A key this transaction owns; `complete` it with the answer before commit."""

    id: int


@dataclass(frozen=True)
class Stored:
    """The answer of an earlier request with the same key and body."""

    status: int
    body_text: str


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


async def purge_expired(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """Delete keys older than `KEEP_FOR`; returns how many. For a periodic maintenance job."""
    return await queries.purge_idempotency_keys(conn, keep_seconds=KEEP_FOR.total_seconds())

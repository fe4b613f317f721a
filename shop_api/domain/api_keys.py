"""API keys for integrations: made, listed and revoked by an admin, looked up on each request.

A key is `sk_` and 40 random letters and digits, shown once when it is made; only its SHA-256
is kept, with its first 12 characters (`prefix`) so an admin can tell keys apart. A key opens
the admin routes of its scopes and nothing else: it is never a user.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

import asyncpg

from shop_api.db import Queryable, fetch_all, queries
from shop_api.errors import NotFound, Unauthorized

CATALOG_WRITE = "catalog:write"
INVENTORY_WRITE = "inventory:write"
ORDERS_READ = "orders:read"
ORDERS_WRITE = "orders:write"
# In this order wherever scopes are shown; the CHECK of 0027 lists the same.
SCOPES = (CATALOG_WRITE, INVENTORY_WRITE, ORDERS_READ, ORDERS_WRITE)

KEY_START = "sk_"
RANDOM_LENGTH = 40
PREFIX_LENGTH = 12
MAX_NAME_LENGTH = 100
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class ApiKey:
    """The caller a route gets for a key: no user id, so nothing can take it for a user."""

    id: int
    name: str
    prefix: str
    scopes: frozenset[str]


def is_api_key(token: str) -> bool:
    """Whether a bearer token is meant as a key (a JWT never starts this way)."""
    return token.startswith(KEY_START)


def new_key() -> str:
    return KEY_START + "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_LENGTH))


def hash_of(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def ordered_scopes(scopes: list[str]) -> list[str]:
    """Each scope once, in the order of SCOPES."""
    return [scope for scope in SCOPES if scope in scopes]


async def create_key(
    conn: Queryable, *, name: str, scopes: list[str], created_by: int | None
) -> tuple[asyncpg.Record, str]:
    """The new key's row and the key itself, which is nowhere else from now on."""
    key = new_key()
    row = await queries.insert_api_key(
        conn,
        name=name,
        prefix=key[:PREFIX_LENGTH],
        key_hash=hash_of(key),
        scopes=ordered_scopes(scopes),
        created_by=created_by,
    )
    return row, key


async def list_keys(conn: Queryable, *, include_revoked: bool) -> list[asyncpg.Record]:
    return await fetch_all(queries.list_api_keys(conn, include_revoked=include_revoked))


async def revoke_key(conn: Queryable, key_id: int) -> asyncpg.Record:
    """Revoked from the next request on; a key revoked already is a 404 like an unknown one."""
    row = await queries.revoke_api_key(conn, id=key_id)
    if row is None:
        raise NotFound("No such API key.")
    return row


async def key_for(conn: Queryable, token: str) -> ApiKey:
    """The key `token` is, read from the database each time (no cache can outlive a
    revocation), else 401. Its last_used_at is written at most once a minute."""
    row = await queries.api_key_by_hash(conn, key_hash=hash_of(token))
    if row is None:
        raise Unauthorized("The API key is invalid or revoked.")
    if row["stale"]:
        await queries.touch_api_key(conn, id=row["id"])
    return ApiKey(
        id=row["id"], name=row["name"], prefix=row["prefix"], scopes=frozenset(row["scopes"])
    )

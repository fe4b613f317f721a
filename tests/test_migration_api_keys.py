"""Migration 0027 (API keys) and its rollback, on a scratch database of the test's own; and the
CHECKs that keep a key's row to what the code can make."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest
from scratch_database import apply, roll_back, schema, scratch_database

BEFORE = "0026.webhooks"
API_KEYS = "0027.api_keys"

INSERT = "INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES ($1, $2, $3, $4)"


@pytest.fixture
async def scratch(services):
    async with scratch_database(services.database_url, BEFORE) as database:
        yield database


async def test_the_rollback_gives_the_schema_before_back(scratch):
    url, conn = scratch.url, scratch.conn
    before = await schema(conn)
    await apply(url, API_KEYS)
    digest = hashlib.sha256(b"sk_one").digest()
    await conn.execute(INSERT, "Sync", "sk_one", digest, ["orders:read", "catalog:write"])
    for name, prefix, key_hash, scopes in [
        ("Other", "sk_two", digest, ["orders:read"]),  # a hash is one key's
        ("Other", "sk_two", hashlib.sha256(b"2").digest(), ["orders:delete"]),
        ("Other", "sk_two", hashlib.sha256(b"2").digest(), []),
        ("", "sk_two", hashlib.sha256(b"2").digest(), ["orders:read"]),
        ("Other", "two", hashlib.sha256(b"2").digest(), ["orders:read"]),
        ("Other", "sk_two", b"short", ["orders:read"]),
    ]:
        with pytest.raises((asyncpg.CheckViolationError, asyncpg.UniqueViolationError)):
            await conn.execute(INSERT, name, prefix, key_hash, scopes)
    await roll_back(url, API_KEYS)
    assert await schema(conn) == before

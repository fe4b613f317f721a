"""Tests run against a real PostgreSQL and a real Redis.

The embedded servers (under .data/test-*) unless TEST_DATABASE_URL and REDIS_URL name others.
Every test starts from empty tables and an empty Redis database, so tests can make real
concurrent requests and commit real transactions.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import redis
from factories import TEST_BCRYPT_ROUNDS, Account, create_account
from faults import private_postgres, private_redis, running_postgres, running_redis  # noqa: F401
from webhook_receiver import Receiver

from shop_api.ops.embedded import DATA_DIR, EmbeddedPostgres, EmbeddedRedis
from shop_api.ops.migrate import apply_migrations
from shop_api.settings import Settings
from shop_api.web.app import create_app


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str


def _reset_schema(database_url: str) -> None:
    async def reset() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
        finally:
            await conn.close()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def services():
    started = []
    database_url = os.environ.get("TEST_DATABASE_URL")
    if not database_url:
        postgres = EmbeddedPostgres(Path(DATA_DIR) / "test-pg")
        database_url = postgres.start("shop_test")
        started.append(postgres)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded_redis = EmbeddedRedis(Path(DATA_DIR) / "test-redis", persist=False)
        redis_url = embedded_redis.start()
        started.append(embedded_redis)
    _reset_schema(database_url)
    apply_migrations(database_url)
    yield Services(database_url=database_url, redis_url=redis_url)
    for service in reversed(started):
        service.stop()


@pytest.fixture
def settings(services: Services) -> Settings:
    return Settings(
        env="test",
        database_url=services.database_url,
        redis_url=services.redis_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        bcrypt_rounds=TEST_BCRYPT_ROUNDS,
        db_pool_min=1,
        db_pool_max=20,
        # Tests that need messages to flow run the relay themselves (tests/test_workers.py).
        relay_in_web=False,
    )


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """A command run in-process (`main(["serve", ...])`) calls setup_logging, whose handlers
    write to that test's captured stderr, closed once it ends: later tests would log into a
    closed stream. Put the loggers back as they were."""
    root, access = logging.getLogger(), logging.getLogger("aiohttp.access")
    saved = root.handlers[:], root.level, access.handlers[:], access.propagate
    yield
    root.handlers[:], level, access.handlers[:], access.propagate = saved
    root.setLevel(level)


@pytest.fixture(autouse=True)
async def clean_state(services: Services):
    """Empty every table and the Redis database before each test.

    Kept: yoyo's bookkeeping, and catalog_counts, whose single row the products TRUNCATE
    trigger resets to zero.
    """
    conn = await asyncpg.connect(services.database_url)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename NOT LIKE '%yoyo%' "
            "AND tablename <> 'catalog_counts'"
        )
        if tables:
            names = ", ".join(row["name"] for row in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    client = redis.Redis.from_url(services.redis_url)
    client.flushdb()
    client.close()
    yield


@pytest.fixture
async def db(services: Services):
    """A connection of the test's own, to check what a request changed."""
    conn = await asyncpg.connect(services.database_url)
    yield conn
    await conn.close()


@pytest.fixture
async def client(aiohttp_client, settings: Settings):
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def customer(db, client) -> Account:
    return await create_account(db, "customer@example.com", client=client, full_name="Test User")


@pytest.fixture
async def admin(db, client) -> Account:
    return await create_account(db, "admin@example.com", client=client, role="admin",
                                full_name="Admin")


@pytest.fixture
async def receiver():
    """A webhook endpoint: a real HTTP server on 127.0.0.1 keeping every request it gets."""
    async with Receiver() as server:
        yield server

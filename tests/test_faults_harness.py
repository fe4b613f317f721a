"""The fault-test harness (tests/faults.py): private servers that tests may stop and crash."""

from __future__ import annotations

import asyncpg
import psutil
import pytest
import redis
from faults import PrivatePostgres, PrivateRedis, free_port


async def _count_products(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM products")
    finally:
        await conn.close()


async def test_private_postgres_is_migrated_and_survives_a_restart_and_a_crash(
    running_postgres: PrivatePostgres,
):
    conn = await asyncpg.connect(running_postgres.url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS harness_check (n int)")
        await conn.execute("INSERT INTO harness_check VALUES (1)")
    finally:
        await conn.close()
    assert await _count_products(running_postgres.url) >= 0

    running_postgres.restart()
    running_postgres.kill()
    assert not running_postgres.answers()
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await _count_products(running_postgres.url)

    running_postgres.start()
    conn = await asyncpg.connect(running_postgres.url)
    try:  # committed before the crash: recovered from the WAL
        assert await conn.fetchval("SELECT count(*) FROM harness_check") >= 1
    finally:
        await conn.close()


def test_private_postgres_stopped_then_started_answers_again(running_postgres: PrivatePostgres):
    running_postgres.stop("immediate")
    assert not running_postgres.answers()
    running_postgres.start()
    assert running_postgres.answers()


def test_private_redis_kill_loses_its_data_and_comes_back_empty(running_redis: PrivateRedis):
    client = redis.Redis.from_url(running_redis.url)
    try:
        client.set("key", "value")
        running_redis.kill()
        with pytest.raises(redis.ConnectionError):
            client.get("key")
        running_redis.start()
        assert client.get("key") is None
    finally:
        client.close()


def test_free_port_is_free():
    port = free_port()
    assert all(conn.laddr.port != port for conn in psutil.net_connections("tcp")
               if conn.status == psutil.CONN_LISTEN)

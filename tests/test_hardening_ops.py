"""Operations under faults: PostgreSQL restarting and crashing under load, a dead broker.

These run against servers of their own (tests/faults.py), never the machine's shared ones.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter

import aiohttp
import asyncpg
import pytest
from admin_pages import sign_in
from factories import (
    ADDRESS,
    TEST_PASSWORD,
    create_buyers,
    create_product,
    create_user,
)

from shop_api.web.app import create_app

LOAD_CLIENTS = 6


@pytest.fixture
async def private_db(running_postgres):
    """A connection to the private PostgreSQL, whose tables start empty for each test."""
    conn = await asyncpg.connect(running_postgres.url)
    tables = await conn.fetchval(
        "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
        "WHERE schemaname = 'public' AND tablename NOT LIKE '%yoyo%' "
        "AND tablename <> 'catalog_counts'"
    )
    await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    yield conn
    if not conn.is_closed():
        await conn.close()


@pytest.fixture
async def private_client(aiohttp_client, settings, running_postgres):
    settings = dataclasses.replace(
        settings, database_url=running_postgres.url, db_pool_max=10,
        rate_limit_login=1_000_000, rate_limit_address=1_000_000,
        # The load's buyers check out in every round and never pay.
        max_pending_orders=1_000_000,
    )
    return await aiohttp_client(create_app(settings)), settings


class Load:
    """Clients looping over reads and writes until stopped; every status counted per route."""

    def __init__(self, client, buyers, product_id: int) -> None:
        self.client, self.buyers, self.product_id = client, buyers, product_id
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.bodies_500: list[str] = []
        self._stop = asyncio.Event()

    async def _request(self, name: str, method: str, path: str, **kwargs) -> int:
        try:
            response = await self.client.request(method, path, **kwargs)
            body = await response.text()
        except aiohttp.ClientError as exc:  # a dropped connection is as bad as a 500
            self.statuses[(name, 599)] += 1
            self.bodies_500.append(repr(exc))
            return 599
        self.statuses[(name, response.status)] += 1
        if response.status >= 500 and response.status != 503:
            self.bodies_500.append(body)
        if response.status == 503 and path.startswith("/api/"):
            assert response.content_type == "application/problem+json", body
            assert (await response.json())["code"] == "unavailable"
        elif response.status == 503:  # an admin page
            assert response.content_type == "text/html" and "unavailable" in body, body
        return response.status

    async def round(self, buyer) -> dict[str, int]:
        """One product list, one login, one checkout (cart filled first), one admin page."""
        statuses = {
            "products": await self._request("products", "GET", "/api/products"),
            "admin": await self._request("admin", "GET", "/admin/", allow_redirects=False),
            "login": await self._request(
                "login", "POST", "/api/auth/login",
                json={"email": "login@example.com", "password": TEST_PASSWORD},
            ),
            "cart": await self._request(
                "cart", "POST", "/api/cart/items", headers=buyer.headers,
                json={"product_id": self.product_id, "quantity": 1},
            ),
        }
        statuses["checkout"] = await self._request(
            "checkout", "POST", "/api/orders", json=ADDRESS, headers=buyer.headers
        )
        return statuses

    async def _loop(self, buyer) -> None:
        while not self._stop.is_set():
            await self.round(buyer)

    async def run_while(self, fault) -> None:
        """Keep the clients busy while `fault()` (blocking) runs in a thread."""
        clients = [asyncio.create_task(self._loop(buyer)) for buyer in self.buyers]
        try:
            await asyncio.sleep(0.3)  # the load is under way before the fault
            await asyncio.to_thread(fault)
            await asyncio.sleep(0.3)
        finally:
            self._stop.set()
            await asyncio.gather(*clients)
            self._stop.clear()

    async def until_all_succeed(self) -> dict[str, int]:
        """Rounds until one whole round succeeds: the app recovers by itself (bounded)."""
        for _ in range(100):
            statuses = await self.round(self.buyers[0])
            if all(status < 300 for status in statuses.values()):
                return statuses
            await asyncio.sleep(0.1)
        raise AssertionError(f"the app did not recover: {statuses}")

    def server_errors(self) -> dict:
        return {key: n for key, n in self.statuses.items() if key[1] >= 500 and key[1] != 503}


async def _load(private_client, private_db) -> Load:
    client, settings = private_client
    product_id = await create_product(
        private_db, name="Plenty", slug="plenty", price="5", stock=1000000
    )
    await create_user(private_db, "login@example.com", full_name="Login")
    await create_user(private_db, "admin@example.com", role="admin")
    buyers = await create_buyers(private_db, settings, LOAD_CLIENTS, prefix="load")
    await private_db.close()  # the test's own connection would not survive the fault either
    await sign_in(client, "admin@example.com")  # the client's cookie opens the admin pages
    load = Load(client, buyers, product_id)
    assert set((await load.until_all_succeed()).values()) <= {200, 201}
    return load


@pytest.mark.parametrize("fault", ["restart", "stop-fast", "stop-immediate", "kill"])
async def test_no_500_while_postgresql_restarts_or_crashes(
    private_client, private_db, running_postgres, fault
):
    load = await _load(private_client, private_db)

    def break_postgres() -> None:
        if fault == "restart":
            running_postgres.restart()
        elif fault.startswith("stop-"):
            running_postgres.stop(fault.removeprefix("stop-"))
            running_postgres.start()
        else:
            running_postgres.kill()
            running_postgres.start()

    for _ in range(2):
        await load.run_while(break_postgres)
    assert load.server_errors() == {}, load.bodies_500[:5]
    # Every kind of request came through the faults, and the app recovered by itself.
    assert {name for name, _ in load.statuses} == {
        "products", "admin", "login", "cart", "checkout"
    }
    await load.until_all_succeed()


async def test_requests_while_postgresql_is_down_are_503_then_recover(
    private_client, private_db, running_postgres
):
    load = await _load(private_client, private_db)
    running_postgres.stop("fast")
    try:
        statuses = await load.round(load.buyers[0])
    finally:
        running_postgres.start()
    assert statuses == {
        "products": 503, "admin": 503, "login": 503, "cart": 503, "checkout": 503
    }
    await load.until_all_succeed()



async def test_admin_pages_while_postgresql_is_down_are_503_pages(
    private_client, private_db, running_postgres
):
    load = await _load(private_client, private_db)
    running_postgres.stop("fast")
    try:
        pages = await asyncio.gather(*(load.client.get("/admin/") for _ in range(4)))
    finally:
        running_postgres.start()
    assert [page.status for page in pages] == [503] * 4
    for page in pages:
        assert page.content_type == "text/html"
        assert "unavailable" in (await page.text())
    await load.until_all_succeed()


async def test_health_checks_the_broker_at_broker_url(aiohttp_client, settings, running_redis):
    """BROKER_URL names a Redis other than REDIS_URL's: that one is the broker health reports."""
    settings = dataclasses.replace(settings, broker_url=running_redis.url)
    client = await aiohttp_client(create_app(settings))

    async def health() -> dict:
        response = await client.get("/api/health")
        assert response.status == 200  # the database is up: the broker alone is no 503
        return await response.json()

    assert (await health())["broker"] == "ok"
    running_redis.kill()
    body = await health()
    assert (body["database"], body["broker"]) == ("ok", "unavailable")
    running_redis.start()
    assert (await health())["broker"] == "ok"

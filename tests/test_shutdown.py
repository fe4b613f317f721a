"""Shutdown: requests in flight get their answers, then everything closes and the process exits.

A real `shop-api serve` process with the outbox relay running against a real broker Redis of its
own, checkouts in flight, some of them waiting on a product row lock that the test holds until
after SIGTERM; repeated, because the hang this guards against came in 2 runs of 6. And the race
behind that hang, made to happen every time in-process: a request commits (waking the relay)
just as shutdown starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from collections import Counter

import aiohttp
import asyncpg
import pytest
import redis
from aiohttp import web
from factories import (
    checkout,
    create_account,
    create_buyers,
    create_product,
    fill_cart,
    stock_of,
    variant_of,
)
from faults import free_port
from processes import WebServer

from shop_api.settings import Settings, SettingsError
from shop_api.web.app import create_app
from shop_api.web.keys import outbox_wake_key

GRACEFUL_TIMEOUT = 5
# How long after SIGTERM the process may take: the graceful timeout, then closing everything.
EXIT_BOUND = GRACEFUL_TIMEOUT + 15
FAST_BUYERS, LOCKED_BUYERS = 30, 10


class DumpableServer(WebServer):
    """The server, with a faulthandler on SIGUSR1: a process that does not exit tells what it
    waits on (the supervisor, when there are several processes)."""

    def command(self) -> list[str]:
        return [sys.executable, "-c", (
            "import faulthandler, signal, sys; "
            "faulthandler.register(signal.SIGUSR1, all_threads=True); "
            f"from shop_api.ops.cli import main; main(['serve', '--port', '{self.port}'])"
        )]


@pytest.fixture
def serve(settings, services, running_redis, tmp_path):
    """Starts a server with `processes` web processes, the outbox relay in each, and any other
    setting; kills what is left of them at the end."""
    servers: list[DumpableServer] = []

    def start(processes: int = 1, **environ: str) -> DumpableServer:
        env = {
            **os.environ,
            "ENV": "test",
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "BROKER_URL": running_redis.url,
            "RELAY_IN_WEB": "true",
            "SECRET_KEY": settings.secret_key,
            "BCRYPT_ROUNDS": str(settings.bcrypt_rounds),
            "DB_POOL_MAX": "20",
            "WEB_CONCURRENCY": str(processes),
            "GRACEFUL_TIMEOUT": str(GRACEFUL_TIMEOUT),
            "LOG_LEVEL": "WARNING",
            **environ,
        }
        server = DumpableServer(env, tmp_path / f"server-{len(servers)}.log", free_port())
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.kill()


async def _wait_until_refusing(base_url: str) -> None:
    """Until the server stops accepting connections: it has the signal and is shutting down."""
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"{base_url}/api/health"):
                    pass
            except aiohttp.ClientConnectionError:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the server still accepts connections after SIGTERM")


async def _wait_for_lock_waiters(database_url: str, count: int) -> None:
    await _wait_for_server_sessions(
        database_url, "wait_event_type = 'Lock'", lambda waiting: waiting >= count,
        f"{count} checkouts waiting on the row lock",
    )


async def _wait_for_server_sessions(database_url: str, which: str, done, what: str) -> None:
    """Until `done(count)` of the server's database sessions in `which` state."""
    # A connection of its own: inside a transaction, pg_stat_activity is a frozen snapshot.
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(600):
            count = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                f"AND application_name = 'shop-api' AND {which}"
            )
            if done(count):
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"not {what}: {count} sessions")


def _exit_or_dump(server: DumpableServer) -> int:
    """The exit status; if the process is still alive after EXIT_BOUND, its threads' stacks."""
    try:
        return server.process.wait(EXIT_BOUND)
    except subprocess.TimeoutExpired:
        server.process.send_signal(signal.SIGUSR1)
        try:
            server.process.wait(2)
        except subprocess.TimeoutExpired:
            server.kill()
        raise AssertionError(
            f"still running {EXIT_BOUND} s after SIGTERM; its stacks:\n{server.output()}"
        ) from None


@pytest.mark.parametrize("run", range(5))
async def test_sigterm_with_checkouts_in_flight_answers_them_and_exits(
    serve, db, settings, services, run
):
    server = serve()
    base_url = server.base_url
    fast = await create_product(db, stock=FAST_BUYERS)
    locked = await create_product(db, stock=LOCKED_BUYERS)
    buyers = await create_buyers(db, settings, FAST_BUYERS + LOCKED_BUYERS, prefix=f"run{run}-")
    await server.wait_until_up()

    async with aiohttp.ClientSession(base_url) as client:
        for index, buyer in enumerate(buyers):
            await fill_cart(client, buyer, (locked if index < LOCKED_BUYERS else fast, 1))

        lock_holder = db.transaction()
        await lock_holder.start()
        await db.execute("SELECT 1 FROM products WHERE id = $1 FOR UPDATE", locked)
        try:
            checkouts = [
                asyncio.create_task(checkout(client, b))
                for b in buyers
            ]
            await _wait_for_lock_waiters(services.database_url, LOCKED_BUYERS)
            server.process.send_signal(signal.SIGTERM)
            await _wait_until_refusing(base_url)
        finally:
            await lock_holder.rollback()  # after the signal: those ten finish during shutdown
        responses = await asyncio.gather(*checkouts, return_exceptions=True)

    statuses = Counter(getattr(r, "status", type(r).__name__) for r in responses)
    assert statuses == {201: FAST_BUYERS + LOCKED_BUYERS}
    assert await db.fetchval("SELECT count(*) FROM orders") == FAST_BUYERS + LOCKED_BUYERS
    assert await asyncio.to_thread(_exit_or_dump, server) == 0


@dataclasses.dataclass
class HeldCheckout:
    product: int
    answer: object = None  # once the lock is released: the response, or what the client raised


@contextlib.asynccontextmanager
async def _checkout_held_on_its_stock(server, db, settings, services):
    """A checkout sent while the test holds its variant's row lock, waiting on it in the
    database. Leaving releases the lock and waits for the checkout's answer."""
    await server.wait_until_up()
    product = await create_product(db, stock=3)
    buyer = await create_account(db, "buyer@example.com", settings=settings)
    async with aiohttp.ClientSession(server.base_url) as client:
        await fill_cart(client, buyer, (product, 1))
        held = HeldCheckout(product)
        lock_holder = db.transaction()
        await lock_holder.start()
        try:
            await db.execute(
                "SELECT 1 FROM product_variants WHERE id = $1 FOR UPDATE",
                await variant_of(db, product),
            )
            pending = asyncio.create_task(checkout(client, buyer))
            await _wait_for_lock_waiters(services.database_url, 1)
            yield held
        finally:
            await lock_holder.rollback()
        held.answer = (await asyncio.gather(pending, return_exceptions=True))[0]
        if isinstance(held.answer, aiohttp.ClientResponse):
            await held.answer.read()


async def test_sigterm_to_several_processes_lets_a_checkout_in_flight_finish(
    serve, db, settings, services
):
    server = serve(processes=2)
    async with _checkout_held_on_its_stock(server, db, settings, services) as held:
        server.process.send_signal(signal.SIGTERM)
        await _wait_until_refusing(server.base_url)

    assert held.answer.status == 201, await held.answer.text()
    order = await held.answer.json()
    assert await db.fetchval("SELECT count(*) FROM orders WHERE id = $1", order["id"]) == 1
    assert await stock_of(db, held.product) == 2
    assert await asyncio.to_thread(_exit_or_dump, server) == 0


async def test_a_request_still_running_past_the_graceful_timeout_is_cut_and_rolled_back(
    serve, db, settings, services
):
    server = serve(processes=2, GRACEFUL_TIMEOUT="1")
    async with _checkout_held_on_its_stock(server, db, settings, services) as held:
        server.process.send_signal(signal.SIGTERM)
        # The lock is still held: the checkout cannot finish before the process exits.
        assert await asyncio.to_thread(_exit_or_dump, server) == 0

    assert isinstance(held.answer, aiohttp.ClientError), held.answer
    await _wait_for_server_sessions(
        services.database_url, "true", lambda count: count == 0,
        "gone with the server (their transactions rolled back)",
    )
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await stock_of(db, held.product) == 3


async def _cleanup_ends(runner: web.AppRunner) -> None:
    # Not asyncio.timeout: the old shutdown suppressed the CancelledError that a timeout sends.
    cleanup = asyncio.create_task(runner.cleanup())
    done, _ = await asyncio.wait({cleanup}, timeout=EXIT_BOUND)
    assert cleanup in done, f"the app's cleanup still runs {EXIT_BOUND} s later"
    cleanup.result()


def _broker_clients(url: str) -> list[dict]:
    """The connections the broker Redis has, other than the one asking."""
    client = redis.Redis.from_url(url)
    try:
        me = client.client_id()
        return [c for c in client.client_list() if int(c["id"]) != me]
    finally:
        client.close()


async def _wait_for_broker_messages(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            if client.keys("dramatiq:*"):
                return
            await asyncio.sleep(0.05)
    finally:
        client.close()
    raise AssertionError("the relay enqueued nothing")


async def test_shutdown_closes_the_relays_broker_connections(
    settings, db, running_redis
):
    settings = dataclasses.replace(settings, relay_in_web=True, broker_url=running_redis.url)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        product = await create_product(db, stock=1)
        buyer = await create_account(db, "buyer@example.com", settings=settings)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            await fill_cart(client, buyer, (product, 1))
            response = await checkout(client, buyer)
            assert response.status == 201
        await _wait_for_broker_messages(running_redis.url)
        assert _broker_clients(running_redis.url)  # the relay's broker is connected
    finally:
        await _cleanup_ends(runner)
    assert _broker_clients(running_redis.url) == []


async def test_shutdown_as_a_commit_wakes_the_relay_ends(settings, running_redis):
    """A commit wakes the relay just as shutdown begins: on Python 3.11 the relay's wait_for
    swallowed the cancellation, the relay carried on and shutdown waited for it forever."""
    settings = dataclasses.replace(settings, relay_in_web=True, broker_url=running_redis.url)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await asyncio.sleep(0.3)  # the relay has drained the (empty) outbox and waits to be woken
    app[outbox_wake_key].set()
    await _cleanup_ends(runner)


def test_the_graceful_timeout_is_a_setting():
    assert Settings.from_env({"GRACEFUL_TIMEOUT": "7.5"}).graceful_timeout == 7.5
    assert Settings().graceful_timeout == 30
    with pytest.raises(SettingsError, match="GRACEFUL_TIMEOUT"):
        Settings.from_env({"GRACEFUL_TIMEOUT": "0"})

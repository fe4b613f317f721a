"""Shutdown: requests in flight get their answers, then everything closes and the process exits.

A real `shop-api serve` process with the outbox relay running against a real broker Redis of its
own, checkouts in flight, some of them waiting on a product row lock that the test holds until
after SIGTERM; repeated, because the hang this guards against came in 2 runs of 6. And the race
behind that hang, made to happen every time in-process: a request commits (waking the relay)
just as shutdown starts.
"""

from __future__ import annotations

import asyncio
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
from factories import checkout, create_account, create_buyers, create_product, fill_cart
from faults import free_port

from shop_api.settings import Settings, SettingsError
from shop_api.web.app import create_app
from shop_api.web.keys import outbox_wake_key

SHUTDOWN_TIMEOUT = 5
# How long after SIGTERM the process may take: the shutdown timeout, then closing everything.
EXIT_BOUND = SHUTDOWN_TIMEOUT + 15
FAST_BUYERS, LOCKED_BUYERS = 30, 10

# The server, with a faulthandler on SIGUSR1: a process that does not exit tells what it waits on.
SERVER = (
    "import faulthandler, signal, sys; "
    "faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "from shop_api.ops.cli import main; main(['serve'])"
)


@pytest.fixture
def server(settings, services, running_redis, tmp_path):
    port = free_port()
    log = (tmp_path / "server.log").open("w+")
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "BROKER_URL": running_redis.url,
        "RELAY_IN_WEB": "true",
        "SECRET_KEY": settings.secret_key,
        "BCRYPT_ROUNDS": str(settings.bcrypt_rounds),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DB_POOL_MAX": "20",
        "SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SERVER], env=env,
        stdout=subprocess.DEVNULL, stderr=log,
    )
    process.log = log
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def _log_of(process) -> str:
    process.log.seek(0)
    return process.log.read()[-20000:]


async def _wait_until_up(process, base_url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if process.poll() is not None:
                raise AssertionError(f"the server exited: {_log_of(process)}")
            try:
                async with session.get(f"{base_url}/api/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not start")


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
    # A connection of its own: inside a transaction, pg_stat_activity is a frozen snapshot.
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(600):
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'shop-api' AND wait_event_type = 'Lock'"
            )
            if waiting >= count:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"only {waiting} checkouts wait on the row lock, not {count}")


def _exit_or_dump(process) -> int:
    """The exit status; if the process is still alive after EXIT_BOUND, its threads' stacks."""
    try:
        return process.wait(EXIT_BOUND)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
        raise AssertionError(
            f"still running {EXIT_BOUND} s after SIGTERM; its stacks:\n{_log_of(process)}"
        ) from None


@pytest.mark.parametrize("run", range(5))
async def test_sigterm_with_checkouts_in_flight_answers_them_and_exits(
    server, db, settings, services, run
):
    process, base_url = server
    fast = await create_product(db, stock=FAST_BUYERS)
    locked = await create_product(db, stock=LOCKED_BUYERS)
    buyers = await create_buyers(db, settings, FAST_BUYERS + LOCKED_BUYERS, prefix=f"run{run}-")
    await _wait_until_up(process, base_url)

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
            process.send_signal(signal.SIGTERM)
            await _wait_until_refusing(base_url)
        finally:
            await lock_holder.rollback()  # after the signal: those ten finish during shutdown
        responses = await asyncio.gather(*checkouts, return_exceptions=True)

    statuses = Counter(getattr(r, "status", type(r).__name__) for r in responses)
    assert statuses == {201: FAST_BUYERS + LOCKED_BUYERS}
    assert await db.fetchval("SELECT count(*) FROM orders") == FAST_BUYERS + LOCKED_BUYERS
    assert await asyncio.to_thread(_exit_or_dump, process) == 0


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


def test_shutdown_timeout_is_a_setting():
    assert Settings.from_env({"SHUTDOWN_TIMEOUT": "7.5"}).shutdown_timeout == 7.5
    assert Settings().shutdown_timeout == 25
    with pytest.raises(SettingsError, match="SHUTDOWN_TIMEOUT"):
        Settings.from_env({"SHUTDOWN_TIMEOUT": "0"})

"""`shop-api serve` with WEB_CONCURRENCY=2: a supervisor and two web processes on one port.

Each process runs its own outbox relay: the two drain one outbox side by side, and no row may
reach the broker twice. And a server whose processes cannot start fails as one process does.
(Shutdown is in tests/test_shutdown.py, metrics in tests/test_metrics.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

import aiohttp
import redis
from factories import checkout, create_buyers, create_product, eventually, fill_cart
from faults import free_port
from processes import ROOT, WebServer

from shop_api.domain.events import RELAY_TASKS, tasks_for

BUYERS = 30


def _environment(services, settings, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ENV": "test",
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "BROKER_URL": services.redis_url,
        "SECRET_KEY": settings.secret_key,
        "DB_POOL_MAX": "8",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
        **more,
    }


def _broker_messages(url: str) -> list[tuple[str, str]]:
    """(actor, args) of every message waiting in the broker Redis's queues."""
    client = redis.Redis.from_url(url)
    try:
        found = []
        for key in client.scan_iter("dramatiq:*.msgs"):
            for encoded in client.hvals(key):
                message = json.loads(encoded)
                found.append((message["actor_name"], json.dumps(message["args"], sort_keys=True)))
        return found
    finally:
        client.close()


async def test_two_processes_relay_each_outbox_row_once(services, settings, db, tmp_path):
    server = WebServer(
        _environment(services, settings, RELAY_IN_WEB="true"), tmp_path / "web.log", free_port()
    ).start()
    try:
        product = await create_product(db, stock=BUYERS)
        buyers = await create_buyers(db, settings, BUYERS)
        await server.wait_until_up()
        # A connection per request: the kernel spreads them over the two processes, and each
        # wakes its own relay after its commits.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(server.base_url, connector=connector) as client:
            for buyer in buyers:
                await fill_cart(client, buyer, (product, 1))
            responses = await asyncio.gather(*(checkout(client, b) for b in buyers))
            assert [r.status for r in responses] == [201] * BUYERS

        async def all_sent():
            return await db.fetchval(
                "SELECT count(*) = 0 FROM outbox WHERE completed_at IS NULL AND enqueues = 0"
            )

        await eventually(all_sent, within=30)
        rows = await db.fetch("SELECT id, topic, payload::text, enqueues FROM outbox")
        assert rows and max(row["enqueues"] for row in rows) <= 1
        expected = sorted(
            (task.actor_name, json.dumps(list(task.args), sort_keys=True))
            for row in rows
            for task in tasks_for(row["id"], row["topic"], json.loads(row["payload"]))
            if task.actor_name not in RELAY_TASKS
        )
        assert len(expected) >= BUYERS  # at least the order confirmations
        assert sorted(_broker_messages(services.redis_url)) == expected
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_a_server_whose_processes_cannot_start_exits_with_1(services, settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(port)],
            cwd=ROOT, env=_environment(services, settings, RELAY_IN_WEB="false"),
            capture_output=True, text=True, timeout=120,
        )
    assert completed.returncode == 1
    assert "shop-api: error: cannot start the web server" in completed.stderr

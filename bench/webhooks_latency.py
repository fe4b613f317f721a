"""How long an event takes from its commit to the webhook endpoint, with the Procfile's processes.

    .venv/bin/python bench/webhooks_latency.py              # embedded services unless *_URL set
    DATABASE_URL=postgresql://postgres@127.0.0.1/shop_bench_webhooks \
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/webhooks_latency.py --orders 50

It starts `shop-api serve`, `dramatiq workers --processes 1 --threads 4` and `shop-api relay`
(with WEBHOOK_ALLOW_PRIVATE=true, so the receiver may listen on 127.0.0.1), and a receiver in
this process that checks every signature. It registers an endpoint for order.placed, order.paid
and payment.succeeded through the admin API, then places and pays one order at a time. For
each delivery it takes the time from the event's `created_at` (the outbox row's, written in the
transaction of the change, so a little before its commit) to the moment the receiver has the
request, and for order.placed also from the checkout's answer (after its commit) to that
moment. It prints p50/p99 of each.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import subprocess
import sys
import time
from datetime import datetime

import aiohttp
import asyncpg
from _support import describe, start_services, stop_all, wait_until_up
from aiohttp import web

ADMIN_EMAIL, BUYER_EMAIL, PASSWORD = "admin@example.com", "buyer@example.com", "bench-password-1"
EVENTS = ["order.placed", "order.paid", "payment.succeeded"]


class Receiver:
    """The webhook endpoint: verifies, then notes when each event arrived."""

    def __init__(self) -> None:
        self.secret = ""
        self.arrivals: dict[tuple[str, int], tuple[float, float, dict]] = {}
        self.bad_signatures = 0
        self.changed = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        wall, mono = time.time(), time.perf_counter()
        body = await request.read()
        fields = dict(part.split("=", 1) for part in request.headers["Shop-Signature"].split(","))
        expected = hmac.new(
            self.secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, fields["v1"]):
            self.bad_signatures += 1
            return web.Response(status=400)
        event = await request.json()
        subject = event["data"].get("order_id") or event["data"]["id"]
        self.arrivals.setdefault((event["type"], subject), (wall, mono, event))
        self.changed.set()
        return web.Response(status=204)

    async def arrival(self, event_type: str, subject: int, within: float = 30) -> tuple:
        deadline = time.monotonic() + within
        while (event_type, subject) not in self.arrivals:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SystemExit(f"{event_type} for {subject} never arrived")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                pass
        return self.arrivals[(event_type, subject)]


async def prepare(database_url: str, orders: int) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "TRUNCATE products, users, outbox, sent_emails, webhook_endpoints, webhook_events "
            "RESTART IDENTITY CASCADE"
        )
        product = await conn.fetchval(
            "INSERT INTO products (name, slug, price, stock_quantity) "
            "VALUES ('Bench mug', 'bench-mug', 12.50, 0) RETURNING id"
        )
        await conn.execute(
            "INSERT INTO product_variants (product_id, title, price, stock_quantity) "
            "VALUES ($1, 'Default', 12.50, $2)", product, orders + 10,
        )
        return product
    finally:
        await conn.close()


async def login(session: aiohttp.ClientSession, base: str, email: str) -> dict[str, str]:
    async with session.post(
        f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}
    ) as response:
        return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


def seconds_since(created_at: str, wall: float) -> float:
    return wall - datetime.fromisoformat(created_at).timestamp()


async def measure(base: str, receiver: Receiver, hook_port: int, product: int, orders: int
                  ) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, base)
        admin = await login(session, base, ADMIN_EMAIL)
        async with session.post(
            f"{base}/api/admin/webhooks", headers=admin,
            json={"url": f"http://127.0.0.1:{hook_port}/hook", "events": EVENTS},
        ) as response:
            endpoint = await response.json()
            assert response.status == 201, endpoint
        receiver.secret = endpoint["secret"]
        await session.post(
            f"{base}/api/auth/register", json={"email": BUYER_EMAIL, "password": PASSWORD}
        )
        buyer = await login(session, base, BUYER_EMAIL)
        since_created: dict[str, list[float]] = {event: [] for event in EVENTS}
        since_answer: list[float] = []
        for _ in range(orders):
            await session.post(
                f"{base}/api/cart/items", json={"product_id": product}, headers=buyer
            )
            async with session.post(
                f"{base}/api/orders", json={"delivery_address": "1 Bench St"}, headers=buyer
            ) as response:
                order = await response.json()
                assert response.status == 201, order
                answered = time.perf_counter()
            async with session.post(
                f"{base}/api/payments/process", headers=buyer,
                json={"order_id": order["id"], "payment_token": "tok_visa"},
            ) as response:
                assert response.status == 202, await response.text()
            for event in EVENTS:
                wall, mono, body = await receiver.arrival(event, order["id"])
                since_created[event].append(seconds_since(body["created_at"], wall))
                if event == "order.placed":
                    since_answer.append(mono - answered)
        for event in EVENTS:
            print(describe(f"{event}: created -> received", since_created[event]))
        print(describe("order.placed: checkout answered -> received", since_answer))
        print(f"bad signatures: {receiver.bad_signatures}")


async def run(base: str, hook_port: int, product: int, orders: int) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    try:
        await measure(base, receiver, hook_port, product, orders)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--hook-port", type=int, default=8094)
    args = parser.parse_args()

    env, started = start_services("shop_bench_webhooks")
    from shop_api.ops.migrate import apply_migrations

    apply_migrations(env["DATABASE_URL"])
    product = asyncio.run(prepare(env["DATABASE_URL"], args.orders))
    env.update(
        EMAIL_BACKEND="file",
        EMAIL_FILE_DIR=subprocess.check_output(["mktemp", "-d"], text=True).strip(),  # noqa: S607
        BCRYPT_ROUNDS="4",
        LOG_LEVEL="WARNING",
        WEBHOOK_ALLOW_PRIVATE="true",
        BROKER_URL=env.get("BROKER_URL", env["REDIS_URL"]),
    )
    python = sys.executable
    subprocess.run(  # noqa: S603
        [python, "-m", "shop_api.ops.cli", "create-admin", "--email", ADMIN_EMAIL,
         "--password", PASSWORD], env=env, check=True, capture_output=True,
    )
    processes = [
        subprocess.Popen([python, "-m", "shop_api.ops.cli", "serve", "--port", str(args.port)], env=env),  # noqa: S603, E501
        subprocess.Popen([python, "-m", "dramatiq", "workers", "--processes", "1", "--threads", "4"], env=env),  # noqa: S603, E501
        subprocess.Popen([python, "-m", "shop_api.ops.cli", "relay"], env=env),  # noqa: S603
    ]
    try:
        time.sleep(2)  # the worker boots its pool and starts consuming
        asyncio.run(run(f"http://127.0.0.1:{args.port}", args.hook_port, product, args.orders))
    finally:
        stop_all(processes, started)


if __name__ == "__main__":
    main()

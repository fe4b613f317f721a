"""How long the asynchronous half takes, with the processes the Procfile runs.

    .venv/bin/python bench/workers_latency.py              # embedded services unless *_URL set
    DATABASE_URL=postgresql://postgres@127.0.0.1/shop_bench_workers \
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/workers_latency.py --orders 50

It starts `shop-api serve`, `dramatiq workers --processes 1 --threads 4` and `shop-api relay`
(emails written as files to a temporary folder), then, one order at a time:
1. checkout → the confirmation email's file exists;
2. POST /api/payments/process with tok_visa → GET /api/payments/<id> says `succeeded`.
It prints p50/p99 of both.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
from _support import describe, start_services, stop_all, wait_until_up

PASSWORD = "bench-password-1"


async def prepare(database_url: str, orders: int) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        # sent_emails too: its keys are outbox ids, which start again at 1 here; a row left by an
        # earlier run would make this run's email "already sent", never written.
        await conn.execute(
            "TRUNCATE products, users, outbox, sent_emails RESTART IDENTITY CASCADE"
        )
        products = []
        for n in range(3):
            product = await conn.fetchval(
                "INSERT INTO products (name, slug, price, stock_quantity) "
                "VALUES ($1, $2, 12.50, 0) RETURNING id",
                f"Bench mug {n}", f"bench-mug-{n}",
            )
            # Stock lives on variants (issue 12); the product's sum follows the variant.
            await conn.execute(
                "INSERT INTO product_variants (product_id, title, price, stock_quantity) "
                "VALUES ($1, 'Default', 12.50, $2)", product, orders + 10,
            )
            products.append(product)
        return products
    finally:
        await conn.close()


async def measure(base: str, mail_dir: Path, products: list[int], orders: int) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, base)
        await session.post(
            f"{base}/api/auth/register", json={"email": "w@example.com", "password": PASSWORD}
        )
        login = await session.post(
            f"{base}/api/auth/login", json={"email": "w@example.com", "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        await asyncio.sleep(1)  # let the welcome email go first
        to_email: list[float] = []
        to_settled: list[float] = []
        for _ in range(orders):
            for product in products:
                await session.post(
                    f"{base}/api/cart/items", json={"product_id": product}, headers=headers
                )
            before = await asyncio.to_thread(lambda: set(mail_dir.glob("*.eml")))
            started = time.perf_counter()
            placed = await session.post(
                f"{base}/api/orders", json={"delivery_address": "1 Bench St"}, headers=headers
            )
            order = await placed.json()
            assert placed.status == 201, order
            # Polling the folder is the measurement: the file appearing is the event timed.
            while not await asyncio.to_thread(lambda: set(mail_dir.glob("*.eml")) - before):  # noqa: ASYNC110, B023
                await asyncio.sleep(0.005)
            to_email.append(time.perf_counter() - started)

            started = time.perf_counter()
            paid = await session.post(
                f"{base}/api/payments/process",
                json={"order_id": order["id"], "payment_token": "tok_visa"},
                headers=headers,
            )
            payment = await paid.json()
            assert paid.status == 202, payment
            while payment["status"] == "pending":
                await asyncio.sleep(0.005)
                async with session.get(
                    f"{base}/api/payments/{payment['id']}", headers=headers
                ) as response:
                    payment = await response.json()
            assert payment["status"] == "succeeded", payment
            to_settled.append(time.perf_counter() - started)
        print(describe("checkout -> confirmation email written", to_email))
        print(describe("payment request -> succeeded", to_settled))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args()

    env, started = start_services("shop_bench_workers")
    from shop_api.ops.migrate import apply_migrations

    apply_migrations(env["DATABASE_URL"])
    products = asyncio.run(prepare(env["DATABASE_URL"], args.orders))
    mail_dir = Path(tempfile.mkdtemp(prefix="shop-bench-mail-"))
    env.update(
        EMAIL_BACKEND="file",
        EMAIL_FILE_DIR=str(mail_dir),
        BCRYPT_ROUNDS="4",
        LOG_LEVEL="WARNING",
        BROKER_URL=env.get("BROKER_URL", env["REDIS_URL"]),
    )
    python = sys.executable
    processes = [
        subprocess.Popen([python, "-m", "shop_api.ops.cli", "serve", "--port", str(args.port)], env=env),  # noqa: S603, E501
        subprocess.Popen([python, "-m", "dramatiq", "workers", "--processes", "1", "--threads", "4"], env=env),  # noqa: S603, E501
        subprocess.Popen([python, "-m", "shop_api.ops.cli", "relay"], env=env),  # noqa: S603
    ]
    try:
        time.sleep(2)  # the worker boots its pool and starts consuming
        asyncio.run(measure(f"http://127.0.0.1:{args.port}", mail_dir, products, args.orders))
    finally:
        stop_all(processes, started)


if __name__ == "__main__":
    main()

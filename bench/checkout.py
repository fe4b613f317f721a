"""Checkout throughput and latency: buyers on different products, and all on one hot product.

    .venv/bin/python bench/checkout.py                 # local PostgreSQL, shop_bench_checkout
    .venv/bin/python bench/checkout.py --buyers 3000 --concurrency 64 --seconds 30
    .venv/bin/python bench/checkout.py --trace         # also list the checkout's SQL statements

DATABASE_URL picks another database than the default
postgresql://postgres@127.0.0.1:5432/shop_bench_checkout; it is created if missing and its schema
rebuilt, so its name must contain "bench".

It starts one `shop-api serve` process, then for each scenario fills every buyer's cart straight
in the database (one line, quantity 1), and fires `POST /api/orders` from `--concurrency` clients
until every buyer has checked out or `--seconds` have passed:

1. spread:      every buyer buys a product of their own (no two checkouts share a row lock);
2. spread+key:  the same with an Idempotency-Key (claiming and storing the key adds two statements);
3. hot:         every buyer buys the same product (each checkout waits for the previous one's
                row lock: the throughput of one product is bounded by how long the lock is held).

Tokens are minted with the server's secret, so no bcrypt or login round trip is in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import Counter

import aiohttp
import asyncpg
from _support import ROOT, fresh_bench_database, percentile, stop_all, wait_until_up

from shop_api.security import tokens
from shop_api.settings import Settings

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/shop_bench_checkout"
SECRET_KEY = "bench-checkout-secret-key-0123456789-abcdefghij"
ADDRESS = {"delivery_address": "1 Bench Street, Loadtown"}


async def seed(conn: asyncpg.Connection, *, buyers: int, hot: bool) -> list[int]:
    """Fresh tables, `buyers` users each with a one-line cart; returns the user ids."""
    await conn.execute(
        "TRUNCATE users, products, categories, carts, orders, idempotency_keys, outbox, "
        "inventory_ledger RESTART IDENTITY CASCADE"
    )
    user_ids = await conn.fetch(
        "INSERT INTO users (email, password_hash, full_name) "
        "SELECT 'bench' || n || '@example.com', 'x', 'Bench ' || n "
        "FROM generate_series(1, $1) AS n RETURNING id",
        buyers,
    )
    products = 1 if hot else buyers
    await conn.execute(
        "INSERT INTO products (name, slug, price, stock_quantity) "
        "SELECT 'Product ' || n, 'product-' || n, 9.99, $2 FROM generate_series(1, $1) AS n",
        products,
        buyers,
    )
    await conn.execute("INSERT INTO carts (user_id) SELECT id FROM users ORDER BY id")
    await conn.execute(
        "INSERT INTO cart_items (cart_id, product_id, quantity) "
        "SELECT c.id, CASE WHEN $1 THEN 1 ELSE c.user_id END, 1 FROM carts c",
        hot,
    )
    await conn.execute("ANALYZE")
    return [row["id"] for row in user_ids]


async def run_scenario(
    base: str,
    settings: Settings,
    user_ids: list[int],
    *,
    concurrency: int,
    seconds: float,
    with_key: bool,
) -> tuple[list[float], Counter, float]:
    headers = {
        user_id: {
            "Authorization": "Bearer "
            + tokens.issue(
                settings, token_type=tokens.ACCESS, user_id=user_id, token_version=0
            ).token
        }
        for user_id in user_ids
    }
    queue: asyncio.Queue[int] = asyncio.Queue()
    for user_id in user_ids:
        queue.put_nowait(user_id)
    latencies: list[float] = []
    statuses: Counter = Counter()
    deadline = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            try:
                user_id = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            request_headers = dict(headers[user_id])
            if with_key:
                request_headers["Idempotency-Key"] = f"bench-{user_id}"
            started = time.perf_counter()
            async with session.post(
                f"{base}/api/orders", json=ADDRESS, headers=request_headers
            ) as response:
                await response.read()
                statuses[response.status] += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        # One warm-up request per client connection is not counted: it opens the connection.
        async with session.get(f"{base}/api/health") as response:
            await response.read()
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return latencies, statuses, wall


def describe(label: str, latencies: list[float], statuses: Counter, wall: float) -> str:
    ok = statuses.get(201, 0)
    return (
        f"{label:<11} {ok:>6} orders in {wall:6.2f}s = {ok / wall:7.1f} checkouts/s   "
        f"p50 {percentile(latencies, 0.5) * 1000:6.1f}ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.1f}ms  "
        f"mean {statistics.mean(latencies) * 1000:6.1f}ms   statuses {dict(statuses)}"
    )


async def verify(conn: asyncpg.Connection, *, hot: bool, buyers: int) -> str:
    orders = await conn.fetchval("SELECT count(*) FROM orders")
    negative = await conn.fetchval("SELECT count(*) FROM products WHERE stock_quantity < 0")
    sold = await conn.fetchval("SELECT coalesce(sum(quantity), 0) FROM order_items")
    stock = await conn.fetchval("SELECT sum(stock_quantity) FROM products")
    expected_stock = (buyers if hot else buyers * buyers) - sold
    assert negative == 0 and stock == expected_stock, (negative, stock, expected_stock)
    return f"            check: {orders} orders, {sold} units sold, stock consistent"


async def trace_checkout(database_url: str, settings: Settings) -> None:
    """Run keyed checkouts in this process and print the statements of a warm one."""
    from shop_api.db import create_pool
    from shop_api.domain import orders
    from shop_api.web import idempotency
    from shop_api.web.jsonio import json_response
    from shop_api.web.schemas.orders import order_out

    statements: list[tuple[str, float]] = []

    def log(record) -> None:
        statements.append((record.query, record.elapsed))

    seeder = await asyncpg.connect(database_url)
    try:
        await seed(seeder, buyers=2, hot=True)
    finally:
        await seeder.close()
    # One connection: the first checkout warms it (prepared statements, type introspection),
    # the second is the one listed.
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        for user_id in (1, 2):
            if user_id == 2:
                async with pool.acquire() as conn:
                    conn.add_query_logger(log)

            async def place(conn: asyncpg.Connection, user_id: int = user_id):
                row = await orders.place_order(
                    conn, user_id=user_id, delivery_address="x", notes="", currency="USD",
                    max_pending_orders=settings.max_pending_orders,
                )
                return json_response(order_out(row), status=201)

            await idempotency.respond_once(
                pool, user_id=user_id, route="POST /api/orders", key="trace", request_body={},
                work=place,
            )
        async with pool.acquire() as conn:
            conn.remove_query_logger(log)
    finally:
        await pool.close()
    print("\nstatements of one checkout with an Idempotency-Key (warm connection):")
    for number, (statement, elapsed) in enumerate(statements, 1):
        first_lines = [
            line.strip() for line in statement.strip().splitlines()
            if line.strip() and not line.strip().startswith("--")
        ]
        print(f"  {number:>2}. {elapsed * 1000:6.2f}ms  {' '.join(first_lines)[:100]}")


async def measure(args: argparse.Namespace, database_url: str, settings: Settings) -> None:
    base = f"http://127.0.0.1:{args.port}"
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, base)

    conn = await asyncpg.connect(database_url)
    try:
        # Untimed: fills the server's pool and prepares every statement on each connection.
        for with_key in (False, True):
            user_ids = await seed(conn, buyers=args.concurrency * 10, hot=False)
            await run_scenario(
                base, settings, user_ids, concurrency=args.concurrency, seconds=args.seconds,
                with_key=with_key,
            )
        for label, hot, with_key in [
            ("spread", False, False),
            ("spread+key", False, True),
            ("hot", True, False),
        ]:
            user_ids = await seed(conn, buyers=args.buyers, hot=hot)
            latencies, statuses, wall = await run_scenario(
                base,
                settings,
                user_ids,
                concurrency=args.concurrency,
                seconds=args.seconds,
                with_key=with_key,
            )
            print(describe(label, latencies, statuses, wall), flush=True)
            print(await verify(conn, hot=hot, buyers=args.buyers), flush=True)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=2000, help="checkouts per scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="clients at once")
    parser.add_argument("--seconds", type=float, default=30, help="time cap per scenario")
    parser.add_argument("--pool", type=int, default=20, help="the server's DB_POOL_MAX")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--trace", action="store_true", help="print the checkout's statements")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY)
    asyncio.run(fresh_bench_database(database_url))
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        DB_POOL_MAX=str(args.pool),
        LOG_LEVEL="WARNING",
        # Checkout alone: the in-process outbox relay would also publish every order.placed
        # row to the configured broker while the clients run.
        RELAY_IN_WEB="false",
    )
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(args.port)],
        env=env,
        cwd=ROOT,
    )
    try:
        print(
            f"one web process (pool {args.pool}), {args.buyers} buyers per scenario, "
            f"{args.concurrency} concurrent clients, {os.cpu_count()} CPUs, "
            f"client and server on this machine"
        )
        asyncio.run(measure(args, database_url, settings))
    finally:
        stop_all([server])
    if args.trace:
        asyncio.run(trace_checkout(database_url, settings))


if __name__ == "__main__":
    main()

"""Checkout throughput and latency: buyers on different products, and all on one hot product.

    .venv/bin/python bench/checkout.py                 # local PostgreSQL, shop_bench_checkout
    .venv/bin/python bench/checkout.py --buyers 3000 --concurrency 64 --seconds 30
    .venv/bin/python bench/checkout.py --trace         # also list the checkout's SQL statements
    .venv/bin/python bench/checkout.py --baseline ../before   # beside another checkout's code

DATABASE_URL picks another database than the default
postgresql://postgres@127.0.0.1:5432/shop_bench_checkout; it is created if missing and its schema
rebuilt, so its name must contain "bench".

It starts one `shop-api serve` process, then for each scenario fills every buyer's cart straight
in the database (one line, quantity 1), and fires `POST /api/orders` from `--concurrency` clients
until every buyer has checked out or `--seconds` have passed:

1. spread:      every buyer buys a product of their own (no two checkouts share a row lock);
2. spread+key:  the same with an Idempotency-Key (claiming and storing the key adds two statements);
3. hot:         every buyer buys the same product (each checkout waits for the previous one's
                row lock: the throughput of one product is bounded by how long the lock is held);
4. spread+shipping+tax: spread, on a shop with a shipping zone of two methods and New York's
                sales tax, each checkout naming a Brooklyn shipping address (code with issue 13);
5. spread+coupon: spread, every buyer giving the same code of one promotion (10 % off, its usage
                limit above the number of buyers): each checkout takes a use of that one row last
                in its transaction and holds its lock until commit (code with issue 14).

With --baseline, that checkout's code gets a database of its own (DATABASE_URL's name plus
`_baseline`, migrated by its own migrations) and a server of its own, and runs each scenario
right before this checkout does, so both see the same machine in the same minute.

Tokens are minted with the server's secret, so no bcrypt or login round trip is in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
from _support import (
    ROOT,
    Shop,
    baseline_url,
    empty_bench_database,
    ensure_port_free,
    percentile,
    record,
    start,
    stop_all,
)

from shop_api.security import tokens
from shop_api.settings import Settings

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/shop_bench_checkout"
SECRET_KEY = "bench-checkout-secret-key-0123456789-abcdefghij"
ADDRESS = {"delivery_address": "1 Bench Street, Loadtown"}
# Issue 13's checkout: an address to quote shipping and tax for.
SHIPPING_ADDRESS = {
    "shipping_address": {
        "full_name": "Bench Buyer", "line1": "1 Bench Street", "city": "Brooklyn",
        "region": "NY", "postal_code": "11201", "country": "US",
    }
}


async def seed(
    conn: asyncpg.Connection, *, buyers: int, hot: bool, stock: int | None = None
) -> list[int]:
    """Fresh tables, `buyers` users each with a one-line cart; returns the user ids. Each
    variant holds `stock` units (default: one per buyer)."""
    await conn.execute(
        "TRUNCATE users, products, product_variants, categories, carts, orders, "
        "idempotency_keys, outbox, inventory_ledger RESTART IDENTITY CASCADE"
    )
    user_ids = await conn.fetch(
        "INSERT INTO users (email, password_hash, full_name) "
        "SELECT 'bench' || n || '@example.com', 'x', 'Bench ' || n "
        "FROM generate_series(1, $1) AS n RETURNING id",
        buyers,
    )
    products = 1 if hot else buyers
    # Each product with its one variant (the variants' trigger sets the product's price and
    # stock).
    await conn.execute(
        "WITH product AS ("
        " INSERT INTO products (name, slug, price, stock_quantity)"
        " SELECT 'Product ' || n, 'product-' || n, 9.99, 0 FROM generate_series(1, $1) AS n"
        " RETURNING id)"
        " INSERT INTO product_variants (product_id, title, price, stock_quantity, weight_grams)"
        " SELECT id, 'Default', 9.99, $2, 400 FROM product",
        products,
        buyers if stock is None else stock,
    )
    await conn.execute("INSERT INTO carts (user_id) SELECT id FROM users ORDER BY id")
    await conn.execute(
        "INSERT INTO cart_items (cart_id, variant_id, quantity) "
        "SELECT c.id, v.id, 1 FROM carts c "
        "JOIN product_variants v ON v.product_id = CASE WHEN $1 THEN 1 ELSE c.user_id END",
        hot,
    )
    await conn.execute("ANALYZE")
    return [row["id"] for row in user_ids]


async def configure_shipping_and_tax(conn: asyncpg.Connection) -> None:
    """A shop that ships to the US and charges New York's sales tax (issue 13's tables)."""
    zone = await conn.fetchval("INSERT INTO shipping_zones (name) VALUES ('US') RETURNING id")
    await conn.execute(
        "INSERT INTO shipping_zone_countries (zone_id, country) VALUES ($1, 'US')", zone
    )
    await conn.execute(
        "INSERT INTO shipping_methods (zone_id, name, price, free_over, max_weight_grams,"
        " min_delivery_days, max_delivery_days) VALUES"
        " ($1, 'Ground', 7.00, 50.00, 20000, 3, 5), ($1, 'Express', 19.00, NULL, NULL, 1, 2)",
        zone,
    )
    await conn.execute(
        "INSERT INTO tax_rates (country, region, tax_class, rate, name) VALUES"
        " ('US', NULL, 'standard', 0, 'US'), ('US', 'NY', 'standard', 0.08875, 'New York')"
    )


async def run_scenario(
    base: str,
    settings: Settings,
    user_ids: list[int],
    *,
    concurrency: int,
    seconds: float,
    with_key: bool,
    body: dict = ADDRESS,
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
                f"{base}/api/orders", json=body, headers=request_headers
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
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    return (
        f"{label:<24} {ok:>6} orders in {wall:6.2f}s = {ok / wall:7.1f} checkouts/s   "
        f"p50 {percentile(latencies, 0.5) * 1000:6.1f}ms  "
        f"p99 {percentile(latencies, 0.99) * 1000:6.1f}ms  "
        f"mean {statistics.mean(latencies) * 1000:6.1f}ms   5xx {server_errors}   "
        f"statuses {dict(statuses)}"
    )


async def verify(conn: asyncpg.Connection, *, stock_each: int) -> str:
    """From the database: no variant below zero, units sold plus stock left equal to what
    the variants held at the start (`stock_each` each), and none sold beyond it (oversold)."""
    orders = await conn.fetchval("SELECT count(*) FROM orders")
    variants = await conn.fetchval("SELECT count(*) FROM product_variants")
    negative = await conn.fetchval(
        "SELECT count(*) FROM product_variants WHERE stock_quantity < 0"
    )
    sold = await conn.fetchval("SELECT coalesce(sum(quantity), 0) FROM order_items")
    stock = await conn.fetchval("SELECT sum(stock_quantity) FROM product_variants")
    oversold = await conn.fetchval(
        "SELECT coalesce(sum(greatest(0, sold - $1)), 0) FROM ("
        " SELECT sum(quantity) AS sold FROM order_items GROUP BY variant_id) AS per_variant",
        stock_each,
    )
    stocked = stock_each * variants
    assert negative == 0 and oversold == 0 and stock == stocked - sold, (
        negative, oversold, stock, stocked - sold
    )
    return (
        f"{'':<24} check: {orders} orders, {sold} units sold of {stocked}, "
        f"oversold {oversold}, stock consistent"
    )


async def trace_checkout(database_url: str, settings: Settings) -> None:
    """Run keyed checkouts with the hot coupon in this process and print the statements of a
    warm one."""
    from shop_api.db import create_pool
    from shop_api.domain import orders, quotes
    from shop_api.web import idempotency
    from shop_api.web.jsonio import json_response
    from shop_api.web.schemas.orders import order_out

    statements: list[tuple[str, float]] = []

    def log(record) -> None:
        statements.append((record.query, record.elapsed))

    seeder = await asyncpg.connect(database_url)
    try:
        await seed(seeder, buyers=2, hot=True)
        await seeder.execute("TRUNCATE promotions RESTART IDENTITY CASCADE")
        await configure_hot_promotion(seeder, buyers=2)
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
                to = await quotes.destination(
                    conn, user_id=user_id, store_country="US", given={"delivery_address": "x"}
                )
                row = await orders.place_order(
                    conn, user_id=user_id, to=to, shipping_method_id=None, expected_total=None,
                    notes="", currency="USD", prices_include_tax=False, tax_shipping=True,
                    max_pending_orders=settings.max_pending_orders,
                    low_stock_threshold=settings.low_stock_threshold, coupon_code=COUPON,
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
    print("\nstatements of one checkout with an Idempotency-Key and the coupon (warm connection):")
    for number, (statement, elapsed) in enumerate(statements, 1):
        first_lines = [
            line.strip() for line in statement.strip().splitlines()
            if line.strip() and not line.strip().startswith("--")
        ]
        print(f"  {number:>2}. {elapsed * 1000:6.2f}ms  {' '.join(first_lines)[:100]}")


# (label, one product for every buyer, Idempotency-Key, shipping and tax configured, coupon)
SCENARIOS = [
    ("spread", False, False, False, False),
    ("spread+key", False, True, False, False),
    ("hot", True, False, False, False),
    ("spread+shipping+tax", False, False, True, False),
    ("spread+coupon", False, False, False, True),
]
COUPON = "HOTCODE"


async def configure_hot_promotion(conn: asyncpg.Connection, *, buyers: int) -> None:
    """One coupon every buyer uses, with a limit it never reaches (issue 14's table)."""
    await conn.execute(
        "INSERT INTO promotions (name, code, kind, value, target, usage_limit)"
        " VALUES ('Hot', $1, 'percentage', 10, 'order', $2)",
        COUPON,
        buyers * 2,
    )


async def warm_up(shop: Shop, settings: Settings, args: argparse.Namespace) -> None:
    """Untimed: fills the server's pool and prepares every statement on each connection."""
    conn = await asyncpg.connect(shop.database_url)
    try:
        for with_key in (False, True):
            user_ids = await seed(conn, buyers=args.concurrency * 10, hot=False)
            await run_scenario(
                f"http://127.0.0.1:{shop.port}", settings, user_ids,
                concurrency=args.concurrency, seconds=args.seconds, with_key=with_key,
            )
    finally:
        await conn.close()


async def measure(
    shop: Shop, settings: Settings, args: argparse.Namespace, scenario: tuple
) -> str | None:
    label, hot, with_key, configured, coupon = scenario
    conn = await asyncpg.connect(shop.database_url)
    try:
        has_tables = await conn.fetchval("SELECT to_regclass('shipping_zones') IS NOT NULL")
        has_promotions = await conn.fetchval("SELECT to_regclass('promotions') IS NOT NULL")
        if (configured and not has_tables) or (coupon and not has_promotions):
            return None  # code from before issue 13 (or 14): nothing to configure
        stock = args.hot_stock if hot and args.hot_stock is not None else args.buyers
        user_ids = await seed(conn, buyers=args.buyers, hot=hot, stock=stock)
        if has_tables:
            await conn.execute("TRUNCATE shipping_zones, tax_rates RESTART IDENTITY CASCADE")
        if has_promotions:
            await conn.execute("TRUNCATE promotions RESTART IDENTITY CASCADE")
        if configured:
            await configure_shipping_and_tax(conn)
        body = SHIPPING_ADDRESS if configured else ADDRESS
        if coupon:
            await configure_hot_promotion(conn, buyers=args.buyers)
            body = {**body, "coupon_code": COUPON}
        latencies, statuses, wall = await run_scenario(
            f"http://127.0.0.1:{shop.port}", settings, user_ids,
            concurrency=args.concurrency, seconds=args.seconds, with_key=with_key,
            body=body,
        )
        checked = await verify(conn, stock_each=stock)
        if coupon:
            used = await conn.fetchval("SELECT times_used FROM promotions")
            discounted = await conn.fetchval("SELECT count(*) FROM orders WHERE discount_total > 0")
            orders = await conn.fetchval("SELECT count(*) FROM orders")
            assert used == discounted == orders, (used, discounted, orders)
            checked += f", {used} uses = {discounted} discounted orders"
        record(args.json, f"checkout {label} ({shop.label})", {
            "clients": args.concurrency, "processes": int(os.environ.get("WEB_CONCURRENCY", "1")),
            "per_second": statuses.get(201, 0) / wall,
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "server_errors": sum(n for status, n in statuses.items() if status >= 500),
            "oversold": 0,  # verify() refuses any
        })
        return describe(f"{shop.label} {label}", latencies, statuses, wall) + "\n" + checked
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=2000, help="checkouts per scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="clients at once")
    parser.add_argument("--seconds", type=float, default=30, help="time cap per scenario")
    parser.add_argument("--pool", type=int, default=20, help="the server's DB_POOL_MAX")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--scenarios", default=",".join(s[0] for s in SCENARIOS),
                        help="the scenarios to run, comma-separated (default: all)")
    parser.add_argument("--hot-stock", type=int,
                        help="units of the hot variant (default: one per buyer); fewer than "
                             "--buyers sells out, and the check proves none was oversold")
    parser.add_argument("--baseline", type=Path,
                        help="a checkout (git worktree) of the code to compare with")
    parser.add_argument("--trace", action="store_true", help="print the checkout's statements")
    parser.add_argument("--json", help="also write each scenario's figures to this file")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY)
    env = dict(
        os.environ,
        SECRET_KEY=SECRET_KEY,
        DB_POOL_MAX=str(args.pool),
        WEB_CONCURRENCY=os.environ.get("WEB_CONCURRENCY", "1"),
        # Checkout alone: the in-process outbox relay would also publish every order.placed
        # row to the configured broker while the clients run.
        RELAY_IN_WEB="false",
    )
    shops = [Shop("this", ROOT, database_url, args.port)]
    if args.baseline is not None:
        if not (args.baseline / "shop_api").is_dir():
            raise SystemExit(f"{args.baseline} is not a checkout of shop-api")
        shops.insert(0, Shop("baseline", args.baseline.resolve(), baseline_url(database_url),
                             args.port + 1))
    for shop in shops:
        ensure_port_free(shop.port)
        # Each checkout's schema made by its own migrations.
        asyncio.run(empty_bench_database(shop.database_url))
        shop.cli(env, "migrate")
    processes: list[subprocess.Popen] = []
    try:
        for shop in shops:
            shop.server = start(shop, env)
            processes.append(shop.server)
            asyncio.run(warm_up(shop, settings, args))
        print(
            f"one web process per checkout (pool {args.pool}), {args.buyers} buyers per "
            f"scenario, {args.concurrency} concurrent clients, {os.cpu_count()} CPUs, "
            f"client and servers on this machine; each scenario on the baseline right before "
            f"this checkout"
        )
        wanted = args.scenarios.split(",")
        unknown = set(wanted) - {s[0] for s in SCENARIOS}
        if unknown:
            raise SystemExit(f"no scenario {', '.join(sorted(unknown))}")
        for scenario in (s for s in SCENARIOS if s[0] in wanted):
            for shop in shops:
                outcome = asyncio.run(measure(shop, settings, args, scenario))
                if outcome is not None:
                    print(outcome, flush=True)
    finally:
        stop_all(processes)
    if args.trace:
        asyncio.run(trace_checkout(database_url, settings))


if __name__ == "__main__":
    main()

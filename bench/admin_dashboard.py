"""How long the admin dashboard page takes with 100,000 products and 10,000 orders.

    .venv/bin/python bench/admin_dashboard.py                     # local PostgreSQL
    .venv/bin/python bench/admin_dashboard.py --orders 50000 --requests 100

DATABASE_URL picks another database than postgresql://postgres@127.0.0.1:5432/shop_bench_admin;
it is created if missing and its schema rebuilt, so its name must contain "bench". REDIS_URL
names the Redis for the sessions, else an embedded one is started under .data/bench-redis.

Steps: migrate; seed the demo shop plus synthetic products up to --products (COPY); add 2,000
customers and --orders orders spread over the last 30 days in every status (80% of them paid or
later), each with 1 to 4 lines that favour a few popular products, with INSERT ... SELECT over
generate_series; ANALYZE. Then time, sequentially after a warm-up:

1. `dashboard.figures()` in this process: the five aggregate queries alone;
2. `GET /api/admin/dashboard` on one `shop-api serve` process, with a bearer token;
3. `GET /admin/` on the same process, signed in through the login form: the same figures plus
   the session check, the chart's geometry and the template.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time

import aiohttp
import asyncpg
from _support import (
    ROOT,
    describe,
    ensure_port_free,
    fresh_bench_database,
    start_services,
    stop_all,
    wait_until_up,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/shop_bench_admin"
SECRET_KEY = "bench-admin-dashboard-secret-key-0123456789abcdef"
ADMIN_EMAIL, ADMIN_PASSWORD = "bench-admin@example.com", "bench-admin-password-1"

CUSTOMERS_SQL = """
INSERT INTO users (email, password_hash, full_name, created_at)
SELECT 'customer' || n || '@bench.test', 'x', 'Bench Customer ' || n,
       now() - make_interval(days => n % 400)
  FROM generate_series(1, $1) AS n
"""

# Statuses in proportion: 1 pending, 2 paid, 1 processing, 2 shipped, 3 delivered, 1 cancelled.
ORDERS_SQL = """
INSERT INTO orders (user_id, status, subtotal, total_amount, delivery_address, created_at,
                    updated_at)
SELECT c.ids[1 + (n * 7919) % cardinality(c.ids)],
       (ARRAY['pending', 'paid', 'paid', 'processing', 'shipped', 'shipped', 'delivered',
              'delivered', 'delivered', 'cancelled'])[1 + (n * 37) % 10],
       0, 0, n || ' Bench Street, Loadtown', now() - random() * interval '30 days', now()
  FROM generate_series(1, $1) AS n
 CROSS JOIN (SELECT array_agg(id) AS ids FROM users WHERE role = 'customer') AS c
"""

# 1 to 4 lines an order; power(random(), 4) makes the first products of the catalog the
# best sellers, so "top products" has a clear ranking over a long tail.
ITEMS_SQL = """
WITH catalog AS MATERIALIZED (
    SELECT array_agg(id ORDER BY id) AS ids FROM products WHERE is_active
), picks AS MATERIALIZED (
    SELECT o.id AS order_id, k,
           catalog.ids[1 + floor(power(random(), 4) * cardinality(catalog.ids))::int]
               AS product_id
      FROM orders o
     CROSS JOIN catalog
     CROSS JOIN LATERAL generate_series(1, 1 + o.id % 4) AS k
)
INSERT INTO order_items (order_id, product_id, variant_id, product_name, variant_title, sku,
                         quantity, price_at_purchase, line_total)
SELECT picks.order_id, p.id, v.id, p.name, v.title, v.sku, q.quantity, v.price,
       v.price * q.quantity
  FROM picks
  JOIN products p ON p.id = picks.product_id
  -- Each product's first variant: what a Release 1 order of it became (0018).
  JOIN LATERAL (SELECT id, title, sku, price FROM product_variants
                 WHERE product_id = p.id ORDER BY position, id LIMIT 1) AS v ON true
 CROSS JOIN LATERAL (SELECT 1 + (picks.order_id + picks.k) % 3 AS quantity) AS q
    ON CONFLICT (order_id, variant_id) DO NOTHING
"""

TOTALS_SQL = """
UPDATE orders o
   SET subtotal = t.amount, total_amount = t.amount
  FROM (SELECT order_id, sum(price_at_purchase * quantity) AS amount
          FROM order_items GROUP BY order_id) AS t
 WHERE t.order_id = o.id
"""

HISTORY_SQL = """
INSERT INTO order_status_history (order_id, from_status, to_status, created_at)
SELECT id, NULL, 'pending', created_at FROM orders
"""


async def prepare_database(database_url: str, *, products: int, orders: int) -> None:
    from shop_api.domain.accounts import create_admin
    from shop_api.ops.seed import seed_demo, seed_synthetic_products
    from shop_api.settings import Settings

    await fresh_bench_database(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        settings = Settings(database_url=database_url, bcrypt_rounds=4)
        started = time.perf_counter()
        demo = await seed_demo(conn, settings)
        await seed_synthetic_products(conn, max(0, products - demo.products))
        await create_admin(conn, settings, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
        await conn.execute("SELECT setseed(0.42)")
        async with conn.transaction():
            await conn.execute(CUSTOMERS_SQL, 2000)
            await conn.execute(ORDERS_SQL, orders)
            await conn.execute(ITEMS_SQL)
            await conn.execute(TOTALS_SQL)
            await conn.execute(HISTORY_SQL)
            # The orders were written straight into their statuses, around the state machine
            # whose trigger keeps the best sellers: count them once.
            await conn.execute("SELECT rebuild_product_sales()")
        await conn.execute("VACUUM ANALYZE")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM products) AS products, "
            "(SELECT count(*) FROM orders) AS orders, "
            "(SELECT count(*) FROM order_items) AS lines, "
            "(SELECT count(*) FROM users) AS users"
        )
        print(
            f"seeded {counts['products']:,} products, {counts['users']:,} users, "
            f"{counts['orders']:,} orders with {counts['lines']:,} lines "
            f"in {time.perf_counter() - started:.1f} s"
        )
    finally:
        await conn.close()


async def time_figures(database_url: str, requests: int) -> list[float]:
    from shop_api.db import create_pool
    from shop_api.domain import dashboard

    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        samples = []
        for n in range(requests + 5):
            started = time.perf_counter()
            await dashboard.figures(pool, low_stock_threshold=5, currency="USD")
            if n >= 5:  # the first ones prepare the statements
                samples.append(time.perf_counter() - started)
        return samples
    finally:
        await pool.close()


async def time_get(session: aiohttp.ClientSession, url: str, requests: int,
                   headers: dict[str, str] | None = None) -> tuple[list[float], int]:
    samples, size = [], 0
    for n in range(requests + 5):
        started = time.perf_counter()
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            body = await response.read()
            if response.status != 200:
                raise SystemExit(f"GET {url}: {response.status} {body[:300]!r}")
        if n >= 5:
            samples.append(time.perf_counter() - started)
            size = len(body)
    return samples, size


async def measure(base: str, requests: int) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies of 127.0.0.1, an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        await wait_until_up(session, base)
        async with session.post(
            f"{base}/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        ) as response:
            token = (await response.json())["access_token"]
        async with session.get(f"{base}/admin/login") as response:
            form = await response.text()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        async with session.post(
            f"{base}/admin/login",
            data={"csrf_token": csrf, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            allow_redirects=False,
        ) as response:
            if response.status != 303:
                raise SystemExit(f"form login failed: {response.status}")

        api, api_size = await time_get(
            session, f"{base}/api/admin/dashboard", requests,
            headers={"Authorization": f"Bearer {token}"},
        )
        print(describe(f"GET /api/admin/dashboard ({api_size:,} bytes)", api))
        page, page_size = await time_get(session, f"{base}/admin/", requests)
        print(describe(f"GET /admin/ ({page_size:,} bytes of HTML)", page))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per URL")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    ensure_port_free(args.port)

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DATABASE_URL"] = database_url  # only Redis may be embedded
    env, started = start_services("shop_bench_admin")
    processes: list[subprocess.Popen] = []
    try:
        asyncio.run(prepare_database(database_url, products=args.products, orders=args.orders))
        figures = asyncio.run(time_figures(database_url, args.requests))
        print(describe("dashboard.figures() in process", figures))
        env.update(
            SECRET_KEY=SECRET_KEY,
            LOG_LEVEL="WARNING",
            BCRYPT_ROUNDS="4",
            RELAY_IN_WEB="false",
            SESSION_COOKIE_SECURE="false",
        )
        processes.append(subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(args.port)],
            env=env,
            cwd=ROOT,
        ))
        print(f"1 web process (shop-api serve, one event loop), {os.cpu_count()} CPUs, "
              f"sequential requests after 5 untimed ones")
        asyncio.run(measure(f"http://127.0.0.1:{args.port}", args.requests))
    finally:
        stop_all(processes, started)


if __name__ == "__main__":
    main()

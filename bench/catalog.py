"""Load test of the catalog on 100,000 products: list (plain, by category, searched) and detail.

    apt-get install -y wrk                                 # the load generator (Debian package)
    .venv/bin/python bench/catalog.py                      # embedded PostgreSQL and Redis
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop_bench \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/catalog.py

Steps: create the bench database if missing and empty it (its name must contain "bench": this
drops its schema), migrate, seed the demo shop plus synthetic products up to --products, VACUUM
ANALYZE, print the EXPLAIN ANALYZE summary of the list query for every filter (flagging any
sequential scan of products), start ONE web process (`shop-api serve`, one event loop), run
wrk against each scenario for --duration seconds, print requests/s and p50/p99, and stop
everything it started.
wrk runs one thread (-t1) so it takes as little CPU from the server as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
from _support import (
    ensure_port_free,
    fresh_bench_database,
    start_services,
    stop_all,
    wait_until_up,
)

SEARCHES = [
    "walnut", "leather wallet", '"desk lamp"', "wool -scarf", "ceramic mug", "travel kettle",
    "copper or brass", "handmade vase",
]
CATEGORIES = [
    "electronics", "home-kitchen", "audio", "coffee-tea", "clothing-shoes", "fitness", "books",
    "cycling",
]

# The list query's filters for EXPLAIN ANALYZE: (label, parameters beyond the defaults).
EXPLAINED = [
    ("plain (newest)", {}),
    ("category, top level with descendants", {"category_slug": "home-kitchen"}),
    ("category, leaf", {"category_slug": "audio"}),
    ("min_price", {"min_price": Decimal("400")}),
    ("min_price + max_price", {"min_price": Decimal("100"), "max_price": Decimal("120")}),
    ("in_stock=true", {"in_stock": True}),
    ("in_stock=false", {"in_stock": False}),
    ("search (broad word), relevance", {"search": "walnut", "sort": "relevance"}),
    ("search (phrase), relevance", {"search": '"leather wallet"', "sort": "relevance"}),
    ("search + category + price + stock", {
        "search": "leather", "category_slug": "home-kitchen", "min_price": Decimal("50"),
        "max_price": Decimal("300"), "in_stock": True, "sort": "-price"}),
    ("sort=price", {"sort": "price"}),
    ("sort=-price", {"sort": "-price"}),
    ("sort=name", {"sort": "name"}),
    ("sort=rating", {"sort": "rating"}),
    ("category + sort=price", {"category_slug": "electronics", "sort": "price"}),
]


@dataclass
class Outcome:
    scenario: str
    requests_per_second: float
    p50: str
    p99: str
    errors: str


def wrk_command() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit(
            "wrk is not installed: apt-get update && apt-get install -y wrk "
            "(or brew install wrk)"
        )
    return found


async def prepare_database(database_url: str, products: int) -> list[int]:
    """A fresh bench database with `products` active products; returns some of their ids."""
    import asyncpg

    from shop_api.ops.seed import seed_demo, seed_synthetic_products
    from shop_api.settings import Settings

    await fresh_bench_database(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        demo = await seed_demo(conn, Settings(database_url=database_url, bcrypt_rounds=4))
        synthetic = max(0, products - demo.products)
        await seed_synthetic_products(conn, synthetic)
        print(f"seeded {demo.products} demo + {synthetic:,} synthetic products "
              f"in {time.perf_counter() - started:.1f} s")
        # Fresh visibility map and statistics, as autovacuum would leave them in production.
        await conn.execute("VACUUM ANALYZE products")
        rows = await conn.fetch(
            "SELECT id FROM products WHERE is_active ORDER BY random() LIMIT 2000"
        )
        return [row["id"] for row in rows]
    finally:
        await conn.close()


async def explain(database_url: str) -> list[str]:
    """EXPLAIN ANALYZE of the list query per filter: how products are read, and the time."""
    import asyncpg

    from shop_api.db import queries

    order = queries.driver_adapter.var_sorted["list_products"]
    defaults = {
        "category_id": None, "category_slug": None, "min_price": None, "max_price": None,
        "in_stock": None, "search": None, "sort": "newest", "limit": 20, "offset": 0,
    }
    lines = []
    conn = await asyncpg.connect(database_url)
    try:
        for label, change in EXPLAINED:
            parameters = {**defaults, **change}
            plan = [
                row[0]
                for row in await conn.fetch(
                    "EXPLAIN (ANALYZE, COSTS OFF) " + queries.list_products.sql,
                    *[parameters[name] for name in order],
                )
            ]
            reads = sorted({
                re.sub(r"\s*\(actual.*", "", line.strip().removeprefix("->  "))
                for line in plan
                if re.search(r"(Scan|Scan Backward) (using \w+ )?on products\b", line)
                or "Bitmap Index Scan on products_" in line
            })
            total = next(line for line in plan if line.startswith("Execution Time"))
            seq = " <-- SEQ SCAN" if any("Seq Scan on products" in line for line in plan) else ""
            lines.append(f"{label}: {total.split(': ')[1]}{seq}")
            lines.extend(f"    {read}" for read in reads)
        # The plans above are custom plans (made with the values). Prepared statements may
        # switch to one generic plan after five runs; check that PostgreSQL does not.
        statement = await conn.prepare(queries.list_products.sql)
        for _round in range(6):
            for _, change in EXPLAINED:
                parameters = {**defaults, **change}
                await statement.fetch(*[parameters[name] for name in order])
        counts = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement = $1", queries.list_products.sql,
        )
        lines.append(
            f"plan cache after {6 * len(EXPLAINED)} runs of the prepared list query: "
            f"{counts['custom_plans']} custom plans, {counts['generic_plans']} generic"
        )
    finally:
        await conn.close()
    return lines


def lua_script(paths: list[str]) -> str:
    quoted = ",\n".join(f'  "{path}"' for path in paths)
    return (
        f"local paths = {{\n{quoted}\n}}\n"
        "local count = #paths\n"
        "request = function()\n"
        "  return wrk.format('GET', paths[math.random(count)])\n"
        "end\n"
    )


def scenarios(ids: list[int]) -> dict[str, list[str]]:
    return {
        "GET /api/products/ (plain, newest)": ["/api/products/"],
        "GET /api/products/?category=<slug>": [
            "/api/products/?" + urlencode({"category": slug}) for slug in CATEGORIES
        ],
        "GET /api/products/?search=<text>": [
            "/api/products/?" + urlencode({"search": text}) for text in SEARCHES
        ],
        "GET /api/products/<id>": [f"/api/products/{product_id}" for product_id in ids],
    }


def parse_wrk(name: str, output: str) -> Outcome:
    def find(pattern: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        return match.group(1) if match else "?"

    errors = []
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)$"):
        found = find(pattern)
        if found != "?":
            errors.append(found)
    return Outcome(
        scenario=name,
        requests_per_second=float(find(r"Requests/sec:\s+([\d.]+)")),
        p50=find(r"^\s+50%\s+(\S+)"),
        p99=find(r"^\s+99%\s+(\S+)"),
        errors=", ".join(errors) or "none",
    )


def run_wrk(base: str, name: str, paths: list[str], args: argparse.Namespace) -> Outcome:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(paths))
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [wrk_command(), "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
             "-s", script.name, base],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(script.name)
    return parse_wrk(name, result.stdout)


async def wait_for_server(base: str, server: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, base, process=server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=12, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8097)
    args = parser.parse_args()
    wrk_command()
    ensure_port_free(args.port)

    env, started = start_services("shop_bench")
    processes: list[subprocess.Popen] = []
    try:
        ids = asyncio.run(prepare_database(env["DATABASE_URL"], args.products))
        print("\nEXPLAIN ANALYZE of the list query (page of 20), how products are read:")
        for line in asyncio.run(explain(env["DATABASE_URL"])):
            print("  " + line)

        env.update(LOG_LEVEL="WARNING")
        server = subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(args.port)], env=env
        )
        processes.append(server)
        base = f"http://127.0.0.1:{args.port}"
        asyncio.run(wait_for_server(base, server))
        print(
            f"\n1 web process (shop-api serve, one event loop, pool of "
            f"{env.get('DB_POOL_MAX', '10')}), PostgreSQL on the same machine, "
            f"{os.cpu_count()} CPUs; wrk -t1 -c{args.connections} -d{args.duration}s"
        )
        outcomes = []
        for name, paths in scenarios(ids).items():
            run_wrk(base, name, paths, argparse.Namespace(connections=args.connections,
                                                          duration=2))  # warm-up
            outcome = run_wrk(base, name, paths, args)
            outcomes.append(outcome)
            print(f"  {outcome.scenario:<40} {outcome.requests_per_second:>8.0f} req/s   "
                  f"p50 {outcome.p50:>8}   p99 {outcome.p99:>8}   errors: {outcome.errors}")
    finally:
        stop_all(processes, started)


if __name__ == "__main__":
    main()

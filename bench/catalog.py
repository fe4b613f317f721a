"""Load test of the catalog on 100,000 products: list, detail and facets, beside a baseline.

On 100,000 products (about 300,000 variants): the list (plain, by category, searched, by
option), detail, and facets (broad, by category, searched), beside the list and detail of an
older checkout (Release 1) measured the same way in the same run.

    apt-get install -y wrk                                 # the load generator (Debian package)
    git worktree add --detach ../release-1 e43fb79         # Release 1: before variants (0018)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop_bench \\
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/catalog.py --baseline ../release-1

Steps: for this checkout, and for --baseline when given (in the database named like
DATABASE_URL's with `_baseline` added), create the database if missing and empty it (its name
must contain "bench": this drops its schema), migrate and seed with that checkout's own
`shop-api migrate` and `shop-api seed` (the demo shop plus synthetic products up to
--products), VACUUM ANALYZE, and start ONE web process of it (`shop-api serve`, one event
loop). Print the EXPLAIN ANALYZE summary of this checkout's list and facet queries (flagging
any sequential scan of products or variants). Then run wrk on each scenario for --duration
seconds, the baseline's run of a scenario right before this checkout's so both see the same
machine, and print requests/s and p50/p99 side by side. Stop everything it started.
wrk runs one thread (-t1) so it takes as little CPU from the servers as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from _support import (
    ROOT,
    Shop,
    baseline_url,
    empty_bench_database,
    ensure_port_free,
    start,
    start_services,
    stop_all,
)

SEARCHES = [
    "walnut", "leather wallet", '"desk lamp"', "wool -scarf", "ceramic mug", "travel kettle",
    "copper or brass", "handmade vase",
]
CATEGORIES = [
    "electronics", "home-kitchen", "audio", "coffee-tea", "clothing-shoes", "fitness", "books",
    "cycling",
]
# `?option=` filters of the list: one value, either of two, and one variant with two values.
OPTION_FILTERS = [
    ["Size:M"], ["Colour:Red"], ["Size:XS", "Size:XXL"], ["Size:M", "Colour:Navy"],
    ["Size:L", "Colour:Black", "Colour:White"], ["Colour:Sand"], ["Size:S", "Colour:Grey"],
    ["Size:XL"],
]

# The list query's filters for EXPLAIN ANALYZE: (label, filters, sort).
EXPLAINED = [
    ("plain (newest)", {}, "newest"),
    ("category, top level with descendants", {"category": "home-kitchen"}, "newest"),
    ("category, leaf", {"category": "audio"}, "newest"),
    ("min_price", {"min_price": Decimal("400")}, "newest"),
    ("min_price + max_price", {"min_price": Decimal("100"), "max_price": Decimal("120")},
     "newest"),
    ("in_stock=true", {"in_stock": True}, "newest"),
    ("in_stock=false", {"in_stock": False}, "newest"),
    ("search (broad word), relevance", {"search": "walnut"}, "relevance"),
    ("search (phrase), relevance", {"search": '"leather wallet"'}, "relevance"),
    ("search + category + price + stock", {
        "search": "leather", "category": "home-kitchen", "min_price": Decimal("50"),
        "max_price": Decimal("300"), "in_stock": True}, "-price"),
    ("sort=price", {}, "price"),
    ("sort=-price", {}, "-price"),
    ("sort=name", {}, "name"),
    ("sort=rating", {}, "rating"),
    ("category + sort=price", {"category": "electronics"}, "price"),
    ("option Size:M", {"options": {"Size": ("M",)}}, "newest"),
    ("option Size:XS or XXL", {"options": {"Size": ("XS", "XXL")}}, "newest"),
    ("option Size:M + Colour:Navy (one variant)",
     {"options": {"Size": ("M",), "Colour": ("Navy",)}}, "newest"),
    ("option + category + sort=price",
     {"options": {"Colour": ("Red",)}, "category": "clothing-shoes"}, "price"),
]
EXPLAINED_FACETS = [
    ("broad (no filter)", {}),
    ("category, top level", {"category": "clothing-shoes"}),
    ("category, leaf", {"category": "audio"}),
    ("search (broad word)", {"search": "walnut"}),
    ("search (phrase)", {"search": '"leather wallet"'}),
    ("price range + in stock", {"min_price": Decimal("100"), "max_price": Decimal("200"),
                                "in_stock": True}),
    ("option Size:M", {"options": {"Size": ("M",)}}),
    ("option Size:M + Colour:Navy", {"options": {"Size": ("M",), "Colour": ("Navy",)}}),
]
TABLES = ("products", "product_variants")


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


async def prepare(shop: Shop, env: dict[str, str], products: int, *, reuse: bool) -> list[int]:
    """A fresh database for `shop` with `products` active products, made by its own code (or
    the one a previous run left, with `reuse`); some of their ids."""
    import asyncpg

    if not reuse:
        await empty_bench_database(shop.database_url)
        shop.cli(env, "migrate")
        shop.cli(env, "seed")
    conn = await asyncpg.connect(shop.database_url)
    try:
        if not reuse:
            demo = await conn.fetchval("SELECT count(*) FROM products")
            added = shop.cli(env, "seed", "--products", str(max(1, products - demo)))
            print(f"{shop.label}: {demo} demo products, then {added.strip().splitlines()[-1]}")
            # Fresh visibility map and statistics, as autovacuum would leave them.
            for table in TABLES:
                if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                    await conn.execute(f"VACUUM ANALYZE {table}")
        active = await conn.fetchval("SELECT count(*) FROM products WHERE is_active")
        variants = ""
        if await conn.fetchval("SELECT to_regclass('product_variants') IS NOT NULL"):
            count = await conn.fetchval("SELECT count(*) FROM product_variants WHERE is_active")
            variants = f", {count:,} active variants"
        print(f"{shop.label}: {active:,} active products{variants}")
        await conn.execute("SELECT setseed(0.12)")
        rows = await conn.fetch(
            "SELECT id FROM products WHERE is_active ORDER BY random() LIMIT 2000"
        )
        return [row["id"] for row in rows]
    finally:
        await conn.close()


def plan_reads(plan: list[str]) -> tuple[list[str], bool]:
    """How a plan reads products and variants (its scan lines, deduplicated), and whether it
    reads either sequentially."""
    # Branches the request's values rule out show "(never executed)": not reads.
    executed = [line for line in plan if "(never executed)" not in line]
    reads = sorted({
        re.sub(r"\s*\(actual.*", "", line.strip().removeprefix("->  "))
        for line in executed
        if re.search(r"Scan( Backward)? (using \w+ )?on (products|product_variants)\b", line)
        or re.search(r"Bitmap Index Scan on (products|product_variants)_", line)
    })
    sequential = any(re.search(r"Seq Scan on (products|product_variants)\b", line)
                     for line in executed)
    return reads, sequential


async def explain(database_url: str) -> list[str]:
    """EXPLAIN ANALYZE of the list and facet queries per filter: how products and variants are
    read, and the time."""
    from shop_api.db import create_pool, queries
    from shop_api.domain.catalog import ProductFilters
    from shop_api.domain.facets import PRICE_GRID

    def arguments(name: str, parameters: dict) -> list:
        return [parameters.get(key) for key in queries.driver_adapter.var_sorted[name]]

    def list_parameters(filters: dict, sort: str) -> dict:
        return {**ProductFilters(**filters).parameters(), "sort": sort, "limit": 20,
                "offset": 0}

    lines = []
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            runs = [("list", label, "list_products", list_parameters(filters, sort))
                    for label, filters, sort in EXPLAINED]
            runs += [(f"facets ({group})", label, "product_facets", {
                **ProductFilters(**filters).parameters(),
                "option_filter": ProductFilters(**filters).option_map(),
                "price_grid": list(PRICE_GRID), "facet_group": group})
                for label, filters in EXPLAINED_FACETS for group in ("counts", "options")]
            for kind, label, name, parameters in runs:
                if name == "product_facets":  # the session the facets run in (no workers)
                    await queries.plan_facets_with_their_values(conn)
                plan = [row[0] for row in await conn.fetch(
                    "EXPLAIN (ANALYZE, COSTS OFF) " + getattr(queries, name).sql,
                    *arguments(name, parameters),
                )]
                reads, sequential = plan_reads(plan)
                total = next(line for line in plan if line.startswith("Execution Time"))
                flag = " <-- SEQ SCAN" if sequential else ""
                lines.append(f"{kind} {label}: {total.split(': ')[1]}{flag}")
                lines.extend(f"    {read}" for read in reads)
            # The plans above are custom plans (made with the values). Prepared statements may
            # switch to one generic plan after five runs; check that the list does not.
            statement = await conn.prepare(queries.list_products.sql)
            for _round in range(6):
                for _, filters, sort in EXPLAINED:
                    await statement.fetch(
                        *arguments("list_products", list_parameters(filters, sort))
                    )
            counts = await conn.fetchrow(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement = $1", queries.list_products.sql,
            )
            lines.append(
                f"plan cache after {6 * len(EXPLAINED)} runs of the prepared list query: "
                f"{counts['custom_plans']} custom plans, {counts['generic_plans']} generic"
            )
    finally:
        await pool.close()
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


def scenarios(ids: list[int]) -> dict[str, tuple[list[str], bool]]:
    """Each scenario's paths, and whether the baseline has it too."""
    def query(**params: str) -> str:
        return urlencode(params)

    return {
        "GET /api/products/ (plain, newest)": (["/api/products/"], True),
        "GET /api/products/?category=<slug>": (
            [f"/api/products/?{query(category=slug)}" for slug in CATEGORIES], True),
        "GET /api/products/?search=<text>": (
            [f"/api/products/?{query(search=text)}" for text in SEARCHES], True),
        "GET /api/products/<id>": ([f"/api/products/{product_id}" for product_id in ids], True),
        "GET /api/products/?option=<Name:value>": (
            ["/api/products/?" + urlencode([("option", o) for o in options])
             for options in OPTION_FILTERS], False),
        "GET /api/products/facets (broad)": (["/api/products/facets"], False),
        "GET /api/products/facets?category=<slug>": (
            [f"/api/products/facets?{query(category=slug)}" for slug in CATEGORIES], False),
        "GET /api/products/facets?search=<text>": (
            [f"/api/products/facets?{query(search=text)}" for text in SEARCHES], False),
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


def run_wrk(base: str, name: str, paths: list[str], connections: int, duration: int) -> Outcome:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(paths))
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [wrk_command(), "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
             "-s", script.name, base],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(script.name)
    return parse_wrk(name, result.stdout)


def measure(shop: Shop, name: str, paths: list[str], connections: int,
            args: argparse.Namespace) -> Outcome:
    base = f"http://127.0.0.1:{shop.port}"
    run_wrk(base, name, paths, connections, 2)  # warm-up
    return run_wrk(base, name, paths, connections, args.duration)


def line(label: str, connections: int, outcome: Outcome) -> str:
    return (f"    {label:<9} -c{connections:<3} {outcome.requests_per_second:>7.0f} req/s   "
            f"p50 {outcome.p50:>8}   p99 {outcome.p99:>8}   errors: {outcome.errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=12, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--facet-connections", type=int, default=2,
                        help="the facet scenarios run at this concurrency too")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--baseline", type=Path,
                        help="a checkout (git worktree) of the code to compare with")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the databases a previous run left, without seeding")
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args()
    wrk_command()
    env, started = start_services("shop_bench")
    shops = [Shop("this", ROOT, env["DATABASE_URL"], args.port)]
    if args.baseline is not None:
        if not (args.baseline / "shop_api").is_dir():
            raise SystemExit(f"{args.baseline} is not a checkout of shop-api")
        shops.insert(0, Shop("baseline", args.baseline.resolve(),
                             baseline_url(env["DATABASE_URL"]), args.port + 1))
    for shop in shops:
        ensure_port_free(shop.port)
    processes: list[subprocess.Popen] = []
    try:
        ids = {shop.label: asyncio.run(prepare(shop, env, args.products, reuse=args.reuse))
               for shop in shops}
        if not args.no_explain:
            print("\nEXPLAIN ANALYZE of the list (page of 20) and facet queries, how products "
                  "and variants are read:")
            for text in asyncio.run(explain(env["DATABASE_URL"])):
                print("  " + text)
        for shop in shops:
            shop.server = start(shop, env)
            processes.append(shop.server)
        print(
            f"\n1 web process per checkout (shop-api serve, one event loop, pool of "
            f"{env.get('DB_POOL_MAX', '10')}), PostgreSQL on the same machine, "
            f"{os.cpu_count()} CPUs; wrk -t1 -d{args.duration}s -c{args.connections}, and for "
            f"the facets -c{args.facet_connections} too"
        )
        for name, (paths, in_baseline) in scenarios(ids["this"]).items():
            if args.only and args.only not in name:
                continue
            print(f"  {name}")
            for shop in shops:
                if shop.label == "baseline" and not in_baseline:
                    continue
                shop_paths = paths
                if name.endswith("<id>"):
                    shop_paths = [f"/api/products/{product_id}" for product_id in ids[shop.label]]
                # A facet request costs tens of milliseconds of database time: past the CPUs'
                # worth of concurrent requests they queue, so their latency is also measured
                # where the server is not saturated.
                levels = [args.connections]
                if "facets" in name and args.facet_connections != args.connections:
                    levels.insert(0, args.facet_connections)
                for connections in levels:
                    outcome = measure(shop, name, shop_paths, connections, args)
                    print(line(shop.label, connections, outcome), flush=True)
    finally:
        stop_all(processes, started)


if __name__ == "__main__":
    main()

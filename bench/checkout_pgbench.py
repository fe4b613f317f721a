"""Checkout against its physical limit: the project's checkouts/s beside pgbench running the very
statements of one checkout, on the same database, cores and client count, from one run.

    .venv/bin/python bench/checkout_pgbench.py                     # 32 clients, 4,000 buyers
    .venv/bin/python bench/checkout_pgbench.py --concurrency 16 --buyers 6000
    .venv/bin/python bench/checkout_pgbench.py --show-script       # print the pgbench script

DATABASE_URL picks another database than postgresql://postgres@127.0.0.1:5432/shop_bench_checkout
(created if missing, schema rebuilt: its name must contain "bench"). Needs `pgbench` on PATH.

The checkout is bench/checkout.py's spread scenario with everything on: a shop with a shipping
zone (two methods) and New York's sales tax, every buyer naming a Brooklyn address, sending an
Idempotency-Key and the code of one promotion (10 % off, its limit never reached), each buyer
buying a product of their own (one cart line, quantity 1).

1. The script is captured, not written: one such checkout goes through the real app (in this
   process, pool of one connection, a query logger on it) on a database whose id sequences
   start far apart (users at 1,000,001, carts at 2,000,001, ...), so each id the checkout
   passes or gets back is recognisable. Every statement it sent, in order, with its
   parameters, becomes a line of the script: the authentication read, BEGIN, the key's claim,
   the destination's charges, the promotions, the cart lock, the lines (variants and products
   locked), place_order, the promotion's use, the key's completion, COMMIT.
2. Parameters: the buyer's user id is `:uid`; an id a statement got back from an earlier one
   (the cart, the variant, the claimed key, the order) is that statement's result, kept with
   `\\gset` and passed on, as the app passes it; every other value (money, the address, the
   task names, the stored answer) is a `-D` variable, so pgbench sends it as a bind parameter
   of a prepared statement (`-M prepared`), as asyncpg does; a NULL stays a NULL.
3. Repetition: a checkout consumes its cart (place_order empties it) and leaves a pending
   order, so a script run cannot simply be repeated on one buyer, and rolling back instead of
   committing would skip the commit's WAL flush, the largest single cost of a checkout. So
   every script run is a fresh buyer with a full cart, as in the project's run: `--buyers`
   users are seeded with one-line carts, each on its own product (buyers spread over products,
   as the spread scenario; the product follows from the buyer), and client c's n-th run takes
   buyer `first + c + n * clients`, so no two runs share a buyer, every run takes the same row
   locks, does the same inserts, updates and deletes, and commits. pgbench runs
   `buyers / clients` transactions per client (`-t`); the database is seeded again in between.

Both runs see the promotion row every checkout takes a use of (a lock all of them wait on),
the same indexes, the same table sizes at the start. What the ratio leaves to the project is
everything but PostgreSQL: HTTP, JSON, validation, pricing in Python, the event loop's delay
between statements (while locks are held) and the Python client generating the load.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from _support import ROOT, Shop, empty_bench_database, ensure_port_free, record, start, stop_all
from checkout import (
    COUPON,
    SECRET_KEY,
    SHIPPING_ADDRESS,
    configure_hot_promotion,
    configure_shipping_and_tax,
    describe,
    run_scenario,
    seed,
    verify,
)

from shop_api.security import tokens
from shop_api.settings import Settings

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/shop_bench_checkout"
BODY = {**SHIPPING_ADDRESS, "coupon_code": COUPON}
# Where each table's ids start in the captured checkout, so its ids are told apart by value.
CAPTURE_IDS = {
    "users": 1_000_001, "carts": 2_000_001, "products": 3_000_001,
    "product_variants": 4_000_001, "orders": 5_000_001, "idempotency_keys": 6_000_001,
}
# Two buyers, each with a one-line cart on a product of their own.
CAPTURE_BUYERS = """
WITH buyer AS (
    INSERT INTO users (email, password_hash, full_name)
    SELECT 'capture' || n || '@example.com', 'x', 'Capture ' || n
      FROM generate_series(1, 2) AS n
    RETURNING id
), product AS (
    INSERT INTO products (name, slug, price, stock_quantity)
    SELECT 'Product ' || n, 'product-' || n, 9.99, 0 FROM generate_series(1, 2) AS n
    RETURNING id
), variant AS (
    INSERT INTO product_variants (product_id, title, price, stock_quantity, weight_grams)
    SELECT id, 'Default', 9.99, 100, 400 FROM product
    RETURNING id
), cart AS (
    INSERT INTO carts (user_id) SELECT id FROM buyer RETURNING id, user_id
), item AS (
    INSERT INTO cart_items (cart_id, variant_id, quantity)
    SELECT c.id, v.id, 1
      FROM (SELECT id, row_number() OVER (ORDER BY user_id) AS n FROM cart) AS c
      JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM variant) AS v USING (n)
)
SELECT id FROM buyer ORDER BY id
"""
FIRST_CAPTURE_ID = min(CAPTURE_IDS.values())


@dataclass
class Statement:
    query: str
    args: tuple[Any, ...]
    rows: list[dict[str, Any]] | None = None


async def prepare(conn: asyncpg.Connection, *, buyers: int) -> list[int]:
    """Seed the shop of the measured checkout: `buyers` buyers with their own product."""
    user_ids = await seed(conn, buyers=buyers, hot=False)
    await conn.execute(
        "TRUNCATE shipping_zones, tax_rates, promotions RESTART IDENTITY CASCADE"
    )
    await configure_shipping_and_tax(conn)
    await configure_hot_promotion(conn, buyers=buyers)
    await conn.execute("ANALYZE")
    return user_ids


async def capture(database_url: str, settings: Settings) -> list[Statement]:
    """Every statement of one warm checkout through the app, with its parameters and rows."""
    from aiohttp.test_utils import TestClient, TestServer

    from shop_api.web.app import create_app

    conn = await asyncpg.connect(database_url)
    try:
        await prepare(conn, buyers=2)  # the shipping zone, the tax rates, the promotion
        await conn.execute(
            "TRUNCATE users, products, product_variants, carts, orders, idempotency_keys, "
            "outbox, inventory_ledger CASCADE"
        )
        for table, start_at in CAPTURE_IDS.items():
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {start_at - 1})"
            )
        user_ids = [row["id"] for row in await conn.fetch(CAPTURE_BUYERS)]
    finally:
        await conn.close()
    app = create_app(
        dataclasses.replace(settings, db_pool_min=1, db_pool_max=1, relay_in_web=False)
    )
    logged: list[Statement] = []
    recording = False
    execute, run = asyncpg.Connection.execute, asyncpg.Connection._execute

    async def logged_execute(self, query: str, *args, **kwargs):
        if recording and not args:  # BEGIN, COMMIT: the simple protocol, no rows
            logged.append(Statement(query, ()))
        return await execute(self, query, *args, **kwargs)

    async def logged_run(self, query: str, args, *rest, **kwargs):
        answer = await run(self, query, args, *rest, **kwargs)
        if recording:
            records = answer[0] if isinstance(answer, tuple) else answer
            logged.append(Statement(query, tuple(args), [dict(r) for r in records or ()]))
        return answer

    asyncpg.Connection.execute, asyncpg.Connection._execute = logged_execute, logged_run
    try:
        async with TestClient(TestServer(app)) as client:
            for number, user_id in enumerate(user_ids):
                # The first checkout warms the connection (prepared statements, types).
                recording = number == 1
                token = tokens.issue(
                    settings, token_type=tokens.ACCESS, user_id=user_id, token_version=0
                ).token
                response = await client.post(
                    "/api/orders", json=BODY,
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "pgbench"},
                )
                if response.status != 201:
                    raise SystemExit(
                        f"the captured checkout answered {response.status}: "
                        f"{await response.text()}"
                    )
    finally:
        asyncpg.Connection.execute, asyncpg.Connection._execute = execute, run
    return logged


PLACEHOLDER = re.compile(r"\$(\d+)")


def script_of(logged: list[Statement], user_id: int) -> tuple[str, dict[str, str]]:
    """The pgbench script of the captured statements, and its -D constants (module docstring,
    points 2 and 3)."""
    lines = [
        "\\set n :n + 1",
        "\\set uid :first_user + :client_id + (:n - 1) * :clients",
    ]
    constants: dict[str, str] = {}
    answered: dict[int, str] = {user_id: "uid"}  # a captured id -> the variable holding it

    def parameter(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, int) and not isinstance(value, bool) and value in answered:
            return f":{answered[value]}"
        if isinstance(value, list) and any(
            isinstance(v, int) and v >= FIRST_CAPTURE_ID for v in value
        ):
            if len(value) != 1 or value[0] not in answered:
                raise SystemExit(f"cannot parameterise {value!r}")
            return f"('{{' || :{answered[value[0]]} || '}}')"
        if isinstance(value, int) and not isinstance(value, bool) and value >= FIRST_CAPTURE_ID:
            raise SystemExit(f"an id {value} no earlier statement answered")
        text = text_of(value)
        if text == "":
            return "''"  # pgbench -D takes no empty value
        name = next((n for n, v in constants.items() if v == text), f"c{len(constants) + 1}")
        constants[name] = text
        return f":{name}"

    for number, statement in enumerate(logged, 1):
        sql = " ".join(
            line.strip() for line in statement.query.splitlines()
            if line.strip() and not line.strip().startswith("--")
        )
        args = statement.args
        sql = PLACEHOLDER.sub(lambda m, args=args: parameter(args[int(m.group(1)) - 1]), sql)
        lines.append(sql.rstrip(";") + ";" if not sql.endswith(";") else sql)
        rows = statement.rows
        if rows is not None and len(rows) == 1:
            wanted = {
                column: value for column, value in rows[0].items()
                if isinstance(value, int) and not isinstance(value, bool)
                and value >= FIRST_CAPTURE_ID and value not in answered
            }
            if wanted:
                lines[-1] = lines[-1].rstrip(";")
                lines.append(f"\\gset s{number}_")
                for column, value in wanted.items():
                    answered[value] = f"s{number}_{column}"
    return "\n".join(lines) + "\n", constants


def text_of(value: Any) -> str:
    """A parameter as text, the way PostgreSQL reads it back for its type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, str)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list) and all(
        v is None or isinstance(v, (int, Decimal, str)) for v in value
    ):  # an array: NULL, numbers bare, text in double quotes
        return "{" + ",".join(
            "NULL" if v is None else json.dumps(v) if isinstance(v, str) else str(v)
            for v in value
        ) + "}"
    return json.dumps(value, default=str)  # a json or jsonb parameter


def run_pgbench(
    database_url: str, script: str, constants: dict[str, str], *, clients: int,
    per_client: int, first_user: int,
) -> tuple[float, str]:
    """pgbench's tps (without the initial connection time) and its report."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    try:
        command = [
            shutil.which("pgbench") or "pgbench", "-n", "-M", "prepared", "-c", str(clients),
            "-j", "1", "-t", str(per_client), "-f", file.name,
            "-D", "n=0", "-D", f"clients={clients}", "-D", f"first_user={first_user}",
            *(arg for name, value in constants.items() for arg in ("-D", f"{name}={value}")),
            database_url,
        ]
        done = subprocess.run(command, capture_output=True, text=True)  # noqa: S603
    finally:
        os.unlink(file.name)
    if done.returncode != 0 or "tps" not in done.stdout:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    return float(found.group(1)), done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=4000, help="checkouts per run")
    parser.add_argument("--concurrency", type=int, default=32, help="clients at once, both runs")
    parser.add_argument("--seconds", type=float, default=60, help="time cap of the project run")
    parser.add_argument("--pool", type=int, default=20, help="the server's DB_POOL_MAX")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--show-script", action="store_true", help="print the pgbench script")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    buyers = args.buyers - args.buyers % args.concurrency

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    settings = Settings(database_url=database_url, secret_key=SECRET_KEY)
    env = dict(os.environ, SECRET_KEY=SECRET_KEY, DB_POOL_MAX=str(args.pool),
               RELAY_IN_WEB="false")
    shop = Shop("this", ROOT, database_url, args.port)
    ensure_port_free(shop.port)
    asyncio.run(empty_bench_database(database_url))
    shop.cli(env, "migrate")

    logged = asyncio.run(capture(database_url, settings))
    script, constants = script_of(logged, CAPTURE_IDS["users"] + 1)
    kinds = [s.query.strip().rstrip(";").upper() for s in logged]
    in_transaction = kinds.index("COMMIT") - kinds.index("BEGIN") + 1
    print(f"one checkout (key, coupon, shipping and tax): {len(logged)} statements, "
          f"{in_transaction} of them from BEGIN to COMMIT")
    if args.show_script:
        print(script)
        for name, value in constants.items():
            print(f"  -D {name}={value[:90]}")

    server = start(shop, env)
    try:
        user_ids = asyncio.run(_prepared(database_url, buyers))
        latencies, statuses, wall = asyncio.run(run_scenario(
            f"http://127.0.0.1:{shop.port}", settings, user_ids, concurrency=args.concurrency,
            seconds=args.seconds, with_key=True, body=BODY,
        ))
        print(describe("project", latencies, statuses, wall))
        print(asyncio.run(_verified(database_url, buyers)))
    finally:
        stop_all([server])
    project = statuses.get(201, 0) / wall

    user_ids = asyncio.run(_prepared(database_url, buyers))
    tps, report = run_pgbench(
        database_url, script, constants, clients=args.concurrency,
        per_client=buyers // args.concurrency, first_user=min(user_ids),
    )
    print(asyncio.run(_verified(database_url, buyers)).replace("check:", "pgbench check:"))
    latency = re.search(r"latency average = ([0-9.]+ ms)", report)
    print(
        f"{args.concurrency} clients, {buyers} checkouts each run, {os.cpu_count()} CPUs: "
        f"project {project:.1f} checkouts/s, pgbench {tps:.1f} tps "
        f"(latency average {latency.group(1) if latency else '?'}), "
        f"ratio {project / tps:.2f}"
    )
    record(args.json, "checkout against pgbench", {
        "clients": args.concurrency, "checkouts_per_second": project, "pgbench_tps": tps,
        "ratio": project / tps, "statements": len(logged), "in_transaction": in_transaction,
    })


async def _prepared(database_url: str, buyers: int) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        return await prepare(conn, buyers=buyers)
    finally:
        await conn.close()


async def _verified(database_url: str, buyers: int) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        checked = await verify(conn, stock_each=buyers)
        used = await conn.fetchval("SELECT times_used FROM promotions")
        return f"{checked}, {used} coupon uses"
    finally:
        await conn.close()


if __name__ == "__main__":
    main()

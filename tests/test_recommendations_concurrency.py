"""'Bought together' scores under concurrency: refreshes over shared products and a rebuild
racing them, each on a connection of its own, as workers and `shop-api recommendations rebuild`
run them.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter

import asyncpg
from factories import create_account, create_order, create_product

from shop_api.domain.recommendations import rebuild, refresh_for_order

REFRESHES = 64
PRODUCTS = 16
PRODUCTS_PER_ORDER = 8
# The plan a database without statistics picks (a fresh one, as in the runs): a nested
# loop over the order's items in the order they were stored. The lock order must not depend on it.
NESTED_LOOPS = {"enable_hashjoin": "off", "enable_mergejoin": "off"}


async def _paid_orders_over_shared_products(db, settings, *, stale: bool = True):
    """64 paid orders of 8 products out of 16 (so any two orders share some), each put in
    its cart in its own order; plus, when `stale`, out-of-date scores (every pair at 1, bought
    together or not) for the refreshes to correct. Returns the order ids."""
    buyer = await create_account(db, "regular@example.com", settings=settings)
    products = [await create_product(db, stock=1000) for _ in range(PRODUCTS)]
    shuffle = random.Random(10)
    orders = []
    for _ in range(REFRESHES):
        lines = [(product, 1) for product in shuffle.sample(products, PRODUCTS_PER_ORDER)]
        orders.append(await create_order(db, buyer.id, lines, status="paid"))
    # Never counted: an order nobody paid.
    await create_order(db, buyer.id, [(products[0], 1), (products[1], 1)])
    if stale:
        await db.execute(
            "INSERT INTO recommendations (product_id, recommended_product_id, score) "
            "SELECT a, b, 1 FROM unnest($1::bigint[]) a, unnest($1::bigint[]) b WHERE a <> b",
            products,
        )
    return orders


async def _expected_scores(db) -> dict[tuple[int, int], int]:
    """The scores from first principles: for each ordered pair of products, how many paid
    orders hold both."""
    rows = await db.fetch(
        "SELECT o.id, array_agg(i.product_id) AS products FROM orders o "
        "JOIN order_items i ON i.order_id = o.id WHERE o.status = 'paid' GROUP BY o.id"
    )
    counts: Counter[tuple[int, int]] = Counter()
    for row in rows:
        counts.update(itertools.permutations(row["products"], 2))
    return dict(counts)


async def _scores(db) -> dict[tuple[int, int], int]:
    rows = await db.fetch("SELECT product_id, recommended_product_id, score FROM recommendations")
    return {(row["product_id"], row["recommended_product_id"]): row["score"] for row in rows}


async def _connections(services, count: int) -> list[asyncpg.Connection]:
    return [
        await asyncpg.connect(services.database_url, server_settings=NESTED_LOOPS)
        for _ in range(count)
    ]


async def _close(connections: list[asyncpg.Connection]) -> None:
    await asyncio.gather(*(conn.close() for conn in connections))


def _failures(results: list) -> Counter[str]:
    return Counter(type(result).__name__ for result in results if isinstance(result, Exception))


async def test_64_concurrent_refreshes_over_shared_products_never_deadlock(db, settings, services):
    orders = await _paid_orders_over_shared_products(db, settings)
    connections = await _connections(services, REFRESHES)
    try:
        refreshes = [
            refresh_for_order(conn, order)
            for conn, order in zip(connections, orders, strict=True)
        ]
        results = await asyncio.gather(*refreshes, return_exceptions=True)
    finally:
        await _close(connections)
    # The code before the fixed lock order: 34 to 61 DeadlockDetectedError out of 64 here.
    assert _failures(results) == Counter()
    assert await _scores(db) == await _expected_scores(db)


async def test_a_rebuild_racing_refreshes_ends_consistent(db, settings, services):
    orders = await _paid_orders_over_shared_products(db, settings)
    # 63 refreshes and a rebuild (64 connections); the rebuild starts once 8 refreshes are
    # done, so it lands among the others in flight.
    *refreshing, rebuilding = await _connections(services, REFRESHES)
    done = 0
    some_done = asyncio.Event()

    async def refresh(conn: asyncpg.Connection, order: int) -> None:
        nonlocal done
        try:
            await refresh_for_order(conn, order)
        finally:
            done += 1
            if done == 8:
                some_done.set()

    async def rebuild_meanwhile() -> int:
        await some_done.wait()
        return await rebuild(rebuilding)

    try:
        results = await asyncio.gather(
            *(refresh(conn, order) for conn, order in zip(refreshing, orders, strict=False)),
            rebuild_meanwhile(),
            return_exceptions=True,
        )
    finally:
        await _close([*refreshing, rebuilding])
    assert _failures(results) == Counter()
    assert await _scores(db) == await _expected_scores(db)


async def _wait_until_blocked(db, conn: asyncpg.Connection) -> None:
    """Until `conn`'s backend waits on a lock (polled, not timed: up to 10 s on a busy box)."""
    for _ in range(1000):
        if await db.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1",
            conn.get_server_pid(),
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the rebuild never waited for the refresh")


async def test_a_rebuild_meeting_an_uncommitted_refresh_waits_for_it(db, settings, services):
    """The interleaving that made a rebuild fail with a unique violation: a refresh has
    rewritten its products' rows but not committed when the rebuild starts."""
    orders = await _paid_orders_over_shared_products(db, settings)
    refreshing, rebuilding = await _connections(services, 2)
    try:
        refresh = refreshing.transaction()
        await refresh.start()
        await refresh_for_order(refreshing, orders[0])
        rebuilt = asyncio.create_task(rebuild(rebuilding))
        await _wait_until_blocked(db, rebuilding)
        await refresh.commit()
        pairs = await rebuilt  # old code: UniqueViolationError on recommendations_pkey
    finally:
        await _close([refreshing, rebuilding])
    expected = await _expected_scores(db)
    assert pairs == len(expected)
    assert await _scores(db) == expected

"""The asyncpg pool and the named queries of `sql/`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosql
import aiosql.adapters.asyncpg
import asyncpg
import orjson

from shop_api.outages import is_dependency_down

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

class _MaybeAcquire(aiosql.adapters.asyncpg.MaybeAcquire):
    """aiosql's "a pool lends a connection for the statement", telling a pool by its type: its
    own asks `"acquire" in dir(client)` on every statement, which was 3 % of a product detail's
    CPU (py-spy, under wrk)."""

    async def __aenter__(self) -> Any:
        if isinstance(self.client, asyncpg.Pool):
            self._managed_conn = await self.client.acquire()
            return self._managed_conn
        self._managed_conn = None
        return self.client


aiosql.adapters.asyncpg.MaybeAcquire = _MaybeAcquire  # what every adapter method enters

# Every query the program runs, loaded once at import: `queries.get_user_by_id(conn, id=1)`.
queries = aiosql.from_path(SQL_DIR, "asyncpg", kwargs_only=True, mandatory_parameters=False)

T = TypeVar("T")

# What `conn` is in a function that only reads, or writes in one statement: a connection, or
# the pool itself (asyncpg lends it a connection per statement). A function that must be atomic
# takes an `asyncpg.Connection` and uses `atomic`; see shop_api/domain/__init__.py.
Queryable = asyncpg.Connection | asyncpg.Pool

# How long a worker keeps trying to record an effect it has done outside the database (a charge,
# a sent email) while the database is away, before it leaves the record to a later attempt.
RECORD_PATIENCE_SECONDS = 30.0


async def fetch_all(rows: AsyncIterator[Any]) -> list[Any]:
    """aiosql's asyncpg `select` is an async generator; most callers want the list."""
    return [row async for row in rows]


async def fetch_page(rows: AsyncIterator[Any], *, key: str = "id") -> tuple[list[Any], int]:
    """The rows and the total of a page query (`SELECT totals.total, page.* ...`, shaped as
    list_products in sql/products.sql): it answers one row at least, whose `key` is NULL when
    the page is past the end, so the total comes with any page."""
    found = await fetch_all(rows)
    total = found[0]["total"] if found else 0
    return [row for row in found if row[key] is not None], total


async def init_connection(conn: asyncpg.Connection) -> None:
    """What every connection needs before its first query (the pool's `init`; the CLI calls it
    on its one connection): json and jsonb as Python values."""
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset when a connection goes back to it: nothing to send.

    asyncpg's own reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`, a
    round trip on every release (every request), undoing what this program never does on a
    pooled connection: its advisory locks are transaction-scoped, its cursors live inside
    transactions, it LISTENs on none and SETs no session variable (the facets' planner
    settings are SET LOCAL; server_settings are the connection's defaults, which RESET ALL
    keeps). asyncpg still rolls back a transaction left open before calling this.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    command_timeout: float | None = 30.0,
    init: Callable[[asyncpg.Connection], Any] | None = init_connection,
) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=init,
        reset=keep_session,
        server_settings={
            "application_name": "shop-api",
            "timezone": "UTC",
            # No JIT compilation: it pays off for long analytical queries, and ours take
            # milliseconds. Set-returning functions over jsonb (the facets') are estimated at
            # 100 rows a call, so a 50 ms facet query was costed past jit_above_cost and spent
            # 1.8 s compiling itself (EXPLAIN ANALYZE on 100,000 products).
            "jit": "off",
        },
    )


@asynccontextmanager
async def atomic(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """The caller's transaction if one is open, else a new one.

    Domain functions that must be atomic use this, so a caller can make them part of a larger
    transaction (an idempotency key claimed with the work it protects) without a savepoint.
    """
    if conn.is_in_transaction():
        yield
    else:
        async with conn.transaction():
            yield


async def retry_while_unavailable(
    work: Callable[[], Awaitable[T]], *, within: float = RECORD_PATIENCE_SECONDS
) -> T:
    """`work()`, tried again while the database is unavailable, for up to `within` seconds.

    For writes that record an effect already done outside the database (a charge, a sent
    email): losing the record to a short outage would make a retry do the effect again.
    """
    deadline = time.monotonic() + within
    pause = 0.2
    while True:
        try:
            return await work()
        except Exception as exc:
            if not is_dependency_down(exc) or time.monotonic() + pause > deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

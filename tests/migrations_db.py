"""Scratch databases for migration tests: a database of the test's own on the test server,
migrated with yoyo (as `yoyo apply` would), and the schema as the catalogs describe it."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from yarl import URL
from yoyo import get_backend, read_migrations

from shop_api.ops.migrate import MIGRATIONS_DIR

# The schema as the catalogs describe it, one row per column, constraint, index, function,
# trigger and relation, in a stable order. Column positions are left out: the rollback can only
# add cart_items.product_id back at the end of the table (no query of the code names columns by
# position).
SCHEMA = """
SELECT 'column' AS kind, table_name || '.' || column_name AS name,
       concat_ws(' ', data_type, character_maximum_length, numeric_precision, numeric_scale,
                 is_nullable, column_default, is_identity, is_generated,
                 generation_expression) AS definition
  FROM information_schema.columns
 WHERE table_schema = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
  FROM pg_constraint
 WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'function', p.oid::regprocedure::text, pg_get_functiondef(p.oid)
  FROM pg_proc p
 WHERE pronamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger', tgrelid::regclass || '.' || tgname, pg_get_triggerdef(oid)
  FROM pg_trigger
 WHERE NOT tgisinternal
UNION ALL
SELECT 'relation', relname, relkind::text FROM pg_class WHERE relnamespace = 'public'::regnamespace
 ORDER BY 1, 2
"""


def migrate(url: str, action: str, wanted) -> None:
    """Apply (or roll back) the migrations `wanted` picks, the way `yoyo` does it."""
    backend = get_backend(url)
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR)).filter(wanted)
        with backend.lock():
            if action == "apply":
                backend.apply_migrations(backend.to_apply(migrations))
            else:
                backend.rollback_migrations(backend.to_rollback(migrations))
    finally:
        backend.connection.close()


@asynccontextmanager
async def scratch_database(
    services: Any, wanted: Callable[[Any], bool]
) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A fresh database with the migrations `wanted` picks, its URL and a connection; dropped
    after."""
    server = URL(services.database_url)
    name = f"{server.path.lstrip('/')}_mig_{secrets.token_hex(4)}"
    # with_path drops the query, which holds the embedded server's socket (?host=...).
    url = str(server.with_path(f"/{name}").with_query(server.query))
    maintenance = await asyncpg.connect(services.database_url)
    try:
        await maintenance.execute(f'CREATE DATABASE "{name}"')
        await asyncio.to_thread(migrate, url, "apply", wanted)
        conn = await asyncpg.connect(url)
        try:
            yield url, conn
        finally:
            await conn.close()
    finally:
        await maintenance.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await maintenance.close()

"""The lean reference: the project's catalog SQL behind as little aiohttp as can serve it.

What bench/lean_compare.py measures the project against, in the manner of TechEmpower's
aiohttp entry: no middleware, no validation (the query is taken as known-good), no access log,
orjson, uvloop, a plain asyncpg pool. It runs the project's own statements (sql/ loaded with
aiosql as shop_api/db.py loads it, the same names and parameters) and answers the same JSON
bodies, key for key, so what the project costs above it is its web machinery.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/shop_bench .venv/bin/python bench/lean.py

Routes: GET /api/products/ (search, category, option, sort, page, per_page),
/api/products/<id>, /api/products/facets (search, category, option), and /api/health (200,
for the bench to wait on).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from decimal import Decimal
from pathlib import Path

import aiosql
import asyncpg
import orjson
import uvloop
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Domain arithmetic the project runs too (filters to parameters, price bands), not web code.
from shop_api.domain.catalog import ProductFilters  # noqa: E402
from shop_api.domain.facets import PRICE_GRID, facets_body  # noqa: E402
from shop_api.domain.limits import capped_total  # noqa: E402

queries = aiosql.from_path(ROOT / "sql", "asyncpg", kwargs_only=True, mandatory_parameters=False)
POOL = web.AppKey("pool", asyncpg.Pool)
GRID = list(PRICE_GRID)


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


def respond(body: object, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(body, default=_default), status=status, content_type="application/json"
    )


def product(row: asyncpg.Record) -> dict:
    category_id = row["category_id"]
    return {
        "id": row["id"], "name": row["name"], "slug": row["slug"],
        "description": row["description"], "price": row["price"],
        "price_max": row["price_max"], "currency": row["currency"],
        "stock_quantity": row["stock_quantity"], "in_stock": row["stock_quantity"] > 0,
        "sku": row["sku"], "image_url": row["image_url"], "images": row["images"],
        "options": row["options"], "variant_count": row["variant_count"],
        "tax_class": row["tax_class"],
        "category": None if category_id is None else {
            "id": category_id, "name": row["category_name"], "slug": row["category_slug"]},
        "rating": {"average": row["rating_average"], "count": row["rating_count"]},
        "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


def filters(query) -> ProductFilters:
    options: dict[str, tuple[str, ...]] = {}
    for entry in query.getall("option", ()):
        name, _, value = entry.partition(":")
        options[name] = (*options.get(name, ()), value)
    return ProductFilters(
        search=query.get("search"), category=query.get("category"), options=options,
        sort=query.get("sort"),
    )


async def list_products(request: web.Request) -> web.Response:
    query = request.query
    page, per_page = int(query.get("page", 1)), int(query.get("per_page", 20))
    chosen = filters(query)
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            queries.list_products.sql,
            *_arguments("list_products", {
                **chosen.parameters(), "sort": chosen.effective_sort(), "limit": per_page,
                "offset": (page - 1) * per_page}),
        )
    total, exact = capped_total(rows[0]["total"] if rows else 0)
    return respond({
        "items": [product(row) for row in rows if row["id"] is not None],
        "page": page, "per_page": per_page, "total": total, "total_exact": exact,
        "pages": (total + per_page - 1) // per_page,
    })


async def get_product(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            queries.get_product_detail.sql, int(request.match_info["product_id"])
        )
    if not rows:
        return respond({"status": 404}, 404)
    row = rows[0]
    body = product(row)
    body["variants"] = [
        {**variant, "in_stock": variant["stock_quantity"] > 0} for variant in row["variants"]
    ]
    body["recent_reviews"] = [
        {"id": r["review_id"], "product_id": r["review_product_id"], "user": r["review_user"],
         "rating": r["review_rating"], "title": r["review_title"],
         "comment": r["review_comment"], "verified_purchase": r["review_verified_purchase"],
         "created_at": r["review_created_at"]}
        for r in rows if r["review_id"] is not None
    ]
    return respond(body)


async def _facet_group(pool: asyncpg.Pool, parameters: dict, group: str) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute(queries.plan_facets_with_their_values.sql)
        return await conn.fetchrow(
            queries.product_facets.sql,
            *_arguments("product_facets", {**parameters, "facet_group": group}),
        )


async def product_facets(request: web.Request) -> web.Response:
    chosen = filters(request.query)
    parameters = {**chosen.parameters(), "option_filter": chosen.option_map(), "price_grid": GRID}
    pool = request.app[POOL]
    counts, options = await asyncio.gather(
        _facet_group(pool, parameters, "counts"), _facet_group(pool, parameters, "options")
    )
    return respond(facets_body(counts, options))


async def health(request: web.Request) -> web.Response:
    return respond({"status": "ok"})


def _arguments(name: str, parameters: dict) -> list:
    """A named query's positional arguments, in the order aiosql numbered its parameters."""
    return [parameters.get(key) for key in queries.driver_adapter.var_sorted[name]]


async def _json_codecs(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _pool(app: web.Application):
    app[POOL] = await asyncpg.create_pool(
        os.environ["DATABASE_URL"],
        min_size=int(os.environ.get("DB_POOL_MIN", 2)),
        max_size=int(os.environ.get("DB_POOL_MAX", 10)),
        init=_json_codecs,
        # As the project's pool: the planner settings change the plans, so they must match.
        server_settings={"timezone": "UTC", "jit": "off"},
    )
    yield
    await app[POOL].close()


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_pool)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/products/", list_products)
    app.router.add_get("/api/products/facets", product_facets)
    app.router.add_get(r"/api/products/{product_id:\d+}", get_product)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None,
                loop=uvloop.new_event_loop(), print=None)


if __name__ == "__main__":
    main()

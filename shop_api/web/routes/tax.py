"""/api/admin/tax-rates: the tax rates by country, region and tax class (admins only)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import tax
from shop_api.web.endpoint import ADMIN, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.schemas.common import page_body
from shop_api.web.schemas.tax import (
    TaxRateIn,
    TaxRateOut,
    TaxRatePage,
    TaxRatesQuery,
    TaxRateUpdateIn,
    tax_rate_out,
)

routes = web.RouteTableDef()
TAG = "Tax"

UNIQUE = (
    "One rate per country, region (compared regardless of case; no region counts as one) and "
    "tax class: another is a 409 `tax_rate_exists`."
)


@routes.get("/api/admin/tax-rates")
@routes.get("/api/admin/tax-rates/")
@endpoint(
    summary="Every tax rate",
    description=(
        "By country, the country-wide rates first, then by region and tax class. A line is "
        "taxed at the rate of its destination's country and region for its product's tax "
        "class, else at the country-wide one, else not at all."
    ),
    tag=TAG,
    access=ADMIN,
    query=TaxRatesQuery,
    response=TaxRatePage,
)
async def list_rates(request: web.Request, query: dict, conn: asyncpg.Connection) -> web.Response:
    rows, total = await tax.list_rates(
        conn, country=query.get("country"), limit=query["limit"], offset=query["offset"]
    )
    return json_response(page_body([tax_rate_out(row) for row in rows], query, total))


@routes.post("/api/admin/tax-rates")
@routes.post("/api/admin/tax-rates/")
@endpoint(
    summary="Add a tax rate",
    description=(
        "`rate` is a fraction from 0 up to (not including) 1 with at most six places "
        "(`0.19` is 19 %); `tax_class` defaults to `standard`. " + UNIQUE
    ),
    tag=TAG,
    access=ADMIN,
    body=TaxRateIn,
    response=TaxRateOut,
    status=201,
    errors=(409,),
)
async def create_rate(request: web.Request, body: dict, conn: asyncpg.Connection) -> web.Response:
    row = await tax.create_rate(conn, **body)
    return json_response(tax_rate_out(row), status=201)


@routes.put(r"/api/admin/tax-rates/{rate_id:\d+}")
@endpoint(
    summary="Change a tax rate",
    description="Only the fields sent change; `region: null` makes it country-wide. " + UNIQUE,
    tag=TAG,
    access=ADMIN,
    body=TaxRateUpdateIn,
    response=TaxRateOut,
    errors=(409,),
)
async def update_rate(
    request: web.Request, rate_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await tax.update_rate(conn, rate_id, body)
    return json_response(tax_rate_out(row))


@routes.delete(r"/api/admin/tax-rates/{rate_id:\d+}")
@endpoint(
    summary="Remove a tax rate",
    description="Orders keep the tax they were charged.",
    tag=TAG,
    access=ADMIN,
    status=204,
)
async def delete_rate(request: web.Request, rate_id: int, conn: asyncpg.Connection) -> web.Response:
    await tax.delete_rate(conn, rate_id)
    return web.Response(status=204)

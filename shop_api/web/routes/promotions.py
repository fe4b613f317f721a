"""/api/admin/promotions: promotions and coupons (admins only)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import promotion_admin
from shop_api.web.endpoint import ADMIN, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.schemas.common import page_body
from shop_api.web.schemas.promotions import (
    PromotionIn,
    PromotionOut,
    PromotionPage,
    PromotionsQuery,
    promotion_out,
)

routes = web.RouteTableDef()
TAG = "Promotions"

RULES = (
    "`kind` percentage (`value` 0 to 100), fixed (an amount of money) or free_shipping (target "
    "shipping only); `target` order, items (with `product_ids` and/or `category_ids`, which "
    "must exist; sub-categories included) or shipping. A null `code` applies automatically; "
    "codes are unique regardless of case (409 `code_taken`). `times_used` is read-only."
)


@routes.get("/api/admin/promotions")
@routes.get("/api/admin/promotions/")
@endpoint(
    summary="Every promotion, with its use count",
    description="Newest first; `is_active` and `q` (in the name or code) filter.",
    tag=TAG,
    access=ADMIN,
    query=PromotionsQuery,
    response=PromotionPage,
)
async def list_promotions(
    request: web.Request, query: dict, conn: asyncpg.Connection
) -> web.Response:
    rows, total = await promotion_admin.list_promotions(
        conn,
        is_active=query.get("is_active"),
        q=query.get("q"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return json_response(page_body([promotion_out(row) for row in rows], query, total))


@routes.post("/api/admin/promotions")
@routes.post("/api/admin/promotions/")
@endpoint(
    summary="Create a promotion or coupon",
    description=RULES,
    tag=TAG,
    access=ADMIN,
    body=PromotionIn,
    response=PromotionOut,
    status=201,
    errors=(409,),
)
async def create_promotion(
    request: web.Request, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await promotion_admin.create_promotion(conn, body)
    return json_response(promotion_out(row), status=201)


@routes.get(r"/api/admin/promotions/{promotion_id:\d+}")
@endpoint(summary="One promotion", tag=TAG, access=ADMIN, response=PromotionOut)
async def get_promotion(
    request: web.Request, promotion_id: int, conn: asyncpg.Connection
) -> web.Response:
    return json_response(promotion_out(await promotion_admin.get_promotion(conn, promotion_id)))


@routes.put(r"/api/admin/promotions/{promotion_id:\d+}")
@endpoint(
    summary="Replace a promotion",
    description="Every field as for creation; a `usage_limit` below `times_used` is a 422. "
    + RULES,
    tag=TAG,
    access=ADMIN,
    body=PromotionIn,
    response=PromotionOut,
    errors=(409,),
)
async def replace_promotion(
    request: web.Request, promotion_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await promotion_admin.replace_promotion(conn, promotion_id, body)
    return json_response(promotion_out(row))


@routes.delete(r"/api/admin/promotions/{promotion_id:\d+}")
@endpoint(
    summary="Deactivate a promotion",
    description="It stops applying; it is kept (with its uses) for the orders that had it.",
    tag=TAG,
    access=ADMIN,
    status=204,
)
async def deactivate_promotion(
    request: web.Request, promotion_id: int, conn: asyncpg.Connection
) -> web.Response:
    await promotion_admin.deactivate_promotion(conn, promotion_id)
    return web.Response(status=204)

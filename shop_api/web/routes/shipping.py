"""/api/admin/shipping-zones and /api/admin/shipping-methods: where the shop ships, and how
(admins only; customers see methods only through a quote)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import shipping
from shop_api.web.endpoint import ADMIN, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.schemas.shipping import (
    MethodIn,
    MethodOut,
    MethodUpdateIn,
    ZoneIn,
    ZoneListOut,
    ZoneOut,
    ZoneUpdateIn,
    method_out,
    zone_out,
)

routes = web.RouteTableDef()
TAG = "Shipping"

COUNTRY_IN_ZONE = (
    "A country another zone lists, or `*` when another zone is the rest of the world, is a "
    "409 `country_in_zone` naming them in `errors.countries`."
)
RETIRED = (
    "Orders keep the name of the method they were shipped with and may point at it, so a "
    "deleted method is retired rather than removed: it leaves every answer and is never "
    "offered again."
)


@routes.get("/api/admin/shipping-zones")
@routes.get("/api/admin/shipping-zones/")
@endpoint(
    summary="Every shipping zone, with its methods",
    description=(
        "Oldest first. When no zone exists, shipping is free everywhere; when some do, a "
        "destination is served by the zone listing its country, else by the rest-of-the-world "
        'zone (`countries: ["*"]`), else not at all.'
    ),
    tag=TAG,
    access=ADMIN,
    response=ZoneListOut,
)
async def list_zones(request: web.Request, conn: asyncpg.Connection) -> web.Response:
    rows = await shipping.list_zones(conn)
    return json_response({"items": [zone_out(row) for row in rows]})


@routes.post("/api/admin/shipping-zones")
@routes.post("/api/admin/shipping-zones/")
@endpoint(
    summary="Add a shipping zone",
    description=(
        'A country is in at most one zone; `["*"]` makes the zone the rest of the world '
        "(one zone at most). " + COUNTRY_IN_ZONE + " Its methods are added with "
        "`POST /api/admin/shipping-zones/<id>/methods`."
    ),
    tag=TAG,
    access=ADMIN,
    body=ZoneIn,
    response=ZoneOut,
    status=201,
    errors=(409,),
)
async def create_zone(request: web.Request, body: dict, conn: asyncpg.Connection) -> web.Response:
    row = await shipping.create_zone(conn, name=body["name"], countries=body["countries"])
    return json_response(zone_out(row), status=201)


@routes.put(r"/api/admin/shipping-zones/{zone_id:\d+}")
@endpoint(
    summary="Rename a shipping zone or change its countries",
    description=(
        "Only the fields sent change; `countries` replaces the zone's list. "
        + COUNTRY_IN_ZONE
        + " A refused request changes nothing."
    ),
    tag=TAG,
    access=ADMIN,
    body=ZoneUpdateIn,
    response=ZoneOut,
    errors=(409,),
)
async def update_zone(
    request: web.Request, zone_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await shipping.update_zone(conn, zone_id, body)
    return json_response(zone_out(row))


@routes.delete(r"/api/admin/shipping-zones/{zone_id:\d+}")
@endpoint(
    summary="Remove a shipping zone and its methods",
    description="Its countries are free for other zones at once. " + RETIRED,
    tag=TAG,
    access=ADMIN,
    status=204,
)
async def delete_zone(request: web.Request, zone_id: int, conn: asyncpg.Connection) -> web.Response:
    await shipping.delete_zone(conn, zone_id)
    return web.Response(status=204)


@routes.post(r"/api/admin/shipping-zones/{zone_id:\d+}/methods")
@routes.post(r"/api/admin/shipping-zones/{zone_id:\d+}/methods/")
@endpoint(
    summary="Add a shipping method to a zone",
    description=(
        "`price` is charged unless the cart's subtotal after discounts reaches `free_over`; "
        "the method is not offered for a cart heavier than `max_weight_grams`. "
        "`max_delivery_days` below `min_delivery_days` is a 422."
    ),
    tag=TAG,
    access=ADMIN,
    body=MethodIn,
    response=MethodOut,
    status=201,
)
async def create_method(
    request: web.Request, zone_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await shipping.add_method(conn, zone_id, body)
    return json_response(method_out(row), status=201)


@routes.put(r"/api/admin/shipping-methods/{method_id:\d+}")
@endpoint(
    summary="Change a shipping method",
    description=(
        "Only the fields sent change; `null` clears `free_over` or `max_weight_grams`. The "
        "delivery days, as they end up, must keep min at most max (422 otherwise)."
    ),
    tag=TAG,
    access=ADMIN,
    body=MethodUpdateIn,
    response=MethodOut,
)
async def update_method(
    request: web.Request, method_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await shipping.update_method(conn, method_id, body)
    return json_response(method_out(row))


@routes.delete(r"/api/admin/shipping-methods/{method_id:\d+}")
@endpoint(
    summary="Remove a shipping method",
    description=RETIRED,
    tag=TAG,
    access=ADMIN,
    status=204,
)
async def delete_method(
    request: web.Request, method_id: int, conn: asyncpg.Connection
) -> web.Response:
    await shipping.delete_method(conn, method_id)
    return web.Response(status=204)

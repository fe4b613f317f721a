"""/api/addresses: the signed-in user's address book (another user's address is a 404)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import addresses
from shop_api.domain.limits import MAX_ADDRESSES
from shop_api.web.endpoint import USER, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key
from shop_api.web.schemas.addresses import AddressIn, AddressListOut, AddressOut, address_out

routes = web.RouteTableDef()
TAG = "Addresses"


@routes.get("/api/addresses")
@routes.get("/api/addresses/")
@endpoint(
    summary="Your addresses, the default first",
    tag=TAG,
    access=USER,
    response=AddressListOut,
)
async def list_addresses(request: web.Request, user: asyncpg.Record) -> web.Response:
    rows = await addresses.list_addresses(request.app[db_pool_key], user_id=user["id"])
    return json_response({"items": [address_out(row) for row in rows]})


@routes.post("/api/addresses")
@routes.post("/api/addresses/")
@endpoint(
    summary="Add an address",
    description=(
        f"At most {MAX_ADDRESSES} addresses (422 `validation_error` past that). The first "
        "address is the default; `is_default: true` makes a new one the default instead."
    ),
    tag=TAG,
    access=USER,
    body=AddressIn,
    response=AddressOut,
    status=201,
)
async def create_address(
    request: web.Request, user: asyncpg.Record, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await addresses.create_address(
        conn, user_id=user["id"], address=body, is_default=body.get("is_default")
    )
    return json_response(address_out(row), status=201)


@routes.get(r"/api/addresses/{address_id:\d+}")
@endpoint(summary="One of your addresses", tag=TAG, access=USER, response=AddressOut)
async def get_address(request: web.Request, user: asyncpg.Record, address_id: int) -> web.Response:
    row = await addresses.get_address(
        request.app[db_pool_key], user_id=user["id"], address_id=address_id
    )
    return json_response(address_out(row))


@routes.put(r"/api/addresses/{address_id:\d+}")
@endpoint(
    summary="Replace one of your addresses",
    description=(
        "A full replacement, as PUT means: send the whole address (what `GET` answers, "
        "without `id`); an optional field left out becomes null. `is_default: true` makes it "
        "the default (the previous default is unset in the same transaction), `false` unsets "
        "it, and leaving `is_default` out keeps the address's standing."
    ),
    tag=TAG,
    access=USER,
    body=AddressIn,
    response=AddressOut,
)
async def replace_address(
    request: web.Request,
    user: asyncpg.Record,
    address_id: int,
    body: dict,
    conn: asyncpg.Connection,
) -> web.Response:
    row = await addresses.replace_address(
        conn,
        user_id=user["id"],
        address_id=address_id,
        address=body,
        is_default=body.get("is_default"),
    )
    return json_response(address_out(row))


@routes.delete(r"/api/addresses/{address_id:\d+}")
@endpoint(
    summary="Delete one of your addresses",
    description=(
        "Deleting the default address makes the newest remaining address the default. Orders "
        "keep their own copy of the address they were sent to."
    ),
    tag=TAG,
    access=USER,
    status=204,
)
async def delete_address(
    request: web.Request, user: asyncpg.Record, address_id: int, conn: asyncpg.Connection
) -> web.Response:
    await addresses.delete_address(conn, user_id=user["id"], address_id=address_id)
    return web.Response(status=204)

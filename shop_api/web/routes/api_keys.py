"""/api/admin/api-keys: the keys integrations sign in with (admins only; no key opens these)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import api_keys
from shop_api.web.endpoint import ADMIN, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.schemas.api_keys import (
    ApiKeyIn,
    ApiKeyListOut,
    NewApiKeyOut,
    api_key_out,
    new_api_key_out,
)

routes = web.RouteTableDef()
TAG = "API keys"

SCOPES_TEXT = (
    "Scopes: `catalog:write` (the product, variant, category and image routes), "
    "`inventory:write` (the inventory routes), `orders:read` (`GET /api/admin/orders`), "
    "`orders:write` (`PUT /api/admin/orders/<id>/status`). A key is sent as `Authorization: "
    "Bearer sk_...`; it opens exactly the admin routes of its scopes (403 `forbidden` "
    "anywhere else, customer routes included: a key is never a user), and an unknown or "
    "revoked key is a 401."
)


@routes.get("/api/admin/api-keys")
@routes.get("/api/admin/api-keys/")
@endpoint(
    summary="The API keys not revoked, newest first",
    description="Never the key itself: `prefix` tells keys apart.",
    tag=TAG,
    access=ADMIN,
    response=ApiKeyListOut,
)
async def list_keys(request: web.Request, conn: asyncpg.Connection) -> web.Response:
    rows = await api_keys.list_keys(conn, include_revoked=False)
    return json_response({"items": [api_key_out(row) for row in rows]})


@routes.post("/api/admin/api-keys")
@routes.post("/api/admin/api-keys/")
@endpoint(
    summary="Make an API key for an integration",
    description=(
        "`name` 1 to 100 characters; `scopes` one or more, each once. The `key` is in this "
        "answer only: only its SHA-256 is kept, so a lost key is revoked and replaced. "
        + SCOPES_TEXT
    ),
    tag=TAG,
    access=ADMIN,
    body=ApiKeyIn,
    response=NewApiKeyOut,
    status=201,
)
async def create_key(
    request: web.Request, user: asyncpg.Record, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row, key = await api_keys.create_key(
        conn, name=body["name"], scopes=body["scopes"], created_by=user["id"]
    )
    return json_response(new_api_key_out(row, key), status=201)


@routes.delete(r"/api/admin/api-keys/{key_id:\d+}")
@endpoint(
    summary="Revoke an API key",
    description=(
        "At once: the key's next request is a 401. The key is kept, revoked, for the audit; "
        "it leaves the list, and revoking it again is a 404."
    ),
    tag=TAG,
    access=ADMIN,
    status=204,
)
async def revoke_key(request: web.Request, key_id: int, conn: asyncpg.Connection) -> web.Response:
    await api_keys.revoke_key(conn, key_id)
    return web.Response(status=204)

"""/api/admin/webhooks and /api/admin/webhook-deliveries: the endpoints other systems register
for the shop's events, and what was sent to them (admins only; never an API key: whoever holds
a webhook's URL and secret can receive every event)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import webhook_admin
from shop_api.integrations.webhook_urls import check_url
from shop_api.web.endpoint import ADMIN, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.common import page_body
from shop_api.web.schemas.webhooks import (
    DeliveriesQuery,
    DeliveryOut,
    DeliveryPage,
    WebhookIn,
    WebhookListOut,
    WebhookOut,
    WebhookReplaceIn,
    WebhookWithSecretOut,
    delivery_out,
    webhook_out,
    webhook_with_secret_out,
)

routes = web.RouteTableDef()
TAG = "Webhooks"

RULES = (
    "`events` are event names (`order.paid`), families (`order.*`) or `*`; anything else is a "
    "422 naming the entry. The URL must be https and its host must resolve to public "
    "addresses only (422 `url_not_allowed`; the server's WEBHOOK_ALLOW_PRIVATE lifts this, "
    "and allows http, for development)."
)
SECRET = (
    "Every delivery is signed with the endpoint's secret: `Shop-Signature: t=<unix seconds>,"
    "v1=<hex HMAC-SHA256 of \"<t>.<body>\">`."
)


async def _allowed(request: web.Request, url: str) -> None:
    """The URL guard, at save time (the delivery checks again when it connects). It may wait
    on DNS, so the routes that call it hold no pool connection meanwhile: they write with one
    statement on the pool afterwards."""
    await check_url(url, allow_private=request.app[settings_key].webhook_allow_private)


@routes.get("/api/admin/webhooks")
@routes.get("/api/admin/webhooks/")
@endpoint(
    summary="Every webhook endpoint",
    description="Oldest first, without their secrets.",
    tag=TAG,
    access=ADMIN,
    response=WebhookListOut,
)
async def list_webhooks(request: web.Request, conn: asyncpg.Connection) -> web.Response:
    rows = await webhook_admin.list_endpoints(conn)
    return json_response({"items": [webhook_out(row) for row in rows]})


@routes.post("/api/admin/webhooks")
@routes.post("/api/admin/webhooks/")
@endpoint(
    summary="Register a webhook endpoint",
    description=(
        "The answer holds the endpoint's `secret`, shown only here and when rotated. "
        + SECRET
        + " "
        + RULES
    ),
    tag=TAG,
    access=ADMIN,
    body=WebhookIn,
    response=WebhookWithSecretOut,
    status=201,
)
async def create_webhook(request: web.Request, body: dict) -> web.Response:
    await _allowed(request, body["url"])
    row = await webhook_admin.create_endpoint(request.app[db_pool_key], **body)
    return json_response(webhook_with_secret_out(row), status=201)


@routes.get(r"/api/admin/webhooks/{endpoint_id:\d+}")
@endpoint(
    summary="One webhook endpoint",
    description="Without its secret.",
    tag=TAG,
    access=ADMIN,
    response=WebhookOut,
)
async def get_webhook(
    request: web.Request, endpoint_id: int, conn: asyncpg.Connection
) -> web.Response:
    return json_response(webhook_out(await webhook_admin.get_endpoint(conn, endpoint_id)))


@routes.put(r"/api/admin/webhooks/{endpoint_id:\d+}")
@endpoint(
    summary="Replace a webhook endpoint",
    description=(
        "`url`, `events`, `description` and `is_active` are replaced (the secret is kept). "
        "`is_active: false` disables the endpoint: nothing is sent to it until it is enabled "
        "again with `is_active: true`, which also sets its failures in a row back to 0 (an "
        "endpoint is disabled by itself after 20 failed deliveries in a row). " + RULES
    ),
    tag=TAG,
    access=ADMIN,
    body=WebhookReplaceIn,
    response=WebhookOut,
)
async def replace_webhook(request: web.Request, endpoint_id: int, body: dict) -> web.Response:
    await _allowed(request, body["url"])
    row = await webhook_admin.replace_endpoint(request.app[db_pool_key], endpoint_id, **body)
    return json_response(webhook_out(row))


@routes.delete(r"/api/admin/webhooks/{endpoint_id:\d+}")
@endpoint(
    summary="Remove a webhook endpoint",
    description="Its deliveries and their attempts are removed with it; nothing more is sent.",
    tag=TAG,
    access=ADMIN,
    status=204,
)
async def delete_webhook(
    request: web.Request, endpoint_id: int, conn: asyncpg.Connection
) -> web.Response:
    await webhook_admin.delete_endpoint(conn, endpoint_id)
    return web.Response(status=204)


@routes.post(r"/api/admin/webhooks/{endpoint_id:\d+}/rotate-secret")
@endpoint(
    summary="Give a webhook endpoint a new secret",
    description=(
        "The answer holds the new `secret`, shown only here. It signs every attempt from now "
        "on, retries of earlier events included; the old secret signs nothing more."
    ),
    tag=TAG,
    access=ADMIN,
    response=WebhookWithSecretOut,
)
async def rotate_webhook_secret(
    request: web.Request, endpoint_id: int, conn: asyncpg.Connection
) -> web.Response:
    row = await webhook_admin.rotate_secret(conn, endpoint_id)
    return json_response(webhook_with_secret_out(row))


@routes.get(r"/api/admin/webhooks/{endpoint_id:\d+}/deliveries")
@routes.get(r"/api/admin/webhooks/{endpoint_id:\d+}/deliveries/")
@endpoint(
    summary="A webhook endpoint's deliveries",
    description=(
        "Newest first; `status` filters. A delivery is `pending` until an attempt gets a 2xx "
        "(`delivered`) or its retries run out, 24 hours after the event or the last "
        "redelivery (`failed`). `last_status_code` and `last_error` are the last attempt's."
    ),
    tag=TAG,
    access=ADMIN,
    query=DeliveriesQuery,
    response=DeliveryPage,
)
async def list_webhook_deliveries(
    request: web.Request, endpoint_id: int, query: dict, conn: asyncpg.Connection
) -> web.Response:
    rows, total = await webhook_admin.list_deliveries(
        conn,
        endpoint_id,
        status=query.get("status"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return json_response(page_body([delivery_out(row) for row in rows], query, total))


@routes.post(r"/api/admin/webhook-deliveries/{delivery_id:\d+}/redeliver")
@endpoint(
    summary="Send a webhook delivery again",
    description=(
        "Whatever its status, the delivery becomes `pending`, due now, with 24 hours of "
        "retries from now; it is sent with the same event id and the endpoint's current "
        "secret. 202: it is queued, not yet sent. A delivery whose endpoint is disabled is a "
        "409 `endpoint_disabled` (enable the endpoint first)."
    ),
    tag=TAG,
    access=ADMIN,
    response=DeliveryOut,
    status=202,
    errors=(409,),
)
async def redeliver_webhook_delivery(
    request: web.Request, delivery_id: int, conn: asyncpg.Connection
) -> web.Response:
    # One statement, committed when it returns; api_middleware then wakes this
    # process's relay, which sends the delivery at once rather than at its next poll.
    row = await webhook_admin.redeliver(conn, delivery_id)
    return json_response(delivery_out(row), status=202)

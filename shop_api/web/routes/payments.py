"""/api/payments: pay a pending order; a worker settles it with the gateway."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.db import queries
from shop_api.domain import payments
from shop_api.errors import NotFound
from shop_api.web.endpoint import USER, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.payments import PaymentIn, PaymentOut, payment_out

routes = web.RouteTableDef()
TAG = "Payments"


@routes.post("/api/payments/process")
@endpoint(
    summary="Pay a pending order",
    description=(
        "Answers 202 with a `pending` payment; a worker settles it with the gateway, then the "
        "payment is `succeeded` (and the order `paid`) or `failed` with a `failure_reason` (the "
        "order stays payable). Sandbox tokens: `tok_visa`, `tok_mastercard` succeed; "
        "`tok_chargeDeclined`, `tok_insufficientFunds` fail; `tok_processingError` fails once "
        "and succeeds on retry; anything else fails with `invalid_token`. 409 "
        "`order_not_payable` unless the order is pending, `payment_in_progress` while another "
        "payment of it is pending."
    ),
    tag=TAG,
    access=USER,
    body=PaymentIn,
    response=PaymentOut,
    status=202,
    errors=(404, 409),
    idempotent=True,
)
async def process_payment(
    request: web.Request, user: asyncpg.Record, body: dict, conn: asyncpg.Connection
) -> web.Response:
    payment = await payments.request_payment(
        conn,
        user_id=user["id"],
        order_id=body["order_id"],
        payment_token=body["payment_token"],
        gateway=request.app[settings_key].payment_gateway,
    )
    return json_response(payment_out(payment), status=202)


@routes.get(r"/api/payments/{payment_id:\d+}")
@endpoint(summary="A payment of yours", tag=TAG, access=USER, response=PaymentOut)
async def get_payment(request: web.Request, user: asyncpg.Record, payment_id: int) -> web.Response:
    payment = await queries.get_payment(request.app[db_pool_key], id=payment_id, user_id=user["id"])
    if payment is None:
        raise NotFound("No such payment.")
    return json_response(payment_out(payment))

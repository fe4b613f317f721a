"""/api/orders: checkout and the signed-in user's orders."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import orders, quotes
from shop_api.web.endpoint import USER, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.common import page_body
from shop_api.web.schemas.orders import CheckoutIn, OrderOut, OrderPage, OrdersQuery, order_out

routes = web.RouteTableDef()
TAG = "Orders"


@routes.post("/api/orders")
@routes.post("/api/orders/")
@endpoint(
    summary="Check out: turn your cart into an order",
    description=(
        "One transaction: the stock is checked and taken under row locks, the cart is priced "
        "as `POST /api/cart/quote` prices it (lines, discounts, shipping, tax), every amount "
        "is kept on the order, and the cart is emptied. The destination is exactly one of "
        "`address_id`, `shipping_address` or the Release 1 `delivery_address` (free text, "
        "shipped as STORE_COUNTRY). 422 `cart_empty`; 422 `shipping_unavailable` when shipping "
        "zones exist and no method (or not the one named) serves the destination; 409 "
        "`total_changed` with the new quote in `errors.quote` when `expected_total` differs; 409 "
        "`insufficient_stock` or `product_unavailable` with every affected item in "
        "`errors.items` (nothing changes); 409 `too_many_pending_orders` while you hold "
        "`MAX_PENDING_ORDERS` (default 5) unpaid orders. With `coupon_code`: 422 "
        "`coupon_invalid` or `coupon_not_applicable`; 409 `coupon_exhausted` when its usage "
        "limit or yours is reached (taken in this transaction, so it holds under concurrency; "
        "nothing changes). A cancelled order gives its uses back. An order not paid within "
        "`ORDER_PAYMENT_TIMEOUT_MINUTES` (default 60) is cancelled and its stock put back. "
        "Send an `Idempotency-Key` to retry safely."
    ),
    tag=TAG,
    access=USER,
    body=CheckoutIn,
    response=OrderOut,
    status=201,
    errors=(404, 409, 422),
    idempotent=True,
)
async def checkout(
    request: web.Request, user: asyncpg.Record, body: dict, conn: asyncpg.Connection
) -> web.Response:
    settings = request.app[settings_key]
    to = await quotes.destination(
        conn, user_id=user["id"], store_country=settings.store_country, given=body
    )
    row = await orders.place_order(
        conn,
        user_id=user["id"],
        to=to,
        shipping_method_id=body.get("shipping_method_id"),
        expected_total=body.get("expected_total"),
        notes=body["notes"],
        currency=settings.default_currency,
        prices_include_tax=settings.prices_include_tax,
        tax_shipping=settings.tax_shipping,
        max_pending_orders=settings.max_pending_orders,
        low_stock_threshold=settings.low_stock_threshold,
        coupon_code=body.get("coupon_code"),
    )
    return json_response(order_out(row), status=201)


@routes.get("/api/orders")
@routes.get("/api/orders/")
@endpoint(
    summary="Your orders, newest first",
    tag=TAG,
    access=USER,
    query=OrdersQuery,
    response=OrderPage,
)
async def list_orders(request: web.Request, user: asyncpg.Record, query: dict) -> web.Response:
    rows, total = await orders.list_orders(
        request.app[db_pool_key],
        user_id=user["id"],
        status=query.get("status"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return json_response(page_body([order_out(row) for row in rows], query, total))


@routes.get(r"/api/orders/{order_id:\d+}")
@endpoint(summary="One of your orders", tag=TAG, access=USER, response=OrderOut)
async def get_order(request: web.Request, user: asyncpg.Record, order_id: int) -> web.Response:
    row = await orders.get_order(request.app[db_pool_key], order_id=order_id, user_id=user["id"])
    return json_response(order_out(row))


@routes.post(r"/api/orders/{order_id:\d+}/cancel")
@endpoint(
    summary="Cancel one of your orders",
    description=(
        "From `pending`, `paid` or `processing`; the stock goes back at once and a paid order "
        "is refunded shortly after. 409 `invalid_transition` once shipped (or already "
        "cancelled)."
    ),
    tag=TAG,
    access=USER,
    response=OrderOut,
    errors=(409,),
)
async def cancel_order(
    request: web.Request, user: asyncpg.Record, order_id: int, conn: asyncpg.Connection
) -> web.Response:
    row = await orders.cancel_order(conn, order_id=order_id, user_id=user["id"])
    return json_response(order_out(row))

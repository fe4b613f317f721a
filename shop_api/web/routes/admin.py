"""/api/admin: the sales dashboard, users, every user's orders, and inventory (admins only)."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import admin, dashboard, inventory, variants
from shop_api.domain.api_keys import INVENTORY_WRITE, ORDERS_READ, ORDERS_WRITE
from shop_api.web.auth import Caller, admin_id_of
from shop_api.web.endpoint import ADMIN, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.admin import (
    AdminOrderOut,
    AdminOrderPage,
    AdminOrdersQuery,
    DashboardOut,
    InventoryOut,
    InventoryPage,
    InventoryQuery,
    InventoryUpdateIn,
    OrderStatusIn,
    UserPage,
    UsersQuery,
    admin_order_out,
    inventory_out,
)
from shop_api.web.schemas.common import page_body
from shop_api.web.schemas.users import UserOut, user_out

routes = web.RouteTableDef()
TAG = "Admin"


@routes.get("/api/admin/dashboard")
@endpoint(
    summary="Sales dashboard",
    description=(
        "Revenue counts the orders that are paid, processing, shipped or delivered, never "
        "pending or cancelled ones. `revenue_by_day` has exactly 30 rows (UTC days, oldest "
        "first, zeros on days without sales); `top_products` ranks products by units sold in "
        "those orders; `low_stock` lists the variants on sale at or below the "
        "`LOW_STOCK_THRESHOLD` setting."
    ),
    tag=TAG,
    access=ADMIN,
    response=DashboardOut,
)
async def get_dashboard(request: web.Request, conn: asyncpg.Connection) -> web.Response:
    settings = request.app[settings_key]
    body = await dashboard.figures(
        conn,
        low_stock_threshold=settings.low_stock_threshold,
        currency=settings.default_currency,
    )
    return json_response(body)


@routes.get("/api/admin/users")
@routes.get("/api/admin/users/")
@endpoint(
    summary="Every user, newest first",
    tag=TAG,
    access=ADMIN,
    query=UsersQuery,
    response=UserPage,
)
async def list_users(request: web.Request, query: dict) -> web.Response:
    rows, total = await admin.list_users(
        request.app[db_pool_key],
        search=query.get("search"),
        role=query.get("role"),
        is_active=query.get("is_active"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return json_response(page_body([user_out(row) for row in rows], query, total))


@routes.put(r"/api/admin/users/{user_id:\d+}/toggle-status")
@endpoint(
    summary="Deactivate or reactivate a user",
    description=(
        "Flips `is_active`. A deactivated user cannot log in (403 `account_disabled`), and "
        "every access and refresh token they hold stops working at once; reactivating does not "
        "revive those tokens (the user logs in again). An admin cannot deactivate themself: "
        "409 `cannot_deactivate_self`. An account its owner deleted stays as it is: 409 "
        "`account_deleted`."
    ),
    tag=TAG,
    access=ADMIN,
    response=UserOut,
    errors=(409,),
)
async def toggle_user_status(
    request: web.Request, user: asyncpg.Record, user_id: int
) -> web.Response:
    row = await admin.toggle_user_status(
        request.app[db_pool_key], user_id=user_id, admin_id=user["id"]
    )
    return json_response(user_out(row))


@routes.get("/api/admin/orders")
@routes.get("/api/admin/orders/")
@endpoint(
    summary="Every user's orders, newest first",
    tag=TAG,
    access=ADMIN,
    scope=ORDERS_READ,
    query=AdminOrdersQuery,
    response=AdminOrderPage,
)
async def list_orders(request: web.Request, query: dict) -> web.Response:
    rows, total = await admin.list_orders(
        request.app[db_pool_key],
        user_id=query.get("user_id"),
        status=query.get("status"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return json_response(page_body([admin_order_out(row) for row in rows], query, total))


@routes.put(r"/api/admin/orders/{order_id:\d+}/status")
@endpoint(
    summary="Move an order to another status",
    description=(
        "Allowed: `pending` to `paid` (paid offline) or `cancelled`; `paid` to `processing` or "
        "`cancelled`; `processing` to `shipped` or `cancelled`; `shipped` to `delivered`. Any "
        "other move is a 409 `invalid_transition`. The change is kept in the order's history "
        "with `reason`; the customer is emailed when the order is shipped, delivered or "
        "cancelled; cancelling puts the stock back at once and refunds a paid order shortly "
        "after."
    ),
    tag=TAG,
    access=ADMIN,
    scope=ORDERS_WRITE,
    body=OrderStatusIn,
    response=AdminOrderOut,
    errors=(409,),
)
async def change_order_status(
    request: web.Request, user: Caller, order_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await admin.change_order_status(
        conn,
        order_id=order_id,
        to_status=body["status"],
        admin_id=admin_id_of(user),
        reason=body["reason"],
    )
    return json_response(admin_order_out(row))


@routes.get("/api/admin/inventory")
@routes.get("/api/admin/inventory/")
@endpoint(
    summary="Stock of every variant, deleted ones included",
    description=(
        "One row per variant, by product and then in the product's display order. `low_stock` "
        "is true for a variant on sale (it and its product active) at or below the "
        "`LOW_STOCK_THRESHOLD` setting; deleted variants and the variants of deleted products "
        "show `is_active: false`."
    ),
    tag=TAG,
    access=ADMIN,
    scope=INVENTORY_WRITE,
    query=InventoryQuery,
    response=InventoryPage,
)
async def list_inventory(request: web.Request, query: dict) -> web.Response:
    rows, total = await inventory.list_stock(
        request.app[db_pool_key],
        low_stock=query.get("low_stock"),
        search=query.get("search"),
        threshold=request.app[settings_key].low_stock_threshold,
        limit=query["limit"],
        offset=query["offset"],
    )
    return json_response(page_body([inventory_out(row) for row in rows], query, total))


STOCK_CHANGE = (
    "Send either `{stock_quantity}` (the counted stock, replacing the current one; `reason` "
    "optional) or `{adjustment, reason}` (added to the current stock, negative to take away); "
    "anything else is a 422. Concurrent changes and checkouts apply one after the other under "
    "the variant's row lock. Stock never goes below 0: such an adjustment is a 409 "
    "`insufficient_stock` with `errors.items: [{product_id, variant_id, requested, "
    "available}]` and changes nothing; above 1,000,000,000 it is a 409 `stock_limit`. Every "
    "change is kept in the inventory ledger (who, when, which variant, how much, why, the "
    "stock it left); a change of 0 records nothing. Deleted variants and products can be "
    "restocked."
)


@routes.put(r"/api/admin/inventory/variants/{variant_id:\d+}")
@endpoint(
    summary="Set or adjust a variant's stock",
    description=STOCK_CHANGE,
    tag=TAG,
    access=ADMIN,
    scope=INVENTORY_WRITE,
    body=InventoryUpdateIn,
    response=InventoryOut,
    errors=(409,),
)
async def change_variant_stock(
    request: web.Request,
    user: Caller,
    variant_id: int,
    body: dict,
    conn: asyncpg.Connection,
) -> web.Response:
    row = await inventory.change_stock(
        conn, variant_id=variant_id, **_stock_change(request, user, body)
    )
    return json_response(inventory_out(row))


@routes.put(r"/api/admin/inventory/{product_id:\d+}")
@endpoint(
    summary="Set or adjust the stock of a single-variant product",
    description=(
        "The Release 1 route: the change applies to the product's only active variant; a "
        "product with several is a 409 `variant_required` (use "
        "`PUT /api/admin/inventory/variants/<variant_id>`). " + STOCK_CHANGE
    ),
    tag=TAG,
    access=ADMIN,
    scope=INVENTORY_WRITE,
    body=InventoryUpdateIn,
    response=InventoryOut,
    errors=(409,),
)
async def change_stock(
    request: web.Request,
    user: Caller,
    product_id: int,
    body: dict,
    conn: asyncpg.Connection,
) -> web.Response:
    row = await variants.change_product_stock(
        conn, product_id=product_id, **_stock_change(request, user, body)
    )
    return json_response(inventory_out(row))


def _stock_change(request: web.Request, user: Caller, body: dict) -> dict:
    """What both stock routes pass to the inventory: who, the threshold, and the change."""
    return {
        "admin_id": admin_id_of(user),
        "threshold": request.app[settings_key].low_stock_threshold,
        "stock_quantity": body.get("stock_quantity"),
        "adjustment": body.get("adjustment"),
        "reason": body.get("reason"),
    }

"""/admin/: the dashboard, orders, inventory and users, as pages and forms.

Each handler reads its input with the admin API's own schemas and calls the admin API's own
domain functions, so the two front ends cannot disagree about a rule; only the shape of the
answer differs (a page, or a redirect with a message after a form).
"""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web
from marshmallow import ValidationError
from multidict import MultiDictProxy

from shop_api.db import fetch_all, queries
from shop_api.domain import admin, dashboard, inventory, variants
from shop_api.domain.order_status import REFUNDABLE, STATUSES, TRANSITIONS
from shop_api.errors import Conflict, NotFound, ValidationFailed
from shop_api.web.admin import charts, sessions
from shop_api.web.admin.forms import flash_errors, whole_number
from shop_api.web.admin.guard import admin_page, safe_next, see_other
from shop_api.web.admin.lists import list_query, pager
from shop_api.web.admin.templating import DEFAULT_VARIANT_TITLE, SYMBOLS, render, variant_name
from shop_api.web.endpoint import path_id
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.admin import (
    MAX_REASON_LENGTH,
    MAX_SEARCH_LENGTH,
    ROLES,
    AdminOrdersQuery,
    InventoryQuery,
    InventoryUpdateIn,
    OrderStatusIn,
    UsersQuery,
)
from shop_api.web.schemas.catalog import MAX_STOCK

routes = web.RouteTableDef()


def _path_id(request: web.Request, name: str) -> int:
    return path_id(request.match_info[name])


# -- dashboard ---------------------------------------------------------------------------------


@routes.get("")
async def admin_root(request: web.Request) -> web.Response:
    return see_other("/admin/")


@routes.get("/")
@admin_page
async def dashboard_page(request: web.Request, session: sessions.Session) -> web.Response:
    settings = request.config_dict[settings_key]
    async with request.config_dict[db_pool_key].acquire() as conn:
        figures = await dashboard.figures(
            conn,
            low_stock_threshold=settings.low_stock_threshold,
            currency=settings.default_currency,
        )
    chart = charts.daily_chart(
        figures["revenue_by_day"], symbol=SYMBOLS.get(settings.default_currency, "")
    )
    return await render(
        request,
        "dashboard.html",
        {
            "figures": figures,
            "chart": chart,
            "chart_title": "Revenue and orders per day, last 30 days",
            "statuses": charts.shares(figures["orders_by_status"]),
            "low_stock_threshold": settings.low_stock_threshold,
        },
        session=session,
    )


# -- orders ------------------------------------------------------------------------------------


@routes.get("/orders")
@admin_page
async def orders_page(request: web.Request, session: sessions.Session) -> web.Response:
    query = list_query(AdminOrdersQuery(), request)
    rows, total = await admin.list_orders(
        request.config_dict[db_pool_key],
        user_id=query.get("user_id"),
        status=query.get("status"),
        limit=query["limit"],
        offset=query["offset"],
    )
    orders = [
        {**row, "item_count": sum(item["quantity"] for item in row["items"])} for row in rows
    ]
    return await render(
        request,
        "orders.html",
        {
            "orders": orders,
            "statuses": STATUSES,
            "filters": {"status": query.get("status"), "user_id": query.get("user_id")},
            "pager": pager(request, query, total),
        },
        session=session,
    )


@routes.get(r"/orders/{order_id:\d+}")
@admin_page
async def order_page(request: web.Request, session: sessions.Session) -> web.Response:
    order_id = _path_id(request, "order_id")
    async with request.config_dict[db_pool_key].acquire() as conn:
        order = await queries.admin_order(conn, order_id=order_id)
        if order is None:
            raise NotFound("No such order.")
        history = await fetch_all(queries.admin_web_order_history(conn, order_id=order_id))
    # Only the moves the state machine allows are offered, in the order a shipment goes.
    next_statuses = [s for s in STATUSES if s in TRANSITIONS.get(order["status"], ())]
    return await render(
        request,
        "order.html",
        {
            "order": order,
            "history": history,
            "next_statuses": next_statuses,
            "refunds": order["status"] in REFUNDABLE,
            "max_reason": MAX_REASON_LENGTH,
        },
        session=session,
    )


@routes.post(r"/orders/{order_id:\d+}/status")
@admin_page
async def order_status_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    order_id = _path_id(request, "order_id")
    try:
        body = OrderStatusIn().load(
            {"status": form.get("status", ""), "reason": form.get("reason", "").strip()}
        )
        async with request.config_dict[db_pool_key].acquire() as conn:
            order = await admin.change_order_status(
                conn,
                order_id=order_id,
                to_status=body["status"],
                admin_id=session.user["id"],
                reason=body["reason"],
            )
    except ValidationError as exc:
        await flash_errors(request, session, exc.normalized_messages())
    except Conflict as exc:
        await sessions.flash(request, session, "error", exc.detail or "That change is refused.")
    else:
        await sessions.flash(
            request, session, "ok", f"Order #{order_id} is now {order['status']}."
        )
    return see_other(f"/admin/orders/{order_id}")


# -- inventory ---------------------------------------------------------------------------------


@routes.get("/inventory")
@admin_page
async def inventory_page(request: web.Request, session: sessions.Session) -> web.Response:
    threshold = request.config_dict[settings_key].low_stock_threshold
    query = list_query(InventoryQuery(), request)
    rows, total = await inventory.list_stock(
        request.config_dict[db_pool_key],
        low_stock=query.get("low_stock"),
        search=query.get("search"),
        threshold=threshold,
        limit=query["limit"],
        offset=query["offset"],
    )
    return await render(
        request,
        "inventory.html",
        {
            "products": _by_product(rows),
            "filters": {"search": query.get("search"), "low_stock": query.get("low_stock")},
            "threshold": threshold,
            "pager": pager(request, query, total),
            "here": request.path_qs,
            "max_stock": MAX_STOCK,
            "max_reason": MAX_REASON_LENGTH,
            "max_search": MAX_SEARCH_LENGTH,
        },
        session=session,
    )


def _by_product(rows: list[Any]) -> list[dict[str, Any]]:
    """The page's variant rows (which come by product) as one entry per product; `several`
    when it is sold in more than its default variant, so its rows name the variant."""
    products = []
    for product_id, group in itertools.groupby(rows, key=lambda row: row["product_id"]):
        variants = list(group)
        several = len(variants) > 1 or variants[0]["variant_title"] != DEFAULT_VARIANT_TITLE
        products.append(
            {
                "product_id": product_id,
                "name": variants[0]["name"],
                "several": several,
                "variants": variants,
            }
        )
    return products


def _stock_change(form: MultiDictProxy) -> dict[str, Any]:
    """The form as the API's body: `{stock_quantity}` or `{adjustment, reason}`, then through
    InventoryUpdateIn, so the page and the API accept exactly the same changes."""
    mode = form.get("mode")
    if mode == "set":
        body: dict[str, Any] = {"stock_quantity": whole_number(form, "stock_quantity")}
    elif mode == "adjust":
        body = {"adjustment": whole_number(form, "adjustment")}
    else:
        raise ValidationError({"mode": ["Choose to set or to adjust the stock."]})
    reason = form.get("reason", "").strip()
    if reason:
        body["reason"] = reason
    return InventoryUpdateIn().load(body)


@routes.post(r"/inventory/variants/{variant_id:\d+}")
@admin_page
async def variant_stock_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    return await _stock_form(request, session, form, variant_id=_path_id(request, "variant_id"))


@routes.post(r"/inventory/{product_id:\d+}")
@admin_page
async def stock_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    """The form of the pages before variants, for a single-variant product as the API's
    Release 1 route (a page left open across the upgrade)."""
    return await _stock_form(request, session, form, product_id=_path_id(request, "product_id"))


async def _stock_form(
    request: web.Request,
    session: sessions.Session,
    form: MultiDictProxy,
    *,
    variant_id: int | None = None,
    product_id: int | None = None,
) -> web.Response:
    back = safe_next(form.get("next") or "/admin/inventory")
    try:
        body = _stock_change(form)
        async with request.config_dict[db_pool_key].acquire() as conn:
            change = {
                "admin_id": session.user["id"],
                "threshold": request.config_dict[settings_key].low_stock_threshold,
                "stock_quantity": body.get("stock_quantity"),
                "adjustment": body.get("adjustment"),
                "reason": body.get("reason"),
            }
            if variant_id is None:
                row = await variants.change_product_stock(conn, product_id=product_id, **change)
            else:
                row = await inventory.change_stock(conn, variant_id=variant_id, **change)
    except ValidationError as exc:
        await flash_errors(request, session, exc.normalized_messages())
    except ValidationFailed as exc:
        await flash_errors(request, session, exc.errors)
    except Conflict as exc:
        await sessions.flash(request, session, "error", _stock_conflict(exc))
    else:
        name = variant_name(row["name"], row["variant_title"])
        await sessions.flash(
            request,
            session,
            "ok",
            f"The stock of “{name}” (#{row['product_id']}) is now {row['stock_quantity']:,}.",
        )
    return see_other(back)


def _stock_conflict(exc: Conflict) -> str:
    items = exc.errors.get("items") if isinstance(exc.errors, dict) else None
    if exc.code == "insufficient_stock" and items:
        short = items[0]
        return (
            f"Cannot take away {short['requested']:,}: only {short['available']:,} in stock. "
            "Nothing was changed."
        )
    return exc.detail or "That change is refused."


# -- users -------------------------------------------------------------------------------------


@routes.get("/users")
@admin_page
async def users_page(request: web.Request, session: sessions.Session) -> web.Response:
    query = list_query(UsersQuery(), request)
    rows, total = await admin.list_users(
        request.config_dict[db_pool_key],
        search=query.get("search"),
        role=query.get("role"),
        is_active=query.get("is_active"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return await render(
        request,
        "users.html",
        {
            "users": rows,
            "roles": ROLES,
            "filters": {
                "search": query.get("search"),
                "role": query.get("role"),
                "is_active": query.get("is_active"),
            },
            "pager": pager(request, query, total),
            "here": request.path_qs,
            "max_search": MAX_SEARCH_LENGTH,
        },
        session=session,
    )


@routes.post(r"/users/{user_id:\d+}/status")
@admin_page
async def user_status_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    user_id = _path_id(request, "user_id")
    back = safe_next(form.get("next") or "/admin/users")
    action = form.get("action")
    if action not in ("activate", "deactivate"):
        raise ValidationFailed({"action": ["Choose to activate or to deactivate the user."]})
    wanted = action == "activate"
    try:
        # The API's route flips the flag; the form says which way the admin meant, so a second
        # click (or a page left open while someone else already did it) does not undo the first.
        user, changed = await admin.set_user_active(
            request.config_dict[db_pool_key],
            user_id=user_id,
            admin_id=session.user["id"],
            active=wanted,
        )
    except Conflict as exc:
        await sessions.flash(request, session, "error", exc.detail or "That change is refused.")
    else:
        if not changed:
            state = "active" if wanted else "deactivated"
            await sessions.flash(request, session, "ok", f"{user['email']} is already {state}.")
        else:
            state = "active again" if wanted else "deactivated and signed out everywhere"
            await sessions.flash(request, session, "ok", f"{user['email']} is {state}.")
    return see_other(back)

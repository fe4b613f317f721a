"""A webhook event's `data`: the resource as the API shows it, read when the event fans out.

The shapes are the API's own (the same queries and schema functions as the routes), so a
receiver parses an order from a webhook the way it parses one from GET. The result is plain
JSON (money as decimal strings, times as ISO 8601), as it is stored in webhook_events and sent
identically on every attempt. The relay calls this for every event it fans out: a resource
that is gone by then gives `{"id": ...}`, never an exception.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from shop_api.db import queries
from shop_api.domain import catalog
from shop_api.domain.webhook_events import CUSTOMER_CREATED
from shop_api.errors import NotFound
from shop_api.web.jsonio import dumps
from shop_api.web.schemas.admin import admin_order_out
from shop_api.web.schemas.catalog import product_detail_out
from shop_api.web.schemas.payments import payment_out
from shop_api.web.schemas.users import user_out


async def event_data(
    conn: asyncpg.Connection | asyncpg.Pool,
    event_type: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    family = event_type.split(".", 1)[0]
    if family == "order":
        body = await _order(conn, payload["order_id"])
    elif family == "payment":
        body = await _payment(conn, payload["payment_id"])
    elif event_type == "product.deleted":
        body = await _deleted_product(conn, payload["product_id"])
    elif family == "product":
        body = await _product(conn, payload["product_id"])
    elif event_type == "inventory.low_stock":
        body = await _low_stock(conn, payload)
    elif event_type == CUSTOMER_CREATED:
        body = await _customer(conn, payload["user_id"])
    else:
        raise ValueError(f"no webhook data for {event_type!r}")
    # Through the API's JSON writer and back: Decimal and datetime become what a client reads.
    return orjson.loads(dumps(body))


async def _order(conn, order_id: int) -> dict:
    row = await queries.admin_order(conn, order_id=order_id)
    return {"id": order_id} if row is None else admin_order_out(row)


async def _payment(conn, payment_id: int) -> dict:
    row = await queries.get_payment(conn, id=payment_id, user_id=None)
    return {"id": payment_id} if row is None else payment_out(row)


async def _product(conn, product_id: int) -> dict:
    try:
        row, reviews = await catalog.get_product(conn, product_id)
    except NotFound:  # deleted since: product.deleted follows
        return {"id": product_id}
    return product_detail_out(row, reviews)


async def _deleted_product(conn, product_id: int) -> dict:
    row = await queries.webhook_product_remains(conn, id=product_id)
    if row is None:
        return {"id": product_id}
    return {"id": row["id"], "name": row["name"], "slug": row["slug"], "sku": row["sku"],
            "deleted_at": row["deleted_at"]}


async def _low_stock(conn, payload: dict) -> dict:
    row = await queries.webhook_variant_stock(conn, id=payload["variant_id"])
    return {
        "variant_id": payload["variant_id"],
        "product_id": payload.get("product_id") if row is None else row["product_id"],
        "sku": None if row is None else row["sku"],
        # The stock now; the announced level if the variant row is gone.
        "stock_quantity": payload.get("stock") if row is None else row["stock_quantity"],
        "threshold": payload["threshold"],
    }


async def _customer(conn, user_id: int) -> dict:
    # user_out shows what GET /api/auth/me shows: no password hash, no token version.
    row = await queries.get_user_by_id(conn, id=user_id)
    return {"id": user_id} if row is None else user_out(row)

"""/admin/promotions: promotions and coupons, listed with their use counts and changed with
forms.

Each form is read into the body the admin API takes and loaded with the API's own schema, then
handed to the API's own domain functions, so the page refuses exactly what the API refuses.
"Remove" deactivates, as DELETE does: orders keep pointing at the promotion.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from marshmallow import ValidationError
from multidict import MultiDictProxy

from shop_api.domain import promotion_admin
from shop_api.web.admin import sessions
from shop_api.web.admin.forms import optional_text, optional_whole_number, submitted
from shop_api.web.admin.guard import admin_page, safe_next
from shop_api.web.admin.lists import list_query, pager
from shop_api.web.admin.templating import render
from shop_api.web.endpoint import path_id
from shop_api.web.keys import db_pool_key
from shop_api.web.schemas.common import ascii_integer
from shop_api.web.schemas.promotions import PromotionIn, PromotionsQuery

routes = web.RouteTableDef()

PAGE = "/admin/promotions"
_SEPARATORS = re.compile(r"[\s,]+")


@routes.get("/promotions")
@admin_page
async def promotions_page(request: web.Request, session: sessions.Session) -> web.Response:
    query = list_query(PromotionsQuery(), request)
    rows, total = await promotion_admin.list_promotions(
        request.config_dict[db_pool_key],
        is_active=query.get("is_active"),
        q=query.get("q"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return await render(
        request,
        "promotions.html",
        {
            "promotions": rows,
            "kinds": promotion_admin.KINDS,
            "targets": promotion_admin.TARGETS,
            "filters": {"q": query.get("q"), "is_active": query.get("is_active")},
            "pager": pager(request, query, total),
            "here": request.path_qs,
        },
        session=session,
    )


def _ids(form: MultiDictProxy, field: str) -> list[int]:
    """Ids separated by commas or spaces."""
    words = [word for word in _SEPARATORS.split(form.get(field, "")) if word]
    ids = [ascii_integer(word) for word in words]
    if any(number is None for number in ids):
        raise ValidationError({field: ["Enter ids separated by commas."]})
    return [number for number in ids if number is not None]


def _moment(form: MultiDictProxy, field: str) -> str | None:
    """A datetime-local field, read as UTC (the page says so)."""
    text = optional_text(form, field)
    return None if text is None else f"{text}+00:00"


def _promotion_body(form: MultiDictProxy) -> dict[str, Any]:
    return {
        "name": form.get("name", ""),
        "code": optional_text(form, "code"),
        "kind": form.get("kind", ""),
        "value": form.get("value", "").strip() or "0",
        "target": form.get("target", ""),
        "product_ids": _ids(form, "product_ids"),
        "category_ids": _ids(form, "category_ids"),
        "min_subtotal": optional_text(form, "min_subtotal"),
        "starts_at": _moment(form, "starts_at"),
        "ends_at": _moment(form, "ends_at"),
        "usage_limit": optional_whole_number(form, "usage_limit"),
        "usage_limit_per_customer": optional_whole_number(form, "usage_limit_per_customer"),
        "is_active": form.get("is_active") == "on",
    }


@routes.post("/promotions")
@admin_page
async def create_promotion_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    async def work() -> str:
        body = PromotionIn().load(_promotion_body(form))
        async with request.config_dict[db_pool_key].acquire() as conn:
            row = await promotion_admin.create_promotion(conn, body)
        return f"Promotion “{row['name']}” added."

    return await submitted(request, session, work, back=safe_next(form.get("next") or PAGE))


@routes.post(r"/promotions/{promotion_id:\d+}")
@admin_page
async def replace_promotion_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    promotion_id = path_id(request.match_info["promotion_id"])

    async def work() -> str:
        body = PromotionIn().load(_promotion_body(form))
        async with request.config_dict[db_pool_key].acquire() as conn:
            row = await promotion_admin.replace_promotion(conn, promotion_id, body)
        return f"Promotion “{row['name']}” saved."

    return await submitted(request, session, work, back=safe_next(form.get("next") or PAGE))


@routes.post(r"/promotions/{promotion_id:\d+}/delete")
@admin_page
async def deactivate_promotion_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    promotion_id = path_id(request.match_info["promotion_id"])

    async def work() -> str:
        await promotion_admin.deactivate_promotion(request.config_dict[db_pool_key], promotion_id)
        return "The promotion is deactivated; past orders keep it."

    return await submitted(request, session, work, back=safe_next(form.get("next") or PAGE))

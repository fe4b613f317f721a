"""/admin/shipping: the shipping zones and their methods, listed and changed with forms.

Each form is read into the body the admin API takes and loaded with the API's own schema, then
handed to the API's own domain functions, so the page refuses exactly what the API refuses.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from shop_api.domain import shipping
from shop_api.domain.countries import REST_OF_WORLD, country_name
from shop_api.web.admin import sessions
from shop_api.web.admin.forms import optional_text, optional_whole_number, submitted, whole_number
from shop_api.web.admin.guard import admin_page
from shop_api.web.admin.templating import render
from shop_api.web.endpoint import path_id
from shop_api.web.keys import db_pool_key
from shop_api.web.schemas.shipping import (
    MAX_DELIVERY_DAYS,
    MAX_METHOD_NAME_LENGTH,
    MAX_ZONE_NAME_LENGTH,
    MethodIn,
    MethodUpdateIn,
    ZoneIn,
    ZoneUpdateIn,
)

routes = web.RouteTableDef()

PAGE = "/admin/shipping"
_SEPARATORS = re.compile(r"[\s,;]+")


@routes.get("/shipping")
@admin_page
async def shipping_page(request: web.Request, session: sessions.Session) -> web.Response:
    zones = await shipping.list_zones(request.config_dict[db_pool_key])
    return await render(
        request,
        "shipping.html",
        {
            "zones": [
                {**zone, "places": [country_name(code) for code in zone["countries"]]}
                for zone in zones
            ],
            "rest_of_world": REST_OF_WORLD,
            "max_zone_name": MAX_ZONE_NAME_LENGTH,
            "max_method_name": MAX_METHOD_NAME_LENGTH,
            "max_days": MAX_DELIVERY_DAYS,
        },
        session=session,
    )


def _zone_body(form: MultiDictProxy) -> dict[str, Any]:
    """Codes separated by commas or spaces ("US, CA" or "*"), as the API's list."""
    countries = [code for code in _SEPARATORS.split(form.get("countries", "")) if code]
    return {"name": form.get("name", ""), "countries": countries}


def _method_body(form: MultiDictProxy) -> dict[str, Any]:
    """Every field of the method's form, an empty optional one as null; the checkbox as
    is_active (a browser sends an unticked box as nothing)."""
    return {
        "name": form.get("name", ""),
        "price": form.get("price", "").strip(),
        "free_over": optional_text(form, "free_over"),
        "max_weight_grams": optional_whole_number(form, "max_weight_grams"),
        "min_delivery_days": whole_number(form, "min_delivery_days"),
        "max_delivery_days": whole_number(form, "max_delivery_days"),
        "is_active": form.get("is_active") == "on",
    }


@routes.post("/shipping/zones")
@admin_page
async def create_zone_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    async def work() -> str:
        body = ZoneIn().load(_zone_body(form))
        zone = await shipping.create_zone(request.config_dict[db_pool_key], **body)
        return f"Zone “{zone['name']}” added."

    return await submitted(request, session, work, back=PAGE)


@routes.post(r"/shipping/zones/{zone_id:\d+}")
@admin_page
async def update_zone_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    zone_id = path_id(request.match_info["zone_id"])

    async def work() -> str:
        body = ZoneUpdateIn().load(_zone_body(form))
        async with request.config_dict[db_pool_key].acquire() as conn:
            zone = await shipping.update_zone(conn, zone_id, body)
        return f"Zone “{zone['name']}” saved."

    return await submitted(request, session, work, back=f"{PAGE}#zone-{zone_id}")


@routes.post(r"/shipping/zones/{zone_id:\d+}/delete")
@admin_page
async def delete_zone_form(request: web.Request, session: sessions.Session) -> web.Response:
    zone_id = path_id(request.match_info["zone_id"])

    async def work() -> str:
        async with request.config_dict[db_pool_key].acquire() as conn:
            await shipping.delete_zone(conn, zone_id)
        return "The zone and its methods are removed; its countries are free for other zones."

    return await submitted(request, session, work, back=PAGE)


@routes.post(r"/shipping/zones/{zone_id:\d+}/methods")
@admin_page
async def create_method_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    zone_id = path_id(request.match_info["zone_id"])

    async def work() -> str:
        body = MethodIn().load(_method_body(form))
        method = await shipping.add_method(request.config_dict[db_pool_key], zone_id, body)
        return f"Method “{method['name']}” added."

    return await submitted(request, session, work, back=f"{PAGE}#zone-{zone_id}")


@routes.post(r"/shipping/methods/{method_id:\d+}")
@admin_page
async def update_method_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    method_id = path_id(request.match_info["method_id"])

    async def work() -> str:
        body = MethodUpdateIn().load(_method_body(form))
        method = await shipping.update_method(request.config_dict[db_pool_key], method_id, body)
        return f"Method “{method['name']}” saved."

    return await submitted(request, session, work, back=f"{PAGE}#method-{method_id}")


@routes.post(r"/shipping/methods/{method_id:\d+}/delete")
@admin_page
async def delete_method_form(request: web.Request, session: sessions.Session) -> web.Response:
    method_id = path_id(request.match_info["method_id"])

    async def work() -> str:
        await shipping.delete_method(request.config_dict[db_pool_key], method_id)
        return "The method is removed: it is no longer offered."

    return await submitted(request, session, work, back=PAGE)

"""/admin/tax-rates: the tax rates, listed by country and changed with forms.

Each form is read into the body the admin API takes and loaded with the API's own schema, then
handed to the API's own domain functions, so the page refuses exactly what the API refuses.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from shop_api.domain import tax
from shop_api.domain.countries import country_name
from shop_api.web.admin import sessions
from shop_api.web.admin.forms import optional_text, submitted
from shop_api.web.admin.guard import admin_page, safe_next
from shop_api.web.admin.lists import list_query, pager
from shop_api.web.admin.templating import percent, render
from shop_api.web.endpoint import path_id
from shop_api.web.keys import db_pool_key
from shop_api.web.schemas.tax import (
    MAX_REGION_LENGTH,
    MAX_TAX_NAME_LENGTH,
    TaxRateIn,
    TaxRatesQuery,
    TaxRateUpdateIn,
)

routes = web.RouteTableDef()

PAGE = "/admin/tax-rates"


@routes.get("/tax-rates")
@admin_page
async def tax_rates_page(request: web.Request, session: sessions.Session) -> web.Response:
    query = list_query(TaxRatesQuery(), request)
    rows, total = await tax.list_rates(
        request.config_dict[db_pool_key],
        country=query.get("country"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return await render(
        request,
        "tax_rates.html",
        {
            "rates": [{**row, "country_name": country_name(row["country"])} for row in rows],
            "tax_classes": tax.TAX_CLASSES,
            "filters": {"country": query.get("country")},
            "pager": pager(request, query, total),
            "here": request.path_qs,
            "max_region": MAX_REGION_LENGTH,
            "max_name": MAX_TAX_NAME_LENGTH,
        },
        session=session,
    )


def _rate_body(form: MultiDictProxy) -> dict[str, Any]:
    """Every field of the rate's form; an empty region is the whole country (null)."""
    return {
        "country": form.get("country", "").strip(),
        "region": optional_text(form, "region"),
        "tax_class": form.get("tax_class", ""),
        "rate": form.get("rate", "").strip(),
        "name": form.get("name", ""),
    }


def _described(rate: Any) -> str:
    where = rate["country"] + (f" ({rate['region']})" if rate["region"] else "")
    return f"“{rate['name']}” for {where}, {rate['tax_class']}: {percent(rate['rate'])}"


@routes.post("/tax-rates")
@admin_page
async def create_rate_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    async def work() -> str:
        body = TaxRateIn().load(_rate_body(form))
        rate = await tax.create_rate(request.config_dict[db_pool_key], **body)
        return f"Tax rate {_described(rate)} added."

    return await submitted(request, session, work, back=safe_next(form.get("next") or PAGE))


@routes.post(r"/tax-rates/{rate_id:\d+}")
@admin_page
async def update_rate_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    rate_id = path_id(request.match_info["rate_id"])

    async def work() -> str:
        body = TaxRateUpdateIn().load(_rate_body(form))
        rate = await tax.update_rate(request.config_dict[db_pool_key], rate_id, body)
        return f"Tax rate {_described(rate)} saved."

    return await submitted(request, session, work, back=safe_next(form.get("next") or PAGE))


@routes.post(r"/tax-rates/{rate_id:\d+}/delete")
@admin_page
async def delete_rate_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    rate_id = path_id(request.match_info["rate_id"])

    async def work() -> str:
        await tax.delete_rate(request.config_dict[db_pool_key], rate_id)
        return "The tax rate is removed."

    return await submitted(request, session, work, back=safe_next(form.get("next") or PAGE))

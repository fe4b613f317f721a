"""/admin/webhooks: the webhook endpoints, registered, changed, disabled and removed with forms,
and each endpoint's deliveries, which can be sent again.

Each form is read into the body the admin API takes and loaded with the API's own schema, its
URL checked by the same guard, then handed to the API's own domain functions, so the page
refuses exactly what the API refuses. A secret is shown once, in the answer to the form that
made it (as the API shows it only in the answer that made it), never through the redirect's
message, which would leave it waiting in Redis: this is also how the API keys page shows a key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from shop_api.domain import webhook_admin
from shop_api.errors import ValidationFailed
from shop_api.integrations.webhook_urls import check_url
from shop_api.web.admin import sessions
from shop_api.web.admin.forms import submitted
from shop_api.web.admin.guard import admin_page, safe_next
from shop_api.web.admin.lists import list_query, pager
from shop_api.web.admin.templating import render
from shop_api.web.endpoint import path_id
from shop_api.web.keys import db_pool_key, outbox_wake_key, settings_key
from shop_api.web.schemas.webhooks import DeliveriesQuery, WebhookIn, WebhookReplaceIn

routes = web.RouteTableDef()

PAGE = "/admin/webhooks"


def _back(form: MultiDictProxy, endpoint_id: int) -> str:
    """The page the form came from (the endpoint's own, or its row of the list)."""
    return safe_next(form.get("next") or f"{PAGE}#endpoint-{endpoint_id}")


async def _endpoints_page(
    request: web.Request, session: sessions.Session, *, new_secret: dict[str, Any] | None = None
) -> web.Response:
    endpoints = await webhook_admin.list_endpoints(request.config_dict[db_pool_key])
    return await render(
        request,
        "webhooks.html",
        {
            "endpoints": endpoints,
            "choices": webhook_admin.PATTERN_CHOICES,
            "max_url": webhook_admin.MAX_URL_LENGTH,
            "max_description": webhook_admin.MAX_DESCRIPTION_LENGTH,
            "allow_private": request.config_dict[settings_key].webhook_allow_private,
            "new_secret": new_secret,
        },
        session=session,
    )


@routes.get("/webhooks")
@admin_page
async def webhooks_page(request: web.Request, session: sessions.Session) -> web.Response:
    return await _endpoints_page(request, session)


@routes.get(r"/webhooks/{endpoint_id:\d+}")
@admin_page
async def webhook_page(request: web.Request, session: sessions.Session) -> web.Response:
    endpoint_id = path_id(request.match_info["endpoint_id"])
    query = list_query(DeliveriesQuery(), request)
    pool = request.config_dict[db_pool_key]
    endpoint = await webhook_admin.get_endpoint(pool, endpoint_id)
    rows, total = await webhook_admin.list_deliveries(
        pool,
        endpoint_id,
        status=query.get("status"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return await render(
        request,
        "webhook.html",
        {
            "endpoint": endpoint,
            "deliveries": rows,
            "statuses": webhook_admin.DELIVERY_STATUSES,
            "filters": {"status": query.get("status")},
            "pager": pager(request, query, total),
            "here": request.path_qs,
        },
        session=session,
    )


def _fields(form: MultiDictProxy) -> dict[str, Any]:
    """The form as the API's body; the event checkboxes as its list (a browser sends one
    `events` per ticked box)."""
    return {
        "url": form.get("url", "").strip(),
        "events": form.getall("events", []),
        "description": form.get("description", "").strip(),
    }


async def _allowed(request: web.Request, url: str) -> None:
    await check_url(url, allow_private=request.config_dict[settings_key].webhook_allow_private)


async def _showing_secret(
    request: web.Request,
    session: sessions.Session,
    work: Callable[[], Awaitable[tuple[str, Any]]],
    *,
    back: str,
) -> web.Response:
    """`submitted` for a form whose work makes a secret, returning (message, endpoint row):
    refused, back to `back` with what was wrong; done, the endpoints page with the secret."""
    made: dict[str, Any] = {}

    async def told() -> str:
        text, row = await work()
        made.update(endpoint_id=row["id"], url=row["url"], secret=row["secret"])
        return text

    answer = await submitted(request, session, told, back=back)
    if not made:
        return answer
    return await _endpoints_page(request, session, new_secret=made)


@routes.post("/webhooks")
@admin_page
async def create_webhook_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    async def work() -> tuple[str, Any]:
        body = WebhookIn().load(_fields(form))
        await _allowed(request, body["url"])
        row = await webhook_admin.create_endpoint(request.config_dict[db_pool_key], **body)
        return f"Endpoint #{row['id']} added.", row

    return await _showing_secret(request, session, work, back=PAGE)


@routes.post(r"/webhooks/{endpoint_id:\d+}")
@admin_page
async def replace_webhook_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    endpoint_id = path_id(request.match_info["endpoint_id"])

    async def work() -> str:
        body = WebhookReplaceIn().load(
            {**_fields(form), "is_active": form.get("is_active") == "on"}
        )
        await _allowed(request, body["url"])
        row = await webhook_admin.replace_endpoint(
            request.config_dict[db_pool_key], endpoint_id, **body
        )
        state = "" if row["is_active"] else " It is disabled: nothing is sent to it."
        return f"Endpoint #{endpoint_id} saved.{state}"

    return await submitted(request, session, work, back=_back(form, endpoint_id))


@routes.post(r"/webhooks/{endpoint_id:\d+}/active")
@admin_page
async def webhook_active_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    endpoint_id = path_id(request.match_info["endpoint_id"])
    action = form.get("action")

    async def work() -> str:
        if action not in ("enable", "disable"):
            raise ValidationFailed({"action": ["Choose to enable or to disable the endpoint."]})
        await webhook_admin.set_active(
            request.config_dict[db_pool_key], endpoint_id, is_active=action == "enable"
        )
        if action == "enable":
            return f"Endpoint #{endpoint_id} is enabled again, its failures in a row back to 0."
        return f"Endpoint #{endpoint_id} is disabled: nothing is sent to it."

    return await submitted(request, session, work, back=_back(form, endpoint_id))


@routes.post(r"/webhooks/{endpoint_id:\d+}/rotate-secret")
@admin_page
async def rotate_secret_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    endpoint_id = path_id(request.match_info["endpoint_id"])

    async def work() -> tuple[str, Any]:
        row = await webhook_admin.rotate_secret(request.config_dict[db_pool_key], endpoint_id)
        return f"Endpoint #{endpoint_id} has a new secret; the old one signs nothing more.", row

    return await _showing_secret(request, session, work, back=_back(form, endpoint_id))


@routes.post(r"/webhooks/{endpoint_id:\d+}/delete")
@admin_page
async def delete_webhook_form(request: web.Request, session: sessions.Session) -> web.Response:
    endpoint_id = path_id(request.match_info["endpoint_id"])

    async def work() -> str:
        await webhook_admin.delete_endpoint(request.config_dict[db_pool_key], endpoint_id)
        return f"Endpoint #{endpoint_id} and its deliveries are removed."

    return await submitted(request, session, work, back=PAGE)


@routes.post(r"/webhook-deliveries/{delivery_id:\d+}/redeliver")
@admin_page
async def redeliver_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    delivery_id = path_id(request.match_info["delivery_id"])

    async def work() -> str:
        await webhook_admin.redeliver(request.config_dict[db_pool_key], delivery_id)
        request.config_dict[outbox_wake_key].set()  # committed: the relay sends it now
        return f"Delivery #{delivery_id} is queued to be sent again."

    return await submitted(request, session, work, back=safe_next(form.get("next") or PAGE))

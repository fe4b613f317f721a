"""/admin/api-keys: the keys integrations call the API with, made and revoked with forms.

The form is loaded with the API's own schema and handed to the API's own domain functions, so
the page refuses what the API refuses. A new key is shown in the answer to the form itself,
never through the redirect's message: that message waits in Redis, and the key is kept
nowhere but in the integration that copies it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from shop_api.domain import api_keys
from shop_api.web.admin import sessions
from shop_api.web.admin.forms import submitted
from shop_api.web.admin.guard import admin_page
from shop_api.web.admin.templating import render
from shop_api.web.endpoint import path_id
from shop_api.web.keys import db_pool_key
from shop_api.web.schemas.api_keys import ApiKeyIn

routes = web.RouteTableDef()

PAGE = "/admin/api-keys"


async def _keys_page(
    request: web.Request, session: sessions.Session, *, new_key: dict[str, Any] | None = None
) -> web.Response:
    rows = await api_keys.list_keys(request.config_dict[db_pool_key], include_revoked=True)
    return await render(
        request,
        "api_keys.html",
        {
            "keys": rows,
            "scopes": api_keys.SCOPES,
            "max_name": api_keys.MAX_NAME_LENGTH,
            "new_key": new_key,
        },
        session=session,
    )


@routes.get("/api-keys")
@admin_page
async def api_keys_page(request: web.Request, session: sessions.Session) -> web.Response:
    return await _keys_page(request, session)


@routes.post("/api-keys")
@admin_page
async def create_key_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    made: dict[str, Any] = {}

    async def work() -> str:
        body = ApiKeyIn().load({"name": form.get("name", ""), "scopes": form.getall("scopes", [])})
        row, key = await api_keys.create_key(
            request.config_dict[db_pool_key],
            name=body["name"],
            scopes=body["scopes"],
            created_by=session.user["id"],
        )
        made.update(name=row["name"], prefix=row["prefix"], key=key)
        return f"API key “{row['name']}” made."

    answer = await submitted(request, session, work, back=PAGE)
    if not made:
        return answer  # refused: back to the page, with what was wrong
    return await _keys_page(request, session, new_key=made)


@routes.post(r"/api-keys/{key_id:\d+}/revoke")
@admin_page
async def revoke_key_form(
    request: web.Request, session: sessions.Session, form: MultiDictProxy
) -> web.Response:
    key_id = path_id(request.match_info["key_id"])

    async def work() -> str:
        row = await api_keys.revoke_key(request.config_dict[db_pool_key], key_id)
        return f"API key “{row['name']}” revoked: its next request is refused."

    return await submitted(request, session, work, back=PAGE)

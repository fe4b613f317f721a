"""/admin/login and /admin/logout: the admin pages' only way in and out."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from marshmallow import ValidationError

from shop_api.client_address import client_address
from shop_api.domain import accounts
from shop_api.errors import RateLimited
from shop_api.web import ratelimit
from shop_api.web.admin import sessions
from shop_api.web.admin.guard import LOGIN_PATH, read_form, safe_next, see_other
from shop_api.web.admin.templating import render
from shop_api.web.keys import db_pool_key, redis_key, settings_key
from shop_api.web.schemas.users import LoginIn

routes = web.RouteTableDef()

NOT_AN_ADMIN = (
    "This account is not an admin account. These pages are for shop staff only; customers "
    "sign in on the shop itself."
)
SIGNED_OUT = "You have signed out."


async def _form(
    request: web.Request, *, status: int = 200, error: str = "", email: str = "",
    next_path: str = "", notice: str = "", headers: dict[str, str] | None = None,
) -> web.Response:
    nonce, token = sessions.login_form_token(request)
    response = await render(
        request,
        "login.html",
        {
            "login_csrf_token": token,
            "next": next_path,
            "email": email,
            "error": error,
            "notice": notice,
        },
        status=status,
    )
    sessions.remember_login_form(request, response, nonce)
    response.headers.update(headers or {})
    return response


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    next_path = safe_next(request.query.get("next"))
    if await sessions.load(request) is not None:
        return see_other(next_path)
    notice = SIGNED_OUT if request.query.get("signed_out") == "1" else ""
    return await _form(request, next_path=next_path, notice=notice)


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await read_form(request)
    sessions.check_login_form(request, form)
    next_path = safe_next(form.get("next"))
    email = str(form.get("email", "")).strip()
    retry: dict[str, Any] = {"email": email, "next_path": next_path}
    try:
        credentials = LoginIn().load({"email": email, "password": form.get("password", "")})
    except ValidationError:
        return await _form(request, status=422, error="Enter your email and password.", **retry)
    settings = request.config_dict[settings_key]
    try:
        # The same budget as POST /api/auth/login: one per address, one per email.
        await ratelimit.hit_login(
            request.config_dict[redis_key],
            settings,
            address=client_address(request, settings.trusted_proxies),
            email=credentials["email"],
            scope=ratelimit.LOGIN,
        )
        user = await accounts.check_credentials(
            request.config_dict[db_pool_key],
            settings,
            email=credentials["email"],
            password=credentials["password"],
        )
    except RateLimited as exc:
        return await _form(request, status=429, error=exc.detail or "", headers=exc.headers,
                           **retry)
    except accounts.InvalidCredentials as exc:
        return await _form(request, status=401, error=exc.detail or "", **retry)
    except accounts.AccountDisabled as exc:
        return await _form(request, status=403, error=exc.detail or "", **retry)
    if user["role"] != "admin":
        return await _form(request, status=403, error=NOT_AN_ADMIN, **retry)
    response = see_other(next_path)
    await sessions.start(request, response, user)
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    session = await sessions.load(request)
    response = see_other(f"{LOGIN_PATH}?signed_out=1")
    if session is None:
        # Already signed out (expired, or ended by a deactivation): nothing left to protect.
        await sessions.end(request, response)
        return response
    sessions.check_csrf(session, await read_form(request))
    await sessions.end(request, response)
    return response

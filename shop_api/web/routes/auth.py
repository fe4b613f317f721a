"""/api/auth: register, login, refresh, profile, password, the account's data."""

from __future__ import annotations

import contextlib

import asyncpg
from aiohttp import web

from shop_api.client_address import client_address
from shop_api.domain import account_deletion, account_export, accounts
from shop_api.errors import Unauthorized
from shop_api.security.tokens import bearer_token
from shop_api.web import ratelimit
from shop_api.web.endpoint import PUBLIC, USER, endpoint
from shop_api.web.jsonio import json_response, read_json_object
from shop_api.web.keys import db_pool_key, redis_key, settings_key
from shop_api.web.schemas.account_data import (
    AccountExportOut,
    DeleteAccountIn,
    account_export_out,
)
from shop_api.web.schemas.users import (
    ChangePasswordIn,
    LoginIn,
    LoginOut,
    ProfileIn,
    RefreshIn,
    RegisterIn,
    TokenPairOut,
    UserOut,
    user_out,
)

routes = web.RouteTableDef()
TAG = "Authentication"


async def _limit(request: web.Request, *, email: str, scope: str) -> None:
    """Per client address (login and register together) and per email (each route)."""
    settings = request.app[settings_key]
    await ratelimit.hit_login(
        request.app[redis_key],
        settings,
        address=client_address(request, settings.trusted_proxies),
        email=email,
        scope=scope,
    )


def _failure_counted_as_login(request: web.Request, user: asyncpg.Record):
    """A wrong current password counts against the login limit of the account's email."""
    return ratelimit.failure_counted_as_login(
        request.app[redis_key], request.app[settings_key], email=user["email"]
    )


@routes.post("/api/auth/register")
@endpoint(
    summary="Create a customer account",
    tag=TAG,
    access=PUBLIC,
    body=RegisterIn,
    response=UserOut,
    status=201,
    errors=(409, 429),
)
async def register(request: web.Request, body: dict) -> web.Response:
    await _limit(request, email=body["email"], scope="register")
    user = await accounts.register(
        request.app[db_pool_key],
        request.app[settings_key],
        email=body["email"],
        password=body["password"],
        full_name=body["full_name"],
    )
    return json_response(user_out(user), status=201)


@routes.post("/api/auth/login")
@endpoint(
    summary="Log in with email and password",
    tag=TAG,
    body=LoginIn,
    response=LoginOut,
    errors=(401, 403, 429),
)
async def login(request: web.Request, body: dict) -> web.Response:
    await _limit(request, email=body["email"], scope=ratelimit.LOGIN)
    user, pair = await accounts.login(
        request.app[db_pool_key],
        request.app[settings_key],
        email=body["email"],
        password=body["password"],
    )
    return json_response({**pair.as_dict(), "user": user_out(user)})


@routes.post("/api/auth/refresh")
@endpoint(
    summary="Swap a refresh token for a new token pair",
    description=(
        "Send the refresh token as `Authorization: Bearer` or as `refresh_token` in the body. "
        "Each refresh token works once; presenting a used one revokes every token of that login."
    ),
    tag=TAG,
    response=TokenPairOut,
    errors=(400, 401, 422),
)
async def refresh(request: web.Request) -> web.Response:
    token = bearer_token(request.headers.get("Authorization"))
    if request.can_read_body:
        body = RefreshIn().load(await read_json_object(request))
        token = body.get("refresh_token", token)
    if token is None:
        raise Unauthorized("A refresh token is required.")
    async with request.app[db_pool_key].acquire() as conn:
        pair = await accounts.refresh(conn, request.app[settings_key], token=token)
    return json_response(pair.as_dict())


@routes.get("/api/auth/me")
@endpoint(summary="The signed-in user", tag=TAG, access=USER, response=UserOut)
async def me(request: web.Request, user: asyncpg.Record) -> web.Response:
    return json_response(user_out(user))


@routes.put("/api/auth/me")
@endpoint(
    summary="Update your name or email",
    description=(
        "Changing the email needs `current_password` in the same body (422 on "
        "`current_password` when missing or wrong); the old address is told of the change. "
        "Wrong passwords count against the login rate limit of the account's email (429)."
    ),
    tag=TAG,
    access=USER,
    body=ProfileIn,
    response=UserOut,
    errors=(409, 429),
)
async def update_me(request: web.Request, user: asyncpg.Record, body: dict) -> web.Response:
    checked = (
        _failure_counted_as_login(request, user) if "email" in body else contextlib.nullcontext()
    )
    async with checked:
        updated = await accounts.update_profile(
            request.app[db_pool_key],
            request.app[settings_key],
            user_id=user["id"],
            full_name=body.get("full_name"),
            email=body.get("email"),
            current_password=body.get("current_password"),
        )
    return json_response(user_out(updated))


@routes.post("/api/auth/change-password")
@endpoint(
    summary="Change your password",
    description=(
        "Every earlier access and refresh token of the user stops working. A wrong current "
        "password counts against the login rate limit of the account's email (429)."
    ),
    tag=TAG,
    access=USER,
    body=ChangePasswordIn,
    response=TokenPairOut,
    errors=(429,),
)
async def change_password(
    request: web.Request, user: asyncpg.Record, body: dict
) -> web.Response:
    async with _failure_counted_as_login(request, user):
        pair = await accounts.change_password(
            request.app[db_pool_key],
            request.app[settings_key],
            user=user,
            current_password=body["current_password"],
            new_password=body["new_password"],
        )
    return json_response(pair.as_dict())


@routes.get("/api/auth/me/export")
@endpoint(
    summary="Everything stored about you, as one document",
    description=(
        "Your profile, addresses, orders (each with its items and every payment) and reviews, "
        "read at one instant."
    ),
    tag=TAG,
    access=USER,
    response=AccountExportOut,
)
async def export_me(
    request: web.Request, user: asyncpg.Record, conn: asyncpg.Connection
) -> web.Response:
    data = await account_export.export_account(conn, user_id=user["id"])
    return json_response(account_export_out(data))


@routes.delete("/api/auth/me")
@endpoint(
    summary="Delete your account",
    description=(
        "Needs your password again (a wrong one is a 422 on `current_password` and counts "
        "against the login rate limit of your email, 429). In one transaction: your pending "
        "orders are cancelled (stock back, the cancellation email to your address), your "
        "addresses and cart deleted, and your profile anonymised: the email and name are "
        "replaced, no password matches it any more, and every access and refresh token stops "
        "working at once. The email is free to register again. Orders and payments are kept "
        "as accounting records, and reviews stay, shown as by \"Former customer\". An admin "
        "account cannot be deleted (409 `cannot_delete_admin`)."
    ),
    tag=TAG,
    access=USER,
    body=DeleteAccountIn,
    status=204,
    errors=(409, 429),
)
async def delete_me(request: web.Request, user: asyncpg.Record, body: dict) -> web.Response:
    async with _failure_counted_as_login(request, user):
        await account_deletion.delete_account(
            request.app[db_pool_key],
            request.app[settings_key],
            user=user,
            current_password=body["current_password"],
        )
    return web.Response(status=204)

"""Who is calling: the bearer token checked against the user's current state."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.db import queries
from shop_api.domain.accounts import check_token_still_valid
from shop_api.errors import Forbidden, Unauthorized
from shop_api.security.tokens import ACCESS, bearer_token, decode
from shop_api.web.keys import db_pool_key, settings_key


async def authenticate(request: web.Request, *, admin: bool = False) -> asyncpg.Record:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized()
    claims = decode(request.app[settings_key], token, token_type=ACCESS)
    user = await queries.get_user_for_access_token(
        request.app[db_pool_key], id=claims["user_id"], family_id=claims["family_id"]
    )
    user = check_token_still_valid(user, claims)
    if user["family_revoked"]:
        # A refresh token of this login was reused: it leaked, so its access tokens die too.
        raise Unauthorized("The token is no longer valid.")
    if admin and user["role"] != "admin":
        raise Forbidden("Admins only.")
    return user

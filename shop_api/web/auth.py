"""Who is calling: the bearer token checked against the user's current state, or an API key
checked against its scopes."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.db import queries
from shop_api.domain import api_keys
from shop_api.domain.accounts import check_token_still_valid
from shop_api.domain.api_keys import ApiKey
from shop_api.errors import Forbidden, Unauthorized
from shop_api.security.tokens import ACCESS, bearer_token, decode
from shop_api.web.keys import db_pool_key, settings_key

# What a signed-in route gets as `user`: a user's row, or on an admin route with a scope, a key.
Caller = asyncpg.Record | ApiKey


async def authenticate(
    request: web.Request, *, admin: bool = False, scope: str | None = None
) -> Caller:
    """The user of the bearer token; on an admin route declaring `scope`, also an API key
    holding that scope. A key anywhere else is a 403: it is never a user."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized()
    if api_keys.is_api_key(token):
        key = await api_keys.key_for(request.app[db_pool_key], token)
        if not admin or scope is None:
            raise Forbidden("An API key cannot use this route.")
        if scope not in key.scopes:
            raise Forbidden(f"This API key lacks the `{scope}` scope.")
        return key
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


def admin_id_of(caller: Caller) -> int | None:
    """Who the ledgers and histories record for a change: the admin, or NULL for an API key
    (`changed_by` and `actor_id` point at users, and a key is none)."""
    return None if isinstance(caller, ApiKey) else caller["id"]

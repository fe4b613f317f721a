"""Admin page sessions: a random id in an HttpOnly cookie, the record in Redis.

Redis rather than a signed cookie, so that logging out really ends a session (a signed cookie
stays valid until it expires, wherever a copy of it went), and rather than process memory, so web
processes stay stateless behind a load balancer. The record holds the user id and the user's
`token_version`, and every request re-checks them against the users table exactly as a bearer
token is checked (`check_token_still_valid`): a deactivation or a password change bumps the
version and ends every session at once, and a user who is no longer an admin is signed out.

CSRF tokens are HMACs, under SECRET_KEY, of a random value bound to the browser: the session id
once signed in, a nonce in a short-lived cookie for the login form. A page on another site can
read neither the cookie nor the page, so it cannot produce a matching token, and planting a
cookie of its own does not help without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from shop_api.db import queries
from shop_api.domain.accounts import check_token_still_valid
from shop_api.errors import Forbidden, Unauthorized
from shop_api.web.keys import db_pool_key, redis_key, settings_key

SESSION_COOKIE = "shop_admin_session"
LOGIN_COOKIE = "shop_admin_login"
# Browsers send the cookies to the admin pages only, never to /api (which ignores them anyway).
COOKIE_PATH = "/admin"
# A working day, counted from the login: long-lived admin sessions are what an attacker wants.
SESSION_SECONDS = 8 * 3600
LOGIN_FORM_SECONDS = 3600
FLASH_SECONDS = 120
CSRF_FIELD = "csrf_token"

_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


class CsrfFailed(Forbidden):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. Go back, reload the page and "
            "send it again."
        )


@dataclass(frozen=True)
class Session:
    id: str
    user: asyncpg.Record
    csrf_token: str


def _sign(request: web.Request, purpose: str, value: str) -> str:
    key = request.config_dict[settings_key].secret_key.encode()
    return hmac.new(key, f"admin-{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


def _redis_key(kind: str, session_id: str) -> str:
    # Hashed, so the ids in a Redis dump or a MONITOR trace cannot be replayed as cookies.
    return f"admin_{kind}:{hashlib.sha256(session_id.encode()).hexdigest()}"


def _well_formed(value: str | None) -> bool:
    return (
        value is not None
        and len(value) == _TOKEN_LENGTH
        and all(c.isalnum() or c in "-_" for c in value)
    )


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
                max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.config_dict[settings_key].cookie_secure,
    )


def _delete_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(
        name,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.config_dict[settings_key].cookie_secure,
    )


# -- the login form ---------------------------------------------------------------------------


def login_form_token(request: web.Request) -> tuple[str, str]:
    """(nonce, CSRF token) for a login form; `remember_login_form` puts the nonce in the
    cookie of the response that carries the form."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not _well_formed(nonce):
        nonce = secrets.token_urlsafe(32)
    return nonce, _sign(request, "login", nonce)


def remember_login_form(request: web.Request, response: web.StreamResponse, nonce: str) -> None:
    # Re-set with each form, so an open login page keeps working for LOGIN_FORM_SECONDS.
    _set_cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_FORM_SECONDS)


def check_login_form(request: web.Request, form: Mapping[str, Any]) -> None:
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not _well_formed(nonce) or not _matches(
        _sign(request, "login", nonce), form.get(CSRF_FIELD)
    ):
        raise CsrfFailed()


# -- sessions ---------------------------------------------------------------------------------


async def start(request: web.Request, response: web.StreamResponse, user: asyncpg.Record) -> None:
    """A new session for `user` (a fresh id at every login: no fixation), set on `response`."""
    redis = request.config_dict[redis_key]
    old = request.cookies.get(SESSION_COOKIE)
    if _well_formed(old):
        await redis.delete(_redis_key("session", old))
    session_id = secrets.token_urlsafe(32)
    record = json.dumps({"user_id": user["id"], "ver": user["token_version"]})
    await redis.set(_redis_key("session", session_id), record, ex=SESSION_SECONDS)
    _set_cookie(request, response, SESSION_COOKIE, session_id, SESSION_SECONDS)
    _delete_cookie(request, response, LOGIN_COOKIE)


async def load(request: web.Request) -> Session | None:
    """The request's live session, or None: no cookie, expired, logged out, or its user was
    deactivated, changed password or lost the admin role since (then the record is removed)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not _well_formed(session_id):
        return None
    redis = request.config_dict[redis_key]
    raw = await redis.get(_redis_key("session", session_id))
    if raw is None:
        return None
    record = json.loads(raw)
    user = await queries.get_user_by_id(request.config_dict[db_pool_key], id=record["user_id"])
    try:
        user = check_token_still_valid(user, record)
    except Unauthorized:
        await redis.delete(_redis_key("session", session_id))
        return None
    if user["role"] != "admin":
        await redis.delete(_redis_key("session", session_id))
        return None
    return Session(session_id, user, _sign(request, "session", session_id))


async def end(request: web.Request, response: web.StreamResponse) -> None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if _well_formed(session_id):
        redis = request.config_dict[redis_key]
        await redis.delete(_redis_key("session", session_id), _redis_key("flash", session_id))
    _delete_cookie(request, response, SESSION_COOKIE)


def check_csrf(session: Session, form: Mapping[str, Any]) -> None:
    if not _matches(session.csrf_token, form.get(CSRF_FIELD)):
        raise CsrfFailed()


# -- one-off messages after a redirect ---------------------------------------------------------


async def flash(request: web.Request, session: Session, kind: str, text: str) -> None:
    """A message for the page the browser is redirected to next ("Order #7 is now shipped.")."""
    await request.config_dict[redis_key].set(
        _redis_key("flash", session.id), json.dumps({"kind": kind, "text": text}), ex=FLASH_SECONDS
    )


async def pop_flash(request: web.Request, session: Session) -> dict | None:
    raw = await request.config_dict[redis_key].getdel(_redis_key("flash", session.id))
    return json.loads(raw) if raw is not None else None

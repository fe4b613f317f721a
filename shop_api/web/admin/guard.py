"""`@admin_page`: the admin pages' counterpart of `@endpoint(access=ADMIN)`, for a browser.

No session sends the browser to the login page (and back here afterwards); a POST must carry
the session's CSRF token or it is refused (403) before the handler runs. Handlers receive the
`session` and, for a POST, the parsed `form`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from yarl import URL

from shop_api.errors import BadRequest
from shop_api.web.admin import sessions
from shop_api.web.body_deadline import read_body

LOGIN_PATH = "/admin/login"
HOME_PATH = "/admin/"

Handler = Callable[..., Awaitable[web.StreamResponse]]


def see_other(location: str) -> web.Response:
    """303: after a form, the browser GETs `location` (reloading it never re-sends the form)."""
    return web.Response(status=303, headers={"Location": location})


def safe_next(value: object) -> str:
    """`value` when it is a page of this admin, else the dashboard: a login or form link can
    never send the browser to another site (open redirect)."""
    # Any control character, not only CR/LF: aiohttp refuses to send a Location carrying one.
    if (
        not isinstance(value, str)
        or not value
        or any(c == "\\" or c < " " or c == "\x7f" for c in value)
    ):
        return HOME_PATH
    try:
        url = URL(value)
    except ValueError:
        return HOME_PATH
    # A scheme without a host ("https:/admin/") is not absolute to yarl, but a browser on the
    # other scheme reads the path's first segment as the host (https://admin/).
    if url.scheme or url.is_absolute() or value.startswith("//"):
        return HOME_PATH
    if not url.path.startswith(HOME_PATH) or url.path.startswith(LOGIN_PATH):
        return HOME_PATH
    return value


# What the pages' own <form>s send (no enctype: urlencoded; aiohttp reads "" the same way).
# A multipart body is none of ours, and aiohttp would spool its file parts to disk.
_FORM_CONTENT_TYPES = ("", "application/x-www-form-urlencoded")


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The fields of a posted admin form; a 400 unless it is a form the pages send and aiohttp
    can read (bytes that are not text in its charset, or a charset Python does not know)."""
    if request.content_type not in _FORM_CONTENT_TYPES:
        raise BadRequest("Send the form as the page does.", code="invalid_form")
    await read_body(request)  # within REQUEST_BODY_TIMEOUT; post() then reads it from memory
    try:
        form = await request.post()
    except (ValueError, LookupError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("The form could not be read.", code="invalid_form") from None
    return form  # type: ignore[return-value] - urlencoded: every value is a str


def login_url(request: web.Request) -> str:
    target = request.path_qs if request.method == "GET" else HOME_PATH
    if target == HOME_PATH:
        return LOGIN_PATH
    return str(URL(LOGIN_PATH).with_query(next=target))


def admin_page(handler: Handler) -> Handler:
    wants = set(inspect.signature(handler).parameters)

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        session = await sessions.load(request)
        if session is None:
            return see_other(login_url(request))
        kwargs: dict[str, Any] = {"session": session}
        if request.method == "POST":
            form = await read_form(request)
            sessions.check_csrf(session, form)
            kwargs["form"] = form
        return await handler(request, **{k: v for k, v in kwargs.items() if k in wants})

    return guarded

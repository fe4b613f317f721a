"""What the admin pages' forms share: fields read into the API's body shapes, and the answer
to a submitted form (a redirect, with a message saying what happened or what was refused)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web
from marshmallow import ValidationError
from multidict import MultiDictProxy

from shop_api.errors import ApiError
from shop_api.web.admin import sessions
from shop_api.web.admin.guard import see_other
from shop_api.web.admin.middleware import readable_errors
from shop_api.web.error_ladder import to_api_error
from shop_api.web.schemas.common import ascii_integer


def whole_number(form: MultiDictProxy, field: str) -> int:
    number = ascii_integer(form.get(field, "").strip())
    if number is None:
        raise ValidationError({field: ["Enter a whole number."]})
    return number


def optional_whole_number(form: MultiDictProxy, field: str) -> int | None:
    """A whole number, or None for a field left empty."""
    return whole_number(form, field) if form.get(field, "").strip() else None


def optional_text(form: MultiDictProxy, field: str) -> str | None:
    """The field's text without surrounding spaces, or None for a field left empty."""
    return form.get(field, "").strip() or None


async def flash_errors(request: web.Request, session: sessions.Session, errors: Any) -> None:
    lines = readable_errors(errors) or ["The form has invalid fields."]
    await sessions.flash(request, session, "error", " ".join(lines))


# What a refused form raises: the API's refusals, field errors, and the constraints the
# database decides (a race, or a uniqueness only the database checks).
_REFUSALS = (ApiError, ValidationError, asyncpg.IntegrityConstraintViolationError)


async def submitted(
    request: web.Request,
    session: sessions.Session,
    work: Callable[[], Awaitable[str]],
    *,
    back: str,
) -> web.Response:
    """Do `work` (which returns what to tell the admin) and go `back`; a refusal, whatever the
    API would answer with a 4xx, is told instead, and anything else is the error page."""
    try:
        message = await work()
    except _REFUSALS as exc:
        error = to_api_error(exc, request, asked_for="page")
        if error is None or error.status >= 500:
            raise
        if error.errors:
            await flash_errors(request, session, error.errors)
        else:
            await sessions.flash(request, session, "error", error.detail or error.title)
    else:
        await sessions.flash(request, session, "ok", message)
    return see_other(back)

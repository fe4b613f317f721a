"""The admin pages' Jinja2 environment, its filters, and `render` with what every page shows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from shop_api.web.admin import sessions
from shop_api.web.keys import admin_templates_key, settings_key

TEMPLATE_DIR = Path(__file__).resolve().parent.parent.parent / "templates" / "admin"

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(value: Any, currency: str = "USD") -> str:
    amount = Decimal(str(value))
    symbol = SYMBOLS.get(currency)
    text = f"{abs(amount):,.2f}"
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def number(value: int | Decimal) -> str:
    return f"{value:,}"


def when(value: datetime | None) -> str:
    # Stored and shown in UTC, the zone every figure of the dashboard is counted in.
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def day(value: date) -> str:
    return value.strftime("%b %d").replace(" 0", " ")


def percent(rate: Decimal) -> str:
    """A tax rate as people write it: 0.1900 is "19 %", 0.0725 "7.25 %"."""
    digits = f"{rate * 100:f}"
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return f"{digits} %"


def status_label(value: str) -> str:
    return value.capitalize()


# API.md: the title of the one variant of a product sold without options.
DEFAULT_VARIANT_TITLE = "Default"


def variant_name(name: str, title: str | None) -> str:
    """The product's name and which of its variants ("Shirt — M / Red"), unless default."""
    if title is None or title == DEFAULT_VARIANT_TITLE:
        return name
    return f"{name} — {title}"


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        app_key=admin_templates_key,
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        filters={
            "money": money,
            "number": number,
            "when": when,
            "day": day,
            "status_label": status_label,
            "percent": percent,
            "variant_name": variant_name,
        },
    )


async def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    session: sessions.Session | None = None,
    status: int = 200,
) -> web.Response:
    """`template` with the page furniture: who is signed in, the CSRF token of their forms,
    the message left by the previous form, and the shop's currency."""
    common: dict[str, Any] = {
        "currency": request.config_dict[settings_key].default_currency,
        "path": request.path,
        "admin": None,
        "csrf_token": "",
        "flash": None,
    }
    if session is not None:
        common.update(
            admin=session.user,
            csrf_token=session.csrf_token,
            flash=await sessions.pop_flash(request, session),
        )
    return aiohttp_jinja2.render_template(
        template, request, {**common, **context}, app_key=admin_templates_key, status=status
    )

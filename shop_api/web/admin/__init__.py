"""The admin web pages: server-rendered HTML over the admin API's domain code.

An application of their own, which `shop_api.web.app.create_app` mounts at /admin/ (aiohttp's
nested applications): their templates, stylesheet, error pages and security headers belong to
it, and nothing outside /admin ever passes through them. Settings, the pool and Redis stay on
the main app; handlers reach them through `request.config_dict`.

Signed in with a session cookie (see `sessions`), never with the API's bearer tokens, and the
API never accepts the cookie: the two front ends share rules and queries, not credentials.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from shop_api.web.admin import (
    api_key_pages,
    login,
    pages,
    promotion_pages,
    shipping_pages,
    tax_pages,
    templating,
    webhook_pages,
)
from shop_api.web.admin.middleware import admin_pages_middleware

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["create_app"]


def create_app() -> web.Application:
    """The admin pages, to be mounted with `app.add_subapp("/admin/", ...)`: their routes are
    relative to that prefix."""
    app = web.Application(middlewares=[admin_pages_middleware])
    templating.setup(app)
    app.router.add_routes(login.routes)
    app.router.add_routes(pages.routes)
    app.router.add_routes(shipping_pages.routes)
    app.router.add_routes(tax_pages.routes)
    app.router.add_routes(promotion_pages.routes)
    app.router.add_routes(api_key_pages.routes)
    app.router.add_routes(webhook_pages.routes)
    app.router.add_static("/static", STATIC_DIR)
    return app

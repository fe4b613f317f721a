"""The admin web pages: server-rendered HTML over the admin API's domain code.

Signed in with a session cookie (see `sessions`), never with the API's bearer tokens, and the
API never accepts the cookie: the two front ends share rules and queries, not credentials.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from . import login, pages, templating
from .middleware import admin_pages_middleware

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["admin_pages_middleware", "setup"]


def setup(app: web.Application) -> None:
    """Templates, the pages and their stylesheet; `admin_pages_middleware` goes in the app's
    middleware list, inside the error middleware."""
    templating.setup(app)
    app.router.add_routes(login.routes)
    app.router.add_routes(pages.routes)
    app.router.add_static("/admin/static", STATIC_DIR)

"""Every typed key the app stores state under, in one place."""

from __future__ import annotations

import asyncio

import asyncpg
import jinja2
import redis.asyncio as aioredis
from aiohttp import web

from shop_api.settings import Settings

settings_key = web.AppKey("settings", Settings)
db_pool_key = web.AppKey("db_pool", asyncpg.Pool)
redis_key = web.AppKey("redis", aioredis.Redis)
openapi_key = web.AppKey("openapi_document", dict)
# Set after a request commits, so this process relays its outbox rows at once.
outbox_wake_key = web.AppKey("outbox_wake", asyncio.Event)
# The admin pages' templates (aiohttp-jinja2 is told to use this key instead of its own).
admin_templates_key = web.AppKey("admin_templates", jinja2.Environment)

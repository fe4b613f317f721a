"""`create_app(settings)`: the whole web application, with no module-level state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import openapi_ui_bundles
import redis.asyncio as aioredis
from aiohttp import web

from shop_api.broker import create_broker
from shop_api.db import create_pool
from shop_api.metrics import exposition
from shop_api.metrics.web import observe_pool
from shop_api.relay import Redelivery, broker_dispatch, run_relay
from shop_api.settings import Settings
from shop_api.shutdown import close_pool, stop_broker, stop_task
from shop_api.web import admin
from shop_api.web.keys import db_pool_key, openapi_key, outbox_wake_key, redis_key, settings_key
from shop_api.web.middleware import api_middleware
from shop_api.web.openapi import build_openapi
from shop_api.web.routes import ROUTE_TABLES


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    pool = await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
    )
    app[db_pool_key] = pool
    yield
    await close_pool(pool)


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client = aioredis.Redis.from_url(app[settings_key].redis_url, socket_timeout=5)
    app[redis_key] = client
    yield
    await client.aclose()


async def _outbox_relay(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    if not settings.relay_in_web:
        yield
        return
    broker = create_broker(
        settings.effective_broker_url, heartbeat_seconds=settings.broker_heartbeat_seconds
    )
    task = asyncio.create_task(
        run_relay(
            app[db_pool_key],
            broker_dispatch(broker),
            app[outbox_wake_key],
            redelivery=Redelivery.from_settings(settings),
        ),
        name="outbox relay",
    )
    yield
    await stop_task(task)
    await stop_broker(broker)


# How often each process writes its pool's figures down for the others' scrapes to add up.
POOL_METRICS_SECONDS = 5.0


async def _pool_metrics(app: web.Application) -> AsyncIterator[None]:
    """With several processes a scrape reaches one of them, which reads its own pool then, and
    the others' as they last wrote them: each writes every few seconds. On the way out the
    process's figures leave the sums."""
    task = None
    if exposition.MULTIPROCESS:
        task = asyncio.create_task(_observe_pool_forever(app), name="pool metrics")
    yield
    if task is not None:
        await stop_task(task)
    exposition.process_exited()


async def _observe_pool_forever(app: web.Application) -> None:
    while True:
        observe_pool(app[db_pool_key])
        await asyncio.sleep(POOL_METRICS_SECONDS)


def create_app(settings: Settings) -> web.Application:
    # A parent's middlewares run around its sub-applications' too: every admin page gets its
    # request id and wakes the relay after a write, as every API request does.
    app = web.Application(
        middlewares=[api_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[settings_key] = settings
    app[outbox_wake_key] = asyncio.Event()
    app.cleanup_ctx.extend([_database, _redis, _outbox_relay, _pool_metrics])
    # The two front ends over one domain. The JSON API: bearer tokens, problem+json.
    for table in ROUTE_TABLES:
        app.router.add_routes(table)
    # Swagger UI 5 (it reads OpenAPI 3.1; the 4.x of swagger-ui-bundle could not), served by us.
    app.router.add_static("/api/docs/static", openapi_ui_bundles.swagger_ui.static_path)
    # The admin pages: HTML, a session cookie and CSRF tokens, error pages of their own.
    app.add_subapp("/admin/", admin.create_app())
    app[openapi_key] = build_openapi(app)
    return app

"""/api/health: is this process able to serve, and are its dependencies up?"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from aiohttp import web
from yarl import URL

from shop_api import __version__
from shop_api.db import queries
from shop_api.errors import Unavailable
from shop_api.web.endpoint import endpoint
from shop_api.web.jsonio import PROBLEM_CONTENT_TYPE, json_response
from shop_api.web.keys import db_pool_key, redis_key, settings_key
from shop_api.web.schemas.ops import HealthOut

routes = web.RouteTableDef()
CHECK_TIMEOUT = 2.0


async def _check(probe) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT)
    except Exception:  # noqa: BLE001 - any failure means "down", reported, never raised
        return "unavailable"
    return "ok"


@routes.get("/api/health")
@endpoint(
    summary="Liveness and dependency checks",
    description="503 with the failing part when the database is down.",
    tag="Operations",
    response=HealthOut,
    errors=(503,),
)
async def health(request: web.Request) -> web.Response:
    pool, redis = request.app[db_pool_key], request.app[redis_key]
    settings = request.app[settings_key]
    database, broker = await asyncio.gather(
        _check(lambda: pool.fetchval("SELECT 1")),
        _check(lambda: _ping_broker(settings.effective_broker_url, settings.redis_url, redis)),
    )
    parts = {"database": database, "broker": broker, "version": __version__}
    if database == "ok":
        backlog = await queries.outbox_backlog(pool)
        lag = round(backlog["oldest_age_seconds"], 3)
        return json_response({"status": "ok", **parts, "outbox_lag_seconds": lag})
    problem = Unavailable("The database is unavailable.").to_problem()
    return json_response(
        {**problem, **parts}, status=503, content_type=PROBLEM_CONTENT_TYPE
    )


async def _ping_broker(broker_url: str, redis_url: str, redis: aioredis.Redis) -> None:
    """The broker where BROKER_URL says it is: the app's own Redis only when it is that one."""
    if broker_url == redis_url:
        await redis.ping()
        return
    if not broker_url.startswith("amqp"):
        # A connection per check, as for RabbitMQ below: health checks come seconds apart.
        broker = aioredis.Redis.from_url(broker_url, socket_connect_timeout=CHECK_TIMEOUT)
        try:
            await broker.ping()
        finally:
            await broker.aclose()
        return
    url = URL(broker_url)
    _, writer = await asyncio.open_connection(url.host or "localhost", url.port or 5672)
    writer.close()
    await writer.wait_closed()

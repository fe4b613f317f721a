"""/metrics: the Prometheus text, outside /api, behind METRICS_TOKEN when it is set."""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web

from shop_api.db import queries
from shop_api.errors import Unauthorized
from shop_api.metrics.exposition import CONTENT_TYPE, render
from shop_api.metrics.web import OutboxBacklog, observe_pool
from shop_api.outages import is_dependency_down
from shop_api.security.tokens import bearer_token
from shop_api.web.endpoint import endpoint
from shop_api.web.keys import db_pool_key, settings_key

routes = web.RouteTableDef()
log = logging.getLogger(__name__)
# A scrape waits this long for the outbox figures (a pool with every connection lent out, a
# slow database), then answers without them: the other series matter most in an outage.
OUTBOX_TIMEOUT = 2.0


@routes.get("/metrics")
@endpoint(
    summary="Metrics in the Prometheus text format",
    description=(
        "Requests by route template, method and status; request durations; the database "
        "pool; the outbox backlog; worker messages by actor and outcome (`text/plain; "
        "version=0.0.4`). When the server has a `METRICS_TOKEN`, it is required as "
        "`Authorization: Bearer <token>`. The outbox series are left out while the database "
        "does not answer."
    ),
    tag="Operations",
    errors=(401,),
)
async def metrics(request: web.Request) -> web.Response:
    expected = request.app[settings_key].metrics_token
    if expected:
        given = bearer_token(request.headers.get("Authorization")) or ""
        # Constant time: how long a wrong token takes says nothing of the right one.
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("A valid metrics token is required.")
    pool = request.app[db_pool_key]
    observe_pool(pool)
    scraped = []
    try:
        row = await asyncio.wait_for(queries.outbox_backlog(pool), OUTBOX_TIMEOUT)
    except Exception as exc:
        if not is_dependency_down(exc):  # TimeoutError included
            raise
        log.warning("metrics: no outbox figures this scrape: %r", exc)
    else:
        scraped.append(OutboxBacklog(row["unsent"], row["oldest_age_seconds"]))
    return web.Response(body=render(*scraped), headers={"Content-Type": CONTENT_TYPE})

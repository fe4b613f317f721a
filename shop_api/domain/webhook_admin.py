"""Webhook endpoints as the admin keeps them, and their deliveries as the admin sees and resends
them.

The URL guard (shop_api.integrations.webhook_urls.check_url) resolves hosts, which is the front
end's to call before it saves a URL here: this module only stores what it is given. Sending is
not done here either: a redelivery makes the delivery due, and the relay sends it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import asyncpg

from shop_api.db import Queryable, fetch_page, queries
from shop_api.domain.webhook_events import EVENT_TYPES
from shop_api.errors import Conflict, NotFound

SECRET_PREFIX = "whsec_"
DELIVERY_STATUSES = ("pending", "delivered", "failed")
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
MAX_EVENTS = 50  # the table's CHECK; deduplicated, a list has at most len(PATTERNS) anyway


def _families() -> tuple[str, ...]:
    return tuple(dict.fromkeys(event.split(".", 1)[0] for event in EVENT_TYPES))


# Every pattern, in the order a form offers them: everything, then each family's pattern
# followed by its events.
PATTERN_CHOICES: tuple[str, ...] = (
    "*",
    *(
        pattern
        for family in _families()
        for pattern in (
            f"{family}.*",
            *(event for event in EVENT_TYPES if event.startswith(f"{family}.")),
        )
    ),
)


class EndpointDisabled(Conflict):
    code = "endpoint_disabled"


def _found(row: asyncpg.Record | None) -> asyncpg.Record:
    if row is None:
        raise NotFound("No such webhook endpoint.")
    return row


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def unique_events(events: Iterable[str]) -> list[str]:
    """The patterns once each, in the order first given."""
    return list(dict.fromkeys(events))


async def list_endpoints(conn: Queryable) -> list[asyncpg.Record]:
    return [row async for row in queries.webhook_admin_endpoints(conn)]


async def get_endpoint(conn: Queryable, endpoint_id: int) -> asyncpg.Record:
    return _found(await queries.webhook_admin_endpoint(conn, endpoint_id=endpoint_id))


async def create_endpoint(
    conn: Queryable, *, url: str, events: list[str], description: str
) -> asyncpg.Record:
    """A new, active endpoint with a secret of its own; the row holds the secret, which the
    caller shows this once."""
    return await queries.webhook_admin_insert_endpoint(
        conn,
        url=url,
        events=unique_events(events),
        description=description,
        secret=new_secret(),
    )


async def replace_endpoint(
    conn: Queryable,
    endpoint_id: int,
    *,
    url: str,
    events: list[str],
    description: str,
    is_active: bool,
) -> asyncpg.Record:
    """Every field replaced; is_active true re-enables an endpoint that was disabled (its
    failures in a row back to 0), false disables it."""
    return _found(await queries.webhook_admin_replace_endpoint(
        conn,
        endpoint_id=endpoint_id,
        url=url,
        events=unique_events(events),
        description=description,
        is_active=is_active,
    ))


async def set_active(conn: Queryable, endpoint_id: int, *, is_active: bool) -> asyncpg.Record:
    """replace_endpoint's is_active alone, the other fields as they are."""
    return _found(await queries.webhook_admin_replace_endpoint(
        conn, endpoint_id=endpoint_id, url=None, events=None, description=None,
        is_active=is_active,
    ))


async def rotate_secret(conn: Queryable, endpoint_id: int) -> asyncpg.Record:
    """A new secret, which signs every attempt from now on; the old one signs none."""
    return _found(await queries.webhook_admin_rotate_secret(
        conn, endpoint_id=endpoint_id, secret=new_secret()
    ))


async def delete_endpoint(conn: Queryable, endpoint_id: int) -> None:
    _found(await queries.webhook_admin_delete_endpoint(conn, endpoint_id=endpoint_id))


async def list_deliveries(
    conn: Queryable, endpoint_id: int, *, status: str | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """A page of the endpoint's deliveries, newest first; 404 for an unknown endpoint."""
    await get_endpoint(conn, endpoint_id)
    return await fetch_page(
        queries.webhook_admin_deliveries_page(
            conn, endpoint_id=endpoint_id, status=status, limit=limit, offset=offset
        )
    )


async def redeliver(conn: Queryable, delivery_id: int) -> asyncpg.Record:
    """The delivery pending and due now, with 24 hours of retries from now; 409
    `endpoint_disabled` while its endpoint is disabled (it would never be sent)."""
    row = await queries.webhook_admin_redeliver(conn, delivery_id=delivery_id)
    if row is None:
        raise NotFound("No such webhook delivery.")
    if not row["reset"]:
        raise EndpointDisabled(
            "The endpoint of this delivery is disabled; enable it again first."
        )
    return row

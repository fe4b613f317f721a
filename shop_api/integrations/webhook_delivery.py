"""One webhook delivery attempt: claim, sign, POST, record.

The relay hands a due delivery to the broker with its lease count; the worker claims it (a
conditional UPDATE that commits at once), POSTs with no transaction open and no pool connection
held, then records the attempt, the delivery's outcome and the endpoint's run of failures in one
transaction. A failure is not raised to Dramatiq: it is rescheduled here, with our backoff and
our 24 hours, so the admin list shows when it comes next. A worker that dies mid-POST leaves the
claim, which runs out and makes the delivery due again: at least once, same event id, same body.

The signature is Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, over
the exact bytes sent, so a receiver checks it before parsing and refuses an old `t` (a replay).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import orjson

from shop_api.db import queries, retry_while_unavailable
from shop_api.integrations.webhook_urls import UrlNotAllowed, check_form, connector_options
from shop_api.settings import Settings

log = logging.getLogger("shop_api.webhooks")

# API.md: a 2xx within 10 s is a success.
REQUEST_TIMEOUT_SECONDS = 10.0
# How long the relay leaves a delivery it handed to the broker before handing it again (the
# broker lost the message, or the queue is that far behind: the older message is then stale).
LEASE_SECONDS = 60.0
# How long a claimed delivery is left to the worker that claimed it: past any POST.
CLAIM_SECONDS = REQUEST_TIMEOUT_SECONDS + 50.0
# API.md: an endpoint is disabled after 20 failed deliveries in a row.
DISABLE_AFTER_FAILURES = 20
FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
MAX_ERROR_LENGTH = 1000
USER_AGENT = "shop-api-webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Shop-Signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def backoff_seconds(attempt: int, *, jitter: Callable[[], float] = random.random) -> float:
    """How long after failed attempt number `attempt` (1 for the first) the next one comes:
    30 s, 1 min, 2 min, ... capped at an hour, each up to 10 % later so that the deliveries
    of an endpoint that was down do not all come back in the same second."""
    base = FIRST_RETRY_SECONDS * 2 ** min(max(attempt - 1, 0), 16)
    return min(MAX_RETRY_SECONDS, base * (1 + 0.1 * jitter()))


def event_body(event_id: int, event_type: str, created_at: Any, data: dict) -> bytes:
    """The bytes POSTed, the same on every attempt (the data is stored once, at fan-out)."""
    return orjson.dumps({"id": event_id, "type": event_type, "created_at": created_at,
                         "data": data})


def client_session(settings: Settings) -> aiohttp.ClientSession:
    """The delivery client; create it on the event loop that will use it. Its connector's
    resolver refuses private addresses unless WEBHOOK_ALLOW_PRIVATE, at connect time."""
    connector = aiohttp.TCPConnector(
        **connector_options(allow_private=settings.webhook_allow_private)
    )
    return aiohttp.ClientSession(
        connector=connector,
        # No cookies from one receiver to the next, no proxy from the environment.
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def deliver(
    pool: asyncpg.Pool,
    settings: Settings,
    session: aiohttp.ClientSession | None,
    delivery_id: int,
    lease: int,
) -> None:
    """Make one attempt of the delivery, if the message's `lease` is still the latest."""
    claimed = await queries.webhook_claim_delivery(
        pool, id=delivery_id, lease=lease, claim_seconds=CLAIM_SECONDS
    )
    if claimed is None:
        log.debug("webhook delivery %s: lease %s is stale or it is done", delivery_id, lease)
        return
    claim = claimed["leases"]
    if not claimed["endpoint_active"]:
        await queries.webhook_fail_disabled(pool, id=delivery_id, lease=claim)
        return
    body = event_body(claimed["event_id"], claimed["event_type"],
                      claimed["event_created_at"], claimed["event_data"])
    if session is None:
        async with client_session(settings) as own:
            outcome = await post(own, settings, claimed["url"], claimed["secret"],
                                 claimed["event_id"], body)
    else:
        outcome = await post(session, settings, claimed["url"], claimed["secret"],
                             claimed["event_id"], body)

    async def record() -> None:
        await _record(pool, claimed, claim, outcome)

    # The attempt happened: losing its record to a short outage would hide it from the admin
    # (the delivery itself would come due again when the claim runs out, and be sent again).
    await retry_while_unavailable(record)


async def post(
    session: aiohttp.ClientSession,
    settings: Settings,
    url: str,
    secret: str,
    event_id: int,
    body: bytes,
) -> Outcome:
    """POST the signed body once; every way it can go wrong is an Outcome, not an exception."""
    started = time.monotonic()

    def outcome(status_code: int | None, error: str | None) -> Outcome:
        duration = max(0, round((time.monotonic() - started) * 1000))
        return Outcome(status_code, error and error[:MAX_ERROR_LENGTH], duration)

    try:
        # Again at every attempt: the URL may predate a stricter setting. The connector's
        # resolver does the same for the addresses the host resolves to.
        check_form(url, allow_private=settings.webhook_allow_private)
        headers = {
            "Content-Type": "application/json",
            "Shop-Event-Id": str(event_id),
            "Shop-Signature": sign(secret, int(time.time()), body),
        }
        async with session.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
        ) as response:
            status = response.status
    except UrlNotAllowed as exc:
        return outcome(None, str(exc))
    except TimeoutError:
        return outcome(None, f"no answer within {REQUEST_TIMEOUT_SECONDS:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        # Refused, reset, TLS, a malformed answer, an invalid URL: all failures to deliver.
        return outcome(None, f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return outcome(status, None)
    if 300 <= status < 400:
        return outcome(status, f"HTTP {status}: redirects are not followed")
    return outcome(status, f"HTTP {status}")


async def _record(
    pool: asyncpg.Pool, claimed: asyncpg.Record, claim: int, outcome: Outcome
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        endpoint = await queries.webhook_endpoint_outcome(
            conn,
            endpoint_id=claimed["endpoint_id"],
            succeeded=outcome.succeeded,
            disable_after=DISABLE_AFTER_FAILURES,
        )
        status = await queries.webhook_delivery_outcome(
            conn,
            id=claimed["id"],
            lease=claim,
            succeeded=outcome.succeeded,
            status_code=outcome.status_code,
            error=outcome.error,
            retry_in_seconds=backoff_seconds(claimed["attempts"] + 1),
        )
        await queries.webhook_insert_attempt(
            conn,
            id=claimed["id"],
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    if endpoint is not None and not endpoint["is_active"] and (
        endpoint["failures_in_a_row"] == DISABLE_AFTER_FAILURES
    ):
        log.warning("webhook endpoint %s disabled after %d failed deliveries in a row",
                    claimed["endpoint_id"], DISABLE_AFTER_FAILURES)
    if status == "failed":
        log.warning("webhook delivery %s failed for good: %s", claimed["id"], outcome.error)

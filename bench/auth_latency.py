"""Login latency at the configured bcrypt cost, and whether bcrypt ever blocks the event loop.

    .venv/bin/python bench/auth_latency.py            # embedded services unless DATABASE_URL
    DATABASE_URL=postgresql://postgres@127.0.0.1/shop_bench REDIS_URL=redis://127.0.0.1/5 \
        .venv/bin/python bench/auth_latency.py --rounds 12 --concurrent 50

It starts one `shop-api serve` process (one web process, rate limits lifted), then measures:
1. sequential logins: p50/p99 of one login at a time;
2. `/api/health` p50/p99 polled continuously while N logins run at once. bcrypt runs in worker
   threads, so health should stay in the low milliseconds while logins queue for CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import aiohttp
from _support import describe, start_services, stop_all, wait_until_up

EMAIL, PASSWORD = "bench-login@example.com", "bench-password-1"


async def timed_login(session: aiohttp.ClientSession, base: str) -> float:
    started = time.perf_counter()
    async with session.post(
        f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}
    ) as response:
        assert response.status == 200, await response.text()
        await response.read()
    return time.perf_counter() - started


async def measure(base: str, sequential: int, concurrent: int) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, base)
        async with session.post(
            f"{base}/api/auth/register", json={"email": EMAIL, "password": PASSWORD}
        ) as response:
            assert response.status in (201, 409), await response.text()

        await timed_login(session, base)  # warm the pool and the dummy hash
        singles = [await timed_login(session, base) for _ in range(sequential)]
        print(describe("login, one at a time", singles))

        health: list[float] = []
        logins_done = asyncio.Event()

        async def poll_health() -> None:
            while not logins_done.is_set():
                started = time.perf_counter()
                async with session.get(f"{base}/api/health") as response:
                    await response.read()
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

        poller = asyncio.create_task(poll_health())
        started = time.perf_counter()
        together = await asyncio.gather(*(timed_login(session, base) for _ in range(concurrent)))
        wall = time.perf_counter() - started
        logins_done.set()
        await poller
        print(describe(f"login, {concurrent} at once", together) + f" wall={wall:.2f}s")
        print(describe(f"/api/health during the {concurrent} logins", health))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="BCRYPT_ROUNDS for the server")
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args()

    env, started = start_services("shop_bench_auth")
    env.update(
        BCRYPT_ROUNDS=str(args.rounds),
        RATE_LIMIT_LOGIN="100000",
        RATE_LIMIT_ADDRESS="100000",
        LOG_LEVEL="WARNING",
    )
    from shop_api.ops.migrate import apply_migrations

    apply_migrations(env["DATABASE_URL"])
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(args.port)], env=env
    )
    try:
        print(f"one web process, BCRYPT_ROUNDS={args.rounds}, {os.cpu_count()} CPUs")
        asyncio.run(measure(f"http://127.0.0.1:{args.port}", args.sequential, args.concurrent))
    finally:
        stop_all([server], started)


if __name__ == "__main__":
    main()

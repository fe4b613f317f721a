"""What the benchmarks share: services to run against, a fresh bench database, percentiles,
waiting for a server and stopping what a bench started."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


def record(path: str | None, key: str, figures: dict) -> None:
    """Add `figures` under `key` to the JSON file at `path`, when a path is given: the figures
    bench/report.py puts in its table (each bench also prints them as it goes)."""
    if path is None:
        return
    file = Path(path)
    data = json.loads(file.read_text()) if file.exists() and file.stat().st_size else {}
    data[key] = figures
    file.write_text(json.dumps(data, indent=2))


def database_named(database_url: str, name: str) -> str:
    """The URL of the database `name` on the server of `database_url`."""
    return urlunsplit(urlsplit(database_url)._replace(path="/" + name))


def start_services(name: str) -> tuple[dict[str, str], list]:
    """The environment for the processes under test: DATABASE_URL / REDIS_URL when set, else
    embedded servers under .data/bench-* (returned, to be stopped)."""
    from shop_api.ops.embedded import DATA_DIR, EmbeddedPostgres, EmbeddedRedis

    env = dict(os.environ)
    # The figures are of one web process unless the run asks for more.
    env.setdefault("WEB_CONCURRENCY", "1")
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


async def fresh_bench_database(database_url: str) -> None:
    """Create the database if missing, drop and recreate its public schema, and migrate it.

    It empties the database, so its name must contain "bench" (see empty_bench_database).
    """
    from shop_api.ops.migrate import apply_migrations

    await empty_bench_database(database_url)
    apply_migrations(database_url)


async def empty_bench_database(database_url: str) -> None:
    """Create the database if missing, and drop and recreate its public schema.

    It empties the database, so its name must contain "bench". The database is created through
    the `postgres` database of the same server (TCP or, for the embedded one, Unix socket: the
    URL's query, such as ?host=/path, is kept).
    """
    import asyncpg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to rebuild {name!r}: a bench database's name contains 'bench'")
    server = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if not await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            quoted = name.replace('"', '""')
            await server.execute(f'CREATE DATABASE "{quoted}"')
    finally:
        await server.close()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


def ensure_port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise SystemExit(f"port {port} is in use: pass --port") from None


HEALTH_TIMEOUT = aiohttp.ClientTimeout(total=2)


async def wait_until_up(
    session: aiohttp.ClientSession,
    base: str,
    within: float = 30,
    *,
    process: subprocess.Popen | None = None,
) -> None:
    """Return once GET /api/health answers 200; give up after `within` seconds, or as soon as
    `process` (the server, when given) has exited."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            async with session.get(f"{base}/api/health", timeout=HEALTH_TIMEOUT) as response:
                if response.status == 200:
                    return
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not come up")


def stop_all(
    processes: Sequence[subprocess.Popen], services: Sequence = (), within: float = 15
) -> None:
    """Terminate the processes (killing any still running after `within` seconds), then stop
    the embedded services, the last started first."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(within)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for service in reversed(services):
        service.stop()


@dataclass
class Shop:
    """One checkout under test: its code, its database, its server."""

    label: str
    code: Path
    database_url: str
    port: int
    server: subprocess.Popen | None = None

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "DATABASE_URL": self.database_url, "PYTHONPATH": str(self.code),
                "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING"}

    def cli(self, env: dict[str, str], *args: str) -> str:
        """`shop-api <args>` of this checkout; what it printed."""
        done = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "-m", "shop_api.ops.cli", *args], cwd=self.code,
            env=self.environment(env), capture_output=True, text=True, check=True,
        )
        return done.stdout


def baseline_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=parts.path + "_baseline"))


async def wait_for_server(base: str, server: subprocess.Popen) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_until_up(session, base, process=server)


def start(shop: Shop, env: dict[str, str]) -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(shop.port)],
        cwd=shop.code, env=shop.environment(env),
    )
    asyncio.run(wait_for_server(f"http://127.0.0.1:{shop.port}", server))
    return server

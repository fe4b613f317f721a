"""`shop-api`: serve, migrate, create-admin, seed, relay, payments, orders, recommendations and dev.

Heavy imports (the web app, honcho, the embedded servers) happen inside the command that needs
them, so `shop-api --help` and `shop-api migrate` stay quick and independent of each other.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import NoReturn

from shop_api.settings import Settings, SettingsError

# Deliberately loose: the address is typed by an operator, and the database keeps it unique.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_STOPPED_BY_SIGNAL = {130, 143}  # honcho's return codes after SIGINT / SIGTERM


class CommandError(Exception):
    """A failure worth one line on stderr, not a traceback."""


def main(argv: list[str] | None = None) -> NoReturn:
    args = _parser().parse_args(argv)
    try:
        code = args.command(args)
    except (CommandError, SettingsError) as exc:
        print(f"shop-api: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shop-api", description="The online shop's backend: web server and operations."
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument("--host", help="address to listen on (default: $HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8080)")
    serve.add_argument(
        "--processes", type=int, metavar="N",
        help="web processes sharing the port (default: $WEB_CONCURRENCY or the CPU count)",
    )
    # Given by the supervisor to each of its children: its pid, and where to say "listening".
    serve.add_argument("--supervised", type=int, nargs=2, help=argparse.SUPPRESS)
    serve.set_defaults(command=serve_command)

    migrate = commands.add_parser("migrate", help="apply the pending database migrations")
    migrate.set_defaults(command=migrate_command)

    admin = commands.add_parser(
        "create-admin", help="create an admin account, or make an existing account admin"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument(
        "--password", help="the password (omit it to be prompted, which keeps it out of history)"
    )
    admin.add_argument("--full-name", default="", help="display name (default: Admin)")
    admin.set_defaults(command=create_admin_command)

    seed = commands.add_parser(
        "seed", help="fill an empty database with a demo shop, or add synthetic products"
    )
    seed.add_argument(
        "--products", type=int, metavar="N",
        help="add N synthetic products for load tests (instead of the demo shop)",
    )
    seed.set_defaults(command=seed_command)

    relay = commands.add_parser(
        "relay",
        help="drain the outbox into the broker, and run the periodic jobs (payment "
        "reconciliation, expired idempotency keys, unpaid orders)",
    )
    relay.set_defaults(command=relay_command)

    payments = commands.add_parser("payments", help="payment operations")
    payment_commands = payments.add_subparsers(title="payments", required=True, metavar="ACTION")
    reconcile = payment_commands.add_parser(
        "reconcile", help="settle again the payments stuck in pending"
    )
    reconcile.add_argument(
        "--older-than", type=float, metavar="SECONDS",
        help="pending for longer than this (default: $RECONCILE_AFTER_SECONDS, 300)",
    )
    reconcile.set_defaults(command=reconcile_command)

    orders = commands.add_parser("orders", help="order operations")
    order_commands = orders.add_subparsers(title="orders", required=True, metavar="ACTION")
    expire = order_commands.add_parser(
        "expire", help="cancel up to 100 pending orders not paid in time (as the relay does)"
    )
    expire.add_argument(
        "--older-than", type=int, metavar="MINUTES",
        help="pending for longer than this (default: $ORDER_PAYMENT_TIMEOUT_MINUTES, 60)",
    )
    expire.set_defaults(command=expire_orders_command)

    recommendations = commands.add_parser("recommendations", help="'bought together' scores")
    recommendation_commands = recommendations.add_subparsers(
        title="recommendations", required=True, metavar="ACTION"
    )
    rebuild = recommendation_commands.add_parser(
        "rebuild", help="recompute every score from the paid orders"
    )
    rebuild.set_defaults(command=rebuild_recommendations_command)

    dev = commands.add_parser(
        "dev",
        help="development environment: embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL "
        "are set, migrations, then web and worker until Ctrl-C",
    )
    dev.set_defaults(command=dev_command)
    return parser


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:  # a number setting that is not a number
        raise CommandError(f"invalid setting: {exc}") from None


# -- serve ----------------------------------------------------------------------------------


def serve_command(args: argparse.Namespace) -> int:
    from shop_api.logs import setup_logging

    settings = _settings()
    setup_logging(settings.log_level)
    host, port = args.host or settings.host, args.port or settings.port
    if args.supervised:
        parent_pid, ready_fd = args.supervised
        return _serve_supervised(settings, host, port, parent_pid, ready_fd)
    processes = args.processes if args.processes is not None else settings.web_concurrency
    if processes < 1:
        raise CommandError("--processes takes a number of 1 or more")
    if processes == 1:
        _serve(settings, host, port)
        return 0
    from shop_api.ops.supervisor import Supervisor, child_command, metrics_dir

    with metrics_dir():
        return Supervisor(child_command(host, port), processes).run()


def _serve_supervised(
    settings: Settings, host: str, port: int, parent_pid: int, ready_fd: int
) -> int:
    from shop_api.ops.supervisor import die_with_parent

    die_with_parent(parent_pid)

    def listening(message: str) -> None:  # aiohttp's banner, printed once its sites listen
        os.write(ready_fd, b"1")
        os.close(ready_fd)

    # The others listen on the same port: the kernel hands each new connection to one of them.
    _serve(settings, host, port, reuse_port=True, print=listening)
    return 0


def _serve(settings: Settings, host: str, port: int, **options) -> None:
    import asyncpg
    from aiohttp import web

    from shop_api.logs import access_log_options
    from shop_api.web.app import create_app

    try:
        web.run_app(
            create_app(settings),
            host=host,
            port=port,
            **access_log_options(settings.access_log),
            loop=_new_event_loop(),
            # A client that hangs up stops its handler; transactions roll back on cancellation.
            handler_cancellation=True,
            # Above the idle timeout of common load balancers (60 s), so they close first and
            # never reuse a connection the server is closing.
            keepalive_timeout=75,
            # After SIGTERM: no new connections; requests in flight get this long to finish,
            # then are cancelled (their transactions roll back). The SIGKILL that follows a
            # SIGTERM must come later: docker-compose.yml's stop_grace_period is 35 s for the
            # default 30; Heroku's fixed 30 s in all wants it lower.
            shutdown_timeout=settings.graceful_timeout,
            backlog=1024,
            **options,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        # The usual start-up failures: port taken, database down or missing.
        raise CommandError(f"cannot start the web server: {exc}") from None


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # not available on Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- migrate --------------------------------------------------------------------------------


def migrate_command(args: argparse.Namespace) -> int:
    settings = _settings()
    count = _apply_migrations(settings.database_url)
    if count:
        print(f"Applied {count} migration{'s' if count != 1 else ''}.")
    else:
        print("No pending migrations: the database is up to date.")
    return 0


def _apply_migrations(database_url: str) -> int:
    import psycopg2

    from shop_api.ops.migrate import apply_migrations

    try:
        return apply_migrations(database_url)
    except psycopg2.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise CommandError(f"cannot reach the database: {first_line}") from None


# -- create-admin ---------------------------------------------------------------------------


def create_admin_command(args: argparse.Namespace) -> int:
    from marshmallow import ValidationError

    from shop_api.domain.accounts import create_admin
    from shop_api.web.schemas.users import check_new_password

    settings = _settings()
    email = args.email.strip()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise CommandError(f"not an email address: {email!r}")
    password = args.password if args.password is not None else _prompt_password()
    try:
        check_new_password(password)
    except ValidationError as exc:
        raise CommandError(f"password: {' '.join(exc.messages)}") from None
    full_name = args.full_name.strip()
    admin = asyncio.run(
        _with_connection(
            settings,
            lambda conn: create_admin(
                conn, settings, email=email, password=password, full_name=full_name
            ),
        )
    )
    print(f"Admin {admin['email']} (id {admin['id']}) can log in.")
    return 0


def _prompt_password() -> str:
    try:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Password (again): ")
    except EOFError:
        raise CommandError("no password: pass --password or run in a terminal") from None
    if password != again:
        raise CommandError("the passwords do not match")
    return password


# -- seed, relay, payments, recommendations -------------------------------------------------


async def _with_connection(settings: Settings, work):
    """`await work(conn)` on one connection of its own, for every command that needs the
    database (create-admin too), with the same one-line errors when it is down or empty."""
    import asyncpg

    from shop_api.db import init_connection

    try:
        conn = await asyncpg.connect(settings.database_url)
    except (OSError, asyncpg.PostgresError) as exc:
        raise CommandError(f"cannot reach the database: {exc}") from None
    try:
        await init_connection(conn)
        return await work(conn)
    except asyncpg.UndefinedTableError:
        raise CommandError("the database has no tables yet: run `shop-api migrate`") from None
    finally:
        await conn.close()


def seed_command(args: argparse.Namespace) -> int:
    from shop_api.ops.seed import (
        SYNTHETIC_CHUNK,
        SeedError,
        seed_demo,
        seed_synthetic_products,
    )

    settings = _settings()
    if args.products is not None:
        if args.products < 1:
            raise CommandError("--products takes a number of 1 or more")
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            if total > SYNTHETIC_CHUNK:  # a long run says how far it got
                print(f"  {done:,} of {total:,} products ({time.monotonic() - started:.1f}s)",
                      flush=True)

        added = asyncio.run(
            _with_connection(
                settings,
                lambda conn: seed_synthetic_products(conn, args.products, progress=progress),
            )
        )
        print(f"Added {added} synthetic products in {time.monotonic() - started:.1f}s.")
        return 0
    try:
        result = asyncio.run(_with_connection(settings, lambda conn: seed_demo(conn, settings)))
    except SeedError as exc:
        raise CommandError(str(exc)) from None
    _print_seed_result(result)
    return 0


def _print_seed_result(result) -> None:
    if result.created:
        print(
            f"Seeded {result.categories} categories, {result.products} products and "
            f"{result.reviews} reviews."
        )
    else:
        print("The catalog already has data: nothing seeded.")
    for login in result.logins:
        print(f"  {login.role:<8} {login.email}  password: {login.password}")


def relay_command(args: argparse.Namespace) -> int:
    from shop_api.logs import setup_logging
    from shop_api.relay import run_relay_process

    settings = _settings()
    setup_logging(settings.log_level)
    try:
        with asyncio.Runner(loop_factory=_new_event_loop) as runner:
            runner.run(run_relay_process(settings))
    except KeyboardInterrupt:
        pass
    return 0


def reconcile_command(args: argparse.Namespace) -> int:
    from shop_api.domain.payments import reconcile

    settings = _settings()
    older_than = args.older_than if args.older_than is not None else (
        settings.reconcile_after_seconds
    )
    ids = asyncio.run(
        _with_connection(settings, lambda conn: reconcile(
            conn, older_than_seconds=older_than, lease_seconds=settings.payment_lease_seconds
        ))
    )
    print(f"Asked again for the settlement of {len(ids)} payment(s){': ' if ids else '.'}"
          + ", ".join(str(i) for i in ids))
    return 0


def expire_orders_command(args: argparse.Namespace) -> int:
    from shop_api.domain.order_expiry import expire_unpaid_orders

    settings = _settings()
    minutes = args.older_than if args.older_than is not None else (
        settings.order_payment_timeout_minutes
    )
    ids = asyncio.run(_with_connection(
        settings, lambda conn: expire_unpaid_orders(conn, timeout_minutes=minutes)
    ))
    print(f"Cancelled {len(ids)} unpaid order(s){': ' if ids else '.'}"
          + ", ".join(str(i) for i in ids))
    return 0


def rebuild_recommendations_command(args: argparse.Namespace) -> int:
    from shop_api.domain.recommendations import rebuild

    pairs = asyncio.run(_with_connection(_settings(), rebuild))
    print(f"Recommendations rebuilt: {pairs} product pairs.")
    return 0


# -- dev ------------------------------------------------------------------------------------


def dev_command(args: argparse.Namespace) -> int:
    from honcho.manager import Manager

    from shop_api.ops.embedded import DATA_DIR, EmbeddedPostgres, EmbeddedRedis

    # Reading the settings also loads `.env`, whose DATABASE_URL / REDIS_URL count as set.
    settings = _settings()
    _ensure_port_free(settings.port)
    # Until honcho takes over the signals, a SIGTERM must still reach the `finally` below.
    signal.signal(signal.SIGTERM, _interrupt)
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if not os.environ.get("DATABASE_URL"):
            postgres = EmbeddedPostgres(DATA_DIR / "pg")
            started.append(postgres)
            os.environ["DATABASE_URL"] = postgres.start("shop")
            # Printed so other commands (create-admin, psql) can reach it while dev runs.
            print(f"Embedded PostgreSQL: {os.environ['DATABASE_URL']}", flush=True)
        if not os.environ.get("REDIS_URL"):
            redis = EmbeddedRedis(DATA_DIR / "redis")
            started.append(redis)
            os.environ["REDIS_URL"] = redis.start()
            print(f"Embedded Redis: {os.environ['REDIS_URL']}", flush=True)
        # Emails land as .eml files under .data/mail instead of needing an SMTP server.
        os.environ.setdefault("EMAIL_BACKEND", "file")
        _fresh_metrics_dir()
        settings = _settings()

        count = _apply_migrations(settings.database_url)
        print(f"Migrations: {count} applied." if count else "Migrations: up to date.", flush=True)
        from shop_api.ops.seed import seed_demo

        _print_seed_result(
            asyncio.run(_with_connection(settings, lambda conn: seed_demo(conn, settings)))
        )

        # Children inherit os.environ as it is now, embedded server URLs included. honcho runs
        # each command through a shell; `exec` lets the program itself get honcho's SIGTERM.
        python = shlex.quote(sys.executable)
        manager = Manager()
        manager.add_process(
            "web", f"exec {python} -m shop_api.ops.cli serve --port {settings.port}"
        )
        manager.add_process(
            "worker", f"exec {python} -m dramatiq workers --processes 1 --threads 4"
        )
        manager.add_process("relay", f"exec {python} -m shop_api.ops.cli relay")
        threading.Thread(target=_announce, args=(settings.port,), daemon=True).start()
        manager.loop()
        code = manager.returncode or 0
        return 0 if code in _STOPPED_BY_SIGNAL else code
    finally:
        for service in reversed(started):
            service.stop()


def _fresh_metrics_dir() -> None:
    """The web and worker processes write their metrics to one directory, so the web's /metrics
    shows the workers' series too. prometheus-client reads it when each child starts; emptied
    at every start, as it asks: the files of a past run would add to the counts."""
    from shop_api.metrics.exposition import MULTIPROC_DIR_ENV
    from shop_api.ops.embedded import DATA_DIR

    if os.environ.get(MULTIPROC_DIR_ENV):
        return  # the developer's own directory, and their own way of emptying it
    directory = (DATA_DIR / "metrics").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_DIR_ENV] = str(directory)


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def _ensure_port_free(port: int) -> None:
    with socket.socket() as probe:
        # As the server does: connections of an earlier run in TIME_WAIT must not count as busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise CommandError(
                f"port {port} is already in use: stop what holds it or set PORT"
            ) from None


def _announce(port: int, timeout: float = 60.0) -> None:
    """Print the URLs once the web server answers, so they are not lost in its start-up logs."""
    base = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):  # noqa: S310 - fixed URL
                pass
        except urllib.error.HTTPError:
            pass  # it answers (a 503 names the failing part); the URLs are still right
        except OSError:
            time.sleep(0.3)
            continue
        print(
            f"\n  Shop API is running.\n"
            f"    API     {base}\n"
            f"    Docs    {base}/docs\n"
            f"    Health  {base}/health\n"
            f"    Admin   http://127.0.0.1:{port}/admin/\n"
            f"  Press Ctrl-C to stop.\n",
            flush=True,
        )
        return


if __name__ == "__main__":
    main()

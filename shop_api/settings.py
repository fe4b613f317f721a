"""Settings, read once from the environment (and `.env` in development)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .client_address import IPNetwork, parse_networks

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"


class SettingsError(RuntimeError):
    """The environment cannot run the app as configured."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"not a boolean: {value!r}")


def _networks(value: str) -> tuple[IPNetwork, ...]:
    try:
        return parse_networks(value)
    except ValueError as exc:
        raise SettingsError(f"TRUSTED_PROXIES must be comma-separated CIDRs: {exc}") from None


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/shop"
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    host: str = "127.0.0.1"
    port: int = 8080
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_command_timeout: float = 30.0
    jwt_issuer: str = "shop-api"
    jwt_audience: str = "shop-api"
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    bcrypt_rounds: int = 12
    rate_limit_login: int = 10
    rate_limit_address: int = 60
    # Peers whose X-Forwarded-For names the client (see client_address.py); none by default.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    max_body_bytes: int = 1024 * 1024
    # Seconds a request's body has to arrive in full (408 after).
    request_body_timeout: float = 30.0
    # After SIGTERM, requests in flight get this long to finish before they are cancelled.
    shutdown_timeout: float = 25.0
    log_level: str = "INFO"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # Separate bounds for reaching the server and for each SMTP command: a server that takes 35 s
    # to accept the message is waited for, not abandoned and sent again.
    smtp_connect_timeout: float = 10.0
    smtp_timeout: float = 60.0
    mail_from: str = "Shop <shop@example.com>"
    email_backend: str = "smtp"
    email_file_dir: str = ".data/mail"
    default_currency: str = "USD"
    # An active product at or below this stock is low on stock (admin dashboard, inventory).
    low_stock_threshold: int = 5
    payment_gateway: str = "sandbox"
    # How long a charge or refund in flight is left to the worker that started it; a copy of
    # the message that finds it older takes over (asking the gateway first what happened).
    # Longer than any gateway call can take.
    payment_lease_seconds: float = 90.0
    # The sandbox gateway answers after this delay (a real provider's latency; tests use it to
    # stop things mid-call).
    sandbox_latency_seconds: float = 0.0
    # A Redis worker silent this long is taken for dead and its messages go to another.
    broker_heartbeat_seconds: float = 20.0
    # An outbox row enqueued and not completed is sent again after this, doubling each time,
    # at most OUTBOX_MAX_SENDS times in all.
    outbox_redeliver_after_seconds: float = 300.0
    outbox_max_sends: int = 10
    # Each web process also drains the outbox, right after its own commits: the fast path.
    relay_in_web: bool = True
    # A payment still pending after this long is settled again by the reconciliation job.
    reconcile_after_seconds: int = 300
    # A pending order not paid within this many minutes is cancelled by the relay; 0 never.
    order_payment_timeout_minutes: int = 60
    # Checkout past this many pending orders of one customer is a 409 too_many_pending_orders.
    max_pending_orders: int = 5
    # The admin pages' cookies carry `Secure`; None means "when ENV=production" (see cookie_secure).
    session_cookie_secure: bool | None = None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is None:
            return self.is_production
        return self.session_cookie_secure

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        if environ is None:
            _load_dotenv()
            environ = os.environ
        get = environ.get
        settings = cls(
            env=get("ENV", "development"),
            database_url=get("DATABASE_URL", cls.database_url),
            redis_url=get("REDIS_URL", cls.redis_url),
            broker_url=get("BROKER_URL", ""),
            secret_key=get("SECRET_KEY", DEV_SECRET_KEY),
            host=get("HOST", cls.host),
            port=int(get("PORT", cls.port)),
            db_pool_min=int(get("DB_POOL_MIN", cls.db_pool_min)),
            db_pool_max=int(get("DB_POOL_MAX", cls.db_pool_max)),
            db_command_timeout=float(get("DB_COMMAND_TIMEOUT", cls.db_command_timeout)),
            jwt_issuer=get("JWT_ISSUER", cls.jwt_issuer),
            jwt_audience=get("JWT_AUDIENCE", cls.jwt_audience),
            access_token_minutes=int(get("ACCESS_TOKEN_MINUTES", cls.access_token_minutes)),
            refresh_token_days=int(get("REFRESH_TOKEN_DAYS", cls.refresh_token_days)),
            bcrypt_rounds=int(get("BCRYPT_ROUNDS", cls.bcrypt_rounds)),
            rate_limit_login=int(get("RATE_LIMIT_LOGIN", cls.rate_limit_login)),
            rate_limit_address=int(get("RATE_LIMIT_ADDRESS", cls.rate_limit_address)),
            trusted_proxies=_networks(get("TRUSTED_PROXIES", "")),
            max_body_bytes=int(get("MAX_BODY_BYTES", cls.max_body_bytes)),
            request_body_timeout=float(
                get("REQUEST_BODY_TIMEOUT", cls.request_body_timeout)
            ),
            shutdown_timeout=float(get("SHUTDOWN_TIMEOUT", cls.shutdown_timeout)),
            log_level=get("LOG_LEVEL", cls.log_level).upper(),
            smtp_host=get("SMTP_HOST", cls.smtp_host),
            smtp_port=int(get("SMTP_PORT", cls.smtp_port)),
            smtp_user=get("SMTP_USER", ""),
            smtp_password=get("SMTP_PASSWORD", ""),
            smtp_starttls=_bool(get("SMTP_STARTTLS", "false")),
            smtp_connect_timeout=float(get("SMTP_CONNECT_TIMEOUT", cls.smtp_connect_timeout)),
            smtp_timeout=float(get("SMTP_TIMEOUT", cls.smtp_timeout)),
            mail_from=get("MAIL_FROM", cls.mail_from),
            email_backend=get("EMAIL_BACKEND", cls.email_backend),
            email_file_dir=get("EMAIL_FILE_DIR", cls.email_file_dir),
            default_currency=get("DEFAULT_CURRENCY", cls.default_currency),
            low_stock_threshold=int(get("LOW_STOCK_THRESHOLD", cls.low_stock_threshold)),
            payment_gateway=get("PAYMENT_GATEWAY", cls.payment_gateway),
            payment_lease_seconds=float(get("PAYMENT_LEASE_SECONDS", cls.payment_lease_seconds)),
            sandbox_latency_seconds=float(
                get("SANDBOX_LATENCY_SECONDS", cls.sandbox_latency_seconds)
            ),
            broker_heartbeat_seconds=float(
                get("BROKER_HEARTBEAT_SECONDS", cls.broker_heartbeat_seconds)
            ),
            outbox_redeliver_after_seconds=float(
                get("OUTBOX_REDELIVER_AFTER_SECONDS", cls.outbox_redeliver_after_seconds)
            ),
            outbox_max_sends=int(get("OUTBOX_MAX_SENDS", cls.outbox_max_sends)),
            relay_in_web=_bool(get("RELAY_IN_WEB", "true")),
            reconcile_after_seconds=int(
                get("RECONCILE_AFTER_SECONDS", cls.reconcile_after_seconds)
            ),
            order_payment_timeout_minutes=int(
                get("ORDER_PAYMENT_TIMEOUT_MINUTES", cls.order_payment_timeout_minutes)
            ),
            max_pending_orders=int(get("MAX_PENDING_ORDERS", cls.max_pending_orders)),
            session_cookie_secure=(
                _bool(get("SESSION_COOKIE_SECURE", ""))
                if get("SESSION_COOKIE_SECURE", "").strip()
                else None
            ),
        )
        settings.check()
        return settings

    def check(self) -> None:
        if self.env not in {"development", "production", "test"}:
            raise SettingsError(f"ENV must be development, production or test, not {self.env!r}")
        if self.is_production and (
            self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32
        ):
            raise SettingsError(
                "ENV=production needs a real SECRET_KEY (32 characters or more), "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if not 4 <= self.bcrypt_rounds <= 31:
            raise SettingsError("BCRYPT_ROUNDS must be between 4 and 31")
        if self.email_backend not in {"smtp", "file"}:
            raise SettingsError("EMAIL_BACKEND must be smtp or file")
        if not self.request_body_timeout > 0:
            raise SettingsError("REQUEST_BODY_TIMEOUT must be more than 0 seconds")
        if not 0 < self.shutdown_timeout <= 600:
            raise SettingsError("SHUTDOWN_TIMEOUT must be more than 0 and at most 600 seconds")
        if self.low_stock_threshold < 0:
            raise SettingsError("LOW_STOCK_THRESHOLD must be 0 or more")
        if self.smtp_connect_timeout <= 0 or self.smtp_timeout <= 0:
            raise SettingsError("SMTP_CONNECT_TIMEOUT and SMTP_TIMEOUT must be positive")
        if self.payment_lease_seconds <= 0 or self.outbox_redeliver_after_seconds <= 0:
            raise SettingsError(
                "PAYMENT_LEASE_SECONDS and OUTBOX_REDELIVER_AFTER_SECONDS must be positive"
            )
        if self.broker_heartbeat_seconds < 5:
            raise SettingsError("BROKER_HEARTBEAT_SECONDS must be 5 or more")
        if self.outbox_max_sends < 1:
            raise SettingsError("OUTBOX_MAX_SENDS must be 1 or more")
        if self.order_payment_timeout_minutes < 0:
            raise SettingsError("ORDER_PAYMENT_TIMEOUT_MINUTES must be 0 (never) or more")
        if self.max_pending_orders < 1:
            raise SettingsError("MAX_PENDING_ORDERS must be 1 or more")


def _load_dotenv() -> None:
    # Development convenience only: real environment variables always win.
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    load_dotenv(override=False)

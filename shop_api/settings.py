"""Settings, read once from the environment (and `.env` in development)."""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shop_api.client_address import IPNetwork, parse_networks
from shop_api.domain.countries import is_country

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


def _optional_bool(value: str) -> bool | None:
    """Unset or blank is None ("decide from the environment"), else a boolean."""
    return _bool(value) if value.strip() else None


def _access_log(value: str) -> int:
    """ACCESS_LOG: `on` (every request), `off`, or `sample:N` (one request in N, and every
    error): the 1 in N of the requests whose line is written, 0 for none."""
    text = value.strip().lower()
    if text in {"on", ""}:
        return 1
    if text == "off":
        return 0
    kind, _, every = text.partition(":")
    if kind == "sample" and every.isdigit() and int(every) >= 1:
        return int(every)
    raise SettingsError(f"ACCESS_LOG must be on, off or sample:N (N 1 or more), not {value!r}")


def _networks(value: str) -> tuple[IPNetwork, ...]:
    try:
        return parse_networks(value)
    except ValueError as exc:
        raise SettingsError(f"TRUSTED_PROXIES must be comma-separated CIDRs: {exc}") from None


def _country_code(value: str) -> str:
    # Upper case for ASCII only: "ß".upper() is "SS", a real code (South Sudan).
    text = value.strip()
    return text.upper() if text.isascii() else text


# How a field's type is read from its environment variable's text. A new field of a type not
# listed here fails the first from_env (tests/test_settings.py), not silently.
_PARSERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _bool,
    bool | None: _optional_bool,
    tuple[IPNetwork, ...]: _networks,
}


def env_name(field: dataclasses.Field) -> str:
    """The environment variable a setting is read from."""
    return field.metadata.get("env", field.name.upper())


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
    # Web processes serving the port (`shop-api serve`); 1 serves in the command's own process.
    web_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    # After SIGTERM, requests in flight get this long to finish before they are cancelled.
    graceful_timeout: float = 30.0
    log_level: str = field(default="INFO", metadata={"parse": str.upper})
    # The access log (one line a request): every request (1), one in N and every error (N), or
    # none (0); read from `on`, `sample:N`, `off`.
    access_log: int = field(default=1, metadata={"parse": _access_log})
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
    # And each worker process, right after each message it handled (a settled payment's
    # order.paid, a refund's payment.refunded), instead of at the relay process's next poll.
    relay_in_worker: bool = True
    # Webhook URLs may be http and point at private, loopback or link-local addresses: for
    # development and tests only (the guard stops a webhook reaching the shop's own network).
    webhook_allow_private: bool = False
    # A payment still pending after this long is settled again by the reconciliation job.
    reconcile_after_seconds: int = 300
    # A pending order not paid within this many minutes is cancelled by the relay; 0 never.
    order_payment_timeout_minutes: int = 60
    # Checkout past this many pending orders of one customer is a 409 too_many_pending_orders.
    max_pending_orders: int = 5
    # The admin pages' cookies carry `Secure`; None means "when ENV=production" (see cookie_secure).
    session_cookie_secure: bool | None = None
    # Whether catalog prices already contain tax (a VAT shop): tax is then extracted from them,
    # not added to them.
    prices_include_tax: bool = False
    # Shipping is taxed at the standard rate of the destination.
    tax_shipping: bool = True
    # Where a Release 1 order (a free-text `delivery_address`, no country) is taxed and shipped
    # to: an ISO 3166-1 alpha-2 code.
    store_country: str = field(default="US", metadata={"parse": _country_code})
    # GET /metrics asks for it as a bearer token; empty: open to whoever reaches it.
    metrics_token: str = ""

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
        """Each field from its environment variable (the field's name upper-cased, unless its
        metadata names another), parsed by the field's type; an unset variable keeps the
        default."""
        if environ is None:
            _load_dotenv()
            environ = os.environ
        types = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for each in dataclasses.fields(cls):
            name = env_name(each)
            if name in environ:
                parse = each.metadata.get("parse") or _PARSERS[types[each.name]]
                values[each.name] = parse(environ[name])
        settings = cls(**values)
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
        if self.web_concurrency < 1:
            raise SettingsError("WEB_CONCURRENCY must be 1 or more")
        if not 0 < self.graceful_timeout <= 600:
            raise SettingsError("GRACEFUL_TIMEOUT must be more than 0 and at most 600 seconds")
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
        if not is_country(self.store_country):
            raise SettingsError(
                f"STORE_COUNTRY must be an ISO 3166-1 alpha-2 code such as US or DE, not "
                f"{self.store_country!r}"
            )


def _load_dotenv() -> None:
    # Development convenience only: real environment variables always win.
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    load_dotenv(override=False)

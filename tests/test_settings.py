"""Settings.from_env: every field from its environment variable, parsed by its type."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from shop_api.settings import Settings, SettingsError, env_name

# A value for each variable that differs from its default, as the environment would spell it.
ENVIRON = {
    "ENV": "test",
    "DATABASE_URL": "postgresql://elsewhere/shop",
    "REDIS_URL": "redis://elsewhere/1",
    "BROKER_URL": "amqp://elsewhere",
    "SECRET_KEY": "s" * 40,
    "HOST": "0.0.0.0",
    "PORT": "9000",
    "DB_POOL_MIN": "3",
    "DB_POOL_MAX": "11",
    "DB_COMMAND_TIMEOUT": "12.5",
    "JWT_ISSUER": "issuer",
    "JWT_AUDIENCE": "audience",
    "ACCESS_TOKEN_MINUTES": "16",
    "REFRESH_TOKEN_DAYS": "31",
    "BCRYPT_ROUNDS": "5",
    "RATE_LIMIT_LOGIN": "11",
    "RATE_LIMIT_ADDRESS": "61",
    "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1",
    "MAX_BODY_BYTES": "2048",
    "REQUEST_BODY_TIMEOUT": "3.5",
    "WEB_CONCURRENCY": "17",
    "GRACEFUL_TIMEOUT": "7.5",
    "LOG_LEVEL": "debug",
    "ACCESS_LOG": "sample:10",
    "SMTP_HOST": "mail.example.com",
    "SMTP_PORT": "2525",
    "SMTP_USER": "user",
    "SMTP_PASSWORD": "password",
    "SMTP_STARTTLS": "yes",
    "SMTP_CONNECT_TIMEOUT": "4.5",
    "SMTP_TIMEOUT": "61.5",
    "MAIL_FROM": "Other <other@example.com>",
    "EMAIL_BACKEND": "file",
    "EMAIL_FILE_DIR": "/tmp/mail",
    "DEFAULT_CURRENCY": "EUR",
    "LOW_STOCK_THRESHOLD": "6",
    "PAYMENT_GATEWAY": "other",
    "PAYMENT_LEASE_SECONDS": "91.5",
    "SANDBOX_LATENCY_SECONDS": "0.25",
    "BROKER_HEARTBEAT_SECONDS": "21.5",
    "OUTBOX_REDELIVER_AFTER_SECONDS": "301.5",
    "OUTBOX_MAX_SENDS": "12",
    "RELAY_IN_WEB": "off",
    "RELAY_IN_WORKER": "no",
    "RECONCILE_AFTER_SECONDS": "302",
    "ORDER_PAYMENT_TIMEOUT_MINUTES": "0",
    "MAX_PENDING_ORDERS": "7",
    "SESSION_COOKIE_SECURE": "true",
    "PRICES_INCLUDE_TAX": "true",
    "TAX_SHIPPING": "false",
    "STORE_COUNTRY": "de",
    "WEBHOOK_ALLOW_PRIVATE": "yes",
    "METRICS_TOKEN": "metrics-token",
}


def test_every_field_is_read_from_its_variable_by_its_type():
    read = Settings.from_env(ENVIRON)
    assert {env_name(field) for field in dataclasses.fields(Settings)} == set(ENVIRON)
    assert (read.port, read.db_command_timeout, read.smtp_timeout) == (9000, 12.5, 61.5)
    assert (read.smtp_starttls, read.relay_in_web, read.session_cookie_secure) == (
        True, False, True,
    )
    assert read.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.1/32"),
    )
    assert (read.log_level, read.access_log) == ("DEBUG", 10)
    assert (read.prices_include_tax, read.tax_shipping, read.store_country) == (True, False, "DE")
    default = Settings()
    for field in dataclasses.fields(Settings):
        assert getattr(read, field.name) != getattr(default, field.name), field.name


def test_unset_variables_keep_the_defaults():
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"SESSION_COOKIE_SECURE": " "}).session_cookie_secure is None
    assert Settings.from_env({"RELAY_IN_WEB": ""}).relay_in_web is False


def test_unreadable_values_are_refused():
    with pytest.raises(SettingsError, match="not a boolean"):
        Settings.from_env({"SMTP_STARTTLS": "maybe"})
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": "10.0.0.0/33"})
    with pytest.raises(ValueError):
        Settings.from_env({"PORT": "eighty"})
    for spelling in ("sometimes", "sample:0", "sample:", "sample:x"):
        with pytest.raises(SettingsError, match="ACCESS_LOG"):
            Settings.from_env({"ACCESS_LOG": spelling})


def test_the_access_log_reads_on_off_and_a_sample():
    readings = {"on": 1, "OFF": 0, "sample:1": 1, " sample:50 ": 50}
    for spelling, every in readings.items():
        assert Settings.from_env({"ACCESS_LOG": spelling}).access_log == every


@pytest.mark.parametrize("code", ["XX", "USA", "*", "", "ß"])
def test_the_store_country_is_a_real_alpha_2_code(code):
    with pytest.raises(SettingsError, match="STORE_COUNTRY"):
        Settings.from_env({"STORE_COUNTRY": code})
    assert Settings.from_env({"STORE_COUNTRY": " gb "}).store_country == "GB"

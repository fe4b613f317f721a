"""The `shop-api` commands an operator runs, against the test database."""

from __future__ import annotations

import asyncio

import pytest

from shop_api.ops.cli import main


@pytest.fixture
def cli_env(services, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", services.database_url)
    monkeypatch.setenv("REDIS_URL", services.redis_url)
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("ENV", "development")


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as stopped:
        main(list(argv))
    return stopped.value.code


async def run_async(*argv: str) -> int:
    # The commands run their own event loop: off this test's loop, in a thread.
    return await asyncio.to_thread(run, *argv)


def test_migrate_twice_is_a_no_op(cli_env, capsys):
    assert run("migrate") == 0
    assert "up to date" in capsys.readouterr().out


async def test_create_admin_then_log_in(cli_env, client, capsys):
    created = await run_async(
        "create-admin", "--email", "boss@example.com", "--password", "boss-pass-1"
    )
    assert created == 0
    assert "boss@example.com" in capsys.readouterr().out
    response = await client.post(
        "/api/auth/login", json={"email": "boss@example.com", "password": "boss-pass-1"}
    )
    assert response.status == 200
    assert (await response.json())["user"]["role"] == "admin"


def test_create_admin_refuses_a_weak_password(cli_env, capsys):
    assert run("create-admin", "--email", "boss@example.com", "--password", "short") == 1
    assert "password" in capsys.readouterr().err


async def test_seed_twice_changes_nothing(cli_env, db, capsys):
    assert await run_async("seed") == 0
    first = capsys.readouterr().out
    assert "customer@example.com" in first and "admin@example.com" in first
    counts = await db.fetchrow(
        "SELECT (SELECT count(*) FROM products) AS products, "
        "(SELECT count(*) FROM categories) AS categories, (SELECT count(*) FROM users) AS users"
    )
    assert counts["products"] >= 60 and counts["categories"] >= 8
    assert await run_async("seed") == 0
    assert "nothing seeded" in capsys.readouterr().out
    again = await db.fetchrow(
        "SELECT (SELECT count(*) FROM products) AS products, "
        "(SELECT count(*) FROM categories) AS categories, (SELECT count(*) FROM users) AS users"
    )
    assert dict(again) == dict(counts)


async def test_seed_synthetic_products(cli_env, db):
    assert await run_async("seed", "--products", "500") == 0
    assert await db.fetchval("SELECT count(*) FROM products") == 500


def test_production_refuses_the_development_secret(cli_env, monkeypatch, capsys):
    monkeypatch.setenv("ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert run("migrate") == 1
    assert "SECRET_KEY" in capsys.readouterr().err


def test_serve_refuses_no_processes(cli_env, monkeypatch, capsys):
    assert run("serve", "--processes", "0") == 1
    assert capsys.readouterr().err == "shop-api: error: --processes takes a number of 1 or more\n"
    monkeypatch.setenv("WEB_CONCURRENCY", "0")
    assert run("serve") == 1
    assert "WEB_CONCURRENCY must be 1 or more" in capsys.readouterr().err


async def test_reconcile_and_rebuild(cli_env, db, capsys):
    assert await run_async("payments", "reconcile") == 0
    assert "0 payment" in capsys.readouterr().out
    assert await run_async("recommendations", "rebuild") == 0
    assert "0 product pairs" in capsys.readouterr().out

"""Idempotency-Key on checkout: one order per key, the first answer replayed, conflicts refused."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter

from factories import (
    ADDRESS,
    assert_problem,
    checkout,
    create_account,
    create_product,
    fill_cart,
    one_answer_per_key,
    stock_of,
)

from shop_api.domain import idempotency_keys
from shop_api.web.keys import db_pool_key


async def test_a_retry_replays_the_first_answer(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=5)
    await fill_cart(client, buyer, (product, 2))
    first = await checkout(client, buyer, key="order-1")
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    original = await first.json()

    # The cart is empty now: a real second checkout would be a 422; the retry is not one.
    for _ in range(2):
        retry = await checkout(client, buyer, key="order-1")
        assert retry.status == 201
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content_type == "application/json"
        assert await retry.json() == original
    assert await db.fetchval("SELECT count(*) FROM orders") == 1
    assert await stock_of(db, product) == 3
    stored = await db.fetchrow("SELECT * FROM idempotency_keys")
    assert (stored["user_id"], stored["route"], stored["key"]) == (
        buyer.id, "POST /api/orders", "order-1",
    )
    assert stored["response_status"] == 201 and stored["completed_at"] is not None


async def test_the_same_body_in_another_form_is_the_same_request(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    await fill_cart(client, buyer, (product, 1))
    body = {"notes": "ring twice", **ADDRESS}
    assert (await checkout(client, buyer, body, key="k")).status == 201
    reordered = await client.post(
        "/api/orders/",
        data=b'{ "delivery_address": "1 Main Street, Springfield",  "notes": "ring twice" }',
        headers={**buyer.headers, "Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert reordered.status == 201
    assert reordered.headers["Idempotent-Replayed"] == "true"


async def test_the_same_key_with_another_body_is_a_conflict(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    await fill_cart(client, buyer, (product, 1))
    assert (await checkout(client, buyer, key="k")).status == 201
    await fill_cart(client, buyer, (product, 1))
    response = await checkout(client, buyer, {**ADDRESS, "notes": "different"}, key="k")
    await assert_problem(response, 409, "idempotency_conflict")
    assert await db.fetchval("SELECT count(*) FROM orders") == 1
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 1


async def test_keys_are_scoped_to_the_user(client, db, settings):
    product = await create_product(db)
    first = await create_account(db, "first@example.com", settings=settings)
    second = await create_account(db, "second@example.com", settings=settings)
    for buyer in (first, second):
        await fill_cart(client, buyer, (product, 1))
        response = await checkout(client, buyer, key="shared-key")
        assert response.status == 201
        assert "Idempotent-Replayed" not in response.headers
    assert await db.fetchval("SELECT count(DISTINCT user_id) FROM orders") == 2


async def test_the_key_must_be_1_to_255_characters(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    await fill_cart(client, buyer, (product, 1))
    for key in ("", "k" * 256):
        response = await checkout(client, buyer, key=key)
        body = await assert_problem(response, 422, "validation_error")
        assert "Idempotency-Key" in body["errors"]
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert (await checkout(client, buyer, key="k" * 255)).status == 201


async def test_a_refused_request_does_not_use_up_its_key(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=1)
    response = await checkout(client, buyer, key="k")
    assert (await response.json())["code"] == "cart_empty"
    await fill_cart(client, buyer, (product, 1))
    await db.execute("UPDATE product_variants SET stock_quantity = 0")
    response = await checkout(client, buyer, key="k")
    assert (await response.json())["code"] == "insufficient_stock"
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0

    await db.execute("UPDATE product_variants SET stock_quantity = 1")
    response = await checkout(client, buyer, key="k")
    assert response.status == 201
    assert "Idempotent-Replayed" not in response.headers


async def test_a_retry_while_the_first_request_runs_is_a_conflict(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    await fill_cart(client, buyer, (product, 1))
    # Hold the cart's row lock, so the first checkout claims its key and then waits.
    blocker = db.transaction()
    await blocker.start()
    await db.execute("SELECT 1 FROM carts WHERE user_id = $1 FOR UPDATE", buyer.id)
    first = asyncio.create_task(checkout(client, buyer, key="k"))
    for _ in range(200):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        if waiting:
            break
        await asyncio.sleep(0.01)
    assert waiting, "the first checkout never reached the cart lock"

    second = await checkout(client, buyer, key="k")
    await assert_problem(second, 409, "idempotency_conflict")

    await blocker.rollback()
    assert (await first).status == 201
    retry = await checkout(client, buyer, key="k")
    assert retry.status == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM orders") == 1


async def test_eight_concurrent_requests_with_one_key_make_one_order(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=50)
    await fill_cart(client, buyer, (product, 2))
    responses = await asyncio.gather(*(checkout(client, buyer, key="race") for _ in range(8)))
    await one_answer_per_key(responses)
    assert await db.fetchval("SELECT count(*) FROM orders") == 1
    assert await stock_of(db, product) == 48


async def test_many_rounds_of_concurrent_retries_never_double_order(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=1000)
    outcomes: Counter = Counter()
    for round_number in range(10):
        await fill_cart(client, buyer, (product, 1))
        key = f"round-{round_number}"
        responses = await asyncio.gather(*(checkout(client, buyer, key=key) for _ in range(6)))
        outcomes.update(
            "replayed" if r.headers.get("Idempotent-Replayed") else str(r.status)
            for r in responses
        )
        # Paid, so ten rounds stay under MAX_PENDING_ORDERS.
        await db.execute("UPDATE orders SET status = 'paid' WHERE user_id = $1", buyer.id)
    assert outcomes["201"] == 10
    assert set(outcomes) <= {"201", "replayed", "409"}
    assert await db.fetchval("SELECT count(*) FROM orders") == 10
    assert await stock_of(db, product) == 990


async def test_an_expired_key_can_be_used_again_and_purged(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    await fill_cart(client, buyer, (product, 1))
    assert (await checkout(client, buyer, key="old")).status == 201

    await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '23 hours'")
    await fill_cart(client, buyer, (product, 1))
    response = await checkout(client, buyer, {**ADDRESS, "notes": "new"}, key="old")
    assert response.status == 409  # still within the 24 hours

    await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    response = await checkout(client, buyer, {**ADDRESS, "notes": "new"}, key="old")
    assert response.status == 201
    assert "Idempotent-Replayed" not in response.headers
    assert await db.fetchval("SELECT count(*) FROM orders") == 2

    await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    await fill_cart(client, buyer, (product, 1))
    assert (await checkout(client, buyer, key="fresh")).status == 201
    purged = await idempotency_keys.purge_expired(client.server.app[db_pool_key])
    assert purged == 1
    assert await db.fetchval("SELECT key FROM idempotency_keys") == "fresh"


async def test_without_a_key_every_request_is_new(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    for _ in range(2):
        await fill_cart(client, buyer, (product, 1))
        assert (await checkout(client, buyer, key=None)).status == 201
    assert await db.fetchval("SELECT count(*) FROM orders") == 2
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


def test_fingerprint_ignores_key_order_but_not_values():
    assert idempotency_keys.fingerprint({"a": 1, "b": "x"}) == idempotency_keys.fingerprint(
        {"b": "x", "a": 1}
    )
    assert idempotency_keys.fingerprint({"a": 1}) != idempotency_keys.fingerprint({"a": 2})


def test_the_key_storage_imports_no_web_code():
    # The relay's maintenance purges keys; the storage half must not drag aiohttp in with it.
    probe = "import sys, shop_api.domain.idempotency_keys; print('aiohttp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"

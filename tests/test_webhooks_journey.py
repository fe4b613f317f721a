"""Issue 15's journey, as an integrator lives it: everything over HTTP, the relay and the worker
as processes of their own, a receiver that fails each event's first delivery.

An admin registers an endpoint through the API and keeps the secret from the answer; a
customer registers, places and pays an order through the API; the receiver answers 500 to the
first request of every event and 200 after. Each of order.placed, order.paid and
payment.succeeded must then arrive correctly signed, accepted exactly once per event id, with
the same body on the retry, and the admin's deliveries list must say so.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter

import pytest
from factories import create_account, create_product, eventually
from processes import RelayProcess, WorkerProcess, background_env
from webhook_receiver import verify

from shop_api.web.app import create_app

EVENTS = ["order.placed", "order.paid", "payment.succeeded"]
eventually = functools.partial(eventually, within=60)


@pytest.fixture
async def hooks_client(aiohttp_client, settings):
    """The web app as a developer runs it with a receiver on 127.0.0.1."""
    return await aiohttp_client(create_app(dataclasses.replace(settings,
                                                               webhook_allow_private=True)))


@pytest.fixture
def background(services, tmp_path):
    env = background_env(services, tmp_path)
    started = [WorkerProcess(env, tmp_path / "worker.log").start(),
               RelayProcess(env, tmp_path / "relay.log").start()]
    yield
    for process in started:
        process.stop()
    for process in started:
        print(process.output()[-3000:])


async def test_an_integrator_gets_each_event_once_signed_even_after_a_500(
    hooks_client, db, receiver, background
):
    client = hooks_client
    admin = await create_account(db, "ops@example.com", client=client, role="admin")
    registered = await client.post("/api/admin/webhooks", headers=admin.headers,
                                   json={"url": receiver.url(), "events": EVENTS,
                                         "description": "fulfilment"})
    assert registered.status == 201
    endpoint = await registered.json()
    secret = endpoint["secret"]
    seen: Counter[str] = Counter()

    def first_time_500(received) -> int:
        seen[received.event_id] += 1
        return 500 if seen[received.event_id] == 1 else 200

    receiver.answer = first_time_500

    signed_up = await client.post("/api/auth/register",
                                  json={"email": "buyer@example.com",
                                        "password": "correct-horse-42"})
    assert signed_up.status == 201
    login = await client.post("/api/auth/login", json={"email": "buyer@example.com",
                                                       "password": "correct-horse-42"})
    buyer = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    product = await create_product(db, name="Blue Mug", price="12.50", stock=10)
    added = await client.post("/api/cart/items", headers=buyer,
                              json={"product_id": product, "quantity": 2})
    assert added.status == 201
    placed = await client.post("/api/orders", headers=buyer,
                               json={"delivery_address": "1 Hook Lane"})
    assert placed.status == 201
    order = await placed.json()
    paying = await client.post("/api/payments/process", headers=buyer,
                               json={"order_id": order["id"], "payment_token": "tok_visa"})
    assert paying.status == 202

    async def each_failed_once():
        return await db.fetchval(
            "SELECT count(*) = 3 AND bool_and(status = 'pending' AND attempts = 1"
            "                                 AND last_status_code = 500)"
            "  FROM webhook_deliveries"
        )

    await eventually(each_failed_once)
    # The first retry's 30 s, skipped: the relay process finds them due on its next poll.
    await db.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")

    async def all_delivered():
        return await db.fetchval(
            "SELECT count(*) FILTER (WHERE status = 'delivered') = 3 FROM webhook_deliveries"
        )

    await eventually(all_delivered)

    by_type: dict[str, list] = {}
    for received in receiver.requests:
        assert verify(secret, received), received.headers
        assert received.headers["Shop-Event-Id"] == str(received.event["id"])
        by_type.setdefault(received.event["type"], []).append(received)
    assert sorted(by_type) == sorted(EVENTS)
    for attempts in by_type.values():
        # A 500, then the same event with the same bytes, accepted: once per event id.
        assert len(attempts) == 2
        assert attempts[0].event_id == attempts[1].event_id
        assert attempts[0].body == attempts[1].body
    assert len({attempts[0].event_id for attempts in by_type.values()}) == 3
    assert by_type["order.placed"][0].event["data"]["id"] == order["id"]
    assert by_type["order.paid"][0].event["data"]["status"] == "paid"
    assert by_type["payment.succeeded"][0].event["data"]["order_id"] == order["id"]

    listed = await client.get(f"/api/admin/webhooks/{endpoint['id']}/deliveries",
                              headers=admin.headers)
    assert listed.status == 200
    deliveries = (await listed.json())["items"]
    assert sorted(item["event_type"] for item in deliveries) == sorted(EVENTS)
    for item in deliveries:
        assert (item["status"], item["attempts"], item["last_status_code"]) == (
            "delivered", 2, 200)
        assert item["delivered_at"] is not None and item["next_attempt_at"] is None
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 6

"""/api/admin/webhooks and /api/admin/webhook-deliveries through HTTP and real rows: endpoints
registered, changed, rotated and removed; their deliveries listed and sent again (issue 15)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from factories import assert_problem

from shop_api.domain.webhook_admin import PATTERN_CHOICES
from shop_api.domain.webhook_events import PATTERNS
from shop_api.web.app import create_app
from shop_api.web.keys import outbox_wake_key

WEBHOOKS = "/api/admin/webhooks"
# A public address literal: the guard accepts it without asking DNS (which tests may not
# have), and no relay runs in these tests, so nothing is ever sent to it.
PUBLIC_URL = "https://93.184.215.14/hooks/shop"
DOCUMENTED = {"id", "url", "events", "description", "is_active", "created_at"}
EXTRAS = {"failures_in_a_row", "disabled_at", "updated_at"}


async def register(client, admin, **fields) -> dict:
    body = {"url": PUBLIC_URL, "events": ["order.paid"], **fields}
    response = await client.post(WEBHOOKS, headers=admin.headers, json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def event(db, event_id: int, type_: str = "order.paid") -> int:
    return await db.fetchval(
        "INSERT INTO webhook_events (id, type, data, created_at) "
        "VALUES ($1, $2, '{}'::jsonb, now()) RETURNING id",
        event_id, type_,
    )


async def delivery(db, endpoint_id: int, event_id: int, *, status: str = "pending",
                   attempts: int = 0, code: int | None = None, error: str | None = None) -> int:
    due = "now() + interval '5 minutes'" if status == "pending" else "NULL"
    delivered = "now()" if status == "delivered" else "NULL"
    return await db.fetchval(
        f"INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, "
        f"last_status_code, last_error, next_attempt_at, retry_until, delivered_at) "
        f"VALUES ($1, $2, $3, $4, $5, $6, {due}, now() - interval '1 hour', {delivered}) "
        f"RETURNING id",
        event_id, endpoint_id, status, attempts, code, error,
    )


# -- endpoints --------------------------------------------------------------------------------


async def test_an_admin_registers_lists_reads_replaces_and_removes_an_endpoint(
    client, admin, db
):
    for path in (WEBHOOKS, WEBHOOKS + "/"):
        response = await client.get(path, headers=admin.headers)
        assert response.status == 200
        assert await response.json() == {"items": []}

    created = await register(
        client, admin, events=["order.*", "payment.failed", "order.*"], description="ERP"
    )
    assert set(created) == DOCUMENTED | EXTRAS | {"secret"}
    assert created["url"] == PUBLIC_URL
    assert created["events"] == ["order.*", "payment.failed"]  # deduplicated, in order
    assert created["description"] == "ERP"
    assert created["is_active"] is True
    assert (created["failures_in_a_row"], created["disabled_at"]) == (0, None)
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 43
    row = await db.fetchrow("SELECT * FROM webhook_endpoints")
    assert (row["id"], row["secret"], row["events"]) == (
        created["id"], secret, ["order.*", "payment.failed"]
    )

    listed = await (await client.get(WEBHOOKS, headers=admin.headers)).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    one = await (await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin.headers)).json()
    assert set(one) == DOCUMENTED | EXTRAS
    assert one == listed["items"][0]
    assert {k: one[k] for k in DOCUMENTED} == {k: created[k] for k in DOCUMENTED}

    replaced = await client.put(
        f"{WEBHOOKS}/{created['id']}",
        headers=admin.headers,
        json={"url": "https://1.1.1.1/other", "events": ["*"], "is_active": True},
    )
    assert replaced.status == 200, await replaced.text()
    body = await replaced.json()
    assert "secret" not in body
    assert (body["url"], body["events"], body["description"]) == (
        "https://1.1.1.1/other", ["*"], ""
    )
    assert body["updated_at"] > created["updated_at"]
    row = await db.fetchrow("SELECT * FROM webhook_endpoints")
    assert (row["url"], row["events"], row["description"], row["secret"]) == (
        "https://1.1.1.1/other", ["*"], "", secret
    )

    removed = await client.delete(f"{WEBHOOKS}/{created['id']}", headers=admin.headers)
    assert removed.status == 204
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0
    gone = await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin.headers)
    await assert_problem(gone, 404, "not_found")
    await assert_problem(
        await client.delete(f"{WEBHOOKS}/{created['id']}", headers=admin.headers),
        404, "not_found",
    )


async def test_the_secret_is_shown_only_when_made_and_rotation_replaces_it(client, admin, db):
    created = await register(client, admin)
    others = [
        await client.get(WEBHOOKS, headers=admin.headers),
        await client.get(f"{WEBHOOKS}/{created['id']}", headers=admin.headers),
        await client.put(
            f"{WEBHOOKS}/{created['id']}",
            headers=admin.headers,
            json={"url": PUBLIC_URL, "events": ["*"], "is_active": True},
        ),
    ]
    for response in others:
        assert response.status == 200
        assert created["secret"] not in await response.text()
        assert "secret" not in await response.text()

    rotated = await client.post(
        f"{WEBHOOKS}/{created['id']}/rotate-secret", headers=admin.headers
    )
    assert rotated.status == 200, await rotated.text()
    body = await rotated.json()
    assert body["id"] == created["id"]
    assert body["secret"].startswith("whsec_") and body["secret"] != created["secret"]
    stored = await db.fetchval("SELECT secret FROM webhook_endpoints")
    assert stored == body["secret"]  # the old one signs nothing from the commit on
    await assert_problem(
        await client.post(f"{WEBHOOKS}/999/rotate-secret", headers=admin.headers),
        404, "not_found",
    )


async def test_secrets_are_distinct_under_concurrent_registration(client, admin, db):
    bodies = await asyncio.gather(*(register(client, admin) for _ in range(10)))
    assert len({body["secret"] for body in bodies}) == 10
    assert await db.fetchval("SELECT count(DISTINCT secret) FROM webhook_endpoints") == 10


async def test_disabling_and_enabling_again(client, admin, db):
    created = await register(client, admin)
    path = f"{WEBHOOKS}/{created['id']}"
    off = await client.put(
        path, headers=admin.headers,
        json={"url": PUBLIC_URL, "events": ["order.paid"], "is_active": False},
    )
    body = await off.json()
    assert body["is_active"] is False and body["disabled_at"] is not None

    # As the delivery actor leaves an endpoint it disabled after 20 failures.
    await db.execute(
        "UPDATE webhook_endpoints SET failures_in_a_row = 20, "
        "disabled_at = now() - interval '1 day'"
    )
    still_off = await (await client.put(
        path, headers=admin.headers,
        json={"url": PUBLIC_URL, "events": ["order.paid"], "is_active": False},
    )).json()
    assert still_off["failures_in_a_row"] == 20
    row = await db.fetchrow("SELECT * FROM webhook_endpoints")
    assert row["disabled_at"] < datetime.now(UTC) - timedelta(hours=23)  # kept, not moved

    on = await (await client.put(
        path, headers=admin.headers,
        json={"url": PUBLIC_URL, "events": ["order.paid"], "is_active": True},
    )).json()
    assert (on["is_active"], on["failures_in_a_row"], on["disabled_at"]) == (True, 0, None)
    row = await db.fetchrow("SELECT * FROM webhook_endpoints")
    assert (row["is_active"], row["failures_in_a_row"], row["disabled_at"]) == (True, 0, None)


async def test_an_active_endpoint_keeps_its_failure_count_when_edited(client, admin, db):
    created = await register(client, admin)
    await db.execute("UPDATE webhook_endpoints SET failures_in_a_row = 3")
    body = await (await client.put(
        f"{WEBHOOKS}/{created['id']}", headers=admin.headers,
        json={"url": PUBLIC_URL, "events": ["order.*"], "is_active": True,
              "description": "x"},
    )).json()
    assert (body["failures_in_a_row"], body["description"]) == (3, "x")


async def test_customers_get_403_and_strangers_401(client, customer, admin, db):
    created = await register(client, admin)
    delivery_id = await delivery(db, created["id"], await event(db, 1))
    calls = [
        ("GET", WEBHOOKS, None),
        ("POST", WEBHOOKS, {"url": PUBLIC_URL, "events": ["*"]}),
        ("GET", f"{WEBHOOKS}/{created['id']}", None),
        ("PUT", f"{WEBHOOKS}/{created['id']}",
         {"url": PUBLIC_URL, "events": ["*"], "is_active": False}),
        ("DELETE", f"{WEBHOOKS}/{created['id']}", None),
        ("POST", f"{WEBHOOKS}/{created['id']}/rotate-secret", None),
        ("GET", f"{WEBHOOKS}/{created['id']}/deliveries", None),
        ("POST", f"/api/admin/webhook-deliveries/{delivery_id}/redeliver", None),
    ]
    for method, path, body in calls:
        forbidden = await client.request(method, path, headers=customer.headers, json=body)
        await assert_problem(forbidden, 403, "forbidden")
        anonymous = await client.request(method, path, json=body)
        await assert_problem(anonymous, 401, "unauthorized")
    row = await db.fetchrow("SELECT * FROM webhook_endpoints")
    assert (row["is_active"], row["secret"]) == (True, created["secret"])
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 1


async def test_unknown_ids_are_404(client, admin):
    body = {"url": PUBLIC_URL, "events": ["*"], "is_active": True}
    for method, path in [
        ("GET", f"{WEBHOOKS}/42"),
        ("PUT", f"{WEBHOOKS}/42"),
        ("DELETE", f"{WEBHOOKS}/42"),
        ("GET", f"{WEBHOOKS}/42/deliveries"),
        ("POST", "/api/admin/webhook-deliveries/42/redeliver"),
        ("GET", f"{WEBHOOKS}/{2**63}"),
        ("GET", f"{WEBHOOKS}/0"),
        ("GET", f"{WEBHOOKS}/٤٢"),
    ]:
        response = await client.request(method, path, headers=admin.headers, json=body)
        await assert_problem(response, 404, "not_found")


# -- what is refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/x",
        "http://93.184.215.14/x",  # http only with WEBHOOK_ALLOW_PRIVATE
        "https://127.0.0.1/",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "http://localhost:1/",
        "https://localhost/hook",  # resolves to a loopback address
        "https://shop-hooks.invalid/x",  # resolves to nothing
        "https://user:pw@93.184.215.14/x",
        "https:///nohost",
        "https://93.184.215.14:99999/x",
        "not a url at all".replace(" ", "-"),
    ],
)
async def test_urls_that_are_not_allowed(client, admin, db, url):
    response = await client.post(
        WEBHOOKS, headers=admin.headers, json={"url": url, "events": ["*"]}
    )
    await assert_problem(response, 422, "url_not_allowed")
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_a_replacement_url_is_checked_too(client, admin, db):
    created = await register(client, admin)
    response = await client.put(
        f"{WEBHOOKS}/{created['id']}", headers=admin.headers,
        json={"url": "https://127.0.0.1/", "events": ["*"], "is_active": True},
    )
    await assert_problem(response, 422, "url_not_allowed")
    assert await db.fetchval("SELECT url FROM webhook_endpoints") == PUBLIC_URL


async def test_private_urls_are_accepted_when_the_server_allows_them(
    aiohttp_client, settings, db
):
    from factories import create_account

    client = await aiohttp_client(
        create_app(dataclasses.replace(settings, webhook_allow_private=True))
    )
    admin = await create_account(db, "dev@example.com", client=client, role="admin")
    for url in ("http://127.0.0.1:9/", "http://localhost:1/", "https://10.0.0.5/x"):
        created = await register(client, admin, url=url)
        assert created["url"] == url
    still = await client.post(
        WEBHOOKS, headers=admin.headers, json={"url": "ftp://127.0.0.1/", "events": ["*"]}
    )
    await assert_problem(still, 422, "url_not_allowed")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["*"]}, "url"),
        ({"url": PUBLIC_URL}, "events"),
        ({"url": PUBLIC_URL, "events": []}, "events"),
        ({"url": PUBLIC_URL, "events": ["order.paid", "order.paied"]}, "events"),
        ({"url": PUBLIC_URL, "events": ["order"]}, "events"),
        ({"url": PUBLIC_URL, "events": ["order.**"]}, "events"),
        ({"url": PUBLIC_URL, "events": ["ORDER.PAID"]}, "events"),
        ({"url": PUBLIC_URL, "events": "order.paid"}, "events"),
        ({"url": PUBLIC_URL, "events": [7]}, "events"),
        ({"url": PUBLIC_URL, "events": [None]}, "events"),
        ({"url": PUBLIC_URL, "events": None}, "events"),
        ({"url": PUBLIC_URL, "events": [["order.paid"]]}, "events"),
        ({"url": PUBLIC_URL, "events": ["*"] * 51}, "events"),
        ({"url": PUBLIC_URL, "events": ["x" * 1_000_000]}, "events"),
        ({"url": None, "events": ["*"]}, "url"),
        ({"url": 7, "events": ["*"]}, "url"),
        ({"url": ["https://a"], "events": ["*"]}, "url"),
        ({"url": "", "events": ["*"]}, "url"),
        ({"url": "https://93.184.215.14/" + "a" * 2030, "events": ["*"]}, "url"),
        ({"url": "https://93.184.215.14/a b", "events": ["*"]}, "url"),
        ({"url": "https://93.184.215.14/a\nb", "events": ["*"]}, "url"),
        ({"url": "https://93.184.215.14/a\x00", "events": ["*"]}, "url"),
        ({"url": PUBLIC_URL, "events": ["*"], "description": "d" * 501}, "description"),
        ({"url": PUBLIC_URL, "events": ["*"], "description": 5}, "description"),
        ({"url": PUBLIC_URL, "events": ["*"], "secret": "whsec_mine"}, "secret"),
        ({"url": PUBLIC_URL, "events": ["*"], "is_active": False}, "is_active"),
        ({"url": PUBLIC_URL, "events": ["*"], "failures_in_a_row": 0}, "failures_in_a_row"),
    ],
)
async def test_bad_fields_are_422(client, admin, db, body, field):
    response = await client.post(WEBHOOKS, headers=admin.headers, json=body)
    problem = await assert_problem(response, 422, "validation_error")
    assert field in problem["errors"], problem
    assert len(await response.read()) < 10_000  # a huge entry is not echoed back
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_the_bad_event_is_named(client, admin):
    response = await client.post(
        WEBHOOKS, headers=admin.headers,
        json={"url": PUBLIC_URL, "events": ["order.paid", "order.paied"]},
    )
    problem = await assert_problem(response, 422, "validation_error")
    assert list(problem["errors"]["events"]) == ["1"]
    assert "“order.paied”" in problem["errors"]["events"]["1"][0]


async def test_a_replacement_needs_every_field_it_sets(client, admin, db):
    created = await register(client, admin)
    path = f"{WEBHOOKS}/{created['id']}"
    for body, field in [
        ({"url": PUBLIC_URL, "events": ["*"]}, "is_active"),
        ({"url": PUBLIC_URL, "events": ["*"], "is_active": "true"}, "is_active"),
        ({"url": PUBLIC_URL, "events": ["*"], "is_active": 1}, "is_active"),
        ({"url": PUBLIC_URL, "events": ["*"], "is_active": None}, "is_active"),
        ({"events": ["*"], "is_active": True}, "url"),
        ({"url": PUBLIC_URL, "events": ["nope"], "is_active": True}, "events"),
        ({"url": PUBLIC_URL, "events": ["*"], "is_active": True, "secret": "x"}, "secret"),
    ]:
        response = await client.put(path, headers=admin.headers, json=body)
        problem = await assert_problem(response, 422, "validation_error")
        assert field in problem["errors"]
    for raw in (b"[]", b"null", b"{", b'"x"'):
        response = await client.put(
            path, headers={**admin.headers, "Content-Type": "application/json"}, data=raw
        )
        await assert_problem(response, 400, "invalid_json")
    row = await db.fetchrow("SELECT * FROM webhook_endpoints")
    assert (row["events"], row["is_active"]) == (["order.paid"], True)


async def test_a_null_description_is_empty(client, admin):
    created = await register(client, admin, description=None)
    assert created["description"] == ""


def test_the_form_offers_every_pattern_once():
    assert sorted(PATTERN_CHOICES) == sorted(PATTERNS)


# -- deliveries -------------------------------------------------------------------------------


async def test_deliveries_are_listed_newest_first_and_filtered(client, admin, db):
    mine = await register(client, admin)
    other = await register(client, admin)
    for event_id, type_ in [(10, "order.paid"), (11, "order.placed"), (12, "payment.failed")]:
        await event(db, event_id, type_)
    first = await delivery(db, mine["id"], 10, status="delivered", attempts=1, code=200)
    second = await delivery(db, mine["id"], 11, status="failed", attempts=9, code=500,
                            error="HTTP 500")
    third = await delivery(db, mine["id"], 12, attempts=2, error="timed out")
    await delivery(db, other["id"], 10)

    path = f"{WEBHOOKS}/{mine['id']}/deliveries"
    for url in (path, path + "/"):
        page = await (await client.get(url, headers=admin.headers)).json()
        assert [item["id"] for item in page["items"]] == [third, second, first]
        assert (page["page"], page["per_page"], page["total"], page["pages"]) == (1, 20, 3, 1)
    newest = page["items"][0]
    assert set(newest) == {
        "id", "event_id", "event_type", "status", "attempts", "last_status_code",
        "last_error", "next_attempt_at", "created_at", "delivered_at",
    }
    assert (newest["event_id"], newest["event_type"], newest["status"], newest["attempts"],
            newest["last_status_code"], newest["last_error"], newest["delivered_at"]) == (
        12, "payment.failed", "pending", 2, None, "timed out", None
    )
    assert newest["next_attempt_at"] is not None
    assert page["items"][1]["last_status_code"] == 500
    assert page["items"][2]["delivered_at"] is not None

    for status, expected in [("pending", [third]), ("delivered", [first]), ("failed", [second])]:
        filtered = await (await client.get(
            path, headers=admin.headers, params={"status": status}
        )).json()
        assert [item["id"] for item in filtered["items"]] == expected
        assert filtered["total"] == 1

    paged = await (await client.get(
        path, headers=admin.headers, params={"per_page": 2, "page": 2}
    )).json()
    assert ([item["id"] for item in paged["items"]], paged["total"], paged["pages"]) == (
        [first], 3, 2
    )
    past = await (await client.get(path, headers=admin.headers, params={"page": 9})).json()
    assert (past["items"], past["total"]) == ([], 3)

    for params in ({"status": "sent"}, {"status": ""}, {"per_page": 0}, {"per_page": 101},
                   {"page": "x"}, {"page": "٢"}):
        response = await client.get(path, headers=admin.headers, params=params)
        await assert_problem(response, 422, "validation_error")


async def test_an_endpoint_without_deliveries_has_an_empty_page(client, admin):
    created = await register(client, admin)
    page = await (await client.get(
        f"{WEBHOOKS}/{created['id']}/deliveries", headers=admin.headers
    )).json()
    assert page == {"items": [], "page": 1, "per_page": 20, "total": 0, "total_exact": True,
                    "pages": 0}


async def test_removing_an_endpoint_removes_its_deliveries(client, admin, db):
    mine = await register(client, admin)
    other = await register(client, admin)
    await event(db, 1)
    gone = await delivery(db, mine["id"], 1, status="failed", attempts=1)
    await db.execute(
        "INSERT INTO webhook_attempts (delivery_id, status_code, duration_ms) VALUES ($1, 500, 3)",
        gone,
    )
    kept = await delivery(db, other["id"], 1)
    response = await client.delete(f"{WEBHOOKS}/{mine['id']}", headers=admin.headers)
    assert response.status == 204
    assert await db.fetchval("SELECT array_agg(id) FROM webhook_deliveries") == [kept]
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 0
    assert await db.fetchval("SELECT count(*) FROM webhook_events") == 1


async def test_redeliver_makes_a_delivery_due_now_with_a_fresh_day_of_retries(
    client, admin, db
):
    created = await register(client, admin)
    await event(db, 5, "order.shipped")
    failed = await delivery(db, created["id"], 5, status="failed", attempts=7, code=503,
                            error="HTTP 503")
    wake = client.app[outbox_wake_key]
    wake.clear()

    response = await client.post(
        f"/api/admin/webhook-deliveries/{failed}/redeliver", headers=admin.headers
    )
    assert response.status == 202, await response.text()
    body = await response.json()
    assert (body["id"], body["event_id"], body["event_type"], body["status"],
            body["attempts"], body["last_status_code"], body["last_error"]) == (
        failed, 5, "order.shipped", "pending", 7, 503, "HTTP 503"
    )
    assert wake.is_set()
    row = await db.fetchrow(
        "SELECT *, now() AS db_now FROM webhook_deliveries WHERE id = $1", failed
    )
    assert row["status"] == "pending"
    assert row["next_attempt_at"] <= row["db_now"]
    assert abs(row["retry_until"] - (row["db_now"] + timedelta(hours=24))) < timedelta(
        seconds=30
    )
    assert datetime.fromisoformat(body["next_attempt_at"]) == row["next_attempt_at"]
    # Due for the relay: what its lease picks up.
    due = await db.fetchval(
        "SELECT array_agg(id) FROM webhook_deliveries "
        "WHERE status = 'pending' AND next_attempt_at <= now()"
    )
    assert due == [failed]

    # A pending one (due later) becomes due now too.
    await event(db, 6)
    later = await delivery(db, created["id"], 6)
    response = await client.post(
        f"/api/admin/webhook-deliveries/{later}/redeliver", headers=admin.headers
    )
    assert response.status == 202
    assert await db.fetchval(
        "SELECT next_attempt_at <= now() FROM webhook_deliveries WHERE id = $1", later
    )


async def test_redelivery_to_a_disabled_endpoint_is_409(client, admin, db):
    created = await register(client, admin)
    await event(db, 5)
    failed = await delivery(db, created["id"], 5, status="failed", attempts=20)
    await db.execute(
        "UPDATE webhook_endpoints SET is_active = false, disabled_at = now(), "
        "failures_in_a_row = 20"
    )
    response = await client.post(
        f"/api/admin/webhook-deliveries/{failed}/redeliver", headers=admin.headers
    )
    await assert_problem(response, 409, "endpoint_disabled")
    row = await db.fetchrow("SELECT * FROM webhook_deliveries")
    assert (row["status"], row["next_attempt_at"]) == ("failed", None)

    await client.put(
        f"{WEBHOOKS}/{created['id']}", headers=admin.headers,
        json={"url": PUBLIC_URL, "events": ["*"], "is_active": True},
    )
    response = await client.post(
        f"/api/admin/webhook-deliveries/{failed}/redeliver", headers=admin.headers
    )
    assert response.status == 202


async def test_redeliver_takes_no_body_and_concurrent_ones_agree(client, admin, db):
    created = await register(client, admin)
    await event(db, 5)
    failed = await delivery(db, created["id"], 5, status="failed", attempts=3)
    path = f"/api/admin/webhook-deliveries/{failed}/redeliver"
    responses = await asyncio.gather(
        *(client.post(path, headers=admin.headers, data=b"\x00garbage") for _ in range(8))
    )
    assert [response.status for response in responses] == [202] * 8
    assert await db.fetchval("SELECT status FROM webhook_deliveries") == "pending"


async def test_the_routes_are_documented(client):
    document = await (await client.get("/api/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/admin/webhooks"]) == {"get", "post"}
    assert set(paths["/api/admin/webhooks/{endpoint_id}"]) == {"get", "put", "delete"}
    assert "post" in paths["/api/admin/webhooks/{endpoint_id}/rotate-secret"]
    assert "get" in paths["/api/admin/webhooks/{endpoint_id}/deliveries"]
    redeliver = paths["/api/admin/webhook-deliveries/{delivery_id}/redeliver"]["post"]
    assert {"202", "401", "403", "404", "409"} <= set(redeliver["responses"])
    assert "endpoint_disabled" in redeliver["description"]
    create = paths["/api/admin/webhooks"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookWithSecretOut"
    }
    listed = document["components"]["schemas"]["WebhookOut"]["properties"]
    assert "secret" not in listed


@pytest.mark.parametrize(
    "url",
    [
        "https://bücher.example/hook",
        "https://[zz]/",
        "https://%zz/",
        "https://" + "a" * 300 + ".example/",
        "https://" + "a" * 64 + ".example/",
        "https://:443/x",
        "//93.184.215.14/x",
        "https://0.0.0.0/",
        "https://[fe80::1%25eth0]/",
        "javascript:alert(1)",
        "https://93.184.215.14@127.0.0.1/",
    ],
)
async def test_odd_urls_are_a_422_never_a_500(client, admin, db, url):
    response = await client.post(
        WEBHOOKS, headers=admin.headers, json={"url": url, "events": ["*"]}
    )
    assert response.status == 422, await response.text()
    assert (await response.json())["code"] in ("url_not_allowed", "validation_error")
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_concurrent_enables_and_disables_leave_a_consistent_row(client, admin, db):
    created = await register(client, admin)
    await db.execute("UPDATE webhook_endpoints SET failures_in_a_row = 7")
    path = f"{WEBHOOKS}/{created['id']}"
    responses = await asyncio.gather(*(
        client.put(path, headers=admin.headers,
                   json={"url": PUBLIC_URL, "events": ["*"], "is_active": i % 2 == 0})
        for i in range(20)
    ))
    assert [response.status for response in responses] == [200] * 20
    row = await db.fetchrow("SELECT * FROM webhook_endpoints")
    assert row["is_active"] == (row["disabled_at"] is None)
    if row["is_active"]:
        assert row["failures_in_a_row"] == 0  # it was disabled before the last enable


async def test_deliveries_query_extremes_are_422(client, admin):
    created = await register(client, admin)
    path = f"{WEBHOOKS}/{created['id']}/deliveries"
    for params in ({"page": "9" * 30}, {"per_page": "-1"}, {"status": "p" * 5000},
                   {"status": "PENDING"}, {"page": "1.0"}):
        response = await client.get(path, headers=admin.headers, params=params)
        await assert_problem(response, 422, "validation_error")

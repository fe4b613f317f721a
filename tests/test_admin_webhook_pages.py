"""The admin pages for webhooks: endpoints added (the secret shown once), changed, disabled,
enabled, given a new secret and removed with forms that refuse what the API refuses, and an
endpoint's deliveries listed and sent again, with a message and never a 500."""

from __future__ import annotations

import html
import re

import pytest
from admin_pages import sign_in
from factories import create_user

from shop_api.web.keys import outbox_wake_key, redis_key

PAGE = "/admin/webhooks"
PUBLIC_URL = "https://93.184.215.14/hooks/shop"  # a public literal: no DNS, never contacted
_SECRET = re.compile(r'<code id="new-secret" class="secret">(whsec_[A-Za-z0-9_-]+)</code>')


@pytest.fixture
async def csrf(client, db) -> str:
    await create_user(db, "boss@example.com", role="admin")
    return await sign_in(client, "boss@example.com")


async def answer(client, path: str, csrf: str, data=None, **fields) -> str:
    """Submit a form whose answer is the page itself (one showing a secret)."""
    form = [("csrf_token", csrf), *(data or []), *fields.items()]
    response = await client.post(path, data=form, allow_redirects=False)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    return html.unescape(await response.text())


async def post(client, path: str, csrf: str, data=None, **fields) -> str:
    """Submit a form as the page does; the page the browser is sent back to."""
    form = [("csrf_token", csrf), *(data or []), *fields.items()]
    response = await client.post(path, data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await client.get(response.headers["Location"])
    assert page.status == 200
    return html.unescape(await page.text())


async def redis_holds(client, text: str) -> bool:
    """Whether any value in Redis holds `text` (the flash messages live there)."""
    redis = client.app[redis_key]
    async for key in redis.scan_iter():
        if await redis.type(key) == b"string" and text.encode() in await redis.get(key):
            return True
    return False


def form(url: str = PUBLIC_URL, events=("order.paid",), **more) -> list[tuple[str, str]]:
    return [("url", url), *(("events", e) for e in events), *more.items()]


async def endpoint_row(db):
    return await db.fetchrow("SELECT * FROM webhook_endpoints")


async def test_an_endpoint_is_added_with_its_secret_shown_once(client, db, csrf):
    home = await (await client.get("/admin/")).text()
    assert '<a href="/admin/webhooks">Webhooks</a>' in home
    empty = await client.get(PAGE)
    assert empty.headers["Cache-Control"] == "no-store"
    assert "No webhook endpoint yet." in await empty.text()

    shown = await answer(
        client, PAGE, csrf,
        form(events=("order.*", "payment.failed", "order.*"), description=" ERP sync "),
    )
    row = await endpoint_row(db)
    assert f"Endpoint #{row['id']} added." in shown
    assert _SECRET.search(shown).group(1) == row["secret"]
    assert await redis_holds(client, '"user_id"')  # the session: the search does find things
    assert not await redis_holds(client, row["secret"])
    assert (row["url"], row["events"], row["description"], row["is_active"]) == (
        PUBLIC_URL, ["order.*", "payment.failed"], "ERP sync", True
    )
    assert PUBLIC_URL in shown and "ERP sync" in shown

    again = html.unescape(await (await client.get(PAGE)).text())
    assert row["secret"] not in again and "new-secret" not in again
    assert not await redis_holds(client, row["secret"])
    assert PUBLIC_URL in again and 'data-state="active"' in again


async def test_an_endpoint_is_changed_disabled_enabled_rotated_and_removed(client, db, csrf):
    await answer(client, PAGE, csrf, form())
    row = await endpoint_row(db)
    path = f"{PAGE}/{row['id']}"

    shown = await post(
        client, path, csrf,
        form(url="https://1.1.1.1/other", events=("*",), description="new", is_active="on"),
    )
    assert f"Endpoint #{row['id']} saved." in shown
    changed = await endpoint_row(db)
    assert (changed["url"], changed["events"], changed["description"], changed["secret"]) == (
        "https://1.1.1.1/other", ["*"], "new", row["secret"]
    )

    # An unticked "Active" box is sent as nothing: the endpoint is disabled.
    shown = await post(client, path, csrf, form(url="https://1.1.1.1/other", events=("*",)))
    assert "It is disabled" in shown and 'data-state="disabled"' in shown
    assert (await endpoint_row(db))["is_active"] is False

    await db.execute("UPDATE webhook_endpoints SET failures_in_a_row = 20")
    shown = await post(client, f"{path}/active", csrf, action="enable")
    assert "enabled again" in shown
    enabled = await endpoint_row(db)
    assert (enabled["is_active"], enabled["failures_in_a_row"], enabled["disabled_at"]) == (
        True, 0, None
    )
    assert enabled["url"] == "https://1.1.1.1/other"  # the other fields as they were
    shown = await post(client, f"{path}/active", csrf, action="disable")
    assert "is disabled" in shown
    assert (await endpoint_row(db))["disabled_at"] is not None
    shown = await post(client, f"{path}/active", csrf, action="maybe")
    assert "Choose to enable or to disable the endpoint." in shown

    shown = await answer(client, f"{path}/rotate-secret", csrf)
    rotated = await endpoint_row(db)
    assert rotated["secret"] != row["secret"]
    assert _SECRET.search(shown).group(1) == rotated["secret"]
    assert "has a new secret; the old one signs nothing more." in shown
    assert not await redis_holds(client, rotated["secret"])

    await db.execute(
        "INSERT INTO webhook_events (id, type, data, created_at) "
        "VALUES (1, 'order.paid', '{}', now())"
    )
    await db.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id) VALUES (1, $1)", row["id"]
    )
    shown = await post(client, f"{path}/delete", csrf)
    assert f"Endpoint #{row['id']} and its deliveries are removed." in shown
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 0

    shown = await post(client, f"{path}/delete", csrf)
    assert "No such webhook endpoint." in shown
    missing = await client.get(path)
    assert missing.status == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (form(url="ftp://93.184.215.14/x"), "Webhook URLs must use https."),
        (form(url="https://127.0.0.1/"), "not public"),
        (form(url="http://localhost:1/"), "Webhook URLs must use https."),
        (form(url=""), "Url: Length must be between 1 and 2048."),
        (form(url="https://93.184.215.14/a b"), "A URL has no spaces or control characters."),
        (form(events=()), "Events: Give 1 to 50 events or patterns."),
        (form(events=("order.paied",)), "“order.paied” is not an event or a pattern"),
        (form(description="d" * 501), "Description: Longer than maximum length 500."),
    ],
)
async def test_a_refused_endpoint_form_says_why(client, db, csrf, fields, message):
    shown = await post(client, PAGE, csrf, fields)
    assert message in shown
    assert 'class="flash flash--error"' in shown
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_a_form_without_the_csrf_token_is_refused(client, db, csrf):
    response = await client.post(PAGE, data=form(), allow_redirects=False)
    assert response.status == 403
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_the_pages_need_an_admin_session(client):
    for path in (PAGE, f"{PAGE}/1"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"].startswith("/admin/login")
    response = await client.post(PAGE, data=form(), allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/admin/login")


async def test_deliveries_are_listed_filtered_and_sent_again(client, db, csrf):
    await answer(client, PAGE, csrf, form())
    endpoint_id = (await endpoint_row(db))["id"]
    for event_id, type_ in [(1, "order.paid"), (2, "order.placed")]:
        await db.execute(
            "INSERT INTO webhook_events (id, type, data, created_at) "
            "VALUES ($1, $2, '{}', now())",
            event_id, type_,
        )
    failed = await db.fetchval(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, "
        "last_status_code, last_error, next_attempt_at) "
        "VALUES (1, $1, 'failed', 9, 502, 'Bad gateway', NULL) RETURNING id",
        endpoint_id,
    )
    delivered = await db.fetchval(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, "
        "last_status_code, next_attempt_at, delivered_at) "
        "VALUES (2, $1, 'delivered', 1, 200, NULL, now()) RETURNING id",
        endpoint_id,
    )
    page = html.unescape(await (await client.get(f"{PAGE}/{endpoint_id}")).text())
    assert page.index(f'id="delivery-{delivered}"') < page.index(f'id="delivery-{failed}"')
    assert "HTTP 502" in page and "Bad gateway" in page and "order.placed" in page
    assert "2 deliveries" in page

    only_failed = await (await client.get(f"{PAGE}/{endpoint_id}?status=failed")).text()
    assert f'id="delivery-{failed}"' in only_failed
    assert f'id="delivery-{delivered}"' not in only_failed
    refused = await client.get(f"{PAGE}/{endpoint_id}?status=sent")
    assert refused.status == 422

    wake = client.app[outbox_wake_key]
    wake.clear()
    here = f"{PAGE}/{endpoint_id}?status=failed"
    shown = await post(
        client, f"/admin/webhook-deliveries/{failed}/redeliver", csrf, next=here
    )
    assert f"Delivery #{failed} is queued to be sent again." in shown
    assert wake.is_set()
    row = await db.fetchrow(
        "SELECT status, next_attempt_at <= now() AS due, "
        "retry_until > now() + interval '23 hours' AS fresh FROM webhook_deliveries "
        "WHERE id = $1",
        failed,
    )
    assert (row["status"], row["due"], row["fresh"]) == ("pending", True, True)

    # Disabled: no button, and a form sent anyway is refused with a message.
    await post(client, f"{PAGE}/{endpoint_id}/active", csrf, action="disable")
    page = await (await client.get(f"{PAGE}/{endpoint_id}")).text()
    assert "Enable the endpoint to send it again" in page
    assert "/redeliver" not in page
    shown = await post(client, f"/admin/webhook-deliveries/{delivered}/redeliver", csrf)
    assert "disabled" in shown
    assert await db.fetchval(
        "SELECT status FROM webhook_deliveries WHERE id = $1", delivered
    ) == "delivered"

    shown = await post(client, "/admin/webhook-deliveries/999/redeliver", csrf)
    assert "No such webhook delivery." in shown


async def test_an_open_redirect_is_not_followed(client, db, csrf):
    await answer(client, PAGE, csrf, form())
    endpoint_id = (await endpoint_row(db))["id"]
    response = await client.post(
        f"{PAGE}/{endpoint_id}/active",
        data={"csrf_token": csrf, "action": "disable", "next": "https://evil.example/"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/admin/"

"""The admin page for API keys: listed with their scopes and last use, made (the key shown
once, in the answer to the form) and revoked with forms, refusing what the API refuses."""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from admin_pages import sign_in
from factories import create_user

KEY = re.compile(r'<code id="new-key">(sk_[A-Za-z0-9]{40})</code>')


@pytest.fixture
async def csrf(client, db) -> str:
    await create_user(db, "boss@example.com", role="admin")
    return await sign_in(client, "boss@example.com")


async def follow(client, response) -> str:
    assert response.status == 303, await response.text()
    page = await client.get(response.headers["Location"])
    assert page.status == 200
    return html.unescape(await page.text())


async def test_a_key_is_made_shown_once_used_and_revoked(client, db, csrf):
    page = await (await client.get("/admin/")).text()
    assert '<a href="/admin/api-keys">API keys</a>' in page
    empty = await client.get("/admin/api-keys")
    assert empty.status == 200 and "No API key yet." in await empty.text()

    made = await client.post(
        "/admin/api-keys",
        data=[("csrf_token", csrf), ("name", "  Warehouse  "), ("scopes", "orders:read"),
              ("scopes", "inventory:write")],
        allow_redirects=False,
    )
    assert made.status == 200
    assert made.headers["Cache-Control"] == "no-store"
    shown = html.unescape(await made.text())
    assert "API key “Warehouse” made." in shown
    key = KEY.search(shown).group(1)
    row = await db.fetchrow("SELECT * FROM api_keys")
    assert row["key_hash"] == hashlib.sha256(key.encode()).digest()
    assert (row["name"], row["scopes"], row["prefix"]) == (
        "Warehouse", ["inventory:write", "orders:read"], key[:12]
    )

    # Shown once: the page after it lists the key by its prefix only.
    listing = html.unescape(await (await client.get("/admin/api-keys")).text())
    assert key[:12] in listing and key[3:] not in listing
    assert "<code>inventory:write</code> <code>orders:read</code>" in listing
    assert "API key “Warehouse” made." not in listing  # the message was shown with the key

    used = await client.get("/api/admin/orders", headers={"Authorization": f"Bearer {key}"})
    assert used.status == 200
    listing = html.unescape(await (await client.get("/admin/api-keys")).text())
    last_used = await db.fetchval("SELECT last_used_at FROM api_keys")
    assert last_used.strftime("%Y-%m-%d %H:%M UTC") in listing

    revoked = await follow(
        client,
        await client.post(
            f"/admin/api-keys/{row['id']}/revoke", data={"csrf_token": csrf},
            allow_redirects=False,
        ),
    )
    assert "API key “Warehouse” revoked" in revoked
    assert "Revoked " in revoked and f"/admin/api-keys/{row['id']}/revoke" not in revoked
    assert await db.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys") is True
    refused = await client.get("/api/admin/orders", headers={"Authorization": f"Bearer {key}"})
    assert refused.status == 401

    again = await follow(
        client,
        await client.post(
            f"/admin/api-keys/{row['id']}/revoke", data={"csrf_token": csrf},
            allow_redirects=False,
        ),
    )
    assert "No such API key." in again


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([("name", "Sync")], "Scopes: Choose 1 to 4."),
        ([("name", "Sync"), ("scopes", "orders:delete")], "Must be one of"),
        ([("name", ""), ("scopes", "orders:read")], "Name: "),
        ([("name", "x" * 101), ("scopes", "orders:read")], "Name: "),
    ],
)
async def test_a_refused_form_says_why_and_makes_nothing(client, db, csrf, data, message):
    response = await client.post(
        "/admin/api-keys", data=[("csrf_token", csrf), *data], allow_redirects=False
    )
    page = await follow(client, response)
    assert message in page, re.findall(r"flash--[^<]*", page)
    assert 'id="new-key"' not in page
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0


async def test_the_forms_need_the_sessions_csrf_token(client, db, csrf):
    response = await client.post(
        "/admin/api-keys", data={"csrf_token": "forged", "name": "Sync", "scopes": "orders:read"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0


async def test_signed_out_the_page_sends_to_the_login(client):
    response = await client.get("/admin/api-keys", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/login")

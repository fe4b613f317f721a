"""Issue 10, authentication hardening (API.md "Hardening"): what a client sees, and what changed
in the database and in Redis.

Refresh-token reuse kills the login's access tokens; an email change needs the password and is
announced to the old address; password checks count as failed logins; rate-limit buckets fold
like the account lookup; TRUSTED_PROXIES; deliverable addresses only; no Redis, no limits (but
login still works).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import logging
import socket
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from factories import PROBLEM, TEST_PASSWORD, create_account, create_user

from shop_api.client_address import client_address
from shop_api.security import tokens
from shop_api.security.email_key import email_key
from shop_api.web.app import create_app


async def _client_with(aiohttp_client, settings, **overrides):
    return await aiohttp_client(create_app(dataclasses.replace(settings, **overrides)))


async def _me(client, access_token: str):
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})


async def _login(client, email: str, password: str = TEST_PASSWORD):
    return await client.post("/api/auth/login", json={"email": email, "password": password})


# -- item 14: refresh-token reuse kills the login's access tokens ------------------------------


async def test_refresh_reuse_kills_every_access_token_of_that_login(client, db, customer):
    rotated = await client.post(
        "/api/auth/refresh", json={"refresh_token": customer.refresh_token}
    )
    assert rotated.status == 200
    second_access = (await rotated.json())["access_token"]
    other_login = await (await _login(client, customer.email)).json()
    assert (await _me(client, customer.access_token)).status == 200
    assert (await _me(client, second_access)).status == 200

    replay = await client.post("/api/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert replay.status == 401

    # Both access tokens of the leaked login die at once, not in 15 minutes...
    for access_token in (customer.access_token, second_access):
        dead = await _me(client, access_token)
        assert dead.status == 401
        assert dead.content_type == PROBLEM
        assert dead.headers["WWW-Authenticate"].startswith("Bearer")
    # ...other endpoints too, not only /me...
    orders = await client.get("/api/orders/", headers=customer.headers)
    assert orders.status == 401
    # ...and another login of the same user is untouched.
    assert (await _me(client, other_login["access_token"])).status == 200
    revoked = await db.fetchval(
        "SELECT count(DISTINCT family_id) FROM refresh_tokens "
        "WHERE user_id = $1 AND revoked_at IS NOT NULL",
        customer.id,
    )
    assert revoked == 1


async def test_access_tokens_from_before_login_families_keep_working(client, db, settings):
    """A Release 1 access token has no family claim: valid until it expires, and still killed
    by a password change (token_version)."""
    user_id = await create_user(db, "release1@example.com")
    old_token = tokens.issue(
        settings, token_type=tokens.ACCESS, user_id=user_id, token_version=0
    ).token
    assert "fam" not in jwt.decode(old_token, options={"verify_signature": False})
    assert (await _me(client, old_token)).status == 200

    changed = await client.post(
        "/api/auth/change-password",
        json={"current_password": TEST_PASSWORD, "new_password": "another-pass-7"},
        headers={"Authorization": f"Bearer {old_token}"},
    )
    assert changed.status == 200
    assert (await _me(client, old_token)).status == 401
    new_access = (await changed.json())["access_token"]
    assert (await _me(client, new_access)).status == 200


@pytest.mark.parametrize("family", [123, "not-a-uuid", None, ["x"]])
async def test_a_malformed_family_claim_is_a_401(client, db, settings, family):
    user_id = await create_user(db, "forged@example.com")
    now = datetime.now(UTC)
    claims = {
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": str(user_id),
        "iat": now, "exp": now + timedelta(minutes=5), "type": "access", "ver": 0,
        "jti": "6f1c2b1e-0d6f-4c55-9b8f-1b2a3c4d5e6f", "fam": family,
    }
    token = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    response = await _me(client, token)
    assert response.status == 401
    assert response.content_type == PROBLEM


# -- item 15: an email change needs the password and tells the old address ----------------------


async def test_an_email_change_needs_the_current_password(client, db, customer):
    for body, why in [
        ({"email": "new@example.com"}, "Required to change the email."),
        ({"email": "new@example.com", "current_password": "not-the-password-1"},
         "The current password is wrong."),
    ]:
        refused = await client.put("/api/auth/me", json=body, headers=customer.headers)
        assert refused.status == 422, await refused.text()
        assert refused.content_type == PROBLEM
        assert (await refused.json())["errors"] == {"current_password": [why]}
    assert await db.fetchval("SELECT email FROM users WHERE id = $1", customer.id) == customer.email
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0

    # A name alone needs no password, and announces nothing.
    renamed = await client.put("/api/auth/me", json={"full_name": "Ren"}, headers=customer.headers)
    assert renamed.status == 200
    assert await db.fetchval("SELECT count(*) FROM outbox") == 0

    changed = await client.put(
        "/api/auth/me",
        json={"email": "new@example.com", "current_password": customer.password},
        headers=customer.headers,
    )
    assert changed.status == 200, await changed.text()
    body = await changed.json()
    assert body["email"] == "new@example.com"
    assert "current_password" not in body
    assert await db.fetchval("SELECT email FROM users WHERE id = $1", customer.id) == (
        "new@example.com"
    )
    # The notice of the change is queued, in the same transaction, for the old address.
    rows = await db.fetch("SELECT topic, payload FROM outbox")
    assert [(row["topic"], json.loads(row["payload"])) for row in rows] == [
        ("email.changed", {"user_id": customer.id, "old_email": customer.email})
    ]
    assert (await _login(client, "new@example.com")).status == 200
    assert (await _login(client, customer.email)).status == 401


async def test_change_password_failures_count_as_failed_logins(aiohttp_client, settings, db):
    client = await _client_with(aiohttp_client, settings, rate_limit_login=3)
    account = await create_account(db, "guessed@example.com", client=client)  # one login: 1 of 3
    wrong = {"current_password": "a-guess-123", "new_password": "brand-new-9"}
    statuses = [
        (await client.post("/api/auth/change-password", json=wrong, headers=account.headers)).status
        for _ in range(2)
    ]
    assert statuses == [422, 422]
    # The bucket is the login's: the right password is no longer even tried...
    right = {"current_password": TEST_PASSWORD, "new_password": "brand-new-9"}
    limited = await client.post("/api/auth/change-password", json=right, headers=account.headers)
    assert limited.status == 429
    assert limited.content_type == PROBLEM
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # ...logging in with that email is limited as well, and an email change too.
    assert (await _login(client, " GUESSED@example.com")).status == 429
    email_change = await client.put(
        "/api/auth/me",
        json={"email": "elsewhere@example.com", "current_password": TEST_PASSWORD},
        headers=account.headers,
    )
    assert email_change.status == 429
    assert await db.fetchval("SELECT email FROM users WHERE id = $1", account.id) == (
        "guessed@example.com"
    )


async def test_a_right_password_costs_no_attempt(aiohttp_client, settings, db):
    client = await _client_with(aiohttp_client, settings, rate_limit_login=3)
    account = await create_account(db, "careful@example.com", client=client)  # 1 of 3
    for new_password in ("second-pass-2", "third-pass-3", "fourth-pass-4"):
        changed = await client.post(
            "/api/auth/change-password",
            json={"current_password": account.password, "new_password": new_password},
            headers=account.headers,
        )
        assert changed.status == 200
        account = dataclasses.replace(
            account, password=new_password, access_token=(await changed.json())["access_token"]
        )
    assert (await _login(client, "careful@example.com", "fourth-pass-4")).status == 200  # 2 of 3


async def test_concurrent_password_guesses_cannot_pass_the_limit(aiohttp_client, settings, db):
    client = await _client_with(aiohttp_client, settings, rate_limit_login=3)
    account = await create_account(db, "raced@example.com", client=client)  # 1 of 3
    guesses = [
        client.put(
            "/api/auth/me",
            json={"email": "thief@example.com", "current_password": f"guess-{number}-x"},
            headers=account.headers,
        )
        for number in range(8)
    ]
    statuses = sorted(response.status for response in await asyncio.gather(*guesses))
    assert statuses == [422, 422] + [429] * 6


# -- item 16: one bucket per account; the client address behind trusted proxies ---------------


def test_email_key_folds_like_postgresql_lower():
    assert email_key(" İlker@Example.COM ") == "ilker@example.com"
    assert "İ".lower() != "i"  # why str.lower() alone is not the rule
    assert email_key("ΣΑΣ@example.com") == "σασ@example.com"  # no final-sigma rule


async def test_email_key_matches_the_databases_lower(db):
    samples = ["İ", "I", "Σ", "ΑΣ", "Ǆ", "ẞ", "K", "Ω", "Å", "Ⅻ", "Ａ", "ÉCOLE", "ǅ"]
    folded = await db.fetch("SELECT s, lower(s) AS folded FROM unnest($1::text[]) AS s", samples)
    assert {row["s"]: email_key(row["s"]) for row in folded} == {
        row["s"]: row["folded"] for row in folded
    }


async def test_dotted_capital_i_lands_in_the_bucket_of_its_account(aiohttp_client, settings, db):
    client = await _client_with(aiohttp_client, settings, rate_limit_login=3)
    await create_user(db, "ilker@example.com")
    # The account lookup folds İ to i: this logs in to that account (as it always did)...
    assert (await _login(client, "İLKER@example.com")).status == 200
    for _ in range(2):
        assert (await _login(client, "ilker@example.com", "guess-1234")).status == 401
    # ...so it counts in that account's bucket, and cannot be used to get around its limit.
    assert (await _login(client, "İlker@example.com")).status == 429
    assert (await _login(client, "ilker@example.com")).status == 429


async def test_forwarded_for_is_ignored_unless_the_peer_is_trusted(aiohttp_client, settings, db):
    client = await _client_with(aiohttp_client, settings, rate_limit_address=2)
    statuses = []
    for number in range(3):
        response = await client.post(
            "/api/auth/login",
            json={"email": f"nobody{number}@example.com", "password": "guess-1234"},
            headers={"X-Forwarded-For": f"203.0.113.{number}"},
        )
        statuses.append(response.status)
    assert statuses == [401, 401, 429]


async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(
    aiohttp_client, settings, db
):
    client = await _client_with(
        aiohttp_client,
        settings,
        rate_limit_address=2,
        trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8")),
    )

    async def attempt(forwarded_for: str) -> int:
        response = await client.post(
            "/api/auth/login",
            json={"email": "nobody@example.com", "password": "guess-1234"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        return response.status

    # The client's own entries (left of the first untrusted one) are ignored: a client cannot
    # name itself a new address.
    assert await attempt("203.0.113.7") == 401
    assert await attempt("1.1.1.1, 203.0.113.7, 10.0.0.2") == 401
    assert await attempt("9.9.9.9,203.0.113.7") == 429
    # Another client behind the same proxy is counted on its own.
    assert await attempt("198.51.100.4") == 401
    # Garbage is not an address: it is never a 500 (the proxy's own bucket counts instead).
    for garbage in ("not-an-ip", ", ,", "[::1", "999.1.1.1", "\u00e9", "1.2.3.4:x:y"):
        assert await attempt(garbage) in (401, 429)


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.1", ["198.51.100.1"], "203.0.113.1"),  # an untrusted peer: XFF ignored
        ("10.0.0.1", [], "10.0.0.1"),  # a trusted peer that forwarded nothing
        ("10.0.0.1", ["198.51.100.1, 10.0.0.9"], "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # spoofed entry ignored
        ("10.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # two header lines
        ("10.0.0.1", ["198.51.100.1:4711"], "198.51.100.1"),
        ("10.0.0.1", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("10.0.0.1", ["2001:db8::5"], "2001:db8::5"),
        ("10.0.0.1", ["10.0.0.7, 10.0.0.8"], "10.0.0.7"),  # all trusted: the furthest one
        ("10.0.0.1", ["198.51.100.1, garbage, 10.0.0.8"], "10.0.0.8"),
        ("::ffff:10.0.0.1", ["198.51.100.1"], "198.51.100.1"),  # IPv4 on a dual-stack socket
    ],
)
def test_client_address_rule(peer, headers, expected):
    raw = [("X-Forwarded-For", value) for value in headers]
    request = make_mocked_request("POST", "/api/auth/login", headers=raw).clone(remote=peer)
    assert client_address(request, (ipaddress.ip_network("10.0.0.0/8"),)) == expected


# -- item 17: only deliverable addresses -------------------------------------------------------


POISONED = [
    '"a\r\nb"@example.com',
    '"a\x01b"@example.com',
    '"a\\\x0bb"@example.com',
    '"a\x7fb"@example.com',
    "a\t@example.com",
]
INTERNATIONAL = ["jürgen@example.com", "anna@bücher.de", "用户@例子.中国"]


@pytest.mark.parametrize("address", POISONED + INTERNATIONAL)
async def test_undeliverable_addresses_are_refused(client, db, customer, address):
    registered = await client.post(
        "/api/auth/register", json={"email": address, "password": "s3cret-pass"}
    )
    assert registered.status == 422, await registered.text()
    assert registered.content_type == PROBLEM
    assert list((await registered.json())["errors"]) == ["email"]
    changed = await client.put(
        "/api/auth/me",
        json={"email": address, "current_password": customer.password},
        headers=customer.headers,
    )
    assert changed.status == 422
    assert list((await changed.json())["errors"]) == ["email"]
    assert await db.fetchval("SELECT array_agg(email) FROM users") == [customer.email]


async def test_plain_and_quoted_ascii_addresses_are_still_accepted(client):
    for address in ("o'brien+shop@example.com", '"john.doe"@example.com', "x@xn--bcher-kva.de"):
        response = await client.post(
            "/api/auth/register", json={"email": address, "password": "s3cret-pass"}
        )
        assert response.status == 201, (address, await response.text())


async def test_the_openapi_document_says_emails_are_ascii(client):
    document = await (await client.get("/api/openapi.json")).json()
    email = document["components"]["schemas"]["RegisterIn"]["properties"]["email"]
    assert email["pattern"] == r"^[\x21-\x7e]+$"


# -- item 9: no Redis, no rate limits, but login and register still answer --------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens


async def test_login_and_register_fail_open_without_redis(aiohttp_client, settings, db, caplog):
    client = await _client_with(
        aiohttp_client,
        settings,
        redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
        rate_limit_login=1,
        rate_limit_address=1,
    )
    with caplog.at_level(logging.WARNING, logger="shop_api.web.ratelimit"):
        registered = await client.post(
            "/api/auth/register", json={"email": "open@example.com", "password": "s3cret-pass"}
        )
        assert registered.status == 201, await registered.text()
        for _ in range(2):  # past both limits: nothing counts while Redis is away
            logged_in = await _login(client, "open@example.com", "s3cret-pass")
            assert logged_in.status == 200, await logged_in.text()
        access = (await logged_in.json())["access_token"]
        changed = await client.post(
            "/api/auth/change-password",
            json={"current_password": "s3cret-pass", "new_password": "s3cret-pass-2"},
            headers={"Authorization": f"Bearer {access}"},
        )
        assert changed.status == 200, await changed.text()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings
    assert all("Redis is unavailable" in record.getMessage() for record in warnings)

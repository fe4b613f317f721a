"""Every route of /api/auth, as a client sees it, and what it changes in the database."""

from __future__ import annotations

import asyncio

from factories import PROBLEM, TEST_PASSWORD, assert_problem, create_account


async def register(client, email="new@example.com", password="s3cret-pass", **extra):
    return await client.post(
        "/api/auth/register", json={"email": email, "password": password, **extra}
    )


async def test_register_creates_a_customer(client, db):
    response = await register(client, full_name="Ada Lovelace")
    assert response.status == 201
    body = await response.json()
    assert body["email"] == "new@example.com"
    assert body["full_name"] == "Ada Lovelace"
    assert body["role"] == "customer"
    assert body["is_active"] is True
    assert body["created_at"].endswith("+00:00")
    assert "password" not in body and "password_hash" not in body
    stored = await db.fetchrow("SELECT role, password_hash FROM users WHERE id = $1", body["id"])
    assert stored["role"] == "customer"
    assert stored["password_hash"].startswith("$2")  # bcrypt, never the password itself


async def test_register_email_is_case_insensitive_and_unique(client, db):
    assert (await register(client, "Mixed@Example.com")).status == 201
    response = await register(client, "mixed@EXAMPLE.com")
    body = await assert_problem(response, 409, "email_taken")
    assert body["status"] == 409
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_concurrent_registrations_of_one_email_make_one_user(client, db):
    responses = await asyncio.gather(*(register(client, "race@example.com") for _ in range(6)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [201, 409, 409, 409, 409, 409]
    assert await db.fetchval("SELECT count(*) FROM users") == 1


async def test_register_refuses_weak_passwords(client, db):
    for password in ["short1", "no-digits-here", "1234567890", "é" * 36 + "1"]:
        response = await register(client, password=password)
        assert response.status == 422, password
        body = await response.json()
        assert body["code"] == "validation_error"
        assert "password" in body["errors"]
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_register_cannot_mass_assign_role(client, db):
    response = await register(client, role="admin", is_active=True)
    assert response.status == 422
    body = await response.json()
    assert set(body["errors"]) == {"role", "is_active"}
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_register_validates_email_and_types(client):
    response = await client.post(
        "/api/auth/register", json={"email": "not-an-email", "password": 12345678}
    )
    assert response.status == 422
    errors = (await response.json())["errors"]
    assert "email" in errors and "password" in errors


async def test_body_must_be_a_json_object(client):
    for raw in [b"{not json", b"[1, 2]", b"", b'"text"']:
        response = await client.post(
            "/api/auth/register", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, raw
        assert response.content_type == PROBLEM
        assert (await response.json())["code"] == "invalid_json"


async def test_login_returns_a_token_pair_and_the_user(client, customer):
    response = await client.post(
        "/api/auth/login", json={"email": "CUSTOMER@example.com", "password": TEST_PASSWORD}
    )
    assert response.status == 200
    body = await response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["user"]["id"] == customer.id
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status == 200
    assert (await me.json())["email"] == "customer@example.com"


async def test_wrong_password_and_unknown_email_answer_the_same(client, customer):
    wrong = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": "wrong-pass-1"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "wrong-pass-1"}
    )
    too_long = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": "x" * 500}
    )
    bodies = [await r.json() for r in (wrong, unknown, too_long)]
    assert [r.status for r in (wrong, unknown, too_long)] == [401, 401, 401]
    assert all(b["code"] == "invalid_credentials" for b in bodies)
    assert bodies[0]["detail"] == bodies[1]["detail"]


async def test_wrong_credentials_401_names_the_bearer_scheme(client, customer):
    # RFC 9110: every 401 carries WWW-Authenticate, not only the `unauthorized` ones.
    wrong = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": "wrong-pass-1"}
    )
    assert wrong.status == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


async def test_deactivated_account_cannot_log_in_and_its_tokens_die(client, db, customer):
    await db.execute(
        "UPDATE users SET is_active = false, token_version = token_version + 1 WHERE id = $1",
        customer.id,
    )
    me = await client.get("/api/auth/me", headers=customer.headers)
    assert me.status == 401
    login = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": TEST_PASSWORD}
    )
    await assert_problem(login, 403, "account_disabled")
    refresh = await client.post(
        "/api/auth/refresh", json={"refresh_token": customer.refresh_token}
    )
    assert refresh.status == 401


async def test_inactive_flag_alone_stops_tokens(client, db, customer):
    await db.execute("UPDATE users SET is_active = false WHERE id = $1", customer.id)
    assert (await client.get("/api/auth/me", headers=customer.headers)).status == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(client, customer):
    first = await client.post("/api/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert first.status == 200
    pair = await first.json()
    assert pair["refresh_token"] != customer.refresh_token
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}

    # The new refresh token works once, presented as a bearer header this time.
    second = await client.post(
        "/api/auth/refresh", headers={"Authorization": f"Bearer {pair['refresh_token']}"}
    )
    assert second.status == 200
    latest = await second.json()

    # Someone replays the first, already used token: that login is revoked entirely.
    replay = await client.post("/api/auth/refresh", json={"refresh_token": customer.refresh_token})
    assert replay.status == 401
    assert replay.headers["WWW-Authenticate"].startswith("Bearer")
    after = await client.post("/api/auth/refresh", json={"refresh_token": latest["refresh_token"]})
    assert after.status == 401


async def test_concurrent_use_of_one_refresh_token_succeeds_once(client, customer):
    responses = await asyncio.gather(
        *(
            client.post("/api/auth/refresh", json={"refresh_token": customer.refresh_token})
            for _ in range(5)
        )
    )
    assert sorted(r.status for r in responses) == [200, 401, 401, 401, 401]


async def test_refresh_family_revocation_spares_other_logins(client, customer):
    other = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": TEST_PASSWORD}
    )
    other_refresh = (await other.json())["refresh_token"]
    await client.post("/api/auth/refresh", json={"refresh_token": customer.refresh_token})
    await client.post("/api/auth/refresh", json={"refresh_token": customer.refresh_token})
    still = await client.post("/api/auth/refresh", json={"refresh_token": other_refresh})
    assert still.status == 200


async def test_refresh_needs_a_token(client):
    response = await client.post("/api/auth/refresh")
    await assert_problem(response, 401, "unauthorized")


async def test_update_profile(client, db, customer):
    response = await client.put(
        "/api/auth/me", json={"full_name": "New Name"}, headers=customer.headers
    )
    assert response.status == 200
    body = await response.json()
    assert body["full_name"] == "New Name"
    assert body["email"] == customer.email
    assert await db.fetchval("SELECT full_name FROM users WHERE id = $1", customer.id) == "New Name"


async def test_update_profile_email_taken_and_no_mass_assignment(client, db, customer):
    await create_account(db, "taken@example.com", client=client)
    taken = await client.put(
        "/api/auth/me",
        json={"email": "TAKEN@example.com", "current_password": customer.password},
        headers=customer.headers,
    )
    await assert_problem(taken, 409, "email_taken")
    escalate = await client.put("/api/auth/me", json={"role": "admin"}, headers=customer.headers)
    assert escalate.status == 422
    assert await db.fetchval("SELECT role FROM users WHERE id = $1", customer.id) == "customer"


async def test_change_password_kills_every_earlier_token(client, db, customer):
    wrong = await client.post(
        "/api/auth/change-password",
        json={"current_password": "not-it-123", "new_password": "brand-new-9"},
        headers=customer.headers,
    )
    assert wrong.status == 422
    assert "current_password" in (await wrong.json())["errors"]

    response = await client.post(
        "/api/auth/change-password",
        json={"current_password": TEST_PASSWORD, "new_password": "brand-new-9"},
        headers=customer.headers,
    )
    assert response.status == 200
    pair = await response.json()

    assert (await client.get("/api/auth/me", headers=customer.headers)).status == 401
    old_refresh = await client.post(
        "/api/auth/refresh", json={"refresh_token": customer.refresh_token}
    )
    assert old_refresh.status == 401
    new_me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert new_me.status == 200
    old_login = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": TEST_PASSWORD}
    )
    assert old_login.status == 401
    new_login = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": "brand-new-9"}
    )
    assert new_login.status == 200


async def test_me_requires_a_bearer_token(client):
    for headers in [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}]:
        response = await client.get("/api/auth/me", headers=headers)
        assert response.status == 401
        assert response.content_type == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def _client_with(aiohttp_client, settings, **overrides):
    import dataclasses

    from shop_api.web.app import create_app

    return await aiohttp_client(create_app(dataclasses.replace(settings, **overrides)))


async def test_login_is_rate_limited_per_email(aiohttp_client, settings, db):
    client = await _client_with(aiohttp_client, settings, rate_limit_login=3)
    attempt = {"email": "victim@example.com", "password": "guess-1234"}
    statuses = [(await client.post("/api/auth/login", json=attempt)).status for _ in range(3)]
    assert statuses == [401, 401, 401]
    limited = await client.post("/api/auth/login", json=attempt)
    await assert_problem(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Case and spacing do not make a new bucket.
    again = await client.post(
        "/api/auth/login", json={**attempt, "email": " VICTIM@example.com"}
    )
    assert again.status == 429
    # Another email from the same address is still served.
    other = await client.post(
        "/api/auth/login", json={"email": "other@example.com", "password": "guess-1234"}
    )
    assert other.status == 401


async def test_login_and_register_share_a_limit_per_address(aiohttp_client, settings, db):
    client = await _client_with(aiohttp_client, settings, rate_limit_address=4)
    for index in range(2):
        assert (await register(client, f"user{index}@example.com")).status == 201
    for index in range(2):
        response = await client.post(
            "/api/auth/login", json={"email": f"user{index}@example.com", "password": "nope-1234"}
        )
        assert response.status == 401
    limited = await register(client, "user9@example.com")
    assert limited.status == 429
    assert "Retry-After" in limited.headers
    assert await db.fetchval("SELECT count(*) FROM users") == 2

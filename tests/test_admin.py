"""The admin API: who may call it, and the users it manages."""

from __future__ import annotations

import re

import pytest
from factories import assert_problem, create_account

# Every admin route, with a body it would accept: only the caller is wrong in these tests.
ADMIN_ROUTES = [
    ("GET", "/api/admin/dashboard", None),
    ("GET", "/api/admin/users", None),
    ("GET", "/api/admin/users/", None),
    ("PUT", "/api/admin/users/1/toggle-status", None),
    ("GET", "/api/admin/orders", None),
    ("GET", "/api/admin/orders/", None),
    ("PUT", "/api/admin/orders/1/status", {"status": "paid"}),
    ("GET", "/api/admin/inventory", None),
    ("GET", "/api/admin/inventory/", None),
    ("PUT", "/api/admin/inventory/1", {"stock_quantity": 5}),
    ("PUT", "/api/admin/inventory/variants/1", {"stock_quantity": 5}),
]


def test_the_list_covers_every_admin_route():
    from shop_api.web.routes.admin import routes

    declared = {(route.method, re.sub(r"\{\w+:[^}]+\}", "1", route.path)) for route in routes}
    assert declared == {(method, path) for method, path, _ in ADMIN_ROUTES}


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_anonymous_callers_get_401(client, db, method, path, body):
    response = await client.request(method, path, json=body)
    await assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_customers_get_403(client, db, customer, method, path, body):
    before = await db.fetchval("SELECT count(*) FROM users WHERE is_active")
    response = await client.request(method, path, json=body, headers=customer.headers)
    await assert_problem(response, 403, "forbidden")
    assert await db.fetchval("SELECT count(*) FROM users WHERE is_active") == before


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_a_garbage_token_gets_401(client, method, path, body):
    response = await client.request(
        method, path, json=body, headers={"Authorization": "Bearer not.a.token"}
    )
    assert response.status == 401


# -- users ----------------------------------------------------------------------------------


async def make_users(db) -> dict[str, int]:
    """Users written straight to the database, oldest first (created a minute apart)."""
    people = [
        ("alice@example.com", "Alice Liddell", "customer", True),
        ("BOB@Example.com", "Bob Stone", "customer", True),
        ("carol@shop.test", "Carol 100% Real", "customer", False),
        ("dave_x@shop.test", "Dave", "admin", True),
    ]
    ids = {}
    for minutes, (email, name, role, active) in enumerate(people):
        ids[email] = await db.fetchval(
            "INSERT INTO users (email, password_hash, full_name, role, is_active, created_at) "
            "VALUES ($1, 'x', $2, $3, $4, now() - make_interval(mins => $5)) RETURNING id",
            email, name, role, active, 100 - minutes,
        )
    return ids


async def emails(client, admin, query: str = "") -> list[str]:
    response = await client.get(f"/api/admin/users{query}", headers=admin.headers)
    assert response.status == 200, await response.text()
    return [user["email"] for user in (await response.json())["items"]]


async def test_users_are_listed_newest_first_in_pages(client, db, admin):
    await make_users(db)
    response = await client.get("/api/admin/users/?per_page=2", headers=admin.headers)
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["total"] == 5 and body["pages"] == 3 and body["page"] == 1
    assert body["per_page"] == 2
    first = body["items"][0]
    assert first == {
        "id": admin.id,
        "email": "admin@example.com",
        "full_name": "Admin",
        "role": "admin",
        "is_active": True,
        "created_at": first["created_at"],
    }
    assert first["created_at"].endswith("+00:00")
    assert await emails(client, admin, "?page=2&per_page=2") == [
        "carol@shop.test", "BOB@Example.com"
    ]
    assert await emails(client, admin, "?page=9") == []


async def test_users_search_email_or_name_without_case(client, db, admin):
    await make_users(db)
    assert await emails(client, admin, "?search=bob@EXAMPLE") == ["BOB@Example.com"]
    assert await emails(client, admin, "?search=liddell") == ["alice@example.com"]
    assert await emails(client, admin, "?search=shop.test") == [
        "dave_x@shop.test", "carol@shop.test"
    ]
    # LIKE's wildcards are plain characters in a search.
    assert await emails(client, admin, "?search=100%25") == ["carol@shop.test"]
    assert await emails(client, admin, "?search=e_x") == ["dave_x@shop.test"]
    assert await emails(client, admin, "?search=%25") == ["carol@shop.test"]
    assert await emails(client, admin, "?search=nobody") == []
    assert len(await emails(client, admin, "?search=")) == 5


async def test_users_filter_by_role_and_activity(client, db, admin):
    await make_users(db)
    assert await emails(client, admin, "?role=admin") == ["admin@example.com", "dave_x@shop.test"]
    assert await emails(client, admin, "?is_active=false") == ["carol@shop.test"]
    assert await emails(client, admin, "?role=customer&is_active=true") == [
        "BOB@Example.com", "alice@example.com"
    ]
    assert await emails(client, admin, "?role=customer&search=example") == [
        "BOB@Example.com", "alice@example.com"
    ]
    response = await client.get("/api/admin/users?role=admin", headers=admin.headers)
    assert (await response.json())["total"] == 2


@pytest.mark.parametrize(
    "query",
    ["?role=owner", "?is_active=yes", "?per_page=0", "?per_page=101", "?page=0",
     "?search=" + "x" * 201],
)
async def test_users_refuse_bad_filters(client, admin, query):
    response = await client.get(f"/api/admin/users{query}", headers=admin.headers)
    await assert_problem(response, 422, "validation_error")


async def test_deactivation_ends_every_token_and_login_until_reactivated(client, db, admin):
    victim = await create_account(db, "victim@example.com", client=client)
    second_login = await client.post(
        "/api/auth/login", json={"email": victim.email, "password": victim.password}
    )
    second_refresh = (await second_login.json())["refresh_token"]
    assert (await client.get("/api/auth/me", headers=victim.headers)).status == 200
    version = await db.fetchval("SELECT token_version FROM users WHERE id = $1", victim.id)

    response = await client.put(
        f"/api/admin/users/{victim.id}/toggle-status", headers=admin.headers
    )
    assert response.status == 200
    body = await response.json()
    assert body["id"] == victim.id and body["email"] == victim.email
    assert body["is_active"] is False
    assert set(body) == {"id", "email", "full_name", "role", "is_active", "created_at"}
    assert await db.fetchval(
        "SELECT token_version FROM users WHERE id = $1", victim.id
    ) == version + 1

    # Every live token is dead at once: access, and both logins' refresh tokens.
    me = await client.get("/api/auth/me", headers=victim.headers)
    await assert_problem(me, 401, "unauthorized")
    for refresh_token in (victim.refresh_token, second_refresh):
        refreshed = await client.post("/api/auth/refresh", json={"refresh_token": refresh_token})
        assert refreshed.status == 401
    assert await db.fetchval(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL", victim.id
    ) == 0
    login = await client.post(
        "/api/auth/login", json={"email": victim.email, "password": victim.password}
    )
    await assert_problem(login, 403, "account_disabled")

    response = await client.put(
        f"/api/admin/users/{victim.id}/toggle-status", headers=admin.headers
    )
    assert response.status == 200
    assert (await response.json())["is_active"] is True
    # Reactivation does not bring the old tokens back; a new login works.
    assert (await client.get("/api/auth/me", headers=victim.headers)).status == 401
    login = await client.post(
        "/api/auth/login", json={"email": victim.email, "password": victim.password}
    )
    assert login.status == 200
    fresh = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    assert (await client.get("/api/auth/me", headers=fresh)).status == 200


async def test_a_deactivated_admin_loses_admin_access(client, db, admin):
    other = await create_account(db, "other-admin@example.com", role="admin", client=client)
    response = await client.put(f"/api/admin/users/{other.id}/toggle-status", headers=admin.headers)
    assert response.status == 200
    assert (await client.get("/api/admin/dashboard", headers=other.headers)).status == 401
    assert (await client.get("/api/admin/dashboard", headers=admin.headers)).status == 200


async def test_an_admin_cannot_deactivate_themself(client, db, admin):
    response = await client.put(f"/api/admin/users/{admin.id}/toggle-status", headers=admin.headers)
    await assert_problem(response, 409, "cannot_deactivate_self")
    assert await db.fetchval("SELECT is_active FROM users WHERE id = $1", admin.id) is True
    assert await db.fetchval("SELECT token_version FROM users WHERE id = $1", admin.id) == 0
    assert (await client.get("/api/admin/dashboard", headers=admin.headers)).status == 200


async def test_toggling_an_unknown_user_is_a_404(client, admin):
    response = await client.put("/api/admin/users/424242/toggle-status", headers=admin.headers)
    await assert_problem(response, 404, "not_found")
    response = await client.put(
        "/api/admin/users/99999999999999999999/toggle-status", headers=admin.headers
    )
    assert response.status == 404


async def test_setting_the_same_state_twice_at_once_changes_it_once(client, db, admin):
    import asyncio

    from shop_api.domain.admin import set_user_active
    from shop_api.web.keys import db_pool_key

    target = await create_account(db, "twice@example.com", client=client)
    pool = client.server.app[db_pool_key]
    results = await asyncio.gather(*(
        set_user_active(pool, user_id=target.id, admin_id=admin.id, active=False)
        for _ in range(5)
    ))
    assert sorted(changed for _, changed in results) == [False, False, False, False, True]
    assert all(user["is_active"] is False for user, _ in results)
    # One change, one token_version bump.
    assert await db.fetchval("SELECT token_version FROM users WHERE id = $1", target.id) == 1

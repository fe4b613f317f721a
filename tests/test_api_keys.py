"""API keys: made, listed and revoked by an admin; a key opens exactly the admin routes of its
scopes, is never a user, and stops working on the request after its revocation."""

from __future__ import annotations

import asyncio
import hashlib
import re

import pytest
from factories import assert_problem, create_order, create_product, stock_of, variant_of

from shop_api.domain.api_keys import SCOPES
from shop_api.web.app import create_app
from shop_api.web.endpoint import ADMIN, USER, endpoint

KEY_PATTERN = re.compile(r"sk_[A-Za-z0-9]{40}")


async def make_key(client, admin, *scopes: str, name: str = "Warehouse sync") -> dict:
    response = await client.post(
        "/api/admin/api-keys", json={"name": name, "scopes": list(scopes)}, headers=admin.headers
    )
    assert response.status == 201, await response.text()
    return await response.json()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def listed(client, admin) -> list[dict]:
    response = await client.get("/api/admin/api-keys", headers=admin.headers)
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


# -- create, list, revoke ----------------------------------------------------------------------


async def test_the_key_is_answered_once_and_only_its_hash_is_kept(client, db, admin):
    body = await make_key(client, admin, "orders:write", "inventory:write", "orders:write")
    assert list(body) == ["id", "name", "prefix", "scopes", "key", "created_at"]
    key = body["key"]
    assert KEY_PATTERN.fullmatch(key), key
    assert body["prefix"] == key[:12]
    assert body["name"] == "Warehouse sync"
    assert body["scopes"] == ["inventory:write", "orders:write"]  # each once, in SCOPES order

    row = await db.fetchrow("SELECT * FROM api_keys")
    assert row["key_hash"] == hashlib.sha256(key.encode()).digest()
    assert row["created_by"] == admin.id
    assert (row["last_used_at"], row["revoked_at"]) == (None, None)
    # The key is in no column, in any spelling the database could show it.
    as_text = await db.fetchval("SELECT api_keys::text FROM api_keys")
    assert key not in as_text and key[3:] not in as_text
    assert all(key[3:] not in str(value) for value in row.values())

    items = await listed(client, admin)
    assert items == [
        {"id": body["id"], "name": "Warehouse sync", "prefix": key[:12],
         "scopes": ["inventory:write", "orders:write"], "created_at": body["created_at"],
         "last_used_at": None}
    ]
    assert key[3:] not in str(items)
    also = await client.get("/api/admin/api-keys/", headers=admin.headers)
    assert (await also.json())["items"] == items


async def test_keys_differ_and_are_listed_newest_first(client, admin):
    first = await make_key(client, admin, "orders:read", name="One")
    second = await make_key(client, admin, "orders:read", name="Two")
    assert first["key"] != second["key"] and first["prefix"] != second["prefix"]
    assert [item["id"] for item in await listed(client, admin)] == [second["id"], first["id"]]


async def test_a_revoked_key_is_refused_on_its_very_next_request(client, db, admin):
    body = await make_key(client, admin, "orders:read")
    kept = await make_key(client, admin, "orders:read", name="Other")
    assert (await client.get("/api/admin/orders", headers=bearer(body["key"]))).status == 200

    response = await client.delete(f"/api/admin/api-keys/{body['id']}", headers=admin.headers)
    assert response.status == 204

    refused = await client.get("/api/admin/orders", headers=bearer(body["key"]))
    await assert_problem(refused, 401, "unauthorized")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/api/admin/orders", headers=bearer(kept["key"]))).status == 200
    # Left out of the list, kept in the table for the audit.
    assert [item["id"] for item in await listed(client, admin)] == [kept["id"]]
    row = await db.fetchrow("SELECT name, revoked_at FROM api_keys WHERE id = $1", body["id"])
    assert row["name"] == "Warehouse sync" and row["revoked_at"] is not None

    again = await client.delete(f"/api/admin/api-keys/{body['id']}", headers=admin.headers)
    await assert_problem(again, 404, "not_found")
    await assert_problem(
        await client.delete("/api/admin/api-keys/999999", headers=admin.headers), 404, "not_found"
    )


@pytest.mark.parametrize(
    "token",
    ["sk_" + "A" * 40, "sk_", "sk_short", "sk_" + "é" * 40],
)
async def test_an_unknown_key_is_a_401(client, admin, token):
    await make_key(client, admin, *SCOPES)
    headers = {"Authorization": "Bearer " + token}
    response = await client.get("/api/admin/orders", headers=headers)
    await assert_problem(response, 401, "unauthorized")


# -- what a key opens --------------------------------------------------------------------------


async def test_an_inventory_key_changes_stock_and_opens_nothing_else(client, db, admin, customer):
    key = bearer((await make_key(client, admin, "inventory:write"))["key"])
    product = await create_product(db, stock=10)

    response = await client.put(
        f"/api/admin/inventory/{product}", json={"adjustment": 5, "reason": "restock"},
        headers=key,
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["stock_quantity"] == 15
    assert await stock_of(db, product) == 15
    variant = await variant_of(db, product)
    response = await client.put(
        f"/api/admin/inventory/variants/{variant}", json={"stock_quantity": 3}, headers=key
    )
    assert response.status == 200, await response.text()
    assert await stock_of(db, product) == 3
    listing = await client.get("/api/admin/inventory", headers=key)
    assert listing.status == 200
    # The ledger's actor is a user; a key is none, so it records no one.
    ledger = await db.fetch("SELECT delta, reason, actor_id FROM inventory_ledger ORDER BY id")
    assert [tuple(row) for row in ledger] == [(5, "restock", None), (-12, "Stock count.", None)]

    for method, path, body in [
        ("GET", "/api/admin/orders", None),
        ("PUT", f"/api/products/{product}", {"name": "Renamed"}),
        ("POST", "/api/products/categories", {"name": "Mugs"}),
        ("GET", "/api/admin/dashboard", None),
        ("GET", "/api/admin/users", None),
        ("GET", "/api/admin/promotions", None),
        ("GET", "/api/admin/api-keys", None),
        ("POST", "/api/admin/api-keys", {"name": "More", "scopes": ["catalog:write"]}),
        ("GET", "/api/cart", None),
        ("GET", "/api/auth/me", None),
        ("GET", "/api/orders", None),
    ]:
        response = await client.request(method, path, json=body, headers=key)
        await assert_problem(response, 403, "forbidden")
    assert await db.fetchval("SELECT name FROM products WHERE id = $1", product) != "Renamed"
    assert await db.fetchval("SELECT count(*) FROM categories") == 0
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 1
    # Nor the admin pages, which know only their session cookie.
    page = await client.get("/admin/", headers=key, allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/admin/login")


async def test_orders_read_lists_orders_and_orders_write_moves_them(client, db, admin, customer):
    product = await create_product(db)
    order = await create_order(db, customer.id, [(product, 1)], status="paid")
    reader = bearer((await make_key(client, admin, "orders:read"))["key"])
    writer = bearer((await make_key(client, admin, "orders:write"))["key"])

    response = await client.get("/api/admin/orders", headers=reader)
    assert response.status == 200
    assert [item["id"] for item in (await response.json())["items"]] == [order]
    move = {"status": "processing", "reason": "picked"}
    refused = await client.put(f"/api/admin/orders/{order}/status", json=move, headers=reader)
    await assert_problem(refused, 403, "forbidden")
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order) == "paid"

    await assert_problem(await client.get("/api/admin/orders", headers=writer), 403, "forbidden")
    response = await client.put(f"/api/admin/orders/{order}/status", json=move, headers=writer)
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "processing"
    history = await db.fetchrow(
        "SELECT to_status, changed_by, reason FROM order_status_history "
        "WHERE order_id = $1 ORDER BY id DESC LIMIT 1",
        order,
    )
    assert tuple(history) == ("processing", None, "picked")


async def test_a_catalog_key_opens_every_catalog_write(client, db, admin):
    key = bearer((await make_key(client, admin, "catalog:write"))["key"])

    async def call(method: str, path: str, status: int, body: dict | None = None) -> dict | None:
        response = await client.request(method, path, json=body, headers=key)
        assert response.status == status, (path, await response.text())
        return await response.json() if status != 204 else None

    category = await call("POST", "/api/products/categories", 201, {"name": "Mugs"})
    product = await call(
        "POST", "/api/products", 201,
        {"name": "Mug", "category_id": category["id"],
         "options": [{"name": "Size", "values": ["S", "M"]}],
         "variants": [{"options": {"Size": "S"}, "price": "9.50", "stock_quantity": 4}]},
    )
    path = f"/api/products/{product['id']}"
    changed = await call("PUT", path, 200, {"name": "Blue mug", "stock_quantity": 6})
    assert (changed["name"], changed["stock_quantity"]) == ("Blue mug", 6)
    await call("PUT", f"{path}/images", 200, {"images": [{"url": "https://example.com/mug.png"}]})
    variant = await call(
        "POST", f"{path}/variants", 201,
        {"options": {"Size": "M"}, "price": "11.00", "stock_quantity": 2, "sku": "MUG-M"},
    )
    await call("PUT", f"{path}/variants/{variant['id']}", 200, {"stock_quantity": 7})
    await call("DELETE", f"{path}/variants/{variant['id']}", 204)
    await call("DELETE", path, 204)
    assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM products") is True
    actors = await db.fetch("SELECT DISTINCT actor_id FROM inventory_ledger")
    assert [row["actor_id"] for row in actors] == [None]

    refused = await client.put(
        f"/api/admin/inventory/{product['id']}", json={"stock_quantity": 1}, headers=key
    )
    await assert_problem(refused, 403, "forbidden")


async def test_an_admin_token_still_opens_every_scoped_route(client, db, admin):
    await make_key(client, admin, "orders:read")
    product = await create_product(db, stock=1)
    response = await client.put(
        f"/api/admin/inventory/{product}", json={"adjustment": 1, "reason": "found one"},
        headers=admin.headers,
    )
    assert response.status == 200
    assert await db.fetchval("SELECT actor_id FROM inventory_ledger") == admin.id


# -- last_used_at ------------------------------------------------------------------------------


async def test_last_used_at_is_kept_to_the_minute_without_a_write_per_request(client, db, admin):
    body = await make_key(client, admin, "orders:read")
    key = bearer(body["key"])
    assert (await client.get("/api/admin/orders", headers=key)).status == 200
    first = await db.fetchval("SELECT last_used_at FROM api_keys")
    assert first is not None
    assert (await listed(client, admin))[0]["last_used_at"] == first.isoformat()

    version = await db.fetchval("SELECT xmin::text FROM api_keys")
    for _ in range(3):
        assert (await client.get("/api/admin/orders", headers=key)).status == 200
    # Not rewritten within the minute: the same row version, so not written at all.
    row = await db.fetchrow("SELECT last_used_at, xmin::text AS version FROM api_keys")
    assert (row["last_used_at"], row["version"]) == (first, version)

    # A minute later a request writes it again, once, however many arrive together.
    await db.execute("UPDATE api_keys SET last_used_at = now() - interval '2 minutes'")
    before = await db.fetchval("SELECT last_used_at FROM api_keys")
    answers = await asyncio.gather(
        *(client.get("/api/admin/orders", headers=key) for _ in range(10))
    )
    assert [answer.status for answer in answers] == [200] * 10
    after = await db.fetchval("SELECT last_used_at FROM api_keys")
    assert after > before and after > first

    # A request refused for want of a scope still shows the key is in use.
    await db.execute("UPDATE api_keys SET last_used_at = NULL")
    refused = await client.get("/api/admin/dashboard", headers=key)
    await assert_problem(refused, 403, "forbidden")
    assert await db.fetchval("SELECT last_used_at FROM api_keys") is not None


# -- who may manage keys, and what they send ---------------------------------------------------


async def test_only_admins_manage_keys(client, db, admin, customer):
    body = await make_key(client, admin, "orders:read")
    for method, path, sent in [
        ("GET", "/api/admin/api-keys", None),
        ("POST", "/api/admin/api-keys", {"name": "Mine", "scopes": ["orders:read"]}),
        ("DELETE", f"/api/admin/api-keys/{body['id']}", None),
    ]:
        response = await client.request(method, path, json=sent, headers=customer.headers)
        await assert_problem(response, 403, "forbidden")
        response = await client.request(method, path, json=sent)
        await assert_problem(response, 401, "unauthorized")
    row = await db.fetchrow("SELECT count(*), bool_and(revoked_at IS NULL) FROM api_keys")
    assert tuple(row) == (1, True)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Sync", "scopes": ["admin"]},
        {"name": "Sync", "scopes": ["orders:read", "orders:delete"]},
        {"name": "Sync", "scopes": ["ORDERS:READ"]},
        {"name": "Sync", "scopes": []},
        {"name": "Sync", "scopes": "orders:read"},
        {"name": "Sync", "scopes": [1]},
        {"name": "Sync", "scopes": None},
        {"name": "Sync", "scopes": ["orders:read"] * 5},
        {"name": "Sync"},
        {"scopes": ["orders:read"]},
        {"name": "", "scopes": ["orders:read"]},
        {"name": "   ", "scopes": ["orders:read"]},
        {"name": "x" * 101, "scopes": ["orders:read"]},
        {"name": 7, "scopes": ["orders:read"]},
        {"name": None, "scopes": ["orders:read"]},
        {"name": "a\x00b", "scopes": ["orders:read"]},
        {"name": "Sync", "scopes": ["orders:read"], "key": "sk_" + "a" * 40},
        {"name": "Sync", "scopes": ["orders:read"], "created_by": 1},
    ],
)
async def test_bad_input_is_a_422_and_creates_nothing(client, db, admin, body):
    response = await client.post("/api/admin/api-keys", json=body, headers=admin.headers)
    await assert_problem(response, 422, "validation_error")
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0


async def test_a_name_of_100_characters_is_taken(client, admin):
    body = await make_key(client, admin, "orders:read", name="é" * 100)
    assert body["name"] == "é" * 100


async def test_a_body_that_is_not_an_object_is_a_400(client, db, admin):
    for sent in (["orders:read"], "sync", 7):
        response = await client.post("/api/admin/api-keys", json=sent, headers=admin.headers)
        await assert_problem(response, 400, "invalid_json")
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0


# -- every admin route decides which scope opens it ---------------------------------------------

# Each admin route (method, path with its parameters as {}) and the scope that opens it to a
# key; None: no key does. A new admin route fails the test below until it is listed here.
ADMIN_ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    ("GET", "/api/admin/dashboard"): None,
    ("GET", "/api/admin/users"): None,
    ("PUT", "/api/admin/users/{}/toggle-status"): None,
    ("GET", "/api/admin/orders"): "orders:read",
    ("PUT", "/api/admin/orders/{}/status"): "orders:write",
    ("GET", "/api/admin/inventory"): "inventory:write",
    ("PUT", "/api/admin/inventory/variants/{}"): "inventory:write",
    ("PUT", "/api/admin/inventory/{}"): "inventory:write",
    ("POST", "/api/products"): "catalog:write",
    ("PUT", "/api/products/{}"): "catalog:write",
    ("DELETE", "/api/products/{}"): "catalog:write",
    ("PUT", "/api/products/{}/images"): "catalog:write",
    ("POST", "/api/products/{}/variants"): "catalog:write",
    ("PUT", "/api/products/{}/variants/{}"): "catalog:write",
    ("DELETE", "/api/products/{}/variants/{}"): "catalog:write",
    ("POST", "/api/products/categories"): "catalog:write",
    ("GET", "/api/admin/shipping-zones"): None,
    ("POST", "/api/admin/shipping-zones"): None,
    ("PUT", "/api/admin/shipping-zones/{}"): None,
    ("DELETE", "/api/admin/shipping-zones/{}"): None,
    ("POST", "/api/admin/shipping-zones/{}/methods"): None,
    ("PUT", "/api/admin/shipping-methods/{}"): None,
    ("DELETE", "/api/admin/shipping-methods/{}"): None,
    ("GET", "/api/admin/tax-rates"): None,
    ("POST", "/api/admin/tax-rates"): None,
    ("PUT", "/api/admin/tax-rates/{}"): None,
    ("DELETE", "/api/admin/tax-rates/{}"): None,
    ("GET", "/api/admin/promotions"): None,
    ("POST", "/api/admin/promotions"): None,
    ("GET", "/api/admin/promotions/{}"): None,
    ("PUT", "/api/admin/promotions/{}"): None,
    ("DELETE", "/api/admin/promotions/{}"): None,
    # Keys never manage keys, nor webhooks (API.md gives them no scope).
    ("GET", "/api/admin/api-keys"): None,
    ("POST", "/api/admin/api-keys"): None,
    ("DELETE", "/api/admin/api-keys/{}"): None,
    ("GET", "/api/admin/webhooks"): None,
    ("POST", "/api/admin/webhooks"): None,
    ("GET", "/api/admin/webhooks/{}"): None,
    ("PUT", "/api/admin/webhooks/{}"): None,
    ("DELETE", "/api/admin/webhooks/{}"): None,
    ("POST", "/api/admin/webhooks/{}/rotate-secret"): None,
    ("GET", "/api/admin/webhooks/{}/deliveries"): None,
    ("POST", "/api/admin/webhook-deliveries/{}/redeliver"): None,
}


def test_every_admin_route_declares_the_scope_that_opens_it(settings):
    app = create_app(settings)
    declared: dict[tuple[str, str], str | None] = {}
    for route in app.router.routes():
        spec = getattr(route.handler, "__endpoint__", None)
        if spec is None or route.method == "HEAD":
            continue
        if spec.access is not ADMIN:
            assert spec.scope is None, route
            continue
        path = re.sub(r"\{[^}]*\}", "{}", route.resource.canonical).rstrip("/")
        declared[(route.method, path)] = spec.scope
    undecided = sorted(set(declared) - set(ADMIN_ROUTE_SCOPES))
    assert not undecided, f"admin routes missing from ADMIN_ROUTE_SCOPES: {undecided}"
    assert declared == {
        route: scope for route, scope in ADMIN_ROUTE_SCOPES.items() if route in declared
    }
    # Only the webhook routes (built beside this) may be absent, and every scope opens something.
    gone = {path for _, path in set(ADMIN_ROUTE_SCOPES) - set(declared)}
    assert all("/webhook" in path for path in gone), gone
    assert set(declared.values()) == {None, *SCOPES}


def test_a_scope_is_declared_only_on_an_admin_route_and_must_exist():
    async def handler(request, user): ...

    with pytest.raises(TypeError, match="admin route"):
        endpoint(summary="s", tag="t", access=USER, scope="orders:read")(handler)
    with pytest.raises(TypeError, match="admin route"):
        endpoint(summary="s", tag="t", scope="orders:read")(handler)
    with pytest.raises(TypeError, match="orders:read"):
        endpoint(summary="s", tag="t", access=ADMIN, scope="orders:delete")(handler)
    assert endpoint(summary="s", tag="t", access=ADMIN, scope="orders:read")(handler)


async def test_the_openapi_document_names_each_routes_scope(client):
    document = await (await client.get("/api/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"]["scheme"] == "bearer"
    status = document["paths"]["/api/admin/orders/{order_id}/status"]["put"]
    assert status["security"] == [{"bearerAuth": []}, {"apiKey": ["orders:write"]}]
    assert "`orders:write`" in status["description"]
    dashboard = document["paths"]["/api/admin/dashboard"]["get"]
    assert dashboard["security"] == [{"bearerAuth": []}]
    create = document["paths"]["/api/admin/api-keys"]["post"]
    assert create["security"] == [{"bearerAuth": []}]

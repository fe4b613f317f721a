"""Account data: GET /api/auth/me/export and DELETE /api/auth/me (API.md, "Account data")."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import asyncpg
from admin_pages import sign_in
from factories import (
    assert_problem,
    checkout,
    create_account,
    create_product,
    fill_cart,
    move_through,
    place_order,
    stock_of,
)

HOME = {
    "full_name": "Test User",
    "line1": "1 Main Street",
    "city": "Springfield",
    "region": "US-IL",
    "postal_code": "62701",
    "country": "US",
}


async def _delete(client, account, password: str | None = None):
    body = {"current_password": account.password if password is None else password}
    return await client.delete("/api/auth/me", json=body, headers=account.headers)


async def _export(client, account) -> dict:
    response = await client.get("/api/auth/me/export", headers=account.headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def _review(client, account, product_id: int, title: str) -> dict:
    response = await client.post(
        f"/api/products/{product_id}/reviews",
        headers=account.headers,
        json={"rating": 4, "title": title, "comment": "Solid."},
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def test_the_export_holds_everything_stored_about_the_caller(client, db, customer, settings):
    mug = await create_product(db, name="Blue Mug", price="12.50", stock=10)
    lamp = await create_product(db, name="Brass Lamp", price="40.00", stock=10)
    address = await client.post("/api/addresses", json=HOME, headers=customer.headers)
    first = await place_order(client, customer, (mug, 2))
    second = await place_order(client, customer, (lamp, 1), notes="Ring twice")
    paid = await client.post(
        "/api/payments/process",
        headers=customer.headers,
        json={"order_id": first["id"], "payment_token": "tok_visa"},
    )
    assert paid.status == 202
    review = await _review(client, customer, mug, "Good mug")
    # Someone else's data stays out of it.
    other = await create_account(db, "other@example.com", settings=settings)
    await client.post("/api/addresses", json=HOME, headers=other.headers)
    await place_order(client, other, (mug, 1))
    await _review(client, other, lamp, "Not mine")

    exported = await _export(client, customer)

    assert set(exported) == {"user", "addresses", "orders", "reviews"}
    me = await (await client.get("/api/auth/me", headers=customer.headers)).json()
    assert exported["user"] == me
    assert exported["addresses"] == [await address.json()]
    # Each order exactly as the customer's own order route shows it, plus every payment.
    payment = await (
        await client.get(f"/api/payments/{(await paid.json())['id']}", headers=customer.headers)
    ).json()
    expected_orders = []
    for order, payments in [(second, []), (first, [payment])]:  # newest first
        shown = await (
            await client.get(f"/api/orders/{order['id']}", headers=customer.headers)
        ).json()
        expected_orders.append({**shown, "payments": payments})
    assert exported["orders"] == expected_orders
    assert exported["orders"][1]["items"][0]["product_name"] == "Blue Mug"
    assert exported["orders"][0]["notes"] == "Ring twice"
    assert exported["reviews"] == [review]


async def test_an_empty_account_exports_empty_lists(client, customer):
    exported = await _export(client, customer)
    assert exported["addresses"] == exported["orders"] == exported["reviews"] == []
    assert exported["user"]["email"] == "customer@example.com"


async def test_the_export_is_signed_in_only(client):
    await assert_problem(await client.get("/api/auth/me/export"), 401, "unauthorized")


async def test_a_wrong_password_deletes_nothing(client, db, customer):
    response = await _delete(client, customer, password="not-my-password-1")
    problem = await assert_problem(response, 422, "validation_error")
    changing = await client.post(
        "/api/auth/change-password",
        headers=customer.headers,
        json={"current_password": "not-my-password-1", "new_password": "another-horse-43"},
    )
    assert problem == await changing.json()  # the same answer as a password change gives
    assert set(problem["errors"]) == {"current_password"}
    assert (await client.get("/api/auth/me", headers=customer.headers)).status == 200
    assert await db.fetchval("SELECT deleted_at FROM users WHERE id = $1", customer.id) is None


async def test_the_body_is_checked(client, customer):
    for body in [{}, {"current_password": ""}, {"current_password": "x", "email": "a@b.c"}]:
        response = await client.delete("/api/auth/me", json=body, headers=customer.headers)
        await assert_problem(response, 422, "validation_error")
    response = await client.delete("/api/auth/me", headers=customer.headers)
    await assert_problem(response, 400, "invalid_json")


async def test_a_deleted_account_is_anonymised_and_its_records_kept(client, db, customer, admin):
    mug = await create_product(db, name="Blue Mug", price="12.50", stock=10)
    lamp = await create_product(db, name="Brass Lamp", price="40.00", stock=10)
    await client.post("/api/addresses", json=HOME, headers=customer.headers)
    pending = await place_order(client, customer, (mug, 3))
    shipped = await place_order(client, customer, (lamp, 1))
    await move_through(client, admin, shipped["id"], "paid", "processing", "shipped")
    await _review(client, customer, lamp, "Bright lamp")
    await fill_cart(client, customer, (mug, 1))
    assert await stock_of(db, mug) == 7

    assert (await _delete(client, customer)).status == 204

    # Signed out everywhere, and no way back in.
    await assert_problem(
        await client.get("/api/auth/me", headers=customer.headers), 401, "unauthorized"
    )
    await assert_problem(
        await client.get("/api/auth/me/export", headers=customer.headers), 401, "unauthorized"
    )
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": customer.refresh_token}
    )
    await assert_problem(refreshed, 401, "unauthorized")
    login = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": customer.password}
    )
    await assert_problem(login, 401, "invalid_credentials")

    # The profile is anonymised; the email is free again.
    user = await db.fetchrow("SELECT * FROM users WHERE id = $1", customer.id)
    assert user["email"].startswith("deleted-") and user["email"].endswith("@deleted.invalid")
    assert user["full_name"] == "Former customer"
    assert user["password_hash"] == "!" and user["is_active"] is False
    assert user["deleted_at"] is not None
    placeholder = await client.post(
        "/api/auth/login", json={"email": user["email"], "password": customer.password}
    )
    await assert_problem(placeholder, 401, "invalid_credentials")  # no password matches "!"
    again = await client.post(
        "/api/auth/register",
        json={"email": customer.email, "password": "brand-new-42", "full_name": "New Me"},
    )
    assert again.status == 201, await again.text()
    assert (await again.json())["id"] != customer.id
    newcomer = await client.post(
        "/api/auth/login", json={"email": customer.email, "password": "brand-new-42"}
    )
    assert newcomer.status == 200
    fresh = {"Authorization": f"Bearer {(await newcomer.json())['access_token']}"}
    assert (await client.get("/api/orders", headers=fresh)).status == 200
    assert (await (await client.get("/api/orders", headers=fresh)).json())["total"] == 0

    # Personal data gone; the pending order cancelled as a customer's cancel, stock back.
    assert await db.fetchval("SELECT count(*) FROM addresses WHERE user_id = $1", customer.id) == 0
    assert await db.fetchval("SELECT count(*) FROM carts WHERE user_id = $1", customer.id) == 0
    assert await stock_of(db, mug) == 10
    history = await db.fetchrow(
        "SELECT from_status, changed_by, reason FROM order_status_history "
        "WHERE order_id = $1 AND to_status = 'cancelled'",
        pending["id"],
    )
    assert (history["from_status"], history["changed_by"]) == ("pending", customer.id)
    assert history["reason"] == "The customer deleted their account."
    announced = await db.fetchval("SELECT payload FROM outbox WHERE topic = 'order.cancelled'")
    # Its email goes to the address the account had: the database holds it no more.
    assert json.loads(announced) == {
        "order_id": pending["id"],
        "refund": False,
        "recipient": "customer@example.com",
    }

    # The orders stay, in the admin API and the admin pages.
    listed = await client.get(f"/api/admin/orders?user_id={customer.id}", headers=admin.headers)
    orders = {order["id"]: order for order in (await listed.json())["items"]}
    assert {orders[pending["id"]]["status"], orders[shipped["id"]]["status"]} == {
        "cancelled",
        "shipped",
    }
    assert orders[shipped["id"]]["user"] == {"id": customer.id, "email": user["email"]}
    await sign_in(client, admin.email)
    page = await client.get(f"/admin/orders/{shipped['id']}")
    assert page.status == 200
    assert "Brass Lamp" in await page.text()

    # The review stays, by "Former customer".
    reviews = await (await client.get(f"/api/products/{lamp}/reviews")).json()
    assert [(r["title"], r["user"]) for r in reviews["items"]] == [
        ("Bright lamp", {"id": customer.id, "full_name": "Former customer"})
    ]
    detail = await (await client.get(f"/api/products/{lamp}")).json()
    assert detail["recent_reviews"][0]["user"]["full_name"] == "Former customer"


async def test_an_access_token_minted_before_the_deletion_dies_too(client, db, settings):
    account = await create_account(db, "minted@example.com", settings=settings)
    assert (await _delete(client, account)).status == 204
    response = await client.get("/api/addresses", headers=account.headers)
    await assert_problem(response, 401, "unauthorized")
    # A second deletion with the dead token: nothing to do, and nothing done.
    await assert_problem(await _delete(client, account), 401, "unauthorized")


async def test_an_admin_account_is_not_deleted(client, db, admin):
    response = await _delete(client, admin)
    await assert_problem(response, 409, "cannot_delete_admin")
    assert (await client.get("/api/auth/me", headers=admin.headers)).status == 200


async def test_an_admin_cannot_reactivate_a_deleted_account(client, db, admin, settings):
    account = await create_account(db, "gone@example.com", settings=settings)
    assert (await _delete(client, account)).status == 204
    response = await client.put(
        f"/api/admin/users/{account.id}/toggle-status", headers=admin.headers
    )
    await assert_problem(response, 409, "account_deleted")
    assert await db.fetchval("SELECT is_active FROM users WHERE id = $1", account.id) is False


async def _waiting_on(db, statement: str) -> None:
    """Until a request's statement containing `statement` waits for a row lock."""
    for _ in range(1000):
        if await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND query LIKE '%' || $1 || '%'",
            statement,
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no request reached {statement!r}")


@asynccontextmanager
async def _locked(services, statement: str, *args):
    """The rows `statement` locks, held by a connection of its own until the block ends."""
    blocker = await asyncpg.connect(services.database_url)
    try:
        async with blocker.transaction():
            await blocker.execute(statement, *args)
            yield
    finally:
        await blocker.close()


async def _shopper_with_a_cart(client, db, settings):
    mug = await create_product(db, name="Blue Mug", stock=10)
    account = await create_account(db, "racer@example.com", settings=settings)
    await fill_cart(client, account, (mug, 2))
    return mug, account


async def test_a_checkout_in_flight_commits_first_and_its_order_is_cancelled(
    client, db, settings, services
):
    mug, account = await _shopper_with_a_cart(client, db, settings)
    # The checkout takes the cart's lock, then waits here for its variant's.
    variant = "SELECT 1 FROM product_variants WHERE product_id = $1 FOR UPDATE"
    async with _locked(services, variant, mug):
        placing = asyncio.create_task(checkout(client, account))
        await _waiting_on(db, "locked_variants")
        deleting = asyncio.create_task(_delete(client, account))
        await _waiting_on(db, "DELETE FROM carts")  # the deletion waits for the checkout

    placed, deleted = await placing, await deleting
    assert placed.status == 201 and deleted.status == 204
    order_id = (await placed.json())["id"]
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order_id) == "cancelled"
    assert await stock_of(db, mug) == 10


async def test_a_checkout_that_reaches_the_cart_after_the_deletion_finds_none(
    client, db, settings, services
):
    mug, account = await _shopper_with_a_cart(client, db, settings)
    async with _locked(services, "SELECT 1 FROM carts WHERE user_id = $1 FOR UPDATE", account.id):
        deleting = asyncio.create_task(_delete(client, account))
        await _waiting_on(db, "DELETE FROM carts")
        # Signed in before the deletion commits; its cart lock queues behind the deletion's.
        placing = asyncio.create_task(checkout(client, account))
        await _waiting_on(db, "SELECT id FROM carts")

    deleted, placed = await deleting, await placing
    assert deleted.status == 204
    await assert_problem(placed, 422, "cart_empty")
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await stock_of(db, mug) == 10


async def test_a_deletion_racing_new_addresses_leaves_none(client, db, settings):
    account = await create_account(db, "racer@example.com", settings=settings)
    created = [
        client.post(
            "/api/addresses", json={**HOME, "line1": f"{n} Main Street"}, headers=account.headers
        )
        for n in range(5)
    ]
    responses = await asyncio.gather(*created, _delete(client, account))
    assert responses[-1].status == 204
    assert {response.status for response in responses[:-1]} <= {201, 401}
    assert await db.fetchval("SELECT count(*) FROM addresses") == 0

"""Every route of /api/cart, as a client sees it, and what it changes in the database."""

from __future__ import annotations

import asyncio

from factories import (
    PROBLEM,
    assert_problem,
    create_account,
    create_product,
    fill_cart,
    variant_of,
)


async def cart_of(client, buyer) -> dict:
    response = await client.get("/api/cart", headers=buyer.headers)
    assert response.status == 200
    return await response.json()


async def add(client, buyer, product_id, quantity=None, path="/api/cart/items"):
    body = {"product_id": product_id}
    if quantity is not None:
        body["quantity"] = quantity
    return await client.post(path, json=body, headers=buyer.headers)


async def test_a_first_look_is_an_empty_cart(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    for path in ("/api/cart", "/api/cart/"):
        response = await client.get(path, headers=buyer.headers, allow_redirects=False)
        assert response.status == 200
        body = await response.json()
        assert body == {
            "id": body["id"],
            "items": [],
            "item_count": 0,
            "subtotal": "0.00",
            "currency": "USD",
        }
    assert await db.fetchval("SELECT count(*) FROM carts WHERE user_id = $1", buyer.id) == 1


async def test_cart_routes_need_a_token(client):
    for method, path in [
        ("GET", "/api/cart"),
        ("POST", "/api/cart/items"),
        ("PUT", "/api/cart/items/1"),
        ("DELETE", "/api/cart/items/1"),
        ("DELETE", "/api/cart"),
    ]:
        response = await client.request(method, path, json={"quantity": 1})
        assert response.status == 401, (method, path)
        assert response.content_type == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_add_items_with_live_prices_and_totals(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    mug = await create_product(db, name="Mug", price="19.99", stock=5, image_url="/img/mug.png")
    pen = await create_product(db, name="Pen", price="0.50", stock=100)
    response = await add(client, buyer, mug, 2)
    assert response.status == 201
    response = await add(client, buyer, pen)  # quantity defaults to 1
    assert response.status == 201
    body = await response.json()
    assert body["item_count"] == 3
    assert body["subtotal"] == "40.48"
    assert body["currency"] == "USD"
    first, second = body["items"]
    assert first == {
        "id": first["id"],
        "product": {
            "id": mug,
            "name": "Mug",
            "price": "19.99",
            "image_url": "/img/mug.png",
            "stock_quantity": 5,
            "in_stock": True,
        },
        "variant": {
            "id": await variant_of(db, mug),
            "title": "Default",
            "sku": None,
            "options": {},
            "price": "19.99",
            "stock_quantity": 5,
            "in_stock": True,
        },
        "quantity": 2,
        "unit_price": "19.99",
        "line_total": "39.98",
    }
    assert second["product"]["id"] == pen
    assert second["quantity"] == 1 and second["line_total"] == "0.50"

    # Live prices: a price change shows in the cart at once.
    await db.execute("UPDATE product_variants SET price = 25.00 WHERE product_id = $1", mug)
    body = await cart_of(client, buyer)
    assert body["items"][0]["unit_price"] == "25.00"
    assert body["items"][0]["line_total"] == "50.00"
    assert body["subtotal"] == "50.50"


async def test_adding_a_product_again_adds_to_its_quantity(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=10)
    assert (await add(client, buyer, product, 2)).status == 201
    response = await add(client, buyer, product, 3, path="/api/cart/items/")
    assert response.status == 201
    body = await response.json()
    assert len(body["items"]) == 1
    assert body["items"][0]["quantity"] == 5
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 1


async def test_more_than_the_stock_is_refused(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=3)
    response = await add(client, buyer, product, 4)
    body = await assert_problem(response, 409, "insufficient_stock")
    assert body["errors"] == {"items": [
        {"product_id": product, "variant_id": await variant_of(db, product), "requested": 4,
         "available": 3}
    ]}

    assert (await add(client, buyer, product, 2)).status == 201
    response = await add(client, buyer, product, 2)  # 2 + 2 > 3
    assert response.status == 409
    body = await response.json()
    assert body["errors"]["items"] == [
        {"product_id": product, "variant_id": await variant_of(db, product), "requested": 4,
         "available": 3}
    ]
    assert (await cart_of(client, buyer))["items"][0]["quantity"] == 2
    assert (await add(client, buyer, product, 1)).status == 201  # exactly the stock is fine


async def test_missing_or_withdrawn_products_cannot_be_added(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    withdrawn = await create_product(db, is_active=False)
    for product_id in (withdrawn, 999_999):
        response = await add(client, buyer, product_id)
        await assert_problem(response, 404, "not_found")
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 0


async def test_add_validates_its_body(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    for body, field in [
        ({"product_id": product, "quantity": 0}, "quantity"),
        ({"product_id": product, "quantity": -1}, "quantity"),
        ({"product_id": product, "quantity": "2"}, "quantity"),
        ({"product_id": product, "quantity": 1.5}, "quantity"),
        ({"product_id": product, "quantity": 2**31}, "quantity"),
        ({"quantity": 1}, "product_id"),
        ({"product_id": 0}, "product_id"),
        ({"product_id": str(product)}, "product_id"),
        ({"product_id": product, "price": "0.01"}, "price"),
    ]:
        response = await client.post("/api/cart/items", json=body, headers=buyer.headers)
        assert response.status == 422, body
        problem = await response.json()
        assert problem["code"] == "validation_error"
        assert field in problem["errors"], (body, problem)
    response = await client.post("/api/cart/items", data=b"[1]", headers=buyer.headers)
    assert response.status == 400
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 0


async def test_a_withdrawn_product_stays_visible_without_stock(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=7)
    await fill_cart(client, buyer, (product, 2))
    await db.execute(
        "UPDATE products SET is_active = false, deleted_at = now() WHERE id = $1", product
    )
    item = (await cart_of(client, buyer))["items"][0]
    assert item["product"]["in_stock"] is False
    assert item["product"]["stock_quantity"] == 0
    assert item["quantity"] == 2


async def test_update_quantity(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, price="2.00", stock=5)
    await fill_cart(client, buyer, (product, 1))
    item_id = (await cart_of(client, buyer))["items"][0]["id"]

    response = await client.put(
        f"/api/cart/items/{item_id}", json={"quantity": 5}, headers=buyer.headers
    )
    assert response.status == 200
    body = await response.json()
    assert body["items"][0]["quantity"] == 5
    assert body["subtotal"] == "10.00"

    response = await client.put(
        f"/api/cart/items/{item_id}", json={"quantity": 6}, headers=buyer.headers
    )
    body = await assert_problem(response, 409, "insufficient_stock")
    assert body["errors"]["items"] == [
        {"product_id": product, "variant_id": await variant_of(db, product), "requested": 6,
         "available": 5}
    ]

    for bad in ({"quantity": 0}, {}, {"quantity": 1, "product_id": product}):
        response = await client.put(f"/api/cart/items/{item_id}", json=bad, headers=buyer.headers)
        assert response.status == 422, bad

    await db.execute("UPDATE products SET is_active = false WHERE id = $1", product)
    response = await client.put(
        f"/api/cart/items/{item_id}", json={"quantity": 1}, headers=buyer.headers
    )
    await assert_problem(response, 409, "product_unavailable")
    assert await db.fetchval("SELECT quantity FROM cart_items WHERE id = $1", item_id) == 5


async def test_remove_an_item(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    first, second = await create_product(db), await create_product(db)
    await fill_cart(client, buyer, (first, 1), (second, 2))
    item_id = (await cart_of(client, buyer))["items"][0]["id"]
    response = await client.delete(f"/api/cart/items/{item_id}", headers=buyer.headers)
    assert response.status == 200
    body = await response.json()
    assert [item["product"]["id"] for item in body["items"]] == [second]
    response = await client.delete(f"/api/cart/items/{item_id}", headers=buyer.headers)
    assert response.status == 404


async def test_another_users_cart_item_is_not_found(client, db, settings):
    owner = await create_account(db, "owner@example.com", settings=settings)
    other = await create_account(db, "other@example.com", settings=settings)
    product = await create_product(db)
    await fill_cart(client, owner, (product, 1))
    item_id = (await cart_of(client, owner))["items"][0]["id"]

    response = await client.put(
        f"/api/cart/items/{item_id}", json={"quantity": 2}, headers=other.headers
    )
    await assert_problem(response, 404, "not_found")
    response = await client.delete(f"/api/cart/items/{item_id}", headers=other.headers)
    assert response.status == 404
    assert (await cart_of(client, owner))["items"][0]["quantity"] == 1
    for path in ("/api/cart/items/0", "/api/cart/items/99999999999999999999"):
        assert (await client.delete(path, headers=owner.headers)).status == 404


async def test_empty_the_cart(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db)
    for path in ("/api/cart", "/api/cart/"):
        await fill_cart(client, buyer, (product, 1))
        response = await client.delete(path, headers=buyer.headers)
        assert response.status == 204
        assert await response.read() == b""
        assert (await cart_of(client, buyer))["items"] == []
    # Emptying a cart that was never used is fine too.
    fresh = await create_account(db, "fresh@example.com", settings=settings)
    assert (await client.delete("/api/cart", headers=fresh.headers)).status == 204


async def test_concurrent_adds_to_one_cart_lose_nothing(client, db, settings):
    buyer = await create_account(db, "a@example.com", settings=settings)
    product = await create_product(db, stock=12)
    responses = await asyncio.gather(*(add(client, buyer, product, 1) for _ in range(15)))
    statuses = sorted(response.status for response in responses)
    assert statuses == [201] * 12 + [409] * 3
    assert (await cart_of(client, buyer))["items"][0]["quantity"] == 12

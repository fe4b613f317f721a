"""A Release 1 client's whole journey, as one test, on a shop with no variants configured.

Everything goes through HTTP with Release 1 bodies, the way the seed's curl examples and a
client written against Release 1 do it. Answers may carry Release 2 fields beside the Release 1
ones (a client ignores what it does not know); every Release 1 field must keep its Release 1
value and meaning. The payment is settled the way a worker settles it: the relay turns the
outbox row into the settle task, and the task's body runs here, against the sandbox gateway.
"""

from __future__ import annotations

from factories import ADDRESS, assert_problem

from shop_api.domain import events, payments
from shop_api.domain.gateway import SandboxGateway
from shop_api.domain.outbox import TaskRef
from shop_api.relay import relay_batch
from shop_api.web.keys import db_pool_key

PRODUCT_FIELDS = (
    "id", "name", "slug", "description", "price", "currency", "stock_quantity", "in_stock",
    "sku", "image_url", "category", "rating", "created_at", "updated_at",
)
CART_PRODUCT_FIELDS = ("id", "name", "price", "image_url", "stock_quantity", "in_stock")
ORDER_FIELDS = (
    "id", "status", "items", "subtotal", "total_amount", "currency", "delivery_address", "notes",
    "payment", "created_at", "updated_at",
)
ORDER_ITEM_FIELDS = ("product_id", "product_name", "quantity", "price_at_purchase", "line_total")
INVENTORY_FIELDS = ("product_id", "name", "sku", "stock_quantity", "is_active", "low_stock")


def release1(body: dict, fields) -> dict:
    """The Release 1 fields of `body` (each must be there), whatever else it carries."""
    missing = [name for name in fields if name not in body]
    assert not missing, f"Release 1 fields missing: {missing} in {body}"
    return {name: body[name] for name in fields}


def cart_view(cart: dict) -> dict:
    """A cart as a Release 1 client reads it."""
    return {
        **release1(cart, ("id", "item_count", "subtotal", "currency")),
        "items": [
            {**release1(item, ("id", "quantity", "unit_price", "line_total")),
             "product": release1(item["product"], CART_PRODUCT_FIELDS)}
            for item in cart["items"]
        ],
    }


def order_view(order: dict) -> dict:
    return {
        **release1(order, ORDER_FIELDS),
        "items": [release1(item, ORDER_ITEM_FIELDS) for item in order["items"]],
    }


async def call(client, method: str, path: str, status: int, account=None, **kwargs):
    """A request with the account's bearer token (a dict of headers or an Account), checked
    for `status`; the JSON body (None for a 204)."""
    headers = account if isinstance(account, dict) else (account.headers if account else {})
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.status == status, f"{method} {path}: {await response.text()}"
    if status == 204:
        return None
    assert response.content_type == "application/json"
    return await response.json()


async def test_a_release_1_client_shops_from_sign_up_to_cancellation_unchanged(client, db, admin):
    # -- the admin stocks the shop with Release 1 bodies ---------------------------------------
    kitchen = await call(client, "POST", "/api/products/categories", 201, admin,
                         json={"name": "Kitchen", "description": "Pots and cups."})
    cups = await call(client, "POST", "/api/products/categories", 201, admin,
                      json={"name": "Cups", "parent_id": kitchen["id"]})
    mug_body = {"name": "Blue Mug", "price": "12.5", "stock_quantity": 8,
                "description": "A stoneware mug that keeps coffee hot.", "category_id": cups["id"],
                "sku": "MUG-BLUE", "image_url": "https://images.example.com/blue-mug.jpg"}
    mug = await call(client, "POST", "/api/products", 201, admin, json=mug_body)
    assert release1(mug, PRODUCT_FIELDS) == {
        "id": mug["id"], "name": "Blue Mug", "slug": "blue-mug",
        "description": "A stoneware mug that keeps coffee hot.", "price": "12.50",
        "currency": "USD", "stock_quantity": 8, "in_stock": True, "sku": "MUG-BLUE",
        "image_url": "https://images.example.com/blue-mug.jpg",
        "category": {"id": cups["id"], "name": "Cups", "slug": cups["slug"]},
        "rating": {"average": None, "count": 0},
        "created_at": mug["created_at"], "updated_at": mug["updated_at"],
    }
    pot = await call(client, "POST", "/api/products", 201, admin, json={
        "name": "Cast Iron Teapot", "price": 45, "stock_quantity": 3,
        "description": "Holds a litre of tea.", "category_id": kitchen["id"]})
    assert (pot["sku"], pot["image_url"], pot["price"]) == (None, None, "45.00")
    spoon = await call(client, "POST", "/api/products", 201, admin, json={
        "name": "Tea Spoon", "price": "2.00", "stock_quantity": 0})
    assert (spoon["stock_quantity"], spoon["in_stock"], spoon["category"]) == (0, False, None)

    # The admin edits the mug: price, stock and SKU of a Release 1 product, as before.
    edited = await call(client, "PUT", f"/api/products/{mug['id']}", 200, admin,
                        json={"price": "14.00", "stock_quantity": 10, "sku": "MUG-BLUE-2",
                              "description": "A stoneware mug."})
    assert release1(edited, PRODUCT_FIELDS) == {
        **release1(mug, PRODUCT_FIELDS), "price": "14.00", "stock_quantity": 10,
        "sku": "MUG-BLUE-2", "description": "A stoneware mug.",
        "updated_at": edited["updated_at"],
    }
    await call(client, "PUT", f"/api/products/{spoon['id']}", 200, admin,
               json={"stock_quantity": 50})

    # -- a customer signs up ------------------------------------------------------------------
    credentials = {"email": "Casey@Example.com", "password": "brew-tea-2026"}
    user = await call(client, "POST", "/api/auth/register", 201,
                      json={**credentials, "full_name": "Casey"})
    assert release1(user, ("email", "full_name", "role", "is_active")) == {
        "email": user["email"], "full_name": "Casey", "role": "customer", "is_active": True,
    }
    assert user["email"].lower() == "casey@example.com"
    login = await call(client, "POST", "/api/auth/login", 200,
                       json={**credentials, "email": "casey@example.com"})
    assert release1(login, ("token_type", "user"))["token_type"] == "Bearer"
    assert login["user"]["id"] == user["id"] and login["expires_in"] > 0
    pair = await call(client, "POST", "/api/auth/refresh", 200,
                      json={"refresh_token": login["refresh_token"]})
    assert release1(pair, ("access_token", "refresh_token", "token_type", "expires_in"))[
        "token_type"] == "Bearer"
    assert pair["refresh_token"] != login["refresh_token"]
    casey = {"Authorization": f"Bearer {pair['access_token']}"}
    me = await call(client, "GET", "/api/auth/me", 200, casey)
    assert release1(me, ("id", "email", "full_name", "role", "is_active", "created_at")) == (
        release1(user, ("id", "email", "full_name", "role", "is_active", "created_at"))
    )

    # -- browsing -----------------------------------------------------------------------------
    page = await call(client, "GET", "/api/products", 200)
    assert release1(page, ("page", "per_page", "total", "pages")) == {
        "page": 1, "per_page": 20, "total": 3, "pages": 1,
    }
    assert [item["id"] for item in page["items"]] == [spoon["id"], pot["id"], mug["id"]]
    listed_mug = page["items"][2]
    assert release1(listed_mug, PRODUCT_FIELDS) == release1(edited, PRODUCT_FIELDS)
    by_price = await call(client, "GET", "/api/products/", 200,
                          params={"sort": "-price", "in_stock": "true", "max_price": "40"})
    assert [item["id"] for item in by_price["items"]] == [mug["id"], spoon["id"]]
    found = await call(client, "GET", "/api/products", 200, params={"search": "teapot"})
    assert [item["id"] for item in found["items"]] == [pot["id"]]
    # A category includes its sub-categories, by slug or by id.
    in_kitchen = await call(client, "GET", "/api/products", 200,
                            params={"category": kitchen["slug"], "sort": "price"})
    assert [item["id"] for item in in_kitchen["items"]] == [mug["id"], pot["id"]]
    in_cups = await call(client, "GET", "/api/products", 200, params={"category": cups["id"]})
    assert [item["id"] for item in in_cups["items"]] == [mug["id"]]
    detail = await call(client, "GET", f"/api/products/{pot['id']}", 200)
    assert release1(detail, PRODUCT_FIELDS) == release1(pot, PRODUCT_FIELDS)
    assert detail["recent_reviews"] == []
    categories = await call(client, "GET", "/api/products/categories", 200)
    assert {c["id"] for c in categories["items"]} == {kitchen["id"], cups["id"]}

    # -- the cart, with {product_id, quantity} --------------------------------------------------
    cart = await call(client, "POST", "/api/cart/items", 201, casey,
                      json={"product_id": mug["id"], "quantity": 2})
    cart = await call(client, "POST", "/api/cart/items", 201, casey,
                      json={"product_id": pot["id"]})
    cart = await call(client, "POST", "/api/cart/items", 201, casey,
                      json={"product_id": mug["id"], "quantity": 1})  # adds to the line
    cart = await call(client, "POST", "/api/cart/items", 201, casey,
                      json={"product_id": spoon["id"], "quantity": 4})
    mug_line, pot_line, spoon_line = cart["items"]
    assert cart_view(cart) == {
        "id": cart["id"], "item_count": 8, "subtotal": "95.00", "currency": "USD",
        "items": [
            {"id": mug_line["id"], "quantity": 3, "unit_price": "14.00", "line_total": "42.00",
             "product": {"id": mug["id"], "name": "Blue Mug", "price": "14.00",
                         "image_url": "https://images.example.com/blue-mug.jpg",
                         "stock_quantity": 10, "in_stock": True}},
            {"id": pot_line["id"], "quantity": 1, "unit_price": "45.00", "line_total": "45.00",
             "product": {"id": pot["id"], "name": "Cast Iron Teapot", "price": "45.00",
                         "image_url": None, "stock_quantity": 3, "in_stock": True}},
            {"id": spoon_line["id"], "quantity": 4, "unit_price": "2.00", "line_total": "8.00",
             "product": {"id": spoon["id"], "name": "Tea Spoon", "price": "2.00",
                         "image_url": None, "stock_quantity": 50, "in_stock": True}},
        ],
    }
    too_many = await client.post("/api/cart/items", headers=casey,
                                 json={"product_id": pot["id"], "quantity": 3})
    body = await assert_problem(too_many, 409, "insufficient_stock")
    assert [release1(item, ("product_id", "requested", "available"))
            for item in body["errors"]["items"]] == [
        {"product_id": pot["id"], "requested": 4, "available": 3}
    ]
    cart = await call(client, "PUT", f"/api/cart/items/{mug_line['id']}", 200, casey,
                      json={"quantity": 2})
    assert [(i["product"]["id"], i["quantity"]) for i in cart["items"]] == [
        (mug["id"], 2), (pot["id"], 1), (spoon["id"], 4)
    ]
    cart = await call(client, "DELETE", f"/api/cart/items/{spoon_line['id']}", 200, casey)
    assert cart_view(cart)["item_count"] == 3 and cart["subtotal"] == "73.00"
    assert cart_view(await call(client, "GET", "/api/cart/", 200, casey)) == cart_view(cart)

    # -- checkout with {delivery_address} -------------------------------------------------------
    order = await call(client, "POST", "/api/orders/", 201, casey,
                       json={**ADDRESS, "notes": "Ring twice"})
    assert order_view(order) == {
        "id": order["id"], "status": "pending",
        "items": [
            {"product_id": mug["id"], "product_name": "Blue Mug", "quantity": 2,
             "price_at_purchase": "14.00", "line_total": "28.00"},
            {"product_id": pot["id"], "product_name": "Cast Iron Teapot", "quantity": 1,
             "price_at_purchase": "45.00", "line_total": "45.00"},
        ],
        "subtotal": "73.00", "total_amount": "73.00", "currency": "USD",
        "delivery_address": ADDRESS["delivery_address"], "notes": "Ring twice",
        "payment": None, "created_at": order["created_at"], "updated_at": order["updated_at"],
    }
    assert (await call(client, "GET", "/api/cart", 200, casey))["items"] == []
    stock = await call(client, "GET", f"/api/products/{mug['id']}", 200)
    assert (stock["stock_quantity"], stock["in_stock"]) == (8, True)
    sold_out = await call(client, "GET", f"/api/products/{pot['id']}", 200)
    assert (sold_out["stock_quantity"], sold_out["in_stock"]) == (2, True)
    empty = await client.post("/api/orders", headers=casey, json=ADDRESS)
    await assert_problem(empty, 422, "cart_empty")

    # A price change later never changes the order (a snapshot).
    await call(client, "PUT", f"/api/products/{mug['id']}", 200, admin, json={"price": "99.00"})
    fetched = await call(client, "GET", f"/api/orders/{order['id']}", 200, casey)
    assert order_view(fetched) == order_view(order)
    history = await call(client, "GET", "/api/orders", 200, casey)
    assert release1(history, ("page", "per_page", "total", "pages"))["total"] == 1
    assert [order_view(o) for o in history["items"]] == [order_view(order)]

    # -- paying with tok_visa: 202 pending, then the worker's settlement ------------------------
    payment = await call(client, "POST", "/api/payments/process", 202, casey,
                         json={"order_id": order["id"], "payment_token": "tok_visa"})
    assert release1(payment, ("id", "order_id", "amount", "currency", "status",
                              "failure_reason", "settled_at")) == {
        "id": payment["id"], "order_id": order["id"], "amount": "73.00", "currency": "USD",
        "status": "pending", "failure_reason": None, "settled_at": None,
    }
    pool = client.server.app[db_pool_key]
    sent: list[events.Task] = []

    async def record(tasks: list[events.Task]) -> None:
        sent.extend(tasks)

    await relay_batch(pool, record)
    (settle,) = [task for task in sent if task.actor_name == events.SETTLE_PAYMENT]
    assert settle.args == (payment["id"],)
    task = TaskRef(settle.kwargs["outbox_id"], settle.actor_name)
    assert await payments.settle(pool, SandboxGateway(pool), *settle.args, task=task) == (
        "succeeded"
    )
    settled = await call(client, "GET", f"/api/payments/{payment['id']}", 200, casey)
    assert (settled["status"], settled["failure_reason"]) == ("succeeded", None)
    assert settled["settled_at"] is not None
    paid = await call(client, "GET", f"/api/orders/{order['id']}", 200, casey)
    assert (paid["status"], paid["payment"]) == ("paid", {"id": payment["id"],
                                                          "status": "succeeded"})
    assert [o["id"] for o in (await call(client, "GET", "/api/orders", 200, casey,
                                         params={"status": "paid"}))["items"]] == [order["id"]]

    # -- a second order, cancelled: the stock comes back ----------------------------------------
    await call(client, "POST", "/api/cart/items", 201, casey,
               json={"product_id": pot["id"], "quantity": 2})
    second = await call(client, "POST", "/api/orders", 201, casey, json=ADDRESS)
    assert [release1(i, ORDER_ITEM_FIELDS) for i in second["items"]] == [
        {"product_id": pot["id"], "product_name": "Cast Iron Teapot", "quantity": 2,
         "price_at_purchase": "45.00", "line_total": "90.00"}
    ]
    gone = await call(client, "GET", f"/api/products/{pot['id']}", 200)
    assert (gone["stock_quantity"], gone["in_stock"]) == (0, False)
    cancelled = await call(client, "POST", f"/api/orders/{second['id']}/cancel", 200, casey)
    assert order_view(cancelled) == {**order_view(second), "status": "cancelled",
                                     "updated_at": cancelled["updated_at"]}
    back = await call(client, "GET", f"/api/products/{pot['id']}", 200)
    assert (back["stock_quantity"], back["in_stock"]) == (2, True)
    again = await client.post(f"/api/orders/{second['id']}/cancel", headers=casey)
    await assert_problem(again, 409, "invalid_transition")

    # -- the admin's Release 1 views: inventory by product, the dashboard, orders ---------------
    inventory = await call(client, "GET", "/api/admin/inventory", 200, admin)
    assert [release1(row, INVENTORY_FIELDS) for row in inventory["items"]] == [
        {"product_id": mug["id"], "name": "Blue Mug", "sku": "MUG-BLUE-2", "stock_quantity": 8,
         "is_active": True, "low_stock": False},
        {"product_id": pot["id"], "name": "Cast Iron Teapot", "sku": None, "stock_quantity": 2,
         "is_active": True, "low_stock": True},
        {"product_id": spoon["id"], "name": "Tea Spoon", "sku": None, "stock_quantity": 50,
         "is_active": True, "low_stock": False},
    ]
    low = await call(client, "GET", "/api/admin/inventory", 200, admin,
                     params={"low_stock": "true"})
    assert [row["product_id"] for row in low["items"]] == [pot["id"]]
    restocked = await call(client, "PUT", f"/api/admin/inventory/{pot['id']}", 200, admin,
                           json={"adjustment": 10, "reason": "Delivery from the foundry"})
    assert release1(restocked, INVENTORY_FIELDS) == {
        "product_id": pot["id"], "name": "Cast Iron Teapot", "sku": None, "stock_quantity": 12,
        "is_active": True, "low_stock": False,
    }
    counted = await call(client, "PUT", f"/api/admin/inventory/{spoon['id']}", 200, admin,
                         json={"stock_quantity": 3})
    assert release1(counted, INVENTORY_FIELDS)["stock_quantity"] == 3
    below = await client.put(f"/api/admin/inventory/{spoon['id']}", headers=admin.headers,
                             json={"adjustment": -4, "reason": "Broken"})
    body = await assert_problem(below, 409, "insufficient_stock")
    assert [release1(item, ("product_id", "requested", "available"))
            for item in body["errors"]["items"]] == [
        {"product_id": spoon["id"], "requested": 4, "available": 3}
    ]
    assert (await call(client, "GET", f"/api/products/{pot['id']}", 200))["stock_quantity"] == 12

    dashboard = await call(client, "GET", "/api/admin/dashboard", 200, admin)
    assert dashboard["revenue_total"] == "73.00" and dashboard["orders_total"] == 2
    assert dashboard["orders_by_status"] == {
        "pending": 0, "paid": 1, "processing": 0, "shipped": 0, "delivered": 0, "cancelled": 1,
    }
    assert [release1(row, ("product_id", "name", "units_sold", "revenue"))
            for row in dashboard["top_products"]] == [
        {"product_id": mug["id"], "name": "Blue Mug", "units_sold": 2, "revenue": "28.00"},
        {"product_id": pot["id"], "name": "Cast Iron Teapot", "units_sold": 1,
         "revenue": "45.00"},
    ]
    assert [release1(row, ("product_id", "name", "stock_quantity"))
            for row in dashboard["low_stock"]] == [
        {"product_id": spoon["id"], "name": "Tea Spoon", "stock_quantity": 3},
    ]
    orders = await call(client, "GET", "/api/admin/orders", 200, admin,
                        params={"user_id": user["id"]})
    assert [(o["id"], o["user"]["email"]) for o in orders["items"]] == [
        (second["id"], user["email"]), (order["id"], user["email"]),
    ]
    shipped = await call(client, "PUT", f"/api/admin/orders/{order['id']}/status", 200, admin,
                         json={"status": "processing"})
    assert order_view(shipped)["items"] == order_view(order)["items"]

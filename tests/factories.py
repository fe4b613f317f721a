"""Rows for cart and order tests, written straight to the database (or placed through the API).

Products are inserted with SQL rather than through the catalog routes, so these tests depend only
on the catalog's schema. Buyers get a real access token minted with the test settings (no login
round trip, no bcrypt, no rate limit), so a test can have dozens of them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from shop_api.security import tokens

_numbers = itertools.count(1)

ADDRESS = {"delivery_address": "1 Main Street, Springfield"}


async def create_product(
    db,
    *,
    name: str | None = None,
    price: str | Decimal = "10.00",
    stock: int = 10,
    is_active: bool = True,
    image_url: str | None = None,
) -> int:
    number = next(_numbers)
    return await db.fetchval(
        "INSERT INTO products (name, slug, price, stock_quantity, is_active, image_url, deleted_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5 THEN NULL ELSE now() END) RETURNING id",
        name or f"Product {number}",
        f"product-{number}",
        Decimal(price),
        stock,
        is_active,
        image_url,
    )


async def stock_of(db, product_id: int) -> int:
    return await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", product_id)


@dataclass(frozen=True)
class Buyer:
    id: int
    email: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def create_buyer(db, settings, email: str, *, role: str = "customer") -> Buyer:
    user_id = await db.fetchval(
        "INSERT INTO users (email, password_hash, full_name, role) VALUES ($1, 'x', $2, $3) "
        "RETURNING id",
        email,
        email.split("@")[0],
        role,
    )
    token = tokens.issue(settings, token_type=tokens.ACCESS, user_id=user_id, token_version=0)
    return Buyer(user_id, email, token.token)


async def create_buyers(db, settings, count: int, prefix: str = "buyer") -> list[Buyer]:
    return [await create_buyer(db, settings, f"{prefix}{n}@example.com") for n in range(count)]


async def fill_cart(client, buyer, *lines: tuple[int, int]) -> None:
    for product_id, quantity in lines:
        response = await client.post(
            "/api/cart/items",
            json={"product_id": product_id, "quantity": quantity},
            headers=buyer.headers,
        )
        assert response.status == 201, await response.text()


async def place_order(client, buyer, *lines: tuple[int, int], **body) -> dict:
    """Fill the buyer's cart with `lines` and check out through the API; the new order."""
    await fill_cart(client, buyer, *lines)
    response = await client.post("/api/orders", json={**ADDRESS, **body}, headers=buyer.headers)
    assert response.status == 201, await response.text()
    return await response.json()


async def create_order(db, user_id: int, lines: list[tuple[int, int]], *, status: str = "pending",
                       days_ago: int = 0, price: str = "10.00") -> int:
    """An order written straight to the database (no cart, no stock taken), `days_ago` old,
    every line at `price`."""
    count = sum(quantity for _, quantity in lines)
    order_id = await db.fetchval(
        "INSERT INTO orders (user_id, subtotal, total_amount, delivery_address, "
        "created_at) VALUES ($1, $2::numeric * $3, $2::numeric * $3, '1 Test Street', "
        "now() - make_interval(days => $4)) RETURNING id",
        user_id, price, count, days_ago,
    )
    for product_id, quantity in lines:
        await db.execute(
            "INSERT INTO order_items (order_id, product_id, product_name, quantity, "
            "price_at_purchase) SELECT $1, id, name, $3, $4::numeric FROM products WHERE id = $2",
            order_id, product_id, quantity, price,
        )
    await db.execute(
        "INSERT INTO order_status_history (order_id, from_status, to_status) "
        "VALUES ($1, NULL, 'pending')",
        order_id,
    )
    # Placed pending, then moved, as orders are: the best-sellers trigger sees the move.
    await db.execute("UPDATE orders SET status = $2 WHERE id = $1", order_id, status)
    return order_id

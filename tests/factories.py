"""Test data and checks shared by the test modules: accounts, products, carts, orders, problems.

Rows are written straight to the database (or placed through the API where the test is about
the API's own bookkeeping). Products are inserted with SQL rather than through the catalog
routes, so tests of carts and orders depend only on the catalog's schema. Fixtures live in
conftest.py; no test module imports it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import bcrypt

from shop_api.outages import DEPENDENCY_DOWN
from shop_api.security import tokens

_numbers = itertools.count(1)

TEST_PASSWORD = "correct-horse-42"
TEST_BCRYPT_ROUNDS = 4
PROBLEM = "application/problem+json"

ADDRESS = {"delivery_address": "1 Main Street, Springfield"}


async def create_product(
    db,
    *,
    name: str | None = None,
    slug: str | None = None,
    price: str | Decimal = "10.00",
    stock: int = 10,
    is_active: bool = True,
    deleted: bool | None = None,
    image_url: str | None = None,
    description: str = "",
    category_id: int | None = None,
    sku: str | None = None,
    created_at: datetime | None = None,
    ratings: tuple[int, ...] = (),
) -> int:
    """A product row; its id. An inactive product is also soft-deleted unless `deleted=False`;
    `ratings` fill the rating summary as if those reviews had been written."""
    number = next(_numbers)
    # The product and its default variant in one statement; the variants' trigger (0018) sets
    # the product's price, stock and SKU from the variant.
    return await db.fetchval(
        "WITH product AS ("
        " INSERT INTO products (name, slug, description, price, stock_quantity, category_id,"
        " is_active, image_url, deleted_at, created_at, updated_at, rating_count, rating_sum)"
        " VALUES ($1, $2, $3, $4, $5, $6, $8, $9, CASE WHEN $10 THEN now() END,"
        " coalesce($11, now()), coalesce($11, now()), $12, $13) RETURNING id, created_at"
        "), variant AS ("
        " INSERT INTO product_variants (product_id, sku, title, price, stock_quantity,"
        " created_at, updated_at)"
        " SELECT id, $7, 'Default', $4, $5, created_at, created_at FROM product"
        "), image AS ("
        " INSERT INTO product_images (product_id, url, position)"
        " SELECT id, $9, 0 FROM product WHERE $9::text IS NOT NULL"
        ") SELECT id FROM product",
        name or f"Product {number}",
        slug or f"product-{number}",
        description,
        Decimal(price),
        stock,
        category_id,
        sku,
        is_active,
        image_url,
        not is_active if deleted is None else deleted,
        created_at,
        len(ratings),
        sum(ratings),
    )


async def variant_of(db, product_id: int) -> int:
    """The id of a product's first variant (the default one of a factory product)."""
    return await db.fetchval(
        "SELECT id FROM product_variants WHERE product_id = $1 ORDER BY position, id LIMIT 1",
        product_id,
    )


async def stock_of(db, product_id: int) -> int:
    return await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", product_id)


@dataclass
class Account:
    id: int
    email: str
    password: str
    role: str
    access_token: str
    refresh_token: str | None = None  # only for an account logged in through the API

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def create_user(db, email: str, *, role: str = "customer", password: str = TEST_PASSWORD,
                      full_name: str | None = None, active: bool = True) -> int:
    """A user who can log in with `password`, written straight to the database; its id."""
    password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(TEST_BCRYPT_ROUNDS)).decode()
    return await db.fetchval(
        "INSERT INTO users (email, password_hash, full_name, role, is_active) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING id",
        email, password_hash, full_name or email.split("@")[0], role, active,
    )


async def create_account(db, email: str, *, client=None, settings=None, role: str = "customer",
                         password: str = TEST_PASSWORD, full_name: str | None = None) -> Account:
    """`create_user` with a bearer token: logged in through the API with `client` (a refresh
    token too, and the login rate limit applies), or with `settings` an access token minted
    directly (no round trip, so a test can have dozens of accounts)."""
    if (client is None) == (settings is None):
        raise TypeError("create_account needs exactly one of client= (log in) or settings= (mint)")
    user_id = await create_user(db, email, role=role, password=password, full_name=full_name)
    if settings is not None:
        token = tokens.issue(settings, token_type=tokens.ACCESS, user_id=user_id, token_version=0)
        return Account(user_id, email, password, role, token.token)
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status == 200, await response.text()
    body = await response.json()
    return Account(user_id, email, password, role, body["access_token"], body["refresh_token"])


async def create_buyers(db, settings, count: int, prefix: str = "buyer") -> list[Account]:
    """`count` customers with minted tokens, {prefix}0@example.com and on."""
    return [
        await create_account(db, f"{prefix}{n}@example.com", settings=settings)
        for n in range(count)
    ]


async def fill_cart(client, buyer, *lines: tuple[int, int], by: str = "product_id") -> None:
    """Put `(id, quantity)` lines in the buyer's cart, in this order: product ids (the Release 1
    body), or variant ids with `by="variant_id"`."""
    for item_id, quantity in lines:
        response = await client.post(
            "/api/cart/items",
            json={by: item_id, "quantity": quantity},
            headers=buyer.headers,
        )
        assert response.status == 201, await response.text()


async def checkout(client, buyer, body: dict | None = None, *, key: str | None = None,
                   path: str = "/api/orders", headers: dict[str, str] | None = None):
    """Check out the buyer's cart through the API (to ADDRESS unless `body` says otherwise),
    with an Idempotency-Key when `key` is given; the response."""
    headers = {**buyer.headers, **(headers or {})}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(path, json=ADDRESS if body is None else body, headers=headers)


async def one_answer_per_key(responses) -> dict:
    """Of concurrent requests with one Idempotency-Key: exactly one was served, each other one
    replays its answer or is refused as still in flight; the served answer's body."""
    fresh = [r for r in responses if r.status == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    conflicts = [r for r in responses if r.status == 409]
    assert len(fresh) == 1
    assert len(fresh) + len(replayed) + len(conflicts) == len(responses)
    served = await fresh[0].json()
    for response in replayed:
        assert response.status == 201 and await response.json() == served
    for response in conflicts:
        assert (await response.json())["code"] == "idempotency_conflict"
    return served


async def place_order(client, buyer, *lines: tuple[int, int], **body) -> dict:
    """Fill the buyer's cart with `lines` and check out through the API; the new order."""
    await fill_cart(client, buyer, *lines)
    response = await checkout(client, buyer, {**ADDRESS, **body})
    assert response.status == 201, await response.text()
    return await response.json()


async def move(client, admin, order_id: int, status: str, **body):
    """An admin moves an order to `status` through the API; the response."""
    return await client.put(
        f"/api/admin/orders/{order_id}/status", json={"status": status, **body},
        headers=admin.headers,
    )


async def move_through(client, admin, order_id: int, *statuses: str) -> None:
    """`move` the order through each of `statuses` in turn, each move a 200."""
    for status in statuses:
        response = await move(client, admin, order_id, status)
        assert response.status == 200, await response.text()


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
            "price_at_purchase, line_total, variant_id, variant_title, sku) "
            "SELECT $1, p.id, p.name, $3, $4::numeric, $4::numeric * $3::integer, v.id, v.title,"
            " v.sku "
            "FROM products p JOIN LATERAL (SELECT * FROM product_variants WHERE product_id = p.id"
            " ORDER BY position, id LIMIT 1) v ON true WHERE p.id = $2",
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


async def assert_problem(response, status: int, code: str) -> dict:
    """`response` is the problem+json `status` with `code` (API.md, "Errors"); its body."""
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body = await response.json()
    assert body["code"] == code, body
    return body


async def eventually(check, *, within: float = 15.0, pool=None, relay=None):
    """Poll `check` (relaying the outbox meanwhile, when given a relay) until it returns
    something truthy. A server a fault test stopped is waited for, not an error."""
    deadline = time.monotonic() + within
    while True:
        if relay is not None:
            try:
                await relay(pool)
            except OSError:
                pass  # the relay itself backs off while its server is away
        try:
            result = await check()
        except DEPENDENCY_DOWN:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the workers")
        await asyncio.sleep(0.05)


async def ready(value):
    """`value` as an awaitable, for `eventually(lambda: ready(len(mailbox.messages) == 2))`."""
    return value


async def create_variant(db, product_id: int, *, options: dict[str, str], title: str,
                         price: str | Decimal, stock: int, sku: str | None = None,
                         position: int = 0) -> int:
    """Another variant of a product, e.g. {"Size": "M"} titled "M"; its id. The variants'
    trigger (0018) brings the product's price range and stock sum along."""
    return await db.fetchval(
        "INSERT INTO product_variants (product_id, options, title, price, stock_quantity, sku,"
        " position) VALUES ($1, $2::text::jsonb, $3, $4, $5, $6, $7) RETURNING id",
        product_id, json.dumps(options), title, Decimal(price), stock, sku, position,
    )


async def create_product_in_variants(db, variants: list[tuple[dict[str, str], str, int]],
                                     **product) -> int:
    """A product sold in `variants`, each (options, price, stock), e.g. ({"Size": "M",
    "Colour": "Red"}, "20.00", 3), with the options they name declared in that order; its id.
    `product` takes what create_product takes (its default variant is replaced)."""
    product_id = await create_product(db, **product)
    default = await variant_of(db, product_id)
    names = list(dict.fromkeys(name for options, _, _ in variants for name in options))
    for position, (options, price, stock) in enumerate(variants):
        await create_variant(db, product_id, options=options, price=price, stock=stock,
                             title=" / ".join(options.values()), position=position)
    await db.execute("DELETE FROM product_variants WHERE id = $1", default)
    declared = [
        {"name": name, "values": list(dict.fromkeys(o[name] for o, _, _ in variants if name in o))}
        for name in names
    ]
    await db.execute("UPDATE products SET options = $2::text::jsonb WHERE id = $1",
                     product_id, json.dumps(declared))
    return product_id


# -- shipping, tax and quotes (issue 13), configured through the admin API as a merchant would --

BERLIN = {
    "full_name": "Erika Mustermann",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}
BROOKLYN = {
    "full_name": "Jane Doe",
    "line1": "1 Main Street",
    "city": "Brooklyn",
    "region": "NY",
    "postal_code": "11201",
    "country": "US",
}


async def _admin_post(client, admin, path: str, body: dict) -> dict:
    response = await client.post(path, json=body, headers=admin.headers)
    assert response.status == 201, await response.text()
    return await response.json()


async def zone(client, admin, name: str, countries: list[str]) -> dict:
    return await _admin_post(
        client, admin, "/api/admin/shipping-zones", {"name": name, "countries": countries}
    )


async def method(client, admin, zone_id: int, name: str, price: str, **more) -> dict:
    body = {"name": name, "price": price, "min_delivery_days": 1, "max_delivery_days": 3, **more}
    return await _admin_post(client, admin, f"/api/admin/shipping-zones/{zone_id}/methods", body)


async def tax_rate(client, admin, country: str, rate: str, *, region=None, tax_class="standard"):
    return await _admin_post(
        client,
        admin,
        "/api/admin/tax-rates",
        {
            "country": country,
            "region": region,
            "tax_class": tax_class,
            "rate": rate,
            "name": f"{country} {region or ''} {tax_class}".strip(),
        },
    )


async def quote(client, buyer, body: dict | None = None):
    return await client.post("/api/cart/quote", json=body or {}, headers=buyer.headers)


async def quoted(client, buyer, body: dict | None = None) -> dict:
    response = await quote(client, buyer, body)
    assert response.status == 200, await response.text()
    return await response.json()


async def placed(client, buyer, body: dict) -> dict:
    response = await checkout(client, buyer, body)
    assert response.status == 201, await response.text()
    return await response.json()


def same_money(order: dict, quote_body: dict) -> None:
    """The order charges what the quote said, line by line and in total."""
    assert order["subtotal"] == quote_body["subtotal"]
    assert order["discount_total"] == quote_body["discount_total"]
    assert order["shipping_total"] == quote_body["shipping_total"]
    assert order["tax_total"] == quote_body["tax_total"]
    assert order["total_amount"] == quote_body["total"]
    assert order["tax_included"] == quote_body["tax_included"]
    by_variant = {item["variant_id"]: item for item in order["items"]}
    for line in quote_body["items"]:
        item = by_variant[line["variant_id"]]
        assert (item["discount"], item["tax"], item["line_total"]) == (
            line["discount"],
            line["tax"],
            line["total"],
        )


def adds_up(body: dict, *, total_key: str, line_total_key: str) -> None:
    """Lines add up to the totals, and the totals to what is charged."""
    lines = body["items"]
    cents = lambda text: Decimal(text)  # noqa: E731 - exact decimals, never floats
    assert sum(cents(line[line_total_key]) for line in lines) + cents(
        body["shipping_total"]
    ) + (Decimal(0) if body["tax_included"] else cents(body["shipping_tax"])) == cents(
        body[total_key]
    )
    assert sum(cents(line["tax"]) for line in lines) + cents(body["shipping_tax"]) == cents(
        body["tax_total"]
    )
    added = Decimal(0) if body["tax_included"] else cents(body["tax_total"])
    assert cents(body["subtotal"]) - cents(body["discount_total"]) + cents(
        body["shipping_total"]
    ) + added == cents(body[total_key])


async def promotion(client, admin, **fields) -> dict:
    """A promotion created through the admin API: 10 % off the order unless `fields` say
    otherwise (a `code` for a coupon)."""
    body = {"name": "Promotion", "kind": "percentage", "value": "10", "target": "order", **fields}
    return await _admin_post(client, admin, "/api/admin/promotions", body)


async def times_used(db, promotion_id: int) -> int:
    return await db.fetchval("SELECT times_used FROM promotions WHERE id = $1", promotion_id)

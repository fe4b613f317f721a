"""Migration 0018 (variants) on a database full of Release 1 data, and its rollback.

Each test makes a database of its own on the test server, migrates it to 0017 with yoyo (as
`yoyo apply` would), writes Release 1 rows with SQL in the 0017 schema, then applies 0018 and
checks where every row went; the rollback must give the 0017 schema back (columns, constraints,
indexes, functions, triggers) and fold what variants made of the data into Release 1 rows.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import pytest
from migrations_db import SCHEMA, migrate, scratch_database

LAST_RELEASE_1 = "0017.structure_rating_average"
VARIANTS = "0018.variants"


# A small Release 1 shop, written as the 0017 code wrote it: products with and without SKU and
# picture, one sold out and one soft-deleted; two carts; orders in several statuses, each placed
# pending and then moved, so the best-sellers trigger counts them; the checkout ledger rows and
# an admin's correction.
RELEASE_1_DATA = """
INSERT INTO categories (name, slug) VALUES ('Kitchen', 'kitchen');
INSERT INTO users (email, password_hash, full_name, role) VALUES
    ('ann@example.com', 'x', 'Ann', 'customer'),
    ('bob@example.com', 'x', 'Bob', 'customer'),
    ('admin@example.com', 'x', 'Admin', 'admin');
INSERT INTO products (name, slug, description, price, stock_quantity, sku, image_url,
                      category_id, is_active, deleted_at, created_at, updated_at)
VALUES ('Blue Mug', 'blue-mug', 'A blue stoneware mug.', 12.50, 40, 'MUG-BLUE',
        'https://images.example.com/blue-mug.jpg', (SELECT id FROM categories), true, NULL,
        now() - interval '30 days', now() - interval '2 days'),
       ('Plain Bowl', 'plain-bowl', '', 8.00, 5, NULL, NULL, NULL, true, NULL,
        now() - interval '20 days', now() - interval '20 days'),
       ('Teapot', 'teapot', 'Cast iron.', 45.00, 0, 'POT-1',
        'https://images.example.com/teapot.png', (SELECT id FROM categories), true, NULL,
        now() - interval '10 days', now() - interval '1 day'),
       ('Old Kettle', 'old-kettle', 'No longer sold.', 30.00, 3, 'KET-OLD',
        'https://images.example.com/kettle.png', NULL, false, now() - interval '5 days',
        now() - interval '90 days', now() - interval '5 days');

INSERT INTO carts (user_id) SELECT id FROM users WHERE role = 'customer' ORDER BY id;
INSERT INTO cart_items (cart_id, product_id, quantity)
SELECT c.id, p.id, q.quantity
  FROM (VALUES ('ann@example.com', 'blue-mug', 2), ('ann@example.com', 'plain-bowl', 1),
               ('bob@example.com', 'old-kettle', 1), ('bob@example.com', 'teapot', 1))
       AS q (email, slug, quantity)
  JOIN users u ON u.email = q.email
  JOIN carts c ON c.user_id = u.id
  JOIN products p ON p.slug = q.slug;

CREATE TEMPORARY TABLE wanted_orders (number integer, email text, status text);
INSERT INTO wanted_orders VALUES
    (1, 'ann@example.com', 'pending'), (2, 'ann@example.com', 'paid'),
    (3, 'bob@example.com', 'delivered'), (4, 'bob@example.com', 'cancelled'),
    (5, 'bob@example.com', 'shipped'), (6, 'ann@example.com', 'cancelled');
CREATE TEMPORARY TABLE wanted_lines (number integer, slug text, quantity integer, price numeric);
INSERT INTO wanted_lines VALUES
    (1, 'blue-mug', 1, 12.50), (1, 'plain-bowl', 2, 8.00),
    (2, 'blue-mug', 2, 11.00),
    (3, 'teapot', 1, 45.00), (3, 'old-kettle', 1, 30.00),
    (4, 'plain-bowl', 1, 8.00),
    (5, 'blue-mug', 3, 12.50),
    (6, 'teapot', 1, 45.00);
-- Orders are numbered by their notes, so the lines find them.
INSERT INTO orders (user_id, subtotal, total_amount, delivery_address, notes)
SELECT u.id, t.total, t.total, '1 Main Street', 'order ' || o.number
  FROM wanted_orders o
  JOIN users u ON u.email = o.email
  JOIN (SELECT number, sum(quantity * price) AS total FROM wanted_lines GROUP BY number) t
       USING (number)
 ORDER BY o.number;
INSERT INTO order_items (order_id, product_id, product_name, quantity, price_at_purchase)
SELECT o.id, p.id, p.name, l.quantity, l.price
  FROM wanted_lines l
  JOIN orders o ON o.notes = 'order ' || l.number
  JOIN products p ON p.slug = l.slug
 ORDER BY o.id, p.id;
INSERT INTO order_status_history (order_id, from_status, to_status)
SELECT id, NULL, 'pending' FROM orders;
INSERT INTO inventory_ledger (product_id, delta, reason, stock_after, order_id, actor_id)
SELECT oi.product_id, -oi.quantity, 'checkout', 10, oi.order_id, o.user_id
  FROM order_items oi JOIN orders o ON o.id = oi.order_id
 ORDER BY oi.id;
INSERT INTO inventory_ledger (product_id, delta, reason, stock_after, actor_id)
SELECT p.id, 20, 'Delivery from the supplier', 40, u.id
  FROM products p, users u
 WHERE p.slug = 'blue-mug' AND u.role = 'admin';
-- Order 6 was paid and then cancelled: counted, then taken back.
UPDATE orders SET status = 'paid' WHERE notes = 'order 6';
UPDATE orders o SET status = w.status
  FROM wanted_orders w
 WHERE o.notes = 'order ' || w.number AND w.status <> 'pending';
"""

# Release 1 rows by table, as they are stored.
RELEASE_1_TABLES = {
    "products": "SELECT * FROM products ORDER BY id",
    "carts": "SELECT * FROM carts ORDER BY id",
    "cart_items": "SELECT * FROM cart_items ORDER BY id",
    "orders": "SELECT * FROM orders ORDER BY id",
    "order_items": "SELECT * FROM order_items ORDER BY id",
    "inventory_ledger": "SELECT * FROM inventory_ledger ORDER BY id",
    "product_sales": "SELECT * FROM product_sales ORDER BY product_id",
    "order_json": "SELECT id, order_items_json(id)::text AS items FROM orders ORDER BY id",
}


async def apply_variants(url: str) -> None:
    await asyncio.to_thread(migrate, url, "apply", lambda m: m.id == VARIANTS)


async def roll_back_variants(url: str) -> None:
    await asyncio.to_thread(migrate, url, "rollback", lambda m: m.id == VARIANTS)


async def rows(conn, query: str, *args) -> list[dict]:
    return [dict(row) for row in await conn.fetch(query, *args)]


async def snapshot(conn) -> dict[str, list[dict]]:
    return {table: await rows(conn, query) for table, query in RELEASE_1_TABLES.items()}


@dataclass
class Database:
    url: str
    conn: asyncpg.Connection


@pytest.fixture
async def release1(services):
    """A fresh database of the test's own at 0017 holding RELEASE_1_DATA, and a connection."""
    async with scratch_database(services, lambda m: m.id <= LAST_RELEASE_1) as (url, conn):
        assert await conn.fetchval("SELECT max(migration_id) FROM _yoyo_migration") == (
            LAST_RELEASE_1
        )
        await conn.execute(RELEASE_1_DATA)
        yield Database(url, conn)


async def ids_by_slug(conn) -> dict[str, int]:
    return {row["slug"]: row["id"] for row in await conn.fetch("SELECT id, slug FROM products")}


async def order_id(conn, number: int) -> int:
    return await conn.fetchval("SELECT id FROM orders WHERE notes = $1", f"order {number}")


async def test_every_release_1_row_moves_onto_one_default_variant(release1):
    conn = release1.conn
    before = await snapshot(conn)
    assert len(before["products"]) == 4 and len(before["order_items"]) == 8
    # The best sellers as the 0017 trigger counted them: the paid, shipped and delivered
    # orders; order 6 counted and taken back; the bowl only in orders never paid.
    slugs = await ids_by_slug(conn)
    sales_before = before["product_sales"]
    assert [(s["product_id"], s["units_sold"], s["revenue"]) for s in sales_before] == [
        (slugs["blue-mug"], 5, Decimal("59.50")),
        (slugs["teapot"], 1, Decimal("45.00")),
        (slugs["old-kettle"], 1, Decimal("30.00")),
    ]

    await apply_variants(release1.url)

    variants = await rows(conn, "SELECT * FROM product_variants ORDER BY product_id")
    assert [v["product_id"] for v in variants] == [p["id"] for p in before["products"]]
    for product, variant in zip(before["products"], variants, strict=True):
        assert (variant["title"], json.loads(variant["options"])) == ("Default", {})
        assert (variant["price"], variant["stock_quantity"], variant["sku"]) == (
            product["price"], product["stock_quantity"], product["sku"]
        )
        assert (variant["position"], variant["is_active"], variant["deleted_at"]) == (0, True, None)
        assert [variant[name] for name in ("compare_at_price", "weight_grams", "image_url")] == [
            None, None, None
        ]
        assert (variant["created_at"], variant["updated_at"]) == (
            product["created_at"], product["updated_at"]
        )
    variant_of = {v["product_id"]: v["id"] for v in variants}

    # The product rows keep every Release 1 value (updated_at too: the trigger's refresh is no
    # edit), and their new summary columns say "one variant at this price".
    after = await snapshot(conn)
    for old, new in zip(before["products"], after["products"], strict=True):
        assert {name: new[name] for name in old} == old
        assert (new["price_max"], new["variant_count"]) == (old["price"], 1)
        assert (json.loads(new["options"]), json.loads(new["option_values"])) == ([], {})

    images = await rows(conn, "SELECT product_id, url, alt, position FROM product_images"
                              " ORDER BY product_id")
    assert images == [
        {"product_id": p["id"], "url": p["image_url"], "alt": "", "position": 0}
        for p in before["products"] if p["image_url"] is not None
    ]
    assert len(images) == 3

    # Cart lines, order lines and ledger rows are the same rows, now on the default variant.
    for table in ("cart_items", "order_items", "inventory_ledger"):
        moved = await rows(conn, f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 - fixed names
        assert len(moved) == len(before[table])
        for old, new in zip(before[table], moved, strict=True):
            product_id = old["product_id"]
            expected = {**old, "variant_id": variant_of[product_id]}
            if table == "cart_items":
                del expected["product_id"]
            if table == "order_items":
                sku = next(p["sku"] for p in before["products"] if p["id"] == product_id)
                expected.update(variant_title="Default", sku=sku)
            assert new == expected
    assert after["orders"] == before["orders"]
    assert after["product_sales"] == sales_before

    # Orders read as before, with the variant beside each line.
    first = await order_id(conn, 1)
    skus = {p["id"]: p["sku"] for p in before["products"]}
    lines = json.loads(await conn.fetchval("SELECT order_items_json($1)", first))
    assert lines == [
        {"product_id": slugs["blue-mug"], "product_name": "Blue Mug",
         "variant_id": variant_of[slugs["blue-mug"]], "variant_title": "Default",
         "sku": skus[slugs["blue-mug"]], "quantity": 1, "price_at_purchase": "12.50",
         "line_total": "12.50"},
        {"product_id": slugs["plain-bowl"], "product_name": "Plain Bowl",
         "variant_id": variant_of[slugs["plain-bowl"]], "variant_title": "Default",
         "sku": None, "quantity": 2, "price_at_purchase": "8.00", "line_total": "16.00"},
    ]
    for old, new in zip(before["order_json"], after["order_json"], strict=True):
        kept = [{k: line[k] for k in ("product_id", "product_name", "quantity",
                                      "price_at_purchase", "line_total")}
                for line in json.loads(new["items"])]
        assert kept == json.loads(old["items"])

    # The best sellers keep counting per product: paying order 1 now adds its lines.
    await conn.execute("UPDATE orders SET status = 'paid' WHERE id = $1", first)
    sales = {row["product_id"]: row for row in await rows(conn, "SELECT * FROM product_sales")}
    old_sales = {row["product_id"]: row for row in sales_before}
    mug, bowl = slugs["blue-mug"], slugs["plain-bowl"]
    assert sales[mug]["units_sold"] == old_sales[mug]["units_sold"] + 1
    assert sales[mug]["revenue"] == old_sales[mug]["revenue"] + Decimal("12.50")
    assert (sales[bowl]["units_sold"], sales[bowl]["revenue"]) == (2, Decimal("16.00"))


# Made after 0018, in the 0018 schema: a T-shirt in three sizes (the large one since deleted)
# in Ann's cart twice and in one of Bob's orders twice, with its ledger rows; and a bulk product
# whose two variants hold more together than a Release 1 product could.
VARIANT_DATA = """
INSERT INTO products (name, slug, price, stock_quantity, options)
VALUES ('Tee', 'tee', 0, 0, '[{"name": "Size", "values": ["S", "M", "L"]}]'),
       ('Bulk Pack', 'bulk-pack', 0, 0, '[{"name": "Colour", "values": ["Red", "Blue"]}]');
INSERT INTO product_variants (product_id, sku, options, title, price, stock_quantity, position)
SELECT p.id, v.sku, v.options::jsonb, v.title, v.price, v.stock, v.position
  FROM (VALUES ('tee', 'TEE-S', '{"Size": "S"}', 'S', 20.00, 4, 0),
               ('tee', 'TEE-M', '{"Size": "M"}', 'M', 30.00, 6, 1),
               ('tee', 'TEE-L', '{"Size": "L"}', 'L', 25.00, 5, 2),
               ('bulk-pack', 'BULK-R', '{"Colour": "Red"}', 'Red', 1.00, 600000000, 0),
               ('bulk-pack', 'BULK-B', '{"Colour": "Blue"}', 'Blue', 1.00, 600000000, 1))
       AS v (slug, sku, options, title, price, stock, position)
  JOIN products p ON p.slug = v.slug
 ORDER BY p.id, v.position;
UPDATE product_variants SET is_active = false, deleted_at = now() WHERE sku = 'TEE-L';

INSERT INTO cart_items (cart_id, variant_id, quantity)
SELECT c.id, v.id, v.position + 1
  FROM carts c JOIN users u ON u.id = c.user_id, product_variants v
 WHERE u.email = 'ann@example.com' AND v.sku IN ('TEE-S', 'TEE-M')
 ORDER BY v.id;

INSERT INTO orders (user_id, subtotal, total_amount, delivery_address, notes)
SELECT id, 80.00, 80.00, '2 Side Street', 'order 7' FROM users WHERE email = 'bob@example.com';
INSERT INTO order_items (order_id, product_id, product_name, variant_id, variant_title, sku,
                         quantity, price_at_purchase)
SELECT o.id, v.product_id, 'Tee', v.id, v.title, v.sku, v.position + 1, v.price
  FROM orders o, product_variants v
 WHERE o.notes = 'order 7' AND v.sku IN ('TEE-S', 'TEE-M')
 ORDER BY v.id;
UPDATE product_variants SET stock_quantity = stock_quantity - (position + 1)
 WHERE sku IN ('TEE-S', 'TEE-M');
INSERT INTO inventory_ledger (product_id, variant_id, delta, reason, stock_after, order_id)
SELECT v.product_id, v.id, -(v.position + 1), 'checkout', v.stock_quantity, o.id
  FROM orders o, product_variants v
 WHERE o.notes = 'order 7' AND v.sku IN ('TEE-S', 'TEE-M')
 ORDER BY v.id;
UPDATE orders SET status = 'paid' WHERE notes = 'order 7';
"""


async def test_the_rollback_gives_0017_back_and_folds_variants_into_products(release1):
    conn = release1.conn
    schema_0017 = await rows(conn, SCHEMA)
    before = await snapshot(conn)

    await apply_variants(release1.url)
    schema_0018 = await rows(conn, SCHEMA)
    assert schema_0018 != schema_0017
    await conn.execute(VARIANT_DATA)
    slugs = await ids_by_slug(conn)
    tee, bulk = slugs["tee"], slugs["bulk-pack"]
    summary = await conn.fetchrow(
        "SELECT price, price_max, stock_quantity, sku, variant_count FROM products WHERE id = $1",
        tee,
    )
    assert tuple(summary) == (Decimal("20.00"), Decimal("30.00"), 7, None, 2)
    assert await conn.fetchval("SELECT stock_quantity FROM products WHERE id = $1", bulk) == (
        1_200_000_000
    )
    tee_lines = await rows(conn, "SELECT id, cart_id FROM cart_items WHERE variant_id IN"
                                 " (SELECT id FROM product_variants WHERE product_id = $1)"
                                 " ORDER BY id", tee)
    assert len(tee_lines) == 2
    sales_tee = await conn.fetchrow("SELECT units_sold, revenue FROM product_sales"
                                    " WHERE product_id = $1", tee)
    assert tuple(sales_tee) == (3, Decimal("80.00"))

    await roll_back_variants(release1.url)

    assert await rows(conn, SCHEMA) == schema_0017
    assert await conn.fetchval("SELECT max(migration_id) FROM _yoyo_migration") == (
        LAST_RELEASE_1
    )
    # Every Release 1 row is exactly as it was.
    after = await snapshot(conn)
    r1_products = {p["id"] for p in before["products"]}
    r1_orders = {o["id"] for o in before["orders"]}
    r1_lines = {line["id"] for line in before["cart_items"]}
    assert [p for p in after["products"] if p["id"] in r1_products] == before["products"]
    assert after["carts"] == before["carts"]
    assert [i for i in after["cart_items"] if i["id"] in r1_lines] == before["cart_items"]
    assert [o for o in after["orders"] if o["id"] in r1_orders] == before["orders"]
    assert [i for i in after["order_items"] if i["order_id"] in r1_orders] == (
        before["order_items"]
    )
    assert [j for j in after["order_json"] if j["id"] in r1_orders] == before["order_json"]
    assert [row for row in after["inventory_ledger"] if row["product_id"] in r1_products] == (
        before["inventory_ledger"]
    )
    assert [s for s in after["product_sales"] if s["product_id"] in r1_products] == (
        before["product_sales"]
    )

    # The T-shirt is one product again: the stock its active sizes held, the lowest price, no
    # SKU (it had several); the bulk pack holds as much as a product can.
    folded = await conn.fetchrow(
        "SELECT price, stock_quantity, sku FROM products WHERE id = $1", tee
    )
    assert tuple(folded) == (Decimal("20.00"), 7, None)
    assert await conn.fetchval("SELECT stock_quantity FROM products WHERE id = $1", bulk) == (
        1_000_000_000
    )
    # Ann's two sizes are one cart line (the first one) with both quantities.
    cart_line = await rows(conn, "SELECT id, cart_id, quantity FROM cart_items"
                                 " WHERE product_id = $1", tee)
    assert cart_line == [{"id": tee_lines[0]["id"], "cart_id": tee_lines[0]["cart_id"],
                          "quantity": 3}]
    # Bob's two sizes are one order line: 1 x 20.00 + 2 x 30.00 = 3 at 26.67 on average.
    seventh = await order_id(conn, 7)
    order_line = await rows(conn, "SELECT product_id, product_name, quantity, price_at_purchase"
                                  " FROM order_items WHERE order_id = $1", seventh)
    assert order_line == [{"product_id": tee, "product_name": "Tee", "quantity": 3,
                           "price_at_purchase": Decimal("26.67")}]
    assert json.loads(await conn.fetchval("SELECT order_items_json($1)", seventh)) == [
        {"product_id": tee, "product_name": "Tee", "quantity": 3,
         "price_at_purchase": "26.67", "line_total": "80.01"}
    ]
    assert await conn.fetchval("SELECT subtotal FROM orders WHERE id = $1", seventh) == (
        Decimal("80.00")
    )
    ledger = await rows(conn, "SELECT delta, stock_after FROM inventory_ledger"
                              " WHERE order_id = $1 ORDER BY id", seventh)
    assert ledger == [{"delta": -1, "stock_after": 3}, {"delta": -2, "stock_after": 4}]
    assert tuple(await conn.fetchrow("SELECT units_sold, revenue FROM product_sales"
                                     " WHERE product_id = $1", tee)) == tuple(sales_tee)

    # And 0018 goes on again: the same schema, one default variant per product.
    await apply_variants(release1.url)
    assert await rows(conn, SCHEMA) == schema_0018
    variants = await rows(conn, "SELECT product_id, title, price, stock_quantity, sku"
                                " FROM product_variants ORDER BY product_id")
    assert [v["product_id"] for v in variants] == sorted(slugs.values())
    assert {v["title"] for v in variants} == {"Default"}
    assert [v for v in variants if v["product_id"] == tee] == [
        {"product_id": tee, "title": "Default", "price": Decimal("20.00"),
         "stock_quantity": 7, "sku": None}
    ]
    unplaced = await conn.fetchval(
        "SELECT count(*) FROM cart_items ci JOIN product_variants v ON v.id = ci.variant_id"
        " WHERE v.title <> 'Default'"
    )
    assert unplaced == 0
    assert await conn.fetchval(
        "SELECT count(*) FROM order_items oi JOIN product_variants v ON v.id = oi.variant_id"
        " WHERE v.product_id <> oi.product_id"
    ) == 0

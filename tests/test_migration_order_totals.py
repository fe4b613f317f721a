"""Migration 0023 (what an order charged: shipping, tax, discounts, per-line amounts) on a
database holding orders placed before it, and its rollback."""

from __future__ import annotations

from decimal import Decimal

import pytest
from scratch_database import apply, roll_back, schema, scratch_database

BEFORE = "0022.shipping_tax"
ORDER_TOTALS = "0023.order_totals"

# Two orders as the code before 0023 placed them: lines and totals only.
ORDERS_BEFORE = """
INSERT INTO users (email, password_hash, full_name) VALUES ('ann@example.com', 'x', 'Ann');
WITH product AS (
    INSERT INTO products (name, slug, price) VALUES ('Mug', 'mug', 12.50) RETURNING id
)
INSERT INTO product_variants (product_id, title, price, stock_quantity)
SELECT id, 'Default', 12.50, 10 FROM product;
INSERT INTO orders (user_id, subtotal, total_amount, delivery_address)
VALUES (1, 25.00, 25.00, '1 Main St'), (1, 12.50, 12.50, '2 Main St');
INSERT INTO order_items (order_id, product_id, variant_id, product_name, variant_title, quantity,
                         price_at_purchase)
VALUES (1, 1, 1, 'Mug', 'Default', 2, 12.50), (2, 1, 1, 'Mug', 'Default', 1, 12.50);
"""


@pytest.fixture
async def scratch(services):
    async with scratch_database(services.database_url, BEFORE) as database:
        await database.conn.execute(ORDERS_BEFORE)
        yield database


async def test_orders_before_it_charged_their_lines_alone(scratch):
    url, conn = scratch.url, scratch.conn
    before = await schema(conn)
    await apply(url, ORDER_TOTALS)
    order = await conn.fetchrow(
        "SELECT subtotal, discount_total, shipping_total, shipping_tax, tax_total, total_amount,"
        " tax_included, shipping_address, shipping_method, discounts FROM orders WHERE id = 1"
    )
    assert dict(order) == {
        "subtotal": Decimal("25.00"),
        "discount_total": Decimal("0.00"),
        "shipping_total": Decimal("0.00"),
        "shipping_tax": Decimal("0.00"),
        "tax_total": Decimal("0.00"),
        "total_amount": Decimal("25.00"),
        "tax_included": False,
        "shipping_address": None,
        "shipping_method": None,
        "discounts": "[]",
    }
    items = await conn.fetch(
        "SELECT order_id, discount, tax, line_total FROM order_items ORDER BY order_id"
    )
    assert [tuple(row) for row in items] == [
        (1, Decimal("0.00"), Decimal("0.00"), Decimal("25.00")),
        (2, Decimal("0.00"), Decimal("0.00"), Decimal("12.50")),
    ]
    shown = await conn.fetchval("SELECT order_items_json(1)::text")
    assert '"line_total" : "25.00"' in shown and '"tax" : "0.00"' in shown

    await roll_back(url, ORDER_TOTALS)
    assert await schema(conn) == before
    assert await conn.fetchval("SELECT count(*) FROM order_items") == 2

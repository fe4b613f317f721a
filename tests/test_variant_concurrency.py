"""Every Release 1 concurrency guarantee of checkout, per variant: real HTTP requests at once,
real transactions, real locks (as tests/test_orders_concurrency.py and test_idempotency.py do it
for products).

Checkout locks variant rows in id order, and the variants' trigger then locks their products
in id order; the products here have their variants' ids interleaved with other products' so
that the two orders disagree, which is where a deadlock would show.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

from factories import (
    checkout,
    create_buyers,
    create_product,
    create_variant,
    fill_cart,
    one_answer_per_key,
    stock_of,
)


async def sized_product(db, name: str, sizes: list[str], *, price: str = "20.00") -> int:
    """A product offered in `sizes`, without variants yet (the factory's default one removed);
    its id. Add its variants with `add_sizes`."""
    product = await create_product(db, name=name, price=price, stock=0)
    await db.execute("DELETE FROM product_variants WHERE product_id = $1", product)
    await db.execute(
        "UPDATE products SET options = $2::text::jsonb WHERE id = $1",
        product, json.dumps([{"name": "Size", "values": sizes}]),
    )
    return product


async def add_sizes(db, product: int, stock: dict[str, int], *, price: str = "20.00"
                    ) -> dict[str, int]:
    """One variant per size of `stock` ({size: units}), in that order; their ids by size."""
    return {
        size: await create_variant(db, product, options={"Size": size}, title=size,
                                   price=price, stock=units, sku=f"P{product}-{size}",
                                   position=position)
        for position, (size, units) in enumerate(stock.items())
    }


async def shirt(db, stock: dict[str, int], *, name: str = "Shirt", price: str = "20.00"
                ) -> tuple[int, dict[str, int]]:
    """A product in the sizes of `stock`; its id and its variants' ids by size."""
    product = await sized_product(db, name, list(stock), price=price)
    return product, await add_sizes(db, product, stock, price=price)


async def fill_variants(client, buyer, *lines: tuple[int, int]) -> None:
    await fill_cart(client, buyer, *lines, by="variant_id")


async def variant_stock(db, variant_id: int) -> int:
    return await db.fetchval(
        "SELECT stock_quantity FROM product_variants WHERE id = $1", variant_id
    )


async def stocks(db, variants: dict[str, int]) -> dict[str, int]:
    return {size: await variant_stock(db, variant) for size, variant in variants.items()}


async def cancel(client, buyer, order_id: int):
    return await client.post(f"/api/orders/{order_id}/cancel", headers=buyer.headers)


async def test_forty_buyers_racing_for_ten_units_of_one_size(client, db, settings):
    product, sizes = await shirt(db, {"S": 5, "M": 10, "L": 7})
    medium = sizes["M"]
    buyers = await create_buyers(db, settings, 40)
    for buyer in buyers:
        await fill_variants(client, buyer, (medium, 1))

    responses = await asyncio.gather(*(checkout(client, buyer) for buyer in buyers))
    assert Counter(response.status for response in responses) == {201: 10, 409: 30}
    for response in responses:
        body = await response.json()
        if response.status == 201:
            (line,) = body["items"]
            assert (line["product_id"], line["variant_id"], line["variant_title"]) == (
                product, medium, "M"
            )
            continue
        assert body["code"] == "insufficient_stock"
        assert body["errors"]["items"] == [
            {"product_id": product, "variant_id": medium, "requested": 1, "available": 0}
        ]

    # The size is sold out; the other sizes are untouched; the product shows their sum.
    assert await stocks(db, sizes) == {"S": 5, "M": 0, "L": 7}
    assert await stock_of(db, product) == 12
    assert await db.fetchval("SELECT count(*) FROM orders") == 10
    assert await db.fetchval(
        "SELECT sum(quantity) FROM order_items WHERE variant_id = $1", medium
    ) == 10
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'order.placed'") == 10
    # The ledger tells the same story for the variant: ten units out, 9 down to 0.
    steps = await db.fetch(
        "SELECT product_id, variant_id, delta, stock_after FROM inventory_ledger"
        " ORDER BY stock_after"
    )
    assert [tuple(row) for row in steps] == [(product, medium, -1, n) for n in range(10)]
    # The losers keep their carts; the winners' carts are empty.
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 30


async def test_crossed_carts_of_two_sizes_never_deadlock(client, db, settings):
    product, sizes = await shirt(db, {"S": 30, "M": 30})
    buyers = await create_buyers(db, settings, 30)
    for index, buyer in enumerate(buyers):
        lines = [(sizes["S"], 1), (sizes["M"], 1)]
        await fill_variants(client, buyer, *(lines if index % 2 else reversed(lines)))

    responses = await asyncio.gather(*(checkout(client, buyer) for buyer in buyers))
    assert [response.status for response in responses] == [201] * 30
    assert await stocks(db, sizes) == {"S": 0, "M": 0}
    assert await stock_of(db, product) == 0
    assert await db.fetchval("SELECT count(*) FROM orders") == 30
    titles = await db.fetch(
        "SELECT variant_title, count(*) AS n FROM order_items GROUP BY 1 ORDER BY 1"
    )
    assert [tuple(row) for row in titles] == [("M", 30), ("S", 30)]
    assert await db.fetchval(
        "SELECT count(*) FROM inventory_ledger WHERE delta = -1 AND order_id IS NOT NULL"
    ) == 60


async def test_crossed_carts_of_two_products_never_deadlock(client, db, settings):
    # Variant ids interleaved over the two products: the blue product's variants come first
    # and last, so variant id order and product id order disagree.
    red = await sized_product(db, "Red shirt", ["S", "M"])
    blue = await sized_product(db, "Blue shirt", ["S", "M"])
    blue_s = (await add_sizes(db, blue, {"S": 40}))["S"]
    red_s = (await add_sizes(db, red, {"S": 40}))["S"]
    red_m = await create_variant(db, red, options={"Size": "M"}, title="M", price="20.00",
                                 stock=40, position=1)
    blue_m = await create_variant(db, blue, options={"Size": "M"}, title="M", price="20.00",
                                  stock=40, position=1)
    buyers = await create_buyers(db, settings, 40)
    for index, buyer in enumerate(buyers):
        lines = [(red_m, 1), (blue_s, 1)] if index % 2 else [(blue_m, 1), (red_s, 1)]
        await fill_variants(client, buyer, *(lines if index % 4 < 2 else reversed(lines)))

    responses = await asyncio.gather(*(checkout(client, buyer) for buyer in buyers))
    assert [response.status for response in responses] == [201] * 40
    assert [await variant_stock(db, v) for v in (blue_s, red_s, red_m, blue_m)] == [20] * 4
    assert (await stock_of(db, red), await stock_of(db, blue)) == (40, 40)


async def test_checkouts_and_cancellations_of_sizes_interleave(client, db, settings):
    first, first_sizes = await shirt(db, {"S": 500, "M": 500}, name="Tee")
    second, second_sizes = await shirt(db, {"S": 500, "M": 500}, name="Hoodie")
    variants = [*first_sizes.values(), *second_sizes.values()]
    buyers = await create_buyers(db, settings, 24)
    first_orders = []
    for buyer in buyers:
        await fill_variants(client, buyer, *((v, 1) for v in random.sample(variants, 3)))
        response = await checkout(client, buyer)
        assert response.status == 201, await response.text()
        first_orders.append((buyer, (await response.json())["id"]))
    for buyer in buyers:
        await fill_variants(client, buyer, *((v, 2) for v in random.sample(variants, 4)))

    requests = [checkout(client, buyer) for buyer in buyers]
    requests += [cancel(client, buyer, order_id) for buyer, order_id in first_orders]
    random.shuffle(requests)
    responses = await asyncio.gather(*requests)
    assert Counter(response.status for response in responses) == {201: 24, 200: 24}
    # Only the second orders hold stock now: 24 buyers x 2 units of every variant.
    for variant in variants:
        assert await variant_stock(db, variant) == 500 - 48
    assert (await stock_of(db, first), await stock_of(db, second)) == (904, 904)
    # Every variant's ledger adds up to what it holds.
    drift = await db.fetchval(
        "SELECT count(*) FROM product_variants v WHERE v.stock_quantity <> 500 +"
        " (SELECT coalesce(sum(delta), 0) FROM inventory_ledger l WHERE l.variant_id = v.id)"
    )
    assert drift == 0


async def test_cancellation_restocks_the_variant_and_the_product(client, db, settings):
    product, sizes = await shirt(db, {"S": 4, "M": 6, "L": 3})
    buyer, other = await create_buyers(db, settings, 2)
    await fill_variants(client, buyer, (sizes["M"], 2), (sizes["L"], 1))
    response = await checkout(client, buyer)
    assert response.status == 201, await response.text()
    order = await response.json()
    assert await stocks(db, sizes) == {"S": 4, "M": 4, "L": 2}
    assert await stock_of(db, product) == 10

    # The cancellation and another buyer's checkout of the last L race; both stand.
    await fill_variants(client, other, (sizes["L"], 2))
    cancelled, bought = await asyncio.gather(cancel(client, buyer, order["id"]),
                                            checkout(client, other))
    assert (cancelled.status, bought.status) == (200, 201), await bought.text()
    assert (await cancelled.json())["status"] == "cancelled"
    assert await stocks(db, sizes) == {"S": 4, "M": 6, "L": 1}
    assert await stock_of(db, product) == 11
    restocked = await db.fetch(
        "SELECT variant_id, delta FROM inventory_ledger WHERE order_id = $1 AND delta > 0"
        " ORDER BY variant_id", order["id"],
    )
    assert [tuple(row) for row in restocked] == [(sizes["M"], 2), (sizes["L"], 1)]
    # The order keeps its lines' sizes.
    fetched = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)).json()
    assert [(i["variant_id"], i["variant_title"], i["quantity"]) for i in fetched["items"]] == [
        (sizes["M"], "M", 2), (sizes["L"], "L", 1)
    ]


async def test_one_idempotency_key_makes_one_order_of_two_sizes(client, db, settings):
    product, sizes = await shirt(db, {"S": 50, "M": 50})
    (buyer,) = await create_buyers(db, settings, 1)
    await fill_variants(client, buyer, (sizes["S"], 2), (sizes["M"], 1))
    responses = await asyncio.gather(*(checkout(client, buyer, key="race") for _ in range(8)))
    order = await one_answer_per_key(responses)
    assert [(i["variant_id"], i["quantity"]) for i in order["items"]] == [
        (sizes["S"], 2), (sizes["M"], 1)
    ]
    assert await db.fetchval("SELECT count(*) FROM orders") == 1
    assert await stocks(db, sizes) == {"S": 48, "M": 49}
    assert await stock_of(db, product) == 97

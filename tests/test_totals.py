"""Quote and checkout: shipping, tax and exact totals through HTTP (issue 13).

Shipping zones, methods and tax rates are configured through the admin API, as a merchant
would; every amount is checked to the cent, and each checkout against the quote before it.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from admin_pages import sign_in
from factories import (
    ADDRESS,
    BERLIN,
    BROOKLYN,
    adds_up,
    assert_problem,
    checkout,
    create_account,
    create_product,
    fill_cart,
    method,
    move,
    placed,
    quote,
    quoted,
    same_money,
    tax_rate,
    zone,
)

from shop_api.web.app import create_app


@pytest.fixture
async def inclusive_client(aiohttp_client, settings):
    """A shop whose prices contain VAT, as European shops list them."""
    return await aiohttp_client(
        create_app(dataclasses.replace(settings, prices_include_tax=True, store_country="DE"))
    )


# -- a shop with nothing configured ------------------------------------------------------------


async def test_release1_checkout_on_an_unconfigured_shop(client, db, customer):
    product = await create_product(db, price="12.50", stock=5)
    await fill_cart(client, customer, (product, 2))
    assert_quote = await quoted(client, customer)
    assert assert_quote["shipping_method"] is None and assert_quote["shipping_methods"] == []
    order = await placed(client, customer, ADDRESS)
    assert order["delivery_address"] == ADDRESS["delivery_address"]
    assert order["shipping_address"] is None and order["shipping_method"] is None
    assert (order["subtotal"], order["total_amount"]) == ("25.00", "25.00")
    assert (order["shipping_total"], order["tax_total"], order["discount_total"]) == (
        "0.00",
        "0.00",
        "0.00",
    )
    assert order["items"][0]["line_total"] == "25.00"
    same_money(order, assert_quote)
    assert await db.fetchval("SELECT amount FROM payments") is None


# -- the two shops of "Done when" --------------------------------------------------------------


async def test_german_vat_is_extracted_from_inclusive_prices(inclusive_client, db):
    client = inclusive_client
    admin = await create_account(db, "admin@example.com", client=client, role="admin")
    buyer = await create_account(db, "erika@example.com", client=client)
    germany = await zone(client, admin, "Germany", ["DE"])
    dhl = await method(client, admin, germany["id"], "DHL Paket", "4.99")
    await tax_rate(client, admin, "DE", "0.1900")
    await tax_rate(client, admin, "DE", "0.0700", tax_class="reduced")
    shirt = await create_product(db, price="29.99", stock=5)
    book = await create_product(db, price="15.00", stock=5)
    await db.execute("UPDATE products SET tax_class = 'reduced' WHERE id = $1", book)
    await fill_cart(client, buyer, (shirt, 2), (book, 1))

    body = {"shipping_address": BERLIN}
    the_quote = await quoted(client, buyer, body)
    # 59.98 gross at 19 %: 59.98 × 19 / 119 = 9.5766… → 9.58; 15.00 at 7 %: 0.9813… → 0.98;
    # shipping 4.99 at 19 %: 0.7967… → 0.80. Nothing is added to inclusive prices.
    assert the_quote["tax_included"] is True
    assert [line["tax"] for line in the_quote["items"]] == ["9.58", "0.98"]
    assert the_quote["shipping_method"]["id"] == dhl["id"]
    assert (the_quote["shipping_total"], the_quote["shipping_tax"]) == ("4.99", "0.80")
    assert the_quote["tax_total"] == "11.36"
    assert the_quote["total"] == "79.97"
    adds_up(the_quote, total_key="total", line_total_key="total")

    order = await placed(client, buyer, {**body, "expected_total": the_quote["total"]})
    same_money(order, the_quote)
    assert order["shipping_address"]["city"] == "Berlin"
    assert order["shipping_method"] == {"id": dhl["id"], "name": "DHL Paket"}
    assert "Berlin" in order["delivery_address"]
    adds_up(order, total_key="total_amount", line_total_key="line_total")


async def test_a_us_state_rate_is_added_with_shipping(client, db, admin, customer):
    usa = await zone(client, admin, "United States", ["US"])
    ground = await method(client, admin, usa["id"], "Ground", "7.00")
    await method(client, admin, usa["id"], "Express", "19.00")
    await tax_rate(client, admin, "US", "0.0000")
    new_york = await tax_rate(client, admin, "US", "0.08875", region="NY")
    assert new_york["rate"] == "0.08875"  # five places kept, as US combined rates need
    mug = await create_product(db, price="12.99", stock=10)
    await fill_cart(client, customer, (mug, 3))

    the_quote = await quoted(client, customer, {"shipping_address": BROOKLYN})
    # 38.97 × 8.875 % = 3.4585… → 3.46; shipping 7.00 × 8.875 % = 0.62125 → 0.62.
    assert the_quote["tax_included"] is False
    assert [m["name"] for m in the_quote["shipping_methods"]] == ["Ground", "Express"]
    assert the_quote["shipping_method"]["id"] == ground["id"]
    assert the_quote["items"][0]["tax"] == "3.46"
    assert the_quote["items"][0]["total"] == "42.43"
    assert (the_quote["shipping_total"], the_quote["shipping_tax"]) == ("7.00", "0.62")
    assert (the_quote["tax_total"], the_quote["total"]) == ("4.08", "50.05")
    adds_up(the_quote, total_key="total", line_total_key="total")

    order = await placed(client, customer, {"shipping_address": BROOKLYN})
    same_money(order, the_quote)
    assert await db.fetchval(
        "SELECT total_amount FROM orders WHERE id = $1", order["id"]
    ) == Decimal("50.05")


async def test_a_region_rate_beats_the_country_rate(client, db, admin, customer):
    await tax_rate(client, admin, "US", "0.0500")
    await tax_rate(client, admin, "US", "0.0725", region="CA")
    product = await create_product(db, price="100.00")
    await fill_cart(client, customer, (product, 1))
    california = await quoted(client, customer, {"country": "US", "region": "CA"})
    texas = await quoted(client, customer, {"country": "US", "region": "TX"})
    nowhere = await quoted(client, customer, {"country": "US"})
    assert [q["tax_total"] for q in (california, texas, nowhere)] == ["7.25", "5.00", "5.00"]
    # An ISO 3166-2 code names the same region.
    iso = await quoted(client, customer, {"country": "US", "region": "us-ca"})
    assert iso["tax_total"] == "7.25"
    # Another country has no rate: no tax.
    assert (await quoted(client, customer, {"country": "FR"}))["tax_total"] == "0.00"


async def test_the_store_country_taxes_a_free_text_address(client, db, admin, customer):
    await tax_rate(client, admin, "US", "0.1000")
    product = await create_product(db, price="20.00")
    await fill_cart(client, customer, (product, 1))
    the_quote = await quoted(client, customer)
    assert (the_quote["tax_total"], the_quote["total"]) == ("2.00", "22.00")
    order = await placed(client, customer, ADDRESS)
    same_money(order, the_quote)


async def test_tax_on_shipping_can_be_turned_off(aiohttp_client, settings, db):
    client = await aiohttp_client(create_app(dataclasses.replace(settings, tax_shipping=False)))
    admin = await create_account(db, "admin@example.com", client=client, role="admin")
    buyer = await create_account(db, "buyer@example.com", client=client)
    usa = await zone(client, admin, "US", ["US"])
    await method(client, admin, usa["id"], "Ground", "10.00")
    await tax_rate(client, admin, "US", "0.1000")
    product = await create_product(db, price="20.00")
    await fill_cart(client, buyer, (product, 1))
    the_quote = await quoted(client, buyer, {"country": "US"})
    assert (the_quote["shipping_tax"], the_quote["tax_total"], the_quote["total"]) == (
        "0.00",
        "2.00",
        "32.00",
    )


# -- shipping rules ----------------------------------------------------------------------------


async def test_zones_but_none_for_the_destination(client, db, admin, customer):
    usa = await zone(client, admin, "US", ["US"])
    await method(client, admin, usa["id"], "Ground", "5.00")
    product = await create_product(db, stock=3)
    await fill_cart(client, customer, (product, 1))
    await assert_problem(
        await quote(client, customer, {"country": "JP"}), 422, "shipping_unavailable"
    )
    before = await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", product)
    await assert_problem(
        await checkout(client, customer, {"shipping_address": {**BERLIN, "country": "JP"}}),
        422,
        "shipping_unavailable",
    )
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 1
    assert await db.fetchval(
        "SELECT stock_quantity FROM products WHERE id = $1", product
    ) == before


async def test_the_rest_of_the_world_zone_serves_the_others(client, db, admin, customer):
    usa = await zone(client, admin, "US", ["US"])
    await method(client, admin, usa["id"], "Ground", "5.00")
    world = await zone(client, admin, "World", ["*"])
    airmail = await method(client, admin, world["id"], "Airmail", "25.00")
    product = await create_product(db)
    await fill_cart(client, customer, (product, 1))
    japan = await quoted(client, customer, {"country": "JP"})
    assert japan["shipping_method"]["id"] == airmail["id"]
    assert japan["shipping_total"] == "25.00"
    assert (await quoted(client, customer, {"country": "US"}))["shipping_total"] == "5.00"


async def test_free_over_is_reached_exactly(client, db, admin, customer):
    usa = await zone(client, admin, "US", ["US"])
    await method(client, admin, usa["id"], "Ground", "6.00", free_over="50.00")
    product = await create_product(db, price="25.00", stock=10)
    await fill_cart(client, customer, (product, 1))
    below = await quoted(client, customer, {"country": "US"})
    assert (below["shipping_total"], below["total"]) == ("6.00", "31.00")
    await fill_cart(client, customer, (product, 1))  # 50.00 exactly
    reached = await quoted(client, customer, {"country": "US"})
    assert reached["shipping_methods"][0]["price"] == "0.00"
    assert (reached["shipping_total"], reached["total"]) == ("0.00", "50.00")
    same_money(await placed(client, customer, {"shipping_address": BROOKLYN}), reached)


async def test_a_weight_limit(client, db, admin, customer):
    usa = await zone(client, admin, "US", ["US"])
    letter = await method(client, admin, usa["id"], "Letter", "2.00", max_weight_grams=1000)
    parcel = await method(client, admin, usa["id"], "Parcel", "9.00")
    product = await create_product(db, price="10.00", stock=10)
    await db.execute(
        "UPDATE product_variants SET weight_grams = 500 WHERE product_id = $1", product
    )
    await fill_cart(client, customer, (product, 2))  # 1,000 g: at the limit
    at_limit = await quoted(client, customer, {"country": "US"})
    assert [m["id"] for m in at_limit["shipping_methods"]] == [letter["id"], parcel["id"]]
    assert at_limit["shipping_method"]["id"] == letter["id"]
    await fill_cart(client, customer, (product, 1))  # 1,500 g
    over = await quoted(client, customer, {"country": "US"})
    assert [m["id"] for m in over["shipping_methods"]] == [parcel["id"]]
    await assert_problem(
        await quote(client, customer, {"country": "US", "shipping_method_id": letter["id"]}),
        422,
        "shipping_unavailable",
    )
    await assert_problem(
        await checkout(
            client, customer, {"shipping_address": BROOKLYN, "shipping_method_id": letter["id"]}
        ),
        422,
        "shipping_unavailable",
    )
    order = await placed(
        client, customer, {"shipping_address": BROOKLYN, "shipping_method_id": parcel["id"]}
    )
    assert order["shipping_method"]["name"] == "Parcel" and order["shipping_total"] == "9.00"


async def test_a_method_of_another_zone_is_unavailable(client, db, admin, customer):
    usa = await zone(client, admin, "US", ["US"])
    await method(client, admin, usa["id"], "Ground", "5.00")
    canada = await zone(client, admin, "Canada", ["CA"])
    maple = await method(client, admin, canada["id"], "Maple Post", "8.00")
    product = await create_product(db)
    await fill_cart(client, customer, (product, 1))
    await assert_problem(
        await quote(client, customer, {"country": "US", "shipping_method_id": maple["id"]}),
        422,
        "shipping_unavailable",
    )


# -- the address book at checkout --------------------------------------------------------------


async def test_checkout_to_an_address_book_entry(client, db, admin, customer):
    await tax_rate(client, admin, "US", "0.0400", region="NY")
    response = await client.post("/api/addresses", json=BROOKLYN, headers=customer.headers)
    assert response.status == 201, await response.text()
    address = await response.json()
    product = await create_product(db, price="10.00")
    await fill_cart(client, customer, (product, 1))
    the_quote = await quoted(client, customer, {"address_id": address["id"]})
    assert the_quote["tax_total"] == "0.40"
    order = await placed(client, customer, {"address_id": address["id"]})
    same_money(order, the_quote)
    assert order["shipping_address"]["line1"] == "1 Main Street"
    # A snapshot: changing the address book later leaves the order as it was.
    changed = await client.put(
        f"/api/addresses/{address['id']}",
        json={**BROOKLYN, "line1": "2 Other Street"},
        headers=customer.headers,
    )
    assert changed.status == 200, await changed.text()
    again = await client.get(f"/api/orders/{order['id']}", headers=customer.headers)
    assert (await again.json())["shipping_address"]["line1"] == "1 Main Street"


async def test_another_users_address_is_a_404(client, db, customer):
    other = await create_account(db, "other@example.com", client=client)
    response = await client.post("/api/addresses", json=BROOKLYN, headers=other.headers)
    address = await response.json()
    product = await create_product(db)
    await fill_cart(client, customer, (product, 1))
    await assert_problem(
        await quote(client, customer, {"address_id": address["id"]}), 404, "not_found"
    )
    await assert_problem(
        await checkout(client, customer, {"address_id": address["id"]}), 404, "not_found"
    )
    assert await db.fetchval("SELECT count(*) FROM orders") == 0


# -- errors ------------------------------------------------------------------------------------


async def test_expected_total_that_changed_is_a_409_with_the_new_quote(
    client, db, admin, customer
):
    product = await create_product(db, price="10.00", stock=4)
    await fill_cart(client, customer, (product, 2))
    the_quote = await quoted(client, customer)
    assert the_quote["total"] == "20.00"
    await tax_rate(client, admin, "US", "0.1000")  # the merchant changes the rates meanwhile
    response = await checkout(client, customer, {**ADDRESS, "expected_total": the_quote["total"]})
    problem = await assert_problem(response, 409, "total_changed")
    assert problem["errors"]["quote"]["total"] == "22.00"
    assert problem["errors"]["quote"]["tax_total"] == "2.00"
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    assert await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", product) == 4
    assert await db.fetchval("SELECT count(*) FROM cart_items") == 1
    order = await placed(client, customer, {**ADDRESS, "expected_total": "22.00"})
    assert order["total_amount"] == "22.00"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"delivery_address": "1 Main St", "shipping_address": BROOKLYN},
        {"address_id": 1, "delivery_address": "1 Main St"},
        {"shipping_address": {**BROOKLYN, "country": "XX"}},
        {"shipping_address": {"country": "US"}},
        {"delivery_address": "1 Main St", "expected_total": "-1.00"},
        {"delivery_address": "1 Main St", "expected_total": "1.005"},
        {"delivery_address": "1 Main St", "shipping_method_id": "7"},
        {"delivery_address": "1 Main St", "country": "US"},
    ],
)
async def test_bad_checkout_bodies_are_422(client, db, customer, body):
    product = await create_product(db)
    await fill_cart(client, customer, (product, 1))
    await assert_problem(await checkout(client, customer, body), 422, "validation_error")
    assert await db.fetchval("SELECT count(*) FROM orders") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"country": "XX"},
        {"country": "US", "address_id": 1},
        {"region": "NY"},
        {"delivery_address": "1 Main St"},
        {"shipping_address": {**BROOKLYN, "surprise": 1}},
        {"country": "US", "shipping_method_id": 0},
    ],
)
async def test_bad_quote_bodies_are_422(client, db, customer, body):
    product = await create_product(db)
    await fill_cart(client, customer, (product, 1))
    await assert_problem(await quote(client, customer, body), 422, "validation_error")


async def test_quote_of_an_empty_cart(client, customer):
    await assert_problem(await quote(client, customer), 422, "cart_empty")


async def test_quote_needs_a_login(client):
    await assert_problem(await client.post("/api/cart/quote", json={}), 401, "unauthorized")


async def test_a_quote_changes_nothing(client, db, customer):
    product = await create_product(db, stock=3)
    await fill_cart(client, customer, (product, 2))
    await quoted(client, customer, {"country": "US"})
    assert await db.fetchval("SELECT stock_quantity FROM products WHERE id = $1", product) == 3
    assert await db.fetchval("SELECT quantity FROM cart_items") == 2
    assert await db.fetchval("SELECT count(*) FROM orders") == 0


# -- what was charged stays charged ------------------------------------------------------------


async def test_the_payment_charges_the_total_and_admin_views_show_the_breakdown(
    client, db, admin, customer
):
    usa = await zone(client, admin, "US", ["US"])
    await method(client, admin, usa["id"], "Ground", "7.00")
    await tax_rate(client, admin, "US", "0.08875", region="NY")
    product = await create_product(db, price="12.99", stock=10)
    await fill_cart(client, customer, (product, 3))
    order = await placed(client, customer, {"shipping_address": BROOKLYN})
    paid = await client.post(
        "/api/payments/process",
        json={"order_id": order["id"], "payment_token": "tok_visa"},
        headers=customer.headers,
    )
    assert paid.status == 202, await paid.text()
    assert (await paid.json())["amount"] == "50.05" == order["total_amount"]

    listed = await client.get("/api/admin/orders", headers=admin.headers)
    seen = (await listed.json())["items"][0]
    assert (seen["shipping_total"], seen["tax_total"], seen["total_amount"]) == (
        "7.00",
        "4.08",
        "50.05",
    )
    assert seen["shipping_address"]["city"] == "Brooklyn"
    assert seen["shipping_method"]["name"] == "Ground"
    assert [item["tax"] for item in seen["items"]] == ["3.46"]

    await sign_in(client, admin.email)
    page = await (await client.get(f"/admin/orders/{order['id']}")).text()
    for shown in ("Brooklyn", "11201", "Ground", "$7.00", "$4.08", "$50.05", "$3.46"):
        assert shown in page, shown


async def test_the_dashboard_counts_revenue_as_charged(client, db, admin, customer):
    usa = await zone(client, admin, "United States", ["US"])
    await method(client, admin, usa["id"], "Ground", "7.00")
    await tax_rate(client, admin, "US", "0.08875", region="NY")
    product = await create_product(db, price="12.99", stock=10)
    await fill_cart(client, customer, (product, 3))
    order = await placed(client, customer, {"shipping_address": BROOKLYN})
    assert (await move(client, admin, order["id"], "paid")).status == 200
    response = await client.get("/api/admin/dashboard", headers=admin.headers)
    body = await response.json()
    # Lines, shipping and tax: what the customer paid, not the lines' subtotal (38.97).
    assert body["revenue_total"] == "50.05"

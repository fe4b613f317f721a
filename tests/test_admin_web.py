"""The admin web pages over HTTP: login, sessions, CSRF, every page and every form.

The browser's part (the chart seen, forms clicked) is tests/test_admin_browser.py.
"""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from admin_pages import csrf_of, sign_in, submit_login
from factories import (
    PROBLEM,
    TEST_PASSWORD,
    create_order,
    create_product,
    create_user,
    create_variant,
    stock_of,
    variant_of,
)

from shop_api.settings import Settings
from shop_api.web.admin import charts
from shop_api.web.admin.guard import safe_next
from shop_api.web.admin.sessions import LOGIN_COOKIE, SESSION_COOKIE
from shop_api.web.app import create_app

# -- helpers ----------------------------------------------------------------------------------


def session_cookie(client) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    return None


def set_cookie_header(response, name: str) -> str:
    for value in response.headers.getall("Set-Cookie", []):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getall('Set-Cookie', [])}")


@pytest.fixture
async def admin_id(db) -> int:
    return await create_user(db, "boss@example.com", role="admin", full_name="The Boss")


@pytest.fixture
async def signed_in(client, admin_id) -> str:
    return await sign_in(client, "boss@example.com")


# -- getting in -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/admin/", "/admin/login"),
        ("/admin/orders?status=paid", "/admin/login?next=/admin/orders?status%3Dpaid"),
        ("/admin/inventory", "/admin/login?next=/admin/inventory"),
        ("/admin/users", "/admin/login?next=/admin/users"),
        ("/admin/orders/1", "/admin/login?next=/admin/orders/1"),
        ("/admin", "/admin/"),
    ],
)
async def test_pages_send_a_stranger_to_the_login_page(client, path, location):
    response = await client.get(path, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == location


async def test_the_login_page_is_an_accessible_form_with_a_csrf_token(client):
    response = await client.get("/admin/login")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert '<html lang="en">' in page
    assert csrf_of(page)
    assert '<label for="login-email">' in page and 'id="login-email"' in page
    assert '<label for="login-password">' in page and 'type="password"' in page
    assert '<link rel="stylesheet" href="/admin/static/admin.css">' in page
    assert "<script" not in page
    login_cookie = set_cookie_header(response, LOGIN_COOKIE)
    assert "HttpOnly" in login_cookie and "SameSite=Strict" in login_cookie


async def test_an_admin_logs_in_and_sees_the_dashboard(client, admin_id):
    response = await submit_login(client, "BOSS@example.com ")
    assert response.status == 303
    assert response.headers["Location"] == "/admin/"
    page = await client.get("/admin/")
    assert page.status == 200
    text = await page.text()
    assert "<h1>Dashboard</h1>" in text
    assert "boss@example.com" in text  # who is signed in, beside Sign out


async def test_login_returns_to_the_page_asked_for_but_never_off_site(client, admin_id):
    first = await client.get("/admin/users?search=x", allow_redirects=False)
    login_page = await client.get(first.headers["Location"])
    page = await login_page.text()
    assert 'name="next" value="/admin/users?search=x"' in page
    response = await client.post(
        "/admin/login",
        data={"csrf_token": csrf_of(page), "email": "boss@example.com",
              "password": TEST_PASSWORD, "next": "/admin/users?search=x"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/admin/users?search=x"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/admin/", "/\\evil.example", "/api/admin/users",
     "/admin/login", "javascript:alert(1)", "", "https:/admin/orders", "/admin/\x00"],
)
def test_safe_next_keeps_the_browser_on_the_admin_pages(target):
    assert safe_next(target) == "/admin/"


async def test_the_session_cookie_is_httponly_strict_and_scoped(client, admin_id):
    response = await submit_login(client, "boss@example.com")
    cookie = set_cookie_header(response, SESSION_COOKIE)
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # ENV=test and SESSION_COOKIE_SECURE unset
    # The login form's nonce is used up.
    assert 'Max-Age=0' in set_cookie_header(response, LOGIN_COOKIE)


async def test_the_session_cookie_is_secure_when_configured(aiohttp_client, settings, db):
    await create_user(db, "boss@example.com", role="admin")
    client = await aiohttp_client(
        create_app(dataclasses.replace(settings, session_cookie_secure=True))
    )
    login_page = await client.get("/admin/login")
    assert "Secure" in set_cookie_header(login_page, LOGIN_COOKIE)
    # The test client keeps Secure cookies to itself over plain http: hand the nonce over.
    response = await client.post(
        "/admin/login",
        data={"csrf_token": csrf_of(await login_page.text()), "email": "boss@example.com",
              "password": TEST_PASSWORD},
        cookies={LOGIN_COOKIE: login_page.cookies[LOGIN_COOKIE].value},
        allow_redirects=False,
    )
    assert response.status == 303
    assert "Secure" in set_cookie_header(response, SESSION_COOKIE)


def test_session_cookie_secure_defaults_to_production_only():
    secret = {"SECRET_KEY": "x" * 40}
    assert Settings.from_env({}).cookie_secure is False
    assert Settings.from_env({"ENV": "production", **secret}).cookie_secure is True
    production_on_http = {"ENV": "production", "SESSION_COOKIE_SECURE": "false", **secret}
    assert Settings.from_env(production_on_http).cookie_secure is False
    assert Settings.from_env({"SESSION_COOKIE_SECURE": "true"}).cookie_secure is True


async def test_a_customer_cannot_get_in(client, db):
    await create_user(db, "shopper@example.com")
    response = await submit_login(client, "shopper@example.com")
    assert response.status == 403
    text = await response.text()
    assert "not an admin account" in text
    assert SESSION_COOKIE not in response.cookies
    assert session_cookie(client) is None
    page = await client.get("/admin/", allow_redirects=False)
    assert page.status == 303


async def test_a_wrong_password_is_refused(client, admin_id):
    response = await submit_login(client, "boss@example.com", "wrong-password-1")
    assert response.status == 401
    text = await response.text()
    assert "The email or password is wrong." in text
    assert 'value="boss@example.com"' in text  # the email is kept, the password is not
    assert session_cookie(client) is None


async def test_a_deactivated_admin_is_refused(client, db):
    await create_user(db, "gone@example.com", role="admin", active=False)
    response = await submit_login(client, "gone@example.com")
    assert response.status == 403
    assert "deactivated" in await response.text()
    assert session_cookie(client) is None


async def test_an_empty_form_is_refused(client):
    response = await submit_login(client, "", "")
    assert response.status == 422
    assert "Enter your email and password." in await response.text()


async def test_form_logins_share_the_login_rate_limit(aiohttp_client, settings, db):
    client = await aiohttp_client(create_app(dataclasses.replace(settings, rate_limit_login=3)))
    await create_user(db, "boss@example.com", role="admin")
    for _ in range(3):
        assert (await submit_login(client, "boss@example.com", "wrong-password-1")).status == 401
    limited = await submit_login(client, "boss@example.com")  # even the right password
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "Too many attempts" in await limited.text()
    assert session_cookie(client) is None
    # The API's login counts the same attempts.
    api = await client.post(
        "/api/auth/login", json={"email": "boss@example.com", "password": TEST_PASSWORD}
    )
    assert api.status == 429


@pytest.mark.parametrize("token", [None, "", "forged-token", "0" * 64])
async def test_a_login_without_a_valid_csrf_token_is_refused(client, admin_id, token):
    await client.get("/admin/login")  # the nonce cookie is there; the token is not
    data = {"email": "boss@example.com", "password": TEST_PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = await client.post("/admin/login", data=data, allow_redirects=False)
    assert response.status == 403
    assert response.content_type == "text/html"
    assert "did not come from this site" in await response.text()
    assert session_cookie(client) is None


async def test_a_login_token_only_works_with_its_own_cookie(aiohttp_client, client, settings,
                                                             admin_id):
    other = await aiohttp_client(create_app(settings))
    token = csrf_of(await (await other.get("/admin/login")).text())
    await client.get("/admin/login")
    response = await client.post(
        "/admin/login",
        data={"csrf_token": token, "email": "boss@example.com", "password": TEST_PASSWORD},
        allow_redirects=False,
    )
    assert response.status == 403


# -- sessions end -----------------------------------------------------------------------------


async def test_logout_ends_the_session(client, signed_in):
    stolen = session_cookie(client)
    response = await client.post(
        "/admin/logout", data={"csrf_token": signed_in}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/admin/login?signed_out=1"
    assert "Max-Age=0" in set_cookie_header(response, SESSION_COOKIE)
    assert (await client.get("/admin/", allow_redirects=False)).status == 303
    # A copy of the cookie kept from before is worth nothing: the record is gone.
    replay = await client.get(
        "/admin/", allow_redirects=False, cookies={SESSION_COOKIE: stolen}
    )
    assert replay.status == 303
    notice = await client.get("/admin/login?signed_out=1")
    assert "You have signed out." in await notice.text()


async def test_logout_needs_the_csrf_token(client, signed_in):
    response = await client.post("/admin/logout", data={}, allow_redirects=False)
    assert response.status == 403
    assert (await client.get("/admin/", allow_redirects=False)).status == 200


async def test_deactivating_the_admin_ends_their_session(client, db, signed_in):
    other = await create_user(db, "other-admin@example.com", role="admin")
    login = await client.post(
        "/api/auth/login", json={"email": "other-admin@example.com", "password": TEST_PASSWORD}
    )
    token = (await login.json())["access_token"]
    boss = await db.fetchval("SELECT id FROM users WHERE email = 'boss@example.com'")
    flipped = await client.put(
        f"/api/admin/users/{boss}/toggle-status", headers={"Authorization": f"Bearer {token}"}
    )
    assert flipped.status == 200 and other
    response = await client.get("/admin/orders", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/login")
    # Reactivating does not revive it: the version moved on.
    await client.put(
        f"/api/admin/users/{boss}/toggle-status", headers={"Authorization": f"Bearer {token}"}
    )
    assert (await client.get("/admin/", allow_redirects=False)).status == 303


async def test_a_password_change_ends_the_session(client, signed_in):
    login = await client.post(
        "/api/auth/login", json={"email": "boss@example.com", "password": TEST_PASSWORD}
    )
    token = (await login.json())["access_token"]
    changed = await client.post(
        "/api/auth/change-password",
        json={"current_password": TEST_PASSWORD, "new_password": "another-horse-43"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert changed.status == 200
    assert (await client.get("/admin/", allow_redirects=False)).status == 303


async def test_losing_the_admin_role_ends_the_session(client, db, signed_in):
    await db.execute("UPDATE users SET role = 'customer' WHERE email = 'boss@example.com'")
    assert (await client.get("/admin/", allow_redirects=False)).status == 303


async def test_a_login_always_gets_a_fresh_session_id(client, admin_id):
    # Session fixation: an id planted in the browser beforehand never becomes the session.
    planted = "A" * 43
    form_page = await client.get("/admin/login")
    response = await client.post(
        "/admin/login",
        data={"csrf_token": csrf_of(await form_page.text()), "email": "boss@example.com",
              "password": TEST_PASSWORD},
        cookies={SESSION_COOKIE: planted},
        allow_redirects=False,
    )
    first = response.cookies[SESSION_COOKIE].value
    assert first != planted
    assert session_cookie(client) == first
    token = csrf_of(await (await client.get("/admin/")).text())
    await client.post("/admin/logout", data={"csrf_token": token})
    await sign_in(client, "boss@example.com")
    assert session_cookie(client) not in (first, planted)


async def test_the_session_cookie_does_not_open_the_api(client, signed_in):
    cookie = session_cookie(client)
    for path in ("/api/admin/dashboard", "/api/admin/users", "/api/auth/me"):
        response = await client.get(path, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
        assert response.status == 401, path
        assert response.content_type == PROBLEM


# -- CSRF on the forms ------------------------------------------------------------------------


@pytest.fixture
async def shop(db, admin_id) -> dict[str, int]:
    """A customer, two products and an order in each interesting state."""
    customer = await create_user(db, "shopper@example.com", full_name="Sam Shopper")
    lamp = await create_product(db, name="Brass Lamp", price="25.00", stock=12)
    mug = await create_product(db, name="Clay Mug", price="8.50", stock=2)
    return {
        "customer": customer,
        "lamp": lamp,
        "lamp_variant": await variant_of(db, lamp),
        "mug": mug,
        "processing": await create_order(db, customer, [(lamp, 2)], status="processing"),
        "pending": await create_order(db, customer, [(mug, 1)], status="pending", days_ago=3),
        "delivered": await create_order(
            db, customer, [(lamp, 1), (mug, 3)], status="delivered", days_ago=10
        ),
    }


def _forms(shop: dict[str, int]) -> list[tuple[str, dict]]:
    return [
        (f"/admin/orders/{shop['processing']}/status", {"status": "shipped"}),
        (f"/admin/inventory/{shop['lamp']}", {"mode": "set", "stock_quantity": "99"}),
        (f"/admin/inventory/{shop['lamp']}", {"mode": "adjust", "adjustment": "5",
                                              "reason": "Found a box"}),
        (f"/admin/users/{shop['customer']}/status", {"action": "deactivate"}),
        (f"/admin/inventory/variants/{shop['lamp_variant']}", {"mode": "set",
                                                               "stock_quantity": "7"}),
    ]


async def _state(db) -> tuple:
    return (
        await db.fetch("SELECT id, status FROM orders ORDER BY id"),
        await db.fetch("SELECT id, stock_quantity FROM products ORDER BY id"),
        await db.fetch("SELECT id, stock_quantity FROM product_variants ORDER BY id"),
        await db.fetch("SELECT id, is_active, token_version FROM users ORDER BY id"),
        await db.fetchval("SELECT count(*) FROM inventory_ledger"),
        await db.fetchval("SELECT count(*) FROM order_status_history"),
    )


@pytest.mark.parametrize("token", [None, "", "forged", "f" * 64])
async def test_a_form_without_the_sessions_csrf_token_changes_nothing(client, db, shop,
                                                                       signed_in, token):
    before = await _state(db)
    for path, data in _forms(shop):
        if token is not None:
            data = {**data, "csrf_token": token}
        response = await client.post(path, data=data, allow_redirects=False)
        assert response.status == 403, path
        assert response.content_type == "text/html"
        assert "did not come from this site" in await response.text()
    assert await _state(db) == before


async def test_another_sessions_token_is_refused(aiohttp_client, client, db, settings, shop,
                                                 signed_in):
    await create_user(db, "second@example.com", role="admin")
    other = await aiohttp_client(create_app(settings))
    other_token = await sign_in(other, "second@example.com")
    before = await _state(db)
    for path, data in _forms(shop):
        response = await client.post(path, data={**data, "csrf_token": other_token},
                                     allow_redirects=False)
        assert response.status == 403
    assert await _state(db) == before


async def test_a_form_without_a_session_goes_to_the_login_page(client, db, shop):
    before = await _state(db)
    for path, data in _forms(shop):
        response = await client.post(path, data=data, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "/admin/login"
    assert await _state(db) == before


# -- the pages --------------------------------------------------------------------------------


async def test_the_dashboard_shows_the_figures_and_the_chart(client, db, shop, signed_in):
    await create_order(db, shop["customer"], [(shop["mug"], 2)], status="paid", days_ago=1)
    await create_order(db, shop["customer"], [(shop["lamp"], 1)], status="cancelled")
    response = await client.get("/admin/")
    assert response.status == 200
    page = await response.text()
    # KPIs: revenue counts processing + delivered + paid, never pending or cancelled ones.
    # processing 2 x 10, delivered 4 x 10, paid 2 x 10 (create_order prices every line at 10).
    assert "$80.00" in page
    assert re.search(r"<dt>Orders</dt><dd>5</dd>", page)
    assert re.search(r"<dt>Customers</dt><dd>1</dd>", page)
    # The chart: an inline SVG with a title, both axes and 30 days of bars.
    svg = page[page.index("<svg class=\"chart__svg\""):page.index("</svg>") + 6]
    assert "<title id=\"chart-svg-title\">Revenue and orders per day, last 30 days</title>" in svg
    assert svg.count('<rect class="chart__bar"') == 31  # 30 days and the legend's swatch
    assert "Revenue (USD)" in svg and ">Orders</text>" in svg and "Day (UTC)" in svg
    assert '<polyline class="chart__line"' in svg
    today = datetime.now(UTC).date()
    assert today.strftime("%b %d").replace(" 0", " ") in svg
    assert "The figures by day" in page and today.isoformat() in page
    # Orders by status, top products, low stock.
    for status in ("Pending", "Paid", "Processing", "Shipped", "Delivered", "Cancelled"):
        assert f">{status}</span>" in page
    top = page[page.index('id="top-title"'):page.index('id="low-title"')]
    assert top.index("Clay Mug") < top.index("Brass Lamp")  # 5 units sold against 3
    low = page[page.index('id="low-title"'):]
    assert "Clay Mug" in low and "Brass Lamp" not in low


async def test_the_dashboard_of_an_empty_shop(client, signed_in):
    page = await (await client.get("/admin/")).text()
    assert "No paid orders in the last 30 days" in page
    assert "Nothing sold yet." in page


async def test_the_orders_page_filters_and_pages(client, db, shop, signed_in):
    page = await (await client.get("/admin/orders")).text()
    for order_id in (shop["processing"], shop["pending"], shop["delivered"]):
        assert f'href="/admin/orders/{order_id}"' in page
    assert "shopper@example.com" in page
    assert '<th scope="col">Status</th>' in page
    filtered = await (await client.get("/admin/orders?status=pending")).text()
    assert f'href="/admin/orders/{shop["pending"]}"' in filtered
    assert f'href="/admin/orders/{shop["processing"]}"' not in filtered
    assert '<option value="pending" selected>' in filtered
    everything = await (await client.get("/admin/orders?status=")).text()
    assert f'href="/admin/orders/{shop["delivered"]}"' in everything
    first = await (await client.get("/admin/orders?per_page=2")).text()
    assert "Page 1 of 2" in first
    assert 'href="/admin/orders?per_page=2&amp;page=2"' in first
    second = await (await client.get("/admin/orders?per_page=2&page=2")).text()
    assert f'href="/admin/orders/{shop["delivered"]}"' in second


async def test_a_bad_filter_is_an_html_error_page(client, signed_in):
    response = await client.get("/admin/orders?status=lost")
    assert response.status == 422
    assert response.content_type == "text/html"
    assert "Status: Must be one of" in await response.text()


async def test_an_order_page_offers_only_the_allowed_moves(client, shop, signed_in):
    response = await client.get(f"/admin/orders/{shop['processing']}")
    assert response.status == 200
    page = await response.text()
    assert f"Order #{shop['processing']}" in page
    assert "Brass Lamp" in page and "shopper@example.com" in page and "1 Test Street" in page
    offered = re.findall(r'name="status" value="(\w+)"', page)
    assert offered == ["shipped", "cancelled"]
    pending = await (await client.get(f"/admin/orders/{shop['pending']}")).text()
    assert re.findall(r'name="status" value="(\w+)"', pending) == ["paid", "cancelled"]
    final = await (await client.get(f"/admin/orders/{shop['delivered']}")).text()
    assert re.findall(r'name="status" value="(\w+)"', final) == []
    assert "is final" in final


async def test_an_unknown_order_is_an_html_404(client, signed_in):
    for path in ("/admin/orders/999999", "/admin/orders/99999999999999999999", "/admin/nowhere"):
        response = await client.get(path)
        assert response.status == 404, path
        assert response.content_type == "text/html"
        assert "Not Found" in await response.text()


async def test_the_api_still_answers_problems(client, signed_in):
    response = await client.get("/api/nowhere")
    assert response.status == 404
    assert response.content_type == PROBLEM
    wrong = await client.delete("/admin/orders")
    assert wrong.status == 405
    assert wrong.content_type == "text/html"
    assert "GET" in wrong.headers["Allow"]


async def test_pages_carry_the_browser_security_headers(client, signed_in):
    response = await client.get("/admin/users")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Request-ID"]
    css = await client.get("/admin/static/admin.css")
    assert css.status == 200
    assert css.content_type == "text/css"
    assert "@media" in await css.text()


async def test_the_inventory_page_searches_and_shows_low_stock(client, db, shop, signed_in):
    await create_product(db, name="Withdrawn Thing", stock=0, is_active=False)
    page = await (await client.get("/admin/inventory")).text()
    assert "Brass Lamp" in page and "Clay Mug" in page and "Withdrawn Thing" in page
    assert 'name="stock_quantity"' in page and 'name="adjustment"' in page
    assert '<label for="adjust-reason-' in page
    found = await (await client.get("/admin/inventory?search=brass")).text()
    assert "Brass Lamp" in found and "Clay Mug" not in found
    low = await (await client.get("/admin/inventory?low_stock=true")).text()
    assert "Clay Mug" in low and "Brass Lamp" not in low and "Withdrawn Thing" not in low


async def sized_shirt(db) -> tuple[int, int, int]:
    """A shirt in S (the factory's variant, 4 left) and M (1 left): its id and theirs."""
    shirt = await create_product(db, name="Linen Shirt", price="30.00", stock=4)
    small = await variant_of(db, shirt)
    await db.execute(
        "UPDATE product_variants SET options = '{\"Size\": \"S\"}', title = 'S', "
        "sku = 'LINEN-S' WHERE id = $1",
        small,
    )
    medium = await create_variant(db, shirt, options={"Size": "M"}, title="M", price="30.00",
                                  stock=1, sku="LINEN-M", position=1)
    return shirt, small, medium


async def test_the_inventory_page_shows_a_products_variants_under_it(client, db, shop,
                                                                      signed_in):
    shirt, small, medium = await sized_shirt(db)
    page = await (await client.get("/admin/inventory")).text()
    group = page[page.index(f'<tbody id="product-{shirt}">'):]
    group = group[:group.index("</tbody>")]
    assert f'<th scope="rowgroup" colspan="3">Linen Shirt <span class="muted">#{shirt}</span>' in (
        group
    )
    assert group.index(f'id="variant-{small}"') < group.index(f'id="variant-{medium}"')
    assert "SKU LINEN-M" in group
    assert f'action="/admin/inventory/variants/{medium}"' in group
    assert "the stock of Linen Shirt — M" in group
    # A single-variant product keeps its one row, named as before.
    lamp = page[page.index(f'<tbody id="product-{shop["lamp"]}">'):]
    assert "rowgroup" not in lamp[:lamp.index("</tbody>")]
    low = await (await client.get("/admin/inventory?low_stock=true&search=linen")).text()
    assert f'id="variant-{small}"' in low and f'id="variant-{medium}"' in low
    dashboard = await (await client.get("/admin/")).text()
    assert "Linen Shirt — M" in dashboard[dashboard.index('id="low-title"'):]
    assert "search=LINEN-M&amp;low_stock=true" in dashboard


async def test_setting_a_variants_stock(client, db, shop, admin_id, signed_in):
    shirt, small, medium = await sized_shirt(db)
    response = await client.post(
        f"/admin/inventory/variants/{medium}",
        data={"csrf_token": signed_in, "mode": "adjust", "adjustment": "9", "reason": "Delivery",
              "next": "/admin/inventory?search=linen"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/admin/inventory?search=linen"
    assert await db.fetchval(
        "SELECT stock_quantity FROM product_variants WHERE id = $1", medium
    ) == 10
    assert await stock_of(db, shirt) == 14
    ledger = await db.fetch(
        "SELECT product_id, variant_id, delta, reason, stock_after, actor_id FROM inventory_ledger"
    )
    assert [tuple(row) for row in ledger] == [(shirt, medium, 9, "Delivery", 10, admin_id)]
    page = await (await client.get(response.headers["Location"])).text()
    assert f"The stock of “Linen Shirt — M” (#{shirt}) is now 10." in page
    # The product's own form (pages from before variants) asks which variant.
    response = await client.post(
        f"/admin/inventory/{shirt}",
        data={"csrf_token": signed_in, "mode": "set", "stock_quantity": "0"},
    )
    assert "This product has 2 variants" in await response.text()
    assert await stock_of(db, shirt) == 14


async def test_an_order_page_names_each_lines_variant(client, db, shop, signed_in):
    shirt, small, medium = await sized_shirt(db)
    order_id = await create_order(db, shop["customer"], [(shirt, 2)])
    await db.execute(
        "INSERT INTO order_items (order_id, product_id, product_name, quantity, "
        "price_at_purchase, line_total, variant_id, variant_title, sku) "
        "VALUES ($1, $2, 'Linen Shirt', 1, 10, 10, $3, 'M', 'LINEN-M')",
        order_id, shirt, medium,
    )
    # The lines are snapshots: a later rename of the variant does not change them.
    await db.execute("UPDATE product_variants SET title = 'Medium' WHERE id = $1", medium)
    page = await (await client.get(f"/admin/orders/{order_id}")).text()
    items = page[page.index('id="items-title"'):page.index('id="history-title"')]
    assert "Linen Shirt — S" in items and "SKU LINEN-S" in items
    assert "Linen Shirt — M" in items and "SKU LINEN-M" in items
    assert "Medium" not in items
    # A default variant's line reads as before.
    lamp = await (await client.get(f"/admin/orders/{shop['processing']}")).text()
    assert "Brass Lamp <span" in lamp and "Default" not in lamp


async def test_the_users_page_searches(client, db, shop, signed_in):
    page = await (await client.get("/admin/users")).text()
    assert "shopper@example.com" in page and "boss@example.com" in page
    assert 'value="deactivate"' in page
    assert ">You</span>" in page  # no button to deactivate oneself
    found = await (await client.get("/admin/users?search=sam&role=customer&is_active=")).text()
    assert '<th scope="row">shopper@example.com</th>' in found
    assert '<th scope="row">boss@example.com</th>' not in found


# -- the forms change the database ------------------------------------------------------------


async def test_shipping_an_order(client, db, shop, admin_id, signed_in):
    order_id = shop["processing"]
    response = await client.post(
        f"/admin/orders/{order_id}/status",
        data={"csrf_token": signed_in, "status": "shipped", "reason": "DHL 123"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/admin/orders/{order_id}"
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order_id) == "shipped"
    history = await db.fetchrow(
        "SELECT from_status, to_status, changed_by, reason FROM order_status_history "
        "WHERE order_id = $1 ORDER BY id DESC LIMIT 1",
        order_id,
    )
    assert tuple(history) == ("processing", "shipped", admin_id, "DHL 123")
    # The same outbox message the API's route writes: the customer gets the shipped email.
    assert await db.fetchval(
        "SELECT count(*) FROM outbox WHERE payload->>'order_id' = $1::text", str(order_id)
    ) == 1
    page = await (await client.get(response.headers["Location"])).text()
    assert f"Order #{order_id} is now shipped." in page
    assert '<span class="badge badge--shipped">Shipped</span>' in page
    assert "DHL 123" in page and "boss@example.com" in page
    assert re.findall(r'name="status" value="(\w+)"', page) == ["delivered"]
    # The message is shown once.
    again = await (await client.get(response.headers["Location"])).text()
    assert "is now shipped." not in again


async def test_a_move_the_machine_refuses_changes_nothing(client, db, shop, signed_in):
    order_id = shop["processing"]
    response = await client.post(
        f"/admin/orders/{order_id}/status",
        data={"csrf_token": signed_in, "status": "delivered"},
    )
    assert response.status == 200
    assert "cannot become delivered" in await response.text()
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order_id) == "processing"
    unknown = await client.post(
        f"/admin/orders/{order_id}/status", data={"csrf_token": signed_in, "status": "lost"}
    )
    assert "Status: Must be one of" in await unknown.text()


async def test_cancelling_puts_the_stock_back(client, db, shop, signed_in):
    before = await stock_of(db, shop["mug"])
    await client.post(
        f"/admin/orders/{shop['pending']}/status",
        data={"csrf_token": signed_in, "status": "cancelled"},
    )
    assert await db.fetchval(
        "SELECT status FROM orders WHERE id = $1", shop["pending"]
    ) == "cancelled"
    assert await stock_of(db, shop["mug"]) == before + 1


async def test_setting_a_stock_level(client, db, shop, admin_id, signed_in):
    here = "/admin/inventory?search=lamp"
    response = await client.post(
        f"/admin/inventory/{shop['lamp']}",
        data={"csrf_token": signed_in, "mode": "set", "stock_quantity": "40", "reason": "",
              "next": here},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == here
    assert await stock_of(db, shop["lamp"]) == 40
    ledger = await db.fetchrow(
        "SELECT delta, reason, stock_after, actor_id FROM inventory_ledger WHERE product_id = $1",
        shop["lamp"],
    )
    assert tuple(ledger) == (28, "Stock count.", 40, admin_id)
    page = await (await client.get(here)).text()
    assert "The stock of “Brass Lamp”" in page and "is now 40." in page


async def test_adjusting_a_stock_level_with_a_reason(client, db, shop, admin_id, signed_in):
    response = await client.post(
        f"/admin/inventory/{shop['lamp']}",
        data={"csrf_token": signed_in, "mode": "adjust", "adjustment": "-3",
              "reason": "Damaged in the warehouse", "next": "https://evil.example/"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/admin/"
    assert await stock_of(db, shop["lamp"]) == 9
    ledger = await db.fetchrow(
        "SELECT delta, reason, stock_after, actor_id FROM inventory_ledger WHERE product_id = $1",
        shop["lamp"],
    )
    assert tuple(ledger) == (-3, "Damaged in the warehouse", 9, admin_id)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "adjust", "adjustment": "4", "reason": "  "},
         "Reason: Required with adjustment."),
        ({"mode": "adjust", "adjustment": "-13", "reason": "Broken"},
         "Cannot take away 13: only 12 in stock."),
        ({"mode": "adjust", "adjustment": "lots", "reason": "x"}, "Adjustment: Enter a whole"),
        ({"mode": "set", "stock_quantity": "-1"}, "Stock quantity: Must be greater than or equal"),
        ({"mode": "sell"}, "Mode: Choose to set or to adjust"),
    ],
)
async def test_a_refused_stock_change_changes_nothing(client, db, shop, signed_in, data,
                                                      message):
    response = await client.post(
        f"/admin/inventory/{shop['lamp']}", data={"csrf_token": signed_in, **data}
    )
    assert response.status == 200
    assert message in html.unescape(await response.text())
    assert await stock_of(db, shop["lamp"]) == 12
    assert await db.fetchval("SELECT count(*) FROM inventory_ledger") == 0


async def test_deactivating_and_reactivating_a_user(client, db, shop, signed_in):
    customer = shop["customer"]
    login = await client.post(
        "/api/auth/login", json={"email": "shopper@example.com", "password": TEST_PASSWORD}
    )
    token = (await login.json())["access_token"]
    response = await client.post(
        f"/admin/users/{customer}/status",
        data={"csrf_token": signed_in, "action": "deactivate", "next": "/admin/users?search=sam"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/admin/users?search=sam"
    assert await db.fetchval("SELECT is_active FROM users WHERE id = $1", customer) is False
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 401
    page = await (await client.get("/admin/users?search=sam")).text()
    assert "shopper@example.com is deactivated and signed out everywhere." in page
    assert 'value="activate"' in page
    # A second click of the same (stale) button does not flip it back.
    await client.post(f"/admin/users/{customer}/status",
                      data={"csrf_token": signed_in, "action": "deactivate"})
    assert await db.fetchval("SELECT is_active FROM users WHERE id = $1", customer) is False
    await client.post(f"/admin/users/{customer}/status",
                      data={"csrf_token": signed_in, "action": "activate"})
    assert await db.fetchval("SELECT is_active FROM users WHERE id = $1", customer) is True


async def test_an_admin_cannot_deactivate_themself(client, db, admin_id, signed_in):
    response = await client.post(
        f"/admin/users/{admin_id}/status", data={"csrf_token": signed_in, "action": "deactivate"}
    )
    assert "You cannot deactivate your own account." in await response.text()
    assert await db.fetchval("SELECT is_active FROM users WHERE id = $1", admin_id) is True


# -- chart geometry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maximum", "step"),
    [(0, 1), (3, 1), (7, 2), (10, 2.5), (1234.5, 500), (80, 20), (0.4, 0.1)],
)
def test_nice_steps(maximum, step):
    assert charts.nice_step(maximum) == pytest.approx(step)


@pytest.mark.parametrize(
    ("value", "text"), [(0, "$0"), (250, "$250"), (2500, "$2.5k"), (1_200_000, "$1.2M"),
                        (0.5, "$0.50"), (3000, "$3k")],
)
def test_axis_labels_are_compact(value, text):
    assert charts.compact(value, prefix="$") == text


def test_the_daily_chart_scales_bars_and_line_to_their_axes():
    today = date(2025, 3, 31)
    days = [
        {"date": today - timedelta(days=29 - n), "revenue": "0.00", "orders": 0}
        for n in range(30)
    ]
    days[-1] = {"date": today, "revenue": "800.00", "orders": 4}
    days[-2] = {"date": today - timedelta(days=1), "revenue": "400.00", "orders": 2}
    chart = charts.daily_chart(days, symbol="$")
    assert len(chart.bars) == 30 and len(chart.points) == 30
    plot = chart.bottom - chart.top
    # 800 on a 0..800 scale (step 200) fills the plot; 400 fills half of it.
    assert chart.bars[-1].height == pytest.approx(plot, abs=0.1)
    assert chart.bars[-2].height == pytest.approx(plot / 2, abs=0.1)
    assert chart.bars[0].height == 0
    assert chart.points[-1].y == pytest.approx(chart.top)
    assert [t.left for t in chart.ticks] == ["$0", "$200", "$400", "$600", "$800"]
    assert [t.right for t in chart.ticks] == ["0", "1", "2", "3", "4"]
    assert [label.day for label in chart.labels][-1] == today
    assert len(chart.labels) == 6
    assert chart.revenue_total == 1200 and chart.orders_total == 6 and not chart.empty


async def test_form_logins_count_the_client_behind_a_trusted_proxy(aiohttp_client, settings, db):
    app = create_app(dataclasses.replace(
        settings, rate_limit_address=2, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),)
    ))
    client = await aiohttp_client(app)
    await create_user(db, "boss@example.com", role="admin")

    async def attempt(forwarded_for: str) -> int:
        form_page = await client.get("/admin/login")
        response = await client.post(
            "/admin/login",
            data={"csrf_token": csrf_of(await form_page.text()), "email": "boss@example.com",
                  "password": "wrong-password-1"},
            headers={"X-Forwarded-For": forwarded_for},
            allow_redirects=False,
        )
        return response.status

    assert [await attempt("203.0.113.7") for _ in range(3)] == [401, 401, 429]
    # Another client behind the same proxy has a budget of its own, shared with the API login.
    assert await attempt("198.51.100.4") == 401
    api = await client.post(
        "/api/auth/login",
        json={"email": "nobody@example.com", "password": "guess-1234"},
        headers={"X-Forwarded-For": "198.51.100.4"},
    )
    assert api.status == 401
    assert await attempt("198.51.100.4") == 429

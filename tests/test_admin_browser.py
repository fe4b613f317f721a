"""The admin pages in a real browser: headless Chromium, driven by Playwright, against a real
server on a TCP port.

The browser is Debian's `chromium` package (Playwright's own browser download is never used):
CHROMIUM names another binary. Without any Chromium the test is skipped, saying so; `.ci/run`
installs it first. JavaScript is switched off in the browser, which proves the pages need none.
"""

from __future__ import annotations

import os
import shutil

import pytest
from factories import (
    TEST_PASSWORD,
    create_order,
    create_product,
    create_user,
    create_variant,
    stock_of,
    variant_of,
)
from playwright.async_api import async_playwright, expect

from shop_api.web.app import create_app

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


CHROMIUM = find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason=(
        "no Chromium binary found (looked for $CHROMIUM, chromium, chromium-browser); install "
        "Debian's package: apt-get install -y chromium"
    ),
)


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def test_an_admin_runs_the_shop_from_a_browser(aiohttp_server, settings, db, browser):
    await create_user(db, "boss@example.com", role="admin", full_name="The Boss")
    customer = await create_user(db, "shopper@example.com", full_name="Sam Shopper")
    lamp = await create_product(db, name="Brass Lamp", price="25.00", stock=12)
    mug = await create_product(db, name="Clay Mug", price="8.50", stock=1)
    # Big sales, so the key figures are as wide as a busy shop's for the phone check below.
    for days_ago in (0, 2, 5, 9, 20):
        await create_order(db, customer, [(lamp, 9), (mug, 9)], status="delivered",
                           days_ago=days_ago, price="99999.99")
    order_id = await create_order(db, customer, [(lamp, 2)], status="processing")
    # A shirt in two sizes: the factory's variant becomes S.
    shirt = await create_product(db, name="Linen Shirt", price="30.00", stock=6)
    small = await variant_of(db, shirt)
    await db.execute(
        "UPDATE product_variants SET options = '{\"Size\": \"S\"}', title = 'S' WHERE id = $1",
        small,
    )
    medium = await create_variant(db, shirt, options={"Size": "M"}, title="M", price="30.00",
                                  stock=3, position=1)

    server = await aiohttp_server(create_app(settings))
    base = f"http://{server.host}:{server.port}"
    context = await browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()

    # A stranger is sent to the login page; an admin gets in.
    await page.goto(f"{base}/admin/")
    await expect(page).to_have_url(f"{base}/admin/login")
    await page.get_by_label("Email").fill("boss@example.com")
    await page.get_by_label("Password").fill(TEST_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()

    # The chart: an SVG with its title, bars for the days with sales, drawn at a useful size.
    chart = page.locator("svg.chart__svg")
    await expect(chart).to_be_visible()
    await expect(chart.locator("text.chart__title")).to_have_text(
        "Revenue and orders per day, last 30 days"
    )
    box = await chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 200
    chart_image = page.get_by_role("img", name="Revenue and orders per day, last 30 days")
    await expect(chart_image).to_be_visible()
    tall_bars = await chart.locator("g.chart__bars rect").evaluate_all(
        "bars => bars.filter(bar => bar.getBBox().height > 0).length"
    )
    assert tall_bars == 5
    await expect(page.get_by_role("heading", name="Top products")).to_be_visible()
    await expect(page.locator("#low-title + .table-wrap")).to_contain_text("Clay Mug")

    # Ship the processing order.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    await page.get_by_role("link", name=f"#{order_id}", exact=True).click()
    await expect(page.locator("#order-status")).to_have_text("Processing")
    await page.get_by_label("Shipped").check()
    await page.get_by_label("Note for the order history").fill("Parcel 42 handed to DHL")
    await page.get_by_role("button", name="Change status").click()
    await expect(page.get_by_role("status")).to_have_text(f"Order #{order_id} is now shipped.")
    await expect(page.locator("#order-status")).to_have_text("Shipped")
    await expect(page.get_by_role("cell", name="Parcel 42 handed to DHL")).to_be_visible()
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order_id) == "shipped"

    # Fix the stock of the mug after a count.
    await page.get_by_role("link", name="Inventory").click()
    await page.get_by_label("Name or SKU contains").fill("mug")
    await page.get_by_role("button", name="Show").click()
    row = page.locator(f"#product-{mug}")
    await row.locator("summary").click()
    await row.get_by_label("Counted stock").fill("40")
    await row.get_by_role("button", name="Set stock").click()
    await expect(page.get_by_role("status")).to_contain_text("is now 40.")
    await expect(page.locator(f"#product-{mug} [data-stock]")).to_have_text("40")
    assert await stock_of(db, mug) == 40

    # Take two of the shirt's M away: its row sits under the shirt's name.
    await page.get_by_label("Name or SKU contains").fill("linen")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator(f"#product-{shirt} th[scope=rowgroup]")).to_contain_text(
        "Linen Shirt"
    )
    row = page.locator(f"#variant-{medium}")
    await row.locator("summary").click()
    await row.get_by_label("Add (or take away, negative)").fill("-2")
    await row.get_by_label("Reason", exact=True).fill("Two came back torn")
    await row.get_by_role("button", name="Adjust stock").click()
    await expect(page.get_by_role("status")).to_contain_text("Linen Shirt — M")
    await expect(page.locator(f"#variant-{medium} [data-stock]")).to_have_text("1")
    await expect(page.locator(f"#variant-{small} [data-stock]")).to_have_text("6")
    assert await stock_of(db, shirt) == 7

    # Deactivate the customer.
    await page.get_by_role("link", name="Users").click()
    await page.locator(f"#user-{customer}").get_by_role("button", name="Deactivate").click()
    await expect(page.get_by_role("status")).to_contain_text("shopper@example.com is deactivated")
    await expect(page.locator(f"#user-{customer}")).to_contain_text("Deactivated")
    assert await db.fetchval("SELECT is_active FROM users WHERE id = $1", customer) is False

    # On a phone the dashboard fits the screen: only the chart scrolls sideways, inside its box.
    phone = await context.new_page()
    await phone.set_viewport_size({"width": 390, "height": 844})
    await phone.goto(f"{base}/admin/")
    await expect(phone.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    overflow = await phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0

    # Signing out ends it.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_have_text("You have signed out.")
    await page.goto(f"{base}/admin/orders")
    await expect(page).to_have_url(f"{base}/admin/login?next=/admin/orders")
    await context.close()


async def test_a_customer_is_turned_away_in_the_browser(aiohttp_server, settings, db, browser):
    await create_user(db, "shopper@example.com")
    server = await aiohttp_server(create_app(settings))
    page = await browser.new_page()
    await page.goto(f"http://{server.host}:{server.port}/admin/login")
    await page.get_by_label("Email").fill("shopper@example.com")
    await page.get_by_label("Password").fill(TEST_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not an admin account")
    await expect(page.get_by_role("heading", name="Sign in to the shop admin")).to_be_visible()
    cookies = await page.context.cookies()
    assert [c["name"] for c in cookies if c["name"] == "shop_admin_session"] == []
    await page.close()

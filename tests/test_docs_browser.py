"""/api/docs in a real browser (headless Debian Chromium, as tests/test_admin_browser.py): the
reference page renders the OpenAPI 3.1 document, and everything it loads comes from us."""

from __future__ import annotations

from playwright.async_api import async_playwright, expect
from test_admin_browser import CHROMIUM, CHROMIUM_ARGS, pytestmark  # noqa: F401 - the skip

from shop_api.web.app import create_app

WAIT_MS = 20_000  # a 1.4 MB script to parse on a busy machine


async def test_the_docs_page_renders_the_api_in_a_browser(aiohttp_server, settings):
    server = await aiohttp_server(create_app(settings))
    base = f"http://{server.host}:{server.port}"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(WAIT_MS)
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            await page.goto(f"{base}/api/docs")
            login = page.locator(".opblock-summary-path", has_text="/api/auth/login")
            await expect(login.first).to_be_visible(timeout=WAIT_MS)
            await expect(page.get_by_text("Unable to render")).to_have_count(0)
            # The operation opens, with its request body, as a reader would use it.
            await login.first.click()
            opened = page.locator(".opblock.is-open")
            await expect(opened.get_by_text("Request body")).to_be_visible(timeout=WAIT_MS)
            content = await page.content()
        finally:
            await browser.close()
    assert "Unable to render this definition" not in content
    assert errors == []
    assert requested and all(url.startswith(base) for url in requested), requested

"""Helpers for tests of the admin pages: the CSRF token of a page, the login form, a session."""

from __future__ import annotations

import html
import re

from factories import TEST_PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "no csrf_token field on the page"
    return html.unescape(found.group(1))


async def submit_login(client, email: str, password: str = TEST_PASSWORD, **extra):
    form_page = await client.get("/admin/login")
    assert form_page.status == 200
    data = {"csrf_token": csrf_of(await form_page.text()), "email": email,
            "password": password, **extra}
    return await client.post("/admin/login", data=data, allow_redirects=False)


async def sign_in(client, email: str) -> str:
    """Sign the client in; returns the CSRF token of the session's forms."""
    response = await submit_login(client, email)
    assert response.status == 303, await response.text()
    page = await client.get("/admin/")
    assert page.status == 200
    return csrf_of(await page.text())

"""The admin page for promotions: listed with their use counts, changed and deactivated with
forms that refuse what the API refuses, with a message and never a 500."""

from __future__ import annotations

import html

import pytest
from admin_pages import sign_in
from factories import create_product, create_user


@pytest.fixture
async def csrf(client, db) -> str:
    await create_user(db, "boss@example.com", role="admin")
    return await sign_in(client, "boss@example.com")


async def post(client, path: str, csrf: str, **data) -> str:
    """Submit a form as the page does; the page the browser is sent back to."""
    response = await client.post(path, data={"csrf_token": csrf, **data}, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await client.get(response.headers["Location"])
    assert page.status == 200
    return html.unescape(await page.text())


FORM = {
    "name": "Spring",
    "code": "SPRING15",
    "kind": "percentage",
    "value": "15",
    "target": "order",
    "product_ids": "",
    "category_ids": "",
    "min_subtotal": "",
    "starts_at": "2026-01-01T00:00",
    "ends_at": "",
    "usage_limit": "10",
    "usage_limit_per_customer": "",
    "is_active": "on",
}


async def test_promotions_are_added_changed_and_deactivated_with_forms(client, db, csrf):
    page = await (await client.get("/admin/")).text()
    assert '<a href="/admin/promotions">Promotions</a>' in page
    empty = await (await client.get("/admin/promotions")).text()
    assert "No promotion yet." in empty

    shown = await post(client, "/admin/promotions", csrf, **FORM)
    assert "Promotion “Spring” added." in shown
    row = await db.fetchrow("SELECT * FROM promotions")
    assert (row["code"], row["value"], row["usage_limit"], row["is_active"]) == (
        "SPRING15", 15, 10, True
    )
    assert row["starts_at"].isoformat() == "2026-01-01T00:00:00+00:00"
    assert 'data-uses="0"' in shown and "0 / 10" in shown

    product = await create_product(db)
    shown = await post(
        client, f"/admin/promotions/{row['id']}", csrf,
        **{**FORM, "target": "items", "product_ids": f"{product}", "is_active": ""},
    )
    assert "Promotion “Spring” saved." in shown
    assert await db.fetchval("SELECT product_id FROM promotion_products") == product
    assert await db.fetchval("SELECT is_active FROM promotions") is False

    shown = await post(client, f"/admin/promotions/{row['id']}/delete", csrf)
    assert "deactivated" in shown
    assert await db.fetchval("SELECT count(*) FROM promotions") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"value": "150"}, "A percentage is at most 100."),
        ({"product_ids": "1, x"}, "Enter ids separated by commas."),
        ({"usage_limit": "ten"}, "Enter a whole number."),
        ({"target": "items", "product_ids": "999999"}, "No such product."),
    ],
)
async def test_a_refused_promotion_form_says_why(client, db, csrf, changes, message):
    shown = await post(client, "/admin/promotions", csrf, **{**FORM, **changes})
    assert message in shown
    assert await db.fetchval("SELECT count(*) FROM promotions") == 0


async def test_a_taken_code_is_refused_in_any_case(client, db, csrf):
    await post(client, "/admin/promotions", csrf, **FORM)
    shown = await post(client, "/admin/promotions", csrf, **{**FORM, "code": "spring15"})
    assert "Another promotion has this code" in shown
    assert await db.fetchval("SELECT count(*) FROM promotions") == 1

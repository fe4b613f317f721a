"""The admin pages for shipping zones, their methods and tax rates: listed, and changed with
forms that refuse what the API refuses, with a message and never a 500."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from admin_pages import sign_in
from factories import create_user


@pytest.fixture
async def csrf(client, db) -> str:
    await create_user(db, "boss@example.com", role="admin")
    return await sign_in(client, "boss@example.com")


async def post(client, path: str, csrf: str, **data) -> tuple[str, str]:
    """Submit a form as the page does: where it sent the browser, and the page shown there."""
    response = await client.post(path, data={"csrf_token": csrf, **data}, allow_redirects=False)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    page = await client.get(location)
    assert page.status == 200
    return location, html.unescape(await page.text())


async def zone_rows(db) -> list[tuple]:
    rows = await db.fetch(
        "SELECT z.name, array_agg(c.country ORDER BY c.country) AS countries "
        "FROM shipping_zones z JOIN shipping_zone_countries c ON c.zone_id = z.id "
        "WHERE z.deleted_at IS NULL GROUP BY z.id ORDER BY z.id"
    )
    return [(row["name"], row["countries"]) for row in rows]


METHOD_FORM = {
    "name": "Standard",
    "price": "4.90",
    "free_over": "",
    "max_weight_grams": "",
    "min_delivery_days": "2",
    "max_delivery_days": "4",
    "is_active": "on",
}


async def test_the_pages_need_a_session_and_are_in_the_menu(client, csrf):
    page = await (await client.get("/admin/")).text()
    assert '<a href="/admin/shipping">Shipping</a>' in page
    assert '<a href="/admin/tax-rates">Tax</a>' in page
    shipping = await client.get("/admin/shipping")
    assert shipping.status == 200
    text = await shipping.text()
    assert '<a href="/admin/shipping" aria-current="page">Shipping</a>' in text
    assert "No shipping zone yet: shipping is free everywhere." in text
    assert '<label for="new-zone-countries">' in text
    tax = await (await client.get("/admin/tax-rates")).text()
    assert "No tax rate yet: nothing is taxed." in tax
    assert '<label for="new-rate-rate">' in tax
    await client.post("/admin/logout", data={"csrf_token": csrf})
    for path in ("/admin/shipping", "/admin/tax-rates"):
        response = await client.get(path, allow_redirects=False)
        assert response.headers["Location"] == f"/admin/login?next={path}"


async def test_zones_are_added_changed_and_removed_with_forms(client, db, csrf):
    location, page = await post(
        client, "/admin/shipping/zones", csrf, name="Europe", countries="de, fr  it"
    )
    assert location == "/admin/shipping"
    assert "Zone “Europe” added." in page
    assert 'Germany, France, Italy <span class="muted">(DE, FR, IT)</span>' in page
    assert await zone_rows(db) == [("Europe", ["DE", "FR", "IT"])]
    zone_id = await db.fetchval("SELECT id FROM shipping_zones")
    assert f'action="/admin/shipping/zones/{zone_id}/methods"' in page

    location, page = await post(
        client, f"/admin/shipping/zones/{zone_id}", csrf, name="Western Europe", countries="DE FR"
    )
    assert location == f"/admin/shipping#zone-{zone_id}"
    assert "Zone “Western Europe” saved." in page
    assert await zone_rows(db) == [("Western Europe", ["DE", "FR"])]

    _, page = await post(client, "/admin/shipping/zones", csrf, name="World", countries="*")
    assert 'Rest of the world <span class="muted">(*)</span>' in page
    _, page = await post(client, f"/admin/shipping/zones/{zone_id}/delete", csrf)
    assert "The zone and its methods are removed" in page
    assert await zone_rows(db) == [("World", ["*"])]
    # A page left open on the removed zone: a message, not an error page.
    _, page = await post(
        client, f"/admin/shipping/zones/{zone_id}", csrf, name="Again", countries="DE"
    )
    assert "No such shipping zone." in page


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "DACH", "countries": "AT, DE"}, "Countries: DE is already in zone “Europe”."),
        (
            {"name": "Nowhere", "countries": "DE, XX"},
            "Countries: “XX” is not an ISO 3166-1 alpha-2 country code.",
        ),
        ({"name": "Mixed", "countries": "*, US"}, "stands alone"),
        ({"name": "Empty", "countries": " "}, "Countries: Length must be between 1 and 249."),
        ({"name": " ", "countries": "US"}, "Name: Must not be blank."),
    ],
)
async def test_a_refused_zone_form_says_why_and_changes_nothing(client, db, csrf, form, message):
    await post(client, "/admin/shipping/zones", csrf, name="Europe", countries="DE")
    _, page = await post(client, "/admin/shipping/zones", csrf, **form)
    assert message in page
    assert 'class="flash flash--error"' in page
    assert await zone_rows(db) == [("Europe", ["DE"])]


async def test_methods_are_added_changed_and_removed_with_forms(client, db, csrf):
    await post(client, "/admin/shipping/zones", csrf, name="Europe", countries="DE")
    zone_id = await db.fetchval("SELECT id FROM shipping_zones")
    location, page = await post(
        client, f"/admin/shipping/zones/{zone_id}/methods", csrf, **METHOD_FORM
    )
    assert location == f"/admin/shipping#zone-{zone_id}"
    assert "Method “Standard” added." in page
    method = await db.fetchrow("SELECT * FROM shipping_methods")
    assert (
        method["price"],
        method["free_over"],
        method["max_weight_grams"],
        method["min_delivery_days"],
        method["max_delivery_days"],
        method["is_active"],
    ) == (Decimal("4.90"), None, None, 2, 4, True)
    assert f'id="method-{method["id"]}"' in page and "$4.90" in page and "2–4 days" in page

    # An unticked box is sent as nothing: the method stops being offered.
    changed = {**METHOD_FORM, "name": "Parcel", "free_over": "50", "max_weight_grams": "3000"}
    del changed["is_active"]
    location, page = await post(client, f"/admin/shipping/methods/{method['id']}", csrf, **changed)
    assert location == f"/admin/shipping#method-{method['id']}"
    assert "Method “Parcel” saved." in page and "Not offered" in page
    assert "$50.00" in page and "3,000 g" in page
    row = await db.fetchrow(
        "SELECT name, free_over, max_weight_grams, is_active FROM shipping_methods"
    )
    assert tuple(row) == ("Parcel", Decimal("50.00"), 3000, False)

    _, page = await post(client, f"/admin/shipping/methods/{method['id']}/delete", csrf)
    assert "The method is removed" in page
    assert f'id="method-{method["id"]}"' not in page
    assert await db.fetchval("SELECT deleted_at IS NOT NULL FROM shipping_methods")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_delivery_days": "5"}, "Max delivery days: Must not be less than min_delivery_days."),
        ({"max_delivery_days": "soon"}, "Max delivery days: Enter a whole number."),
        ({"price": "-1"}, "Price: Not a valid amount"),
        ({"price": ""}, "Price: Not a valid amount"),
        ({"free_over": "1.234"}, "Free over: Not a valid amount"),
        ({"max_weight_grams": "heavy"}, "Max weight grams: Enter a whole number."),
    ],
)
async def test_a_refused_method_form_says_why_and_changes_nothing(
    client, db, csrf, change, message
):
    await post(client, "/admin/shipping/zones", csrf, name="Europe", countries="DE")
    zone_id = await db.fetchval("SELECT id FROM shipping_zones")
    _, page = await post(
        client, f"/admin/shipping/zones/{zone_id}/methods", csrf, **{**METHOD_FORM, **change}
    )
    assert message in page
    assert await db.fetchval("SELECT count(*) FROM shipping_methods") == 0


async def test_tax_rates_are_added_changed_filtered_and_removed_with_forms(client, db, csrf):
    rate_form = {
        "country": "de",
        "region": "",
        "tax_class": "standard",
        "rate": "0.19",
        "name": "MwSt",
        "next": "/admin/tax-rates",
    }
    location, page = await post(client, "/admin/tax-rates", csrf, **rate_form)
    assert location == "/admin/tax-rates"
    assert "Tax rate “MwSt” for DE, standard: 19 % added." in page
    assert "Germany" in page and "Whole country" in page
    await post(
        client,
        "/admin/tax-rates",
        csrf,
        **{**rate_form, "country": "US", "region": "CA", "rate": "0.0725", "name": "California"},
    )
    _, page = await post(client, "/admin/tax-rates", csrf, **rate_form)
    assert "A rate for this country, region and tax class already exists." in page
    assert await db.fetchval("SELECT count(*) FROM tax_rates") == 2

    filtered = html.unescape(await (await client.get("/admin/tax-rates?country=us")).text())
    assert "California" in filtered and "MwSt" not in filtered and "7.25 %" in filtered
    california = await db.fetchval("SELECT id FROM tax_rates WHERE region = 'CA'")
    location, page = await post(
        client,
        f"/admin/tax-rates/{california}",
        csrf,
        **{
            **rate_form,
            "country": "US",
            "region": "",
            "tax_class": "reduced",
            "rate": "0.05",
            "name": "US reduced",
            "next": "/admin/tax-rates?country=US",
        },
    )
    assert location == "/admin/tax-rates?country=US"
    assert "Tax rate “US reduced” for US, reduced: 5 % saved." in page
    assert tuple(
        await db.fetchrow(
            "SELECT country, region, tax_class, rate FROM tax_rates WHERE id = $1", california
        )
    ) == ("US", None, "reduced", Decimal("0.0500"))

    _, page = await post(
        client, f"/admin/tax-rates/{california}/delete", csrf, next="https://evil.example/"
    )
    assert "The tax rate is removed." in page
    assert await db.fetchval("SELECT count(*) FROM tax_rates") == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate": "19"}, "Rate: Not a valid rate"),
        ({"rate": "1"}, "Rate: Not a valid rate"),
        ({"rate": "0.1234567"}, "Rate: Not a valid rate"),
        ({"country": "XX"}, "Country: “XX” is not an ISO 3166-1 alpha-2 country code."),
        ({"tax_class": "luxury"}, "Tax class: Must be one of"),
        ({"name": ""}, "Name: Must not be blank."),
    ],
)
async def test_a_refused_tax_rate_form_says_why_and_changes_nothing(
    client, db, csrf, change, message
):
    form = {
        "country": "DE",
        "region": "",
        "tax_class": "standard",
        "rate": "0.19",
        "name": "MwSt",
        **change,
    }
    _, page = await post(client, "/admin/tax-rates", csrf, **form)
    assert message in page
    assert await db.fetchval("SELECT count(*) FROM tax_rates") == 0


async def test_a_bad_country_filter_is_an_html_error_page(client, csrf):
    response = await client.get("/admin/tax-rates?country=XX")
    assert response.status == 422
    assert response.content_type == "text/html"
    assert "Country: “XX” is not an ISO 3166-1" in html.unescape(await response.text())


async def test_the_forms_need_the_sessions_csrf_token(client, db, csrf):
    await post(client, "/admin/shipping/zones", csrf, name="Europe", countries="DE")
    zone_id = await db.fetchval("SELECT id FROM shipping_zones")
    await post(client, f"/admin/shipping/zones/{zone_id}/methods", csrf, **METHOD_FORM)
    method_id = await db.fetchval("SELECT id FROM shipping_methods")
    await post(
        client,
        "/admin/tax-rates",
        csrf,
        country="DE",
        region="",
        tax_class="standard",
        rate="0.19",
        name="MwSt",
    )
    rate_id = await db.fetchval("SELECT id FROM tax_rates")

    async def state():
        return (
            await db.fetch("SELECT * FROM shipping_zones ORDER BY id"),
            await db.fetch("SELECT * FROM shipping_zone_countries ORDER BY country"),
            await db.fetch("SELECT * FROM shipping_methods ORDER BY id"),
            await db.fetch("SELECT * FROM tax_rates ORDER BY id"),
        )

    before = await state()
    for path, data in (
        ("/admin/shipping/zones", {"name": "World", "countries": "*"}),
        (f"/admin/shipping/zones/{zone_id}", {"name": "X", "countries": "FR"}),
        (f"/admin/shipping/zones/{zone_id}/delete", {}),
        (f"/admin/shipping/zones/{zone_id}/methods", METHOD_FORM),
        (f"/admin/shipping/methods/{method_id}", {**METHOD_FORM, "price": "0"}),
        (f"/admin/shipping/methods/{method_id}/delete", {}),
        ("/admin/tax-rates", {"country": "FR", "rate": "0.2", "name": "TVA"}),
        (f"/admin/tax-rates/{rate_id}", {"country": "FR", "rate": "0.2", "name": "TVA"}),
        (f"/admin/tax-rates/{rate_id}/delete", {}),
    ):
        for token in ({}, {"csrf_token": "forged"}):
            response = await client.post(path, data={**data, **token}, allow_redirects=False)
            assert response.status == 403, path
            assert "did not come from this site" in await response.text()
    assert await state() == before

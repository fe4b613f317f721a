"""The error contract: every failure is problem+json with a stable code."""

from __future__ import annotations

import dataclasses

from aiohttp import web
from factories import PROBLEM, assert_problem

from shop_api.web.app import create_app


async def test_unknown_route_is_a_problem_404(client):
    response = await client.get("/api/nothing-here")
    assert response.status == 404
    assert response.content_type == PROBLEM
    body = await response.json()
    assert body == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "code": "not_found",
        "detail": "Not found.",
    }


async def test_wrong_method_is_a_405_with_allow(client):
    response = await client.delete("/api/auth/login")
    await assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


async def test_body_over_the_limit_is_a_413(aiohttp_client, settings):
    small = dataclasses.replace(settings, max_body_bytes=1024)
    client = await aiohttp_client(create_app(small))
    response = await client.post(
        "/api/auth/register",
        data=b'{"email": "' + b"a" * 4096 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    await assert_problem(response, 413, "payload_too_large")


async def test_unexpected_error_is_a_500_with_only_the_request_id(aiohttp_client, settings):
    app = create_app(settings)

    async def broken(request):
        raise RuntimeError("secret detail: password=hunter2")

    app.router.add_get("/boom", broken)
    client = await aiohttp_client(app)
    response = await client.get("/boom")
    body = await assert_problem(response, 500, "internal_error")
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "hunter2" not in await response.text()
    assert set(body) == {"type", "title", "status", "code", "request_id"}


async def test_request_id_is_echoed_when_sane(client):
    response = await client.get("/api/health", headers={"X-Request-ID": "abc-123-xyz"})
    assert response.headers["X-Request-ID"] == "abc-123-xyz"
    unsafe = await client.get("/api/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_database_down_is_a_503(aiohttp_client, settings):
    down = dataclasses.replace(
        settings, database_url="postgresql://postgres@127.0.0.1:1/nowhere", db_pool_min=0
    )
    client = await aiohttp_client(create_app(down))
    health = await client.get("/api/health")
    assert health.status == 503
    assert health.content_type == PROBLEM
    body = await health.json()
    assert body["database"] == "unavailable"
    assert body["code"] == "unavailable"
    login = await client.post(
        "/api/auth/login", json={"email": "a@example.com", "password": "whatever-1"}
    )
    await assert_problem(login, 503, "unavailable")


async def test_json_answers_are_utf8_json(client):
    response = await client.get("/api/health")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_openapi_document_lists_every_route(client):
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path, method in [
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
        ("/api/auth/refresh", "post"),
        ("/api/auth/me", "get"),
        ("/api/auth/me", "put"),
        ("/api/auth/change-password", "post"),
        ("/api/health", "get"),
    ]:
        assert method in paths[path], (path, method)
    register = paths["/api/auth/register"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "RegisterIn"
    )
    assert {"201", "400", "409", "422", "429"} <= set(register["responses"])
    assert paths["/api/auth/me"]["get"]["security"] == [{"bearerAuth": []}]


async def test_docs_page_and_its_assets_are_served_locally(client):
    page = await client.get("/api/docs")
    assert page.status == 200
    html = await page.text()
    assert "/api/openapi.json" in html
    assert "http" not in html.split("<body>")[1]  # nothing from a CDN
    asset = await client.get("/api/docs/static/swagger-ui-bundle.js")
    assert asset.status == 200


async def test_route_table_module_has_no_app_import():
    # Route modules get what they need from request.app and keys, never the app module.
    from pathlib import Path

    for module in (Path(__file__).parent.parent / "shop_api" / "routes").glob("*.py"):
        assert "from ..app import" not in module.read_text(), module.name


def test_web_app_key_types():
    from shop_api.web import keys

    assert all(isinstance(value, web.AppKey) for name, value in vars(keys).items()
               if name.endswith("_key"))

"""@endpoint hands a handler what it declares: here, its database connection."""

from __future__ import annotations

import pytest
from factories import create_account

from shop_api.web.app import create_app
from shop_api.web.endpoint import PUBLIC, USER, endpoint
from shop_api.web.jsonio import json_response


async def test_a_handler_that_declares_conn_gets_a_pool_connection(aiohttp_client, db, settings):
    @endpoint(summary="probe", tag="Test", access=USER)
    async def plain(request, user, conn):
        email = await conn.fetchval("SELECT email FROM users WHERE id = $1", user["id"])
        return json_response({"in_transaction": conn.is_in_transaction(), "email": email})

    @endpoint(summary="probe", tag="Test", access=USER, idempotent=True)
    async def idempotent(request, user, conn):
        return json_response({"in_transaction": conn.is_in_transaction()}, status=201)

    app = create_app(settings)
    app.router.add_get("/probe", plain)
    app.router.add_post("/probe", idempotent)
    client = await aiohttp_client(app)
    account = await create_account(db, "probe@example.com", settings=settings)

    response = await client.get("/probe", headers=account.headers)
    assert await response.json() == {"in_transaction": False, "email": "probe@example.com"}
    for _ in range(2):
        response = await client.post("/probe", headers={**account.headers, "Idempotency-Key": "k"})
        assert response.status == 201
        assert await response.json() == {"in_transaction": True}
    assert response.headers["Idempotent-Replayed"] == "true"
    assert await db.fetchval("SELECT route FROM idempotency_keys") == "POST /probe"


def test_an_idempotent_route_is_signed_in_and_works_on_conn():
    async def public(request, conn): ...

    async def without_conn(request, user): ...

    with pytest.raises(TypeError):
        endpoint(summary="x", tag="Test", access=PUBLIC, idempotent=True)(public)
    with pytest.raises(TypeError):
        endpoint(summary="x", tag="Test", access=USER, idempotent=True)(without_conn)

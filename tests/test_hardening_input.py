"""Issue 10, "Bad input": what attackers' tools and schemathesis sent, and the 4xx each gets now.

API.md's "Hardening" section is the contract: no input is a 500; field errors are capped;
bodies arrive within REQUEST_BODY_TIMEOUT; numbers are read exactly; ids and integers are ASCII
digits. Requests that an HTTP client library would not send (bytes that are not UTF-8 in a
header, a body trickled a byte at a time) go over a raw socket to a real server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re

import orjson
import pytest
from admin_pages import sign_in
from factories import (
    ADDRESS,
    PROBLEM,
    assert_problem,
    create_account,
    create_product,
    create_user,
    place_order,
    stock_of,
)

from shop_api.web.app import create_app
from shop_api.web.schemas.catalog import MAX_STOCK

ARABIC_INDIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@dataclasses.dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return orjson.loads(self.body)


async def raw_request(server, head: bytes, body_chunks=(), *, pause: float = 0.0) -> RawAnswer:
    """Send `head` (request line and headers) and then each chunk of the body, `pause` seconds
    apart, to a real server; the answer as soon as it arrives, even with the body unfinished."""
    reader, writer = await asyncio.open_connection(server.host, server.port)

    async def send() -> None:
        writer.write(head)
        await writer.drain()
        for chunk in body_chunks:
            await asyncio.sleep(pause)
            writer.write(chunk)
            await writer.drain()

    sending = asyncio.create_task(send())
    try:
        # A generous bound, not a timed assertion: without a deadline this never answers.
        status_and_headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        lines = status_and_headers.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 30)
        return RawAnswer(int(lines[0].split()[1]), headers, body)
    finally:
        sending.cancel()
        writer.close()


@pytest.fixture
async def server(aiohttp_server, settings):
    return await aiohttp_server(create_app(settings))


@pytest.fixture
async def admin_buyer(db, settings):
    return await create_account(db, "boss@example.com", role="admin", settings=settings)


# -- item 13: unauthenticated 500s ------------------------------------------------------------


async def test_a_search_postgres_cannot_parse_is_read_as_plain_words(client, db):
    mug = await create_product(db, name="Blue Mug")
    await create_product(db, name="Red Plate")
    dashes = "-" * 40  # websearch_to_tsquery: "tsquery stack too small" from 33 on
    response = await client.get("/api/products/", params={"search": dashes})
    assert response.status == 200, await response.text()
    assert (await response.json())["items"] == []
    response = await client.get("/api/products/", params={"search": f"mug {dashes}"})
    assert response.status == 200, await response.text()
    assert [item["id"] for item in (await response.json())["items"]] == [mug]
    # Ordinary search syntax still works as before: exclusion, ranking.
    response = await client.get("/api/products/", params={"search": "mug -plate"})
    assert [item["id"] for item in (await response.json())["items"]] == [mug]


async def test_json_nested_deeper_than_64_levels_is_invalid_json(client):
    def nested(depth: int) -> bytes:  # the object itself is the first level
        return b'{"email": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"

    for depth in (65, 1000, 100_000):
        response = await client.post(
            "/api/auth/register", data=nested(depth), headers={"Content-Type": "application/json"}
        )
        await assert_problem(response, 400, "invalid_json")
    response = await client.post(
        "/api/auth/register", data=nested(64), headers={"Content-Type": "application/json"}
    )
    body = await assert_problem(response, 422, "validation_error")
    assert "email" in body["errors"]


async def test_an_authorization_header_that_is_not_utf8_is_a_401(server):
    answer = await raw_request(
        server,
        b"GET /api/auth/me HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer \xff\xfe.\xc3\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert answer.status == 401
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["code"] == "unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_an_idempotency_key_that_is_not_utf8_is_a_422(server, db, settings):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    body = orjson.dumps(ADDRESS)
    answer = await raw_request(
        server,
        b"POST /api/orders/ HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + buyer.access_token.encode() + b"\r\n"
        b"Idempotency-Key: key-\xff\xfe\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body,
    )
    assert answer.status == 422
    assert answer.json()["code"] == "validation_error"
    assert "Idempotency-Key" in answer.json()["errors"]
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


MALFORMED_FORMS = {
    "a raw 0xff byte": (
        "application/x-www-form-urlencoded", b"email=\xff&password=x&csrf_token=t"
    ),
    "an unknown charset": (
        "application/x-www-form-urlencoded; charset=no-such-charset", b"email=a&password=b"
    ),
    "a broken multipart body": (
        "multipart/form-data; boundary=XX", b"--XX\r\nContent-Disposition: form-data\r\n\r\n"
    ),
    "a text field sent as a file part": (
        "multipart/form-data; boundary=XX",
        b'--XX\r\nContent-Disposition: form-data; name="email"; filename="e.txt"\r\n\r\n'
        b"boss@example.com\r\n--XX--\r\n",
    ),
}


@pytest.mark.parametrize("content_type, body", MALFORMED_FORMS.values(), ids=MALFORMED_FORMS)
@pytest.mark.parametrize("signed_in", [False, True], ids=["login form", "signed-in form"])
async def test_a_malformed_admin_form_is_a_400(client, db, signed_in, content_type, body):
    if signed_in:
        await create_user(db, "boss@example.com", role="admin")
        await sign_in(client, "boss@example.com")
        path = f"/admin/inventory/{await create_product(db)}"
    else:
        await client.get("/admin/login")  # the login form's cookie, as a browser has it
        path = "/admin/login"
    response = await client.post(
        path, data=body, headers={"Content-Type": content_type}, allow_redirects=False
    )
    assert response.status == 400, await response.text()
    assert response.content_type == "text/html"


async def test_a_cancel_whose_restock_would_pass_the_stock_limit_is_a_409(
    client, db, settings, admin_buyer
):
    buyer = await create_account(db, "ann@example.com", settings=settings)
    product = await create_product(db, stock=10)
    order = await place_order(client, buyer, (product, 5))
    response = await client.put(
        f"/api/admin/inventory/{product}",
        json={"stock_quantity": MAX_STOCK},
        headers=admin_buyer.headers,
    )
    assert response.status == 200, await response.text()
    response = await client.post(f"/api/orders/{order['id']}/cancel", headers=buyer.headers)
    await assert_problem(response, 409, "stock_limit")
    assert await stock_of(db, product) == MAX_STOCK
    assert await db.fetchval("SELECT status FROM orders WHERE id = $1", order["id"]) == "pending"


async def test_an_adjustment_past_the_stock_limit_is_a_409(client, db, admin_buyer):
    product = await create_product(db, stock=10)
    await client.put(
        f"/api/admin/inventory/{product}", json={"stock_quantity": MAX_STOCK - 5},
        headers=admin_buyer.headers,
    )
    response = await client.put(
        f"/api/admin/inventory/{product}",
        json={"adjustment": 10, "reason": "Found a pallet"},
        headers=admin_buyer.headers,
    )
    body = await assert_problem(response, 409, "stock_limit")
    assert "stock_quantity" in body["errors"]
    assert await stock_of(db, product) == MAX_STOCK - 5


# -- item 18: amplification and slow clients --------------------------------------------------


async def test_a_body_of_unknown_fields_lists_only_20_of_them(client):
    body = orjson.dumps({f"k{n}": 0 for n in range(80_000)})  # ~0.9 MB
    response = await client.post(
        "/api/auth/register", data=body, headers={"Content-Type": "application/json"}
    )
    problem_body = await assert_problem(response, 422, "validation_error")
    assert len(problem_body["errors"]) == 20
    assert problem_body["truncated"] is True
    assert len(await response.read()) < 4096
    # Under the cap nothing is cut, and nothing says so.
    response = await client.post("/api/auth/register", json={"role": "admin"})
    problem_body = await assert_problem(response, 422, "validation_error")
    assert set(problem_body["errors"]) == {"role", "email", "password"}
    assert "truncated" not in problem_body


async def test_a_body_trickled_past_the_deadline_is_a_408(aiohttp_server, settings):
    impatient = dataclasses.replace(settings, request_body_timeout=0.5)
    server = await aiohttp_server(create_app(impatient))
    body = b'{"email": "slow@example.com", "password": "correct-horse-42"}'
    answer = await raw_request(
        server,
        b"POST /api/auth/login HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n",
        # One byte at a time, never the last one: without a deadline, no answer ever comes.
        [bytes([byte]) for byte in body[:-1]],
        pause=0.1,
    )
    assert answer.status == 408
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.json()["code"] == "request_timeout"
    assert answer.headers["x-request-id"]


# -- item 20: strictness that matches the documentation ---------------------------------------


async def test_ids_in_paths_are_ascii_digits_only(client, db):
    product = await create_product(db)
    assert (await client.get(f"/api/products/{product}")).status == 200
    response = await client.get(f"/api/products/{str(product).translate(ARABIC_INDIC_DIGITS)}")
    await assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("query", [
    {"page": "1_0"}, {"page": "١"}, {"per_page": "2_0"}, {"per_page": " 5"},
    {"category": "١"}, {"min_price": "١.٥٠"},
])
async def test_integers_in_query_strings_are_ascii_digits_only(client, db, query):
    await create_product(db)
    response = await client.get("/api/products/", params=query)
    body = await assert_problem(response, 422, "validation_error")
    assert set(body["errors"]) == set(query)


async def test_admin_filters_take_ascii_digits_only(client, admin_buyer):
    response = await client.get(
        "/api/admin/orders", params={"user_id": "١"}, headers=admin_buyer.headers
    )
    body = await assert_problem(response, 422, "validation_error")
    assert set(body["errors"]) == {"user_id"}


async def test_money_in_a_json_number_is_read_exactly(client, db, admin_buyer):
    async def create(price: bytes):
        return await client.post(
            "/api/products",
            data=b'{"name": "Mug", "stock_quantity": 1, "price": ' + price + b"}",
            headers={**admin_buyer.headers, "Content-Type": "application/json"},
        )

    for price in [b"1.00000000000000000001", b"1.005", b"1e400", b"-1e400",
                  b"1e99999999999999999999", b"100000000000000000000000000000"]:
        problem_body = await assert_problem(await create(price), 422, "validation_error")
        assert set(problem_body["errors"]) == {"price"}, price
    assert await db.fetchval("SELECT count(*) FROM products") == 0
    response = await create(b"19.99")
    assert response.status == 201, await response.text()
    assert (await response.json())["price"] == "19.99"


async def test_the_document_says_what_validation_refuses(client):
    document = await (await client.get("/api/openapi.json")).json()
    schemas = document["components"]["schemas"]
    request_strings = [
        (name, field, spec)
        for name, schema in schemas.items() if name.endswith("In")
        for field, spec in schema["properties"].items()
        if "string" in spec.get("type", ()) and spec.get("format") != "date-time"
    ]
    request_strings += [
        (path, parameter["name"], parameter["schema"])
        for path, operations in document["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", ())
        if parameter["in"] == "query" and parameter["schema"].get("type") == "string"
    ]
    assert len(request_strings) > 20
    for where, field, spec in request_strings:  # NUL refused (422): the pattern says so
        assert "pattern" in spec and not re.search(spec["pattern"], "ok\x00ok"), (where, field)
    password = schemas["RegisterIn"]["properties"]["password"]
    assert re.search(password["pattern"], "correct-horse-42")
    assert not re.search(password["pattern"], "é" * 40 + "a1")  # 82 bytes: refused, 42 chars
    assert schemas["ProductIn"]["properties"]["price"]["multipleOf"] == 0.01
    register = document["paths"]["/api/auth/register"]["post"]["responses"]
    assert "408" in register
    assert "truncated" in schemas["Problem"]["properties"]

"""The OpenAPI 3.1 document, built from the `@endpoint` declarations of the routes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from shop_api import __version__
from shop_api.web.endpoint import ADMIN, PUBLIC, EndpointSpec
from shop_api.web.idempotency import HEADER as IDEMPOTENCY_HEADER
from shop_api.web.idempotency import MAX_KEY_LENGTH, REPLAYED_HEADER
from shop_api.web.jsonio import PROBLEM_CONTENT_TYPE
from shop_api.web.schemas.common import MAX_ID, ProblemSchema, QuerySchema, StrictSchema

DESCRIPTION = """\
The REST API of an online shop. Money is a decimal string with two places plus a `currency`;
every error is `application/problem+json` with a stable `code`. Sign in with
`POST /api/auth/login` and send `Authorization: Bearer <access_token>`. Integrations send an
API key instead (`Authorization: Bearer sk_...`, made at `POST /api/admin/api-keys`): it opens
the admin routes whose security lists `apiKey` with one of its scopes, and nothing else.

What is refused, beyond what JSON Schema can say: integers in bodies are JSON integers (`7`,
never `7.0`, `7e0` or `"7"`); ids and integers in paths and query strings are ASCII digits;
numbers are read exactly, so money has at most two decimal places however it is written;
strings never hold U+0000; passwords are measured in UTF-8 bytes; bodies nest at most 64
levels and arrive within the server's body timeout (408). A 422 lists at most 20 field errors
(`truncated: true` when there were more).
"""

# Every string a request may hold; fields whose own pattern already rules out U+0000 keep it.
NO_NUL_PATTERN = "^[^\\u0000]*$"


def _schema_name_resolver(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name.removesuffix("Schema") or name


def build_openapi(app: web.Application) -> dict[str, Any]:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name_resolver)
    spec = APISpec(
        title="Shop API",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": DESCRIPTION},
    )
    plugin.converter.add_attribute_function(_strings_without_nul)
    spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.security_scheme(
        "apiKey",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_ and 40 letters and digits",
            "description": "An API key; a route's security names the scope it needs.",
        },
    )
    spec.components.schema("Problem", schema=ProblemSchema)
    seen: set[tuple[str, str]] = set()
    for route in app.router.routes():
        endpoint: EndpointSpec | None = getattr(route.handler, "__endpoint__", None)
        if endpoint is None or route.method == "HEAD":
            continue
        path = route.resource.canonical.rstrip("/") or "/"
        if (path, route.method) in seen:
            continue  # the same collection route with and without its trailing slash
        seen.add((path, route.method))
        spec.path(path=path, operations={route.method.lower(): _operation(path, endpoint)})
    return spec.to_dict()


def _strings_without_nul(
    converter: Any, field: fields.Field, ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """An apispec attribute function: the request's strings say they refuse U+0000."""
    is_input = isinstance(field.root, (StrictSchema, QuerySchema))
    if is_input and isinstance(field, fields.String) and "pattern" not in ret:
        return {"pattern": NO_NUL_PATTERN}
    return {}


def _operation(path: str, endpoint: EndpointSpec) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": _responses(path, endpoint),
    }
    description = endpoint.description
    if endpoint.scope is not None:
        # Also in words: Swagger UI shows no scopes of an http scheme.
        opens = f"API keys with the `{endpoint.scope}` scope may call this route."
        description = f"{description}\n\n{opens}" if description else opens
    if description:
        operation["description"] = description
    parameters: list[dict[str, Any]] = [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in _path_names(path)
    ]
    if endpoint.query is not None:
        parameters.append({"in": "query", "schema": endpoint.query})
    if endpoint.idempotent:
        parameters.append(
            {
                "in": "header",
                "name": IDEMPOTENCY_HEADER,
                "required": False,
                "description": (
                    "Retry safely: the same key with the same body replays the first answer "
                    "(kept 24 hours); another body, or a retry while the first request runs, "
                    "is a 409 `idempotency_conflict`."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": endpoint.body}},
        }
    if endpoint.access is not PUBLIC:
        operation["security"] = [{"bearerAuth": []}]
    if endpoint.scope is not None:
        operation["security"].append({"apiKey": [endpoint.scope]})
    return operation


def _responses(path: str, endpoint: EndpointSpec) -> dict[str, Any]:
    phrase = HTTPStatus(endpoint.status).phrase
    success: dict[str, Any] = {"description": phrase}
    if endpoint.response is not None:
        success["content"] = {"application/json": {"schema": endpoint.response}}
    if endpoint.idempotent:
        success["headers"] = {
            REPLAYED_HEADER: {
                "description": "`true` when this is the stored answer to an earlier request "
                "with the same Idempotency-Key.",
                "schema": {"type": "string", "enum": ["true"]},
            }
        }
    responses: dict[str, Any] = {str(endpoint.status): success}
    for status in sorted(_error_statuses(path, endpoint)):
        responses[str(status)] = {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_CONTENT_TYPE: {"schema": "Problem"}},
        }
    return responses


def _error_statuses(path: str, endpoint: EndpointSpec) -> set[int]:
    statuses = set(endpoint.errors)
    if endpoint.body is not None:
        statuses |= {400, 408, 413, 422}
    if endpoint.query is not None:
        statuses.add(422)
    if endpoint.access is not PUBLIC:
        statuses.add(401)
    if endpoint.access is ADMIN:
        statuses.add(403)
    if endpoint.idempotent:
        statuses |= {409, 422}
    if _path_names(path):
        statuses.add(404)
    return statuses


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]

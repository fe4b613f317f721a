"""`@endpoint(...)`: one declaration per route of who may call it, what it takes and answers.

The same declaration guards the route (authentication, role, and on an admin route the API
key `scope` that opens it to integrations), validates its input with marshmallow, and feeds
the OpenAPI document, so what is documented is what is enforced. Handlers receive what they
declared as keyword arguments: `user`, `body`, `query`, each integer path parameter by name,
and `conn`: a pool connection held for the request. `user` is the user's row, or on a route
with a `scope` possibly an API key (`auth.Caller`; `auth.admin_id_of` says who did a change).
On a route declared `idempotent=True` (which must be signed in) `conn` is inside the
transaction that claimed the request's Idempotency-Key, so the handler only does its work on
it and answers; see `idempotency.py`.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from marshmallow import Schema

from shop_api.domain.api_keys import SCOPES
from shop_api.errors import NotFound
from shop_api.web import idempotency
from shop_api.web.auth import authenticate
from shop_api.web.jsonio import read_json_object
from shop_api.web.keys import db_pool_key
from shop_api.web.schemas.common import MAX_ID, ascii_integer


class Access(enum.Enum):
    PUBLIC = "public"
    USER = "user"  # any active, signed-in user ("customer" routes of API.md)
    ADMIN = "admin"


PUBLIC, USER, ADMIN = Access.PUBLIC, Access.USER, Access.ADMIN


@dataclass(frozen=True)
class EndpointSpec:
    summary: str
    tag: str
    access: Access
    body: Schema | None
    query: Schema | None
    response: Schema | None
    status: int
    errors: tuple[int, ...]
    description: str = ""
    idempotent: bool = False
    # The API key scope that opens this admin route (api_keys.SCOPES); None: no key does.
    scope: str | None = None


Handler = Callable[..., Awaitable[web.StreamResponse]]


def endpoint(
    *,
    summary: str,
    tag: str,
    access: Access = PUBLIC,
    body: type[Schema] | Schema | None = None,
    query: type[Schema] | Schema | None = None,
    response: type[Schema] | Schema | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    description: str = "",
    idempotent: bool = False,
    scope: str | None = None,
) -> Callable[[Handler], Handler]:
    spec = EndpointSpec(
        summary=summary,
        tag=tag,
        access=access,
        body=_instance(body),
        query=_instance(query),
        response=_instance(response),
        status=status,
        errors=errors,
        description=description,
        idempotent=idempotent,
        scope=scope,
    )

    load_query = None if spec.query is None else _query_loader(spec.query)

    def decorate(handler: Handler) -> Handler:
        wants = set(inspect.signature(handler).parameters)
        if spec.idempotent and (spec.access is PUBLIC or "conn" not in wants):
            raise TypeError(
                f"{handler.__name__}: an idempotent route is signed in (keys are per user) and "
                "does its work on `conn`, in the transaction that claims the key"
            )
        if spec.scope is not None and (spec.access is not ADMIN or spec.scope not in SCOPES):
            raise TypeError(
                f"{handler.__name__}: a scope is one of {', '.join(SCOPES)}, on an admin route "
                "(an API key is never a user)"
            )

        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            ids = {name: path_id(raw) for name, raw in request.match_info.items()}
            kwargs: dict[str, Any] = dict(ids)
            if spec.access is not PUBLIC:
                kwargs["user"] = await authenticate(
                    request, admin=spec.access is ADMIN, scope=spec.scope
                )
            key = idempotency.key_from(request) if spec.idempotent else None
            if load_query is not None:
                kwargs["query"] = load_query(request.query)
            if spec.body is not None:
                kwargs["body"] = spec.body.load(await read_json_object(request))
            chosen = {k: v for k, v in kwargs.items() if k in wants}
            if spec.idempotent:
                return await idempotency.respond_once(
                    request.app[db_pool_key],
                    user_id=kwargs["user"]["id"],
                    route=_operation(request, ids),
                    key=key,
                    request_body=kwargs.get("body"),
                    work=lambda conn: handler(request, **chosen, conn=conn),
                )
            if "conn" in wants:
                async with request.app[db_pool_key].acquire() as conn:
                    return await handler(request, **chosen, conn=conn)
            return await handler(request, **chosen)

        guarded.__endpoint__ = spec  # type: ignore[attr-defined]
        return guarded

    return decorate


def _instance(schema: type[Schema] | Schema | None) -> Schema | None:
    if schema is None or isinstance(schema, Schema):
        return schema
    return schema()


def _query_loader(schema: Schema) -> Callable[[Mapping[str, str]], dict[str, Any]]:
    """`schema.load` of a request's query. The empty query (a plain list, most requests) is
    loaded once, on its first request, and answered as a copy of that: its defaults."""
    empty: dict[str, Any] | None = None

    def load(query: Mapping[str, str]) -> dict[str, Any]:
        nonlocal empty
        if query:
            return schema.load(query)
        if empty is None:
            empty = schema.load(query)  # a required parameter refuses it, every time
        return dict(empty)

    return load


def _operation(request: web.Request, ids: dict[str, int]) -> str:
    """What an Idempotency-Key is scoped to, e.g. "POST /api/orders": the route's method and
    path, its ids as numbers, a trailing slash aside (both spellings are one route)."""
    resource = request.match_info.route.resource
    path = resource.canonical.format(**ids) if resource is not None else request.path
    return f"{request.method} {path.rstrip('/') or '/'}"


def path_id(raw: str) -> int:
    """An id of a route's path, or 404. Routes match ids with \\d+, which takes any Unicode
    digit ("٢٠١"); only ASCII digits up to bigint can name a row."""
    value = ascii_integer(raw)
    if value is None or not 1 <= value <= MAX_ID:
        raise NotFound()
    return value

"""`@endpoint(...)`: one declaration per route of who may call it, what it takes and answers.

The same declaration guards the route (authentication, role), validates its input with
marshmallow, and feeds the OpenAPI document, so what is documented is what is enforced.
Handlers receive what they declared as keyword arguments: `user`, `body`, `query`, each
integer path parameter by name, and `idempotency_key` on routes declared `idempotent=True`.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from marshmallow import Schema

from .auth import authenticate
from .errors import NotFound
from .idempotency import key_from
from .jsonio import read_json_object
from .schemas.common import MAX_ID, ascii_integer


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
    )

    def decorate(handler: Handler) -> Handler:
        wants = set(inspect.signature(handler).parameters)

        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            kwargs: dict[str, Any] = {}
            for name, raw in request.match_info.items():
                kwargs[name] = path_id(raw)
            if spec.access is not PUBLIC:
                kwargs["user"] = await authenticate(request, admin=spec.access is ADMIN)
            if spec.idempotent:
                kwargs["idempotency_key"] = key_from(request)
            if spec.query is not None:
                kwargs["query"] = spec.query.load(request.query)
            if spec.body is not None:
                kwargs["body"] = spec.body.load(await read_json_object(request))
            return await handler(request, **{k: v for k, v in kwargs.items() if k in wants})

        guarded.__endpoint__ = spec  # type: ignore[attr-defined]
        return guarded

    return decorate


def _instance(schema: type[Schema] | Schema | None) -> Schema | None:
    if schema is None or isinstance(schema, Schema):
        return schema
    return schema()


def path_id(raw: str) -> int:
    """An id of a route's path, or 404. Routes match ids with \\d+, which takes any Unicode
    digit ("٢٠١"); only ASCII digits up to bigint can name a row."""
    value = ascii_integer(raw)
    if value is None or not 1 <= value <= MAX_ID:
        raise NotFound()
    return value

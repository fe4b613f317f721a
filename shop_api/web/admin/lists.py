"""What the admin pages' lists share: their filters read through the API's query schemas, and
the pager under them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from marshmallow import Schema

from shop_api.domain.limits import capped_total
from shop_api.web.schemas.common import page_count


def list_query(schema: Schema, request: web.Request) -> dict[str, Any]:
    """The query string through the API's schema; a filter left empty in the form (an <option
    value="">) means no filter, not an invalid one."""
    present = {key: value for key, value in request.query.items() if value.strip()}
    return schema.load(present)


def pager(request: web.Request, query: Mapping[str, Any], total: int) -> dict[str, Any]:
    total, exact = capped_total(total)
    page, pages = query["page"], page_count(total, query["per_page"])

    def url(number: int) -> str:
        return str(request.rel_url.update_query(page=number))

    return {
        "page": page,
        "pages": pages,
        "total": total,
        "total_exact": exact,
        "prev_url": url(page - 1) if page > 1 else None,
        "next_url": url(page + 1) if page < pages else None,
    }

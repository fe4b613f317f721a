"""What a variant is, for the code that buys and stocks them; the catalog's variant routes
build on it."""

from __future__ import annotations

from shop_api.db import Queryable, queries
from shop_api.errors import ApiError, NotFound


async def sole_variant_id(
    conn: Queryable,
    *,
    product_id: int,
    several: type[ApiError],
    include_deleted: bool = False,
) -> int:
    """The one active variant a Release 1 request means when it names a product.

    A missing (or, unless `include_deleted`, withdrawn) product is a 404; one with several
    active variants raises `several` (code `variant_required`: which status depends on the
    route), since the request cannot say which one it means.
    """
    row = await queries.sole_variant(
        conn, product_id=product_id, include_deleted=include_deleted
    )
    if row is None or row["active_variants"] == 0:
        raise NotFound("No such product.")
    if row["variant_id"] is None:
        raise several(
            f"This product has {row['active_variants']} variants: name one with variant_id.",
            code="variant_required",
        )
    return row["variant_id"]

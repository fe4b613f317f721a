"""The 409s of stock a request cannot have, in one shape for cart, checkout and inventory:
`errors.items` lists every affected line as {product_id, variant_id, requested, available}."""

from __future__ import annotations

from shop_api.errors import Conflict


def shortage(product_id: int, variant_id: int, requested: int, available: int) -> dict:
    return {
        "product_id": product_id,
        "variant_id": variant_id,
        "requested": requested,
        "available": available,
    }


def insufficient_stock(short: list[dict]) -> Conflict:
    """409 insufficient_stock listing every short line."""
    count = len(short)
    return Conflict(
        f"Not enough stock for {count} item{'s' if count != 1 else ''}.",
        code="insufficient_stock",
        errors={"items": short},
    )


def product_unavailable(unavailable: list[dict]) -> Conflict:
    """409 product_unavailable: withdrawn products, in the same shape (available 0)."""
    count = len(unavailable)
    return Conflict(
        f"{count} item{'s are' if count != 1 else ' is'} no longer available.",
        code="product_unavailable",
        errors={"items": unavailable},
    )

"""The catalog: browsing products, the admin's changes to products and categories, reviews."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, fetch_page, queries
from shop_api.domain import variants
from shop_api.domain.inventory import change_stock
from shop_api.errors import Conflict, NotFound, ValidationFailed

_SLUG_ATTEMPTS = 3
_SPELLED_OUT = str.maketrans({
    "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "đ": "d",
    "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH",
})


@dataclass(frozen=True)
class ProductFilters:
    """The query of a product list; None means "not filtered"."""

    search: str | None = None
    category: str | None = None  # an id (all digits) or a slug
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    sort: str | None = None

    def effective_sort(self) -> str:
        """`relevance` ranks search matches; with nothing searched it means `newest`."""
        searching = self.search_text() is not None
        if self.sort is None or (self.sort == "relevance" and not searching):
            return "relevance" if searching else "newest"
        return self.sort

    def search_text(self) -> str | None:
        text = (self.search or "").strip()
        return text or None


def slugify(text: str, *, max_length: int = 80) -> str:
    """Lowercase ASCII words joined by hyphens ("Men's Café Mug" -> "mens-cafe-mug"); may be ""."""
    # NFKD splits "é" into "e" and an accent that the ASCII encoding drops (so does "’");
    # letters with no decomposition are spelled out first.
    spelled = text.translate(_SPELLED_OUT)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower().replace("'", ""))
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    if not slug and words:
        slug = words[0][:max_length]
    return slug


def category_slug(name: str) -> str:
    # `?category=` reads digits as an id, so a category slug is never only digits.
    slug = slugify(name) or "category"
    return f"category-{slug}" if slug.isdigit() else slug


async def _insert_with_free_slug(
    base: str,
    constraint: str,
    find_free: Callable[[], Awaitable[str | None]],
    insert: Callable[[str], Awaitable[asyncpg.Record]],
) -> asyncpg.Record:
    """Insert under the first free slug; a concurrent insert that takes it first means retry.

    Each statement on its own, never inside a transaction: the unique violation that means
    "retry" would abort it.
    """
    for attempt in range(_SLUG_ATTEMPTS):
        last = attempt == _SLUG_ATTEMPTS - 1
        slug = None if last else await find_free()
        if slug is None:  # a thousand namesakes, or lost every race: a random suffix
            slug = f"{base}-{secrets.token_hex(4)}"
        try:
            return await insert(slug)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != constraint or last:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# -- products -------------------------------------------------------------------------------


async def list_products(
    conn: Queryable, filters: ProductFilters, *, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    """One page of active products and how many match in all."""
    category_id = category_slug_ = None
    if filters.category is not None:
        if filters.category.isdigit():
            category_id = int(filters.category)
        else:
            category_slug_ = filters.category
    return await fetch_page(
        queries.list_products(
            conn,
            category_id=category_id,
            category_slug=category_slug_,
            min_price=filters.min_price,
            max_price=filters.max_price,
            in_stock=filters.in_stock,
            search=filters.search_text(),
            sort=filters.effective_sort(),
            limit=limit,
            offset=offset,
        )
    )


async def get_product(
    conn: Queryable, product_id: int
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    """An active product and its newest reviews (up to 5), or NotFound."""
    rows = await fetch_all(queries.get_product_detail(conn, id=product_id))
    if not rows:
        raise NotFound("No such product.")
    return rows[0], [row for row in rows if row["review_id"] is not None]


async def create_product(
    conn: Queryable,
    *,
    name: str,
    price: Decimal,
    stock_quantity: int,
    currency: str,
    description: str = "",
    category_id: int | None = None,
    sku: str | None = None,
    image_url: str | None = None,
) -> asyncpg.Record:
    """A new active product with a unique slug made from its name.

    A taken SKU is a 409 `sku_taken`, an unknown category a 422 on `category_id` (both from the
    database's constraints, so concurrent requests cannot slip past them).
    """
    name = name.strip()
    base = slugify(name) or "product"

    async def insert(slug: str) -> asyncpg.Record:
        return await queries.insert_product(
            conn,
            name=name,
            slug=slug,
            description=description,
            price=price,
            currency=currency,
            stock_quantity=stock_quantity,
            sku=sku,
            image_url=image_url,
            category_id=category_id,
        )

    return await _insert_with_free_slug(
        base, "products_slug_key", lambda: queries.free_product_slug(conn, base=base), insert
    )


async def update_product(
    conn: asyncpg.Connection,
    product_id: int,
    changes: dict[str, Any],
    *,
    admin_id: int,
    low_stock_threshold: int,
) -> dict[str, Any]:
    """Change the given fields of an active product (`changes` holds only what was sent), in
    the caller's transaction or a new one.

    A new stock level goes through the inventory's locked change, so it lands in the ledger
    like any other correction.
    """
    name = changes.get("name")
    async with atomic(conn):
        # Variants first, then the product row: the lock order of checkout (sql/orders.sql).
        if changes.get("price") is not None or "sku" in changes or (
            changes.get("stock_quantity") is not None
        ):
            variant_id = await variants.sole_variant_id(
                conn, product_id=product_id, several=Conflict
            )
            if changes.get("price") is not None or "sku" in changes:
                await queries.update_variant_price_sku(
                    conn,
                    variant_id=variant_id,
                    price=changes.get("price"),
                    set_sku="sku" in changes,
                    sku=changes.get("sku"),
                )
            if changes.get("stock_quantity") is not None:
                await change_stock(
                    conn,
                    variant_id=variant_id,
                    admin_id=admin_id,
                    threshold=low_stock_threshold,
                    stock_quantity=changes["stock_quantity"],
                    reason="Product edit.",
                )
        row = await queries.update_product(
            conn,
            id=product_id,
            name=name.strip() if name is not None else None,
            description=changes.get("description"),
            # Nullable columns: "sent as null" (clear it) differs from "not sent" (keep it).
            set_category_id="category_id" in changes,
            category_id=changes.get("category_id"),
            set_image_url="image_url" in changes,
            image_url=changes.get("image_url"),
        )
        if row is None:
            raise NotFound("No such product.")
    return dict(row)


async def delete_product(conn: Queryable, product_id: int) -> None:
    """Soft delete: the row stays for past orders; lists, detail and checkout skip it."""
    if await queries.soft_delete_product(conn, id=product_id) is None:
        raise NotFound("No such product.")


# -- categories -----------------------------------------------------------------------------


async def list_categories(conn: Queryable) -> list[asyncpg.Record]:
    return await fetch_all(queries.list_categories(conn))


async def create_category(
    conn: Queryable, *, name: str, parent_id: int | None, description: str
) -> asyncpg.Record:
    """A new category; a name its siblings already use is a 409 `category_exists`."""
    name = name.strip()
    parent_slug = None
    if parent_id is not None:
        parent = await queries.get_category(conn, id=parent_id)
        if parent is None:
            raise ValidationFailed({"parent_id": ["No such category."]})
        parent_slug = parent["slug"]
    base = category_slug(name)

    async def insert(slug: str) -> asyncpg.Record:
        return await queries.insert_category(
            conn, name=name, slug=slug, parent_id=parent_id, description=description
        )

    return await _insert_with_free_slug(
        base,
        "categories_slug_key",
        lambda: queries.free_category_slug(conn, base=base, parent_slug=parent_slug),
        insert,
    )


# -- reviews --------------------------------------------------------------------------------


async def list_reviews(
    conn: Queryable, product_id: int, *, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await fetch_all(
        queries.list_reviews(conn, product_id=product_id, limit=limit, offset=offset)
    )
    if not rows:
        raise NotFound("No such product.")
    return [row for row in rows if row["id"] is not None], rows[0]["total"]


async def add_review(
    conn: asyncpg.Connection,
    *,
    product_id: int,
    user_id: int,
    rating: int,
    title: str,
    comment: str,
) -> asyncpg.Record:
    """One review per user and product (409 `already_reviewed`), on an active product.

    The product's rating summary changes in the same transaction as the review is added, so
    lists can sort and show ratings without reading reviews.
    """
    async with atomic(conn):
        if await queries.add_product_rating(conn, product_id=product_id, rating=rating) is None:
            raise NotFound("No such product.")
        return await queries.insert_review(
            conn,
            product_id=product_id,
            user_id=user_id,
            rating=rating,
            title=title,
            comment=comment,
        )

"""The catalog: browsing products, the admin's changes to products and categories, reviews."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, fetch_page, queries
from shop_api.domain import outbox, topics
from shop_api.domain import variants as variant_rules
from shop_api.domain.limits import MAX_OPTIONS
from shop_api.domain.tax import DEFAULT_TAX_CLASS
from shop_api.errors import Conflict, NotFound, ValidationFailed

T = TypeVar("T")

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
    # `?option=`: each option name with the values any of which will do, {"Size": ("M", "L")}
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
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

    def parameters(self) -> dict[str, Any]:
        """The filter parameters of list_products (sql/products.sql) and product_facets
        (sql/facets.sql); sort and paging aside."""
        category_id = category_slug_ = None
        if self.category is not None:
            if self.category.isdigit():
                category_id = int(self.category)
            else:
                category_slug_ = self.category
        # One array of containers per option name, each {"Size": ["M"]}: the GIN index on
        # products.option_values takes `@> ANY (...)` for "any of these values". The names
        # fill the SQL's MAX_OPTIONS slots (the schema allows no more: a filter naming more
        # options than a product can have would match nothing). With two names or more the
        # filter must also hold on one variant, which option_values cannot tell, so the
        # whole filter goes to the variants too.
        slots: list[list[dict[str, list[str]]] | None] = [
            [{name: [value]} for value in values] for name, values in self.options.items()
        ]
        if len(slots) > MAX_OPTIONS:
            raise ValueError(f"at most {MAX_OPTIONS} option names")
        slots += [None] * (MAX_OPTIONS - len(slots))
        return {
            "category_id": category_id,
            "category_slug": category_slug_,
            "min_price": self.min_price,
            "max_price": self.max_price,
            "in_stock": self.in_stock,
            "search": self.search_text(),
            "option_1": slots[0],
            "option_2": slots[1],
            "option_3": slots[2],
            "option_variants": self.option_map() if len(self.options) > 1 else None,
        }

    def option_map(self) -> dict[str, list[str]] | None:
        """The option filter as jsonb takes it, {"Size": ["M", "L"]}; None when there is none."""
        return {name: list(values) for name, values in self.options.items()} or None


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
    insert: Callable[[str], Awaitable[T]],
) -> T:
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
    return await fetch_page(
        queries.list_products(
            conn,
            **filters.parameters(),
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
    conn: asyncpg.Connection,
    *,
    name: str,
    currency: str,
    description: str = "",
    category_id: int | None = None,
    price: Decimal | None = None,
    stock_quantity: int | None = None,
    sku: str | None = None,
    options: list[dict[str, Any]] | None = None,
    variants: list[dict[str, Any]] | None = None,
    image_url: str | None = None,
    images: list[dict[str, str]] | None = None,
    tax_class: str = DEFAULT_TAX_CLASS,
) -> asyncpg.Record:
    """A new active product with a unique slug made from its name, its variants and images.

    Without `variants` (the Release 1 body) it gets one default variant of `price`,
    `stock_quantity` and `sku`; `image_url` alone is its one image. Each variant names one value
    of every option (a 422 otherwise); values the options do not list yet are added to them.
    Two variants with the same values are a 409 `variant_exists`, a taken SKU a 409
    `sku_taken`, an unknown category a 422 on `category_id` (all from the database's
    constraints, so concurrent requests cannot slip past them). One statement writes it all,
    so a refusal leaves nothing behind; `product.created` is announced with it.
    """
    name = name.strip()
    if variants is None:
        variants = [{"options": {}, "price": price, "stock_quantity": stock_quantity, "sku": sku}]
    declared = variant_rules.declared_options(options or [])
    records, errors = [], {}
    for position, fields in enumerate(variants):
        values, problems = variant_rules.variant_values(declared, fields["options"])
        if problems:
            errors[str(position)] = {"options": problems}
            continue
        records.append(
            variant_rules.variant_record(
                fields, options=declared, values=values, position=position
            )
        )
    if errors:
        raise ValidationFailed({"variants": errors})
    if image_url is not None:
        images = [{"url": image_url, "alt": ""}]
    base = slugify(name) or "product"

    async def insert(slug: str) -> int:
        # A transaction of its own (a savepoint in the caller's) for the product and its
        # announcement: a taken slug rolls back this attempt alone, and the next one is free to
        # go on.
        async with conn.transaction():
            product_id = await queries.insert_product(
                conn,
                name=name,
                slug=slug,
                description=description,
                currency=currency,
                category_id=category_id,
                tax_class=tax_class,
                options=variant_rules.with_values(declared, [r["options"] for r in records]),
                variants=records,
                images=_image_records(images or []),
            )
            await outbox.publish(conn, topics.PRODUCT_CREATED, {"product_id": product_id})
        return product_id

    product_id = await _insert_with_free_slug(
        base, "products_slug_key", lambda: queries.free_product_slug(conn, base=base), insert
    )
    product, _ = await get_product(conn, product_id)
    return product


def _image_records(images: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Images as the SQL reads them: positions from 0 in the given order."""
    return [
        {"url": image["url"], "alt": image.get("alt", ""), "position": position}
        for position, image in enumerate(images)
    ]


async def _write_images(
    conn: asyncpg.Connection, product_id: int, images: list[dict[str, str]]
) -> None:
    """Replace a locked product's images (and so its image_url)."""
    await queries.delete_product_images(conn, product_id=product_id)
    await queries.insert_product_images(
        conn, product_id=product_id, images=_image_records(images)
    )


async def replace_images(
    conn: asyncpg.Connection, product_id: int, images: list[dict[str, str]]
) -> asyncpg.Record:
    """An active product's images, all replaced by `images` in their order; the product."""
    async with atomic(conn):
        # Locked first: two replacements of one product's images take turns.
        if await queries.lock_product(conn, product_id=product_id) is None:
            raise NotFound("No such product.")
        await _write_images(conn, product_id, images)
        await variant_rules.announce_update(conn, product_id)
        product, _ = await get_product(conn, product_id)
    return product


async def _set_first_image(conn: asyncpg.Connection, product_id: int, url: str | None) -> None:
    """The Release 1 `image_url` of a locked product: the first image's URL (an image added
    when there is none); None removes the first image, and the next one becomes the first."""
    current = [dict(row) for row in await fetch_all(
        queries.product_images(conn, product_id=product_id)
    )]
    rest = current[1:]
    if url is not None:
        rest.insert(0, {"url": url, "alt": current[0]["alt"] if current else ""})
    await _write_images(conn, product_id, rest)


async def update_product(
    conn: asyncpg.Connection,
    product_id: int,
    changes: dict[str, Any],
    *,
    admin_id: int | None,
    low_stock_threshold: int,
) -> asyncpg.Record:
    """Change the given fields of an active product (`changes` holds only what was sent), in
    the caller's transaction or a new one.

    `price`, `stock_quantity` and `sku` are those of its one variant (a 409
    `variant_required` when it has several); a new stock level goes through the inventory's
    locked change, so it lands in the ledger like any other correction. One `product.updated`
    announces the whole change.
    """
    name = changes.get("name")
    variant_changes = {
        field: changes[field] for field in ("price", "stock_quantity", "sku") if field in changes
    }
    async with atomic(conn):
        # Variants first, then the product row: the lock order of checkout (sql/orders.sql).
        if variant_changes:
            variant_id = await variant_rules.sole_variant_id(
                conn, product_id=product_id, several=Conflict
            )
            await variant_rules.update_variant(
                conn,
                product_id,
                variant_id,
                variant_changes,
                admin_id=admin_id,
                low_stock_threshold=low_stock_threshold,
                reason="Product edit.",
                announce=False,
            )
        updated = await queries.update_product(
            conn,
            id=product_id,
            name=name.strip() if name is not None else None,
            description=changes.get("description"),
            # Nullable columns: "sent as null" (clear it) differs from "not sent" (keep it).
            set_category_id="category_id" in changes,
            category_id=changes.get("category_id"),
            tax_class=changes.get("tax_class"),
        )
        if updated is None:
            raise NotFound("No such product.")
        if "image_url" in changes:
            await _set_first_image(conn, product_id, changes["image_url"])
        await variant_rules.announce_update(conn, product_id)
        product, _ = await get_product(conn, product_id)
    return product


async def delete_product(conn: asyncpg.Connection, product_id: int) -> None:
    """Soft delete: the row stays for past orders; lists, detail and checkout skip it. Only
    the call that deletes it announces `product.deleted` (one already deleted is a 404)."""
    async with atomic(conn):
        if await queries.soft_delete_product(conn, id=product_id) is None:
            raise NotFound("No such product.")
        await outbox.publish(conn, topics.PRODUCT_DELETED, {"product_id": product_id})


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

"""What a variant is, for the code that buys and stocks them, and the catalog's variant routes.

A product declares up to three options in order ([{"name": "Size", "values": ["S", "M"]}]);
each variant names one value of every option ({"Size": "M"}) and is titled by those values
in the product's option order ("M / Red"), or "Default" for a product without options.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import asyncpg

from shop_api.db import Queryable, atomic, queries
from shop_api.domain import outbox, topics
from shop_api.domain.inventory import change_stock
from shop_api.domain.limits import MAX_VARIANTS
from shop_api.errors import ApiError, Conflict, NotFound, ValidationFailed

DEFAULT_TITLE = "Default"
VARIANT_EDIT_REASON = "Variant edit."

Options = list[dict[str, Any]]  # [{"name": str, "values": [str]}]


# -- the rules of options and values ----------------------------------------------------------


def declared_options(options: Iterable[Mapping[str, Any]]) -> Options:
    """The options a new product declares, trimmed; a 422 unless the names are unique
    regardless of case and each option lists a value once."""
    cleaned: Options = []
    errors: dict[str, dict[str, list[str]]] = {}
    seen: set[str] = set()
    for index, option in enumerate(options):
        name = option["name"].strip()
        values = [value.strip() for value in option["values"]]
        problems: dict[str, list[str]] = {}
        if name.casefold() in seen:
            problems["name"] = ["Another option has this name."]
        if len(set(values)) != len(values):
            problems["values"] = ["Each value may be listed once."]
        if problems:
            errors[str(index)] = problems
        seen.add(name.casefold())
        cleaned.append({"name": name, "values": values})
    if errors:
        raise ValidationFailed({"options": errors})
    return cleaned


def variant_values(options: Options, given: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """A variant's values, trimmed, and what is wrong with them: it names exactly one value
    for every option of the product (names as the product spells them)."""
    values = {name.strip(): value.strip() for name, value in given.items()}
    names = [option["name"] for option in options]
    problems = [f"Give a value for {name}." for name in names if name not in values]
    problems += [f"The product has no option {name}." for name in values if name not in names]
    if len(values) < len(given):
        problems.append("An option is named twice.")
    return values, problems


def variant_title(options: Options, values: Mapping[str, str]) -> str:
    """The values in the product's option order, joined with " / "; "Default" without options."""
    return " / ".join(values[option["name"]] for option in options) or DEFAULT_TITLE


def with_values(options: Options, variants_values: Iterable[Mapping[str, str]]) -> Options:
    """The options with every value the variants name, those they did not list yet added in
    the order they come."""
    merged = [{"name": option["name"], "values": list(option["values"])} for option in options]
    for values in variants_values:
        for option in merged:
            value = values[option["name"]]
            if value not in option["values"]:
                option["values"].append(value)
    return merged


def variant_record(
    fields: Mapping[str, Any], *, options: Options, values: dict[str, str], position: int
) -> dict:
    """A variant of a new product as insert_product reads it (JSON: money as text)."""
    return {
        "sku": fields.get("sku"),
        "options": values,
        "title": variant_title(options, values),
        "price": str(fields["price"]),
        "compare_at_price": _text(fields.get("compare_at_price")),
        "stock_quantity": fields["stock_quantity"],
        "weight_grams": fields.get("weight_grams"),
        "image_url": fields.get("image_url"),
        "position": position,
    }


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _checked_values(options: Options, given: Mapping[str, str]) -> dict[str, str]:
    values, problems = variant_values(options, given)
    if problems:
        raise ValidationFailed({"options": problems})
    return values


# -- the variant a Release 1 request means ---------------------------------------------------


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
            f"This product has {row['active_variants']} variants; this request must name "
            "one of them (its variant route, or variant_id).",
            code="variant_required",
        )
    return row["variant_id"]


async def change_product_stock(
    conn: asyncpg.Connection, *, product_id: int, **change: Any
) -> asyncpg.Record:
    """Release 1's stock change by product (the API's and the admin pages' per-product forms):
    `inventory.change_stock` of its one active variant, deleted products included, so they can
    be restocked; a product with several variants is a 409 `variant_required`. Like every
    inventory change it announces no `product.updated` (a stock sync would flood webhooks with
    them): stock has `inventory.low_stock`."""
    variant_id = await sole_variant_id(
        conn, product_id=product_id, several=Conflict, include_deleted=True
    )
    return await change_stock(conn, variant_id=variant_id, **change)


# -- the admin's variant routes -----------------------------------------------------------------


async def _product_options(conn: asyncpg.Connection, product_id: int) -> asyncpg.Record:
    product = await queries.product_options(conn, product_id=product_id)
    if product is None:
        raise NotFound("No such product.")
    return product


async def _after_variant_change(
    conn: asyncpg.Connection, product_id: int, values: Mapping[str, str] | None = None
) -> None:
    """What a variant change leaves the product with, once the variants' trigger has locked
    it: a 422 past MAX_VARIANTS, a 409 `last_variant` with none on sale (so concurrent
    requests cannot pass either), and the values the variant names added to the options."""
    product = await _product_options(conn, product_id)
    if product["variant_count"] > MAX_VARIANTS:
        raise ValidationFailed({"_schema": [f"A product has at most {MAX_VARIANTS} variants."]})
    if product["variant_count"] == 0:
        raise Conflict(
            "This is the product's last variant: delete the product instead.",
            code="last_variant",
        )
    options = product["options"]
    if values is not None:
        options = with_values(options, [values])
    await queries.set_product_options(conn, product_id=product_id, options=options)


async def announce_update(conn: asyncpg.Connection, product_id: int) -> None:
    """`product.updated`, in the transaction of the change: once per change, so a function
    that makes several (a product edit that changes its variant) announces it itself and tells
    the ones it calls not to."""
    await outbox.publish(conn, topics.PRODUCT_UPDATED, {"product_id": product_id})


async def add_variant(
    conn: asyncpg.Connection, product_id: int, fields: Mapping[str, Any]
) -> asyncpg.Record:
    """A new variant of an active product: values for every option (new ones are added to the
    product's options), 409 `variant_exists` when one on sale has the same, `sku_taken`."""
    async with atomic(conn):
        options = (await _product_options(conn, product_id))["options"]
        values = _checked_values(options, fields["options"])
        variant_id = await queries.insert_variant(
            conn,
            product_id=product_id,
            sku=fields.get("sku"),
            options=values,
            title=variant_title(options, values),
            price=fields["price"],
            compare_at_price=fields.get("compare_at_price"),
            stock_quantity=fields["stock_quantity"],
            weight_grams=fields.get("weight_grams"),
            image_url=fields.get("image_url"),
            position=fields.get("position"),
        )
        if variant_id is None:
            raise NotFound("No such product.")
        await _after_variant_change(conn, product_id, values)
        await announce_update(conn, product_id)
        return await queries.get_variant(conn, product_id=product_id, variant_id=variant_id)


async def update_variant(
    conn: asyncpg.Connection,
    product_id: int,
    variant_id: int,
    changes: Mapping[str, Any],
    *,
    admin_id: int | None,
    low_stock_threshold: int,
    reason: str = VARIANT_EDIT_REASON,
    announce: bool = True,
) -> asyncpg.Record:
    """Change the given fields of a variant on sale (`changes` holds only what was sent), in
    the caller's transaction or a new one; a new stock level goes through the inventory's
    locked change, so it lands in the ledger. The variant is locked before its product.
    `announce=False`: the caller announces `product.updated` for its whole change."""
    async with atomic(conn):
        values = title = None
        if "options" in changes:
            options = (await _product_options(conn, product_id))["options"]
            values = _checked_values(options, changes["options"])
            title = variant_title(options, values)
        changed = await queries.update_variant(
            conn,
            product_id=product_id,
            variant_id=variant_id,
            options=values,
            title=title,
            price=changes.get("price"),
            # Nullable columns: "sent as null" (clear it) differs from "not sent" (keep it).
            set_compare_at_price="compare_at_price" in changes,
            compare_at_price=changes.get("compare_at_price"),
            set_sku="sku" in changes,
            sku=changes.get("sku"),
            set_weight_grams="weight_grams" in changes,
            weight_grams=changes.get("weight_grams"),
            set_image_url="image_url" in changes,
            image_url=changes.get("image_url"),
            position=changes.get("position"),
        )
        if changed is None:
            raise NotFound("No such variant.")
        if "stock_quantity" in changes:
            await change_stock(
                conn,
                variant_id=variant_id,
                admin_id=admin_id,
                threshold=low_stock_threshold,
                stock_quantity=changes["stock_quantity"],
                reason=reason,
            )
        await _after_variant_change(conn, product_id, values)
        if announce:
            await announce_update(conn, product_id)
        return await queries.get_variant(conn, product_id=product_id, variant_id=variant_id)


async def remove_variant(conn: asyncpg.Connection, product_id: int, variant_id: int) -> None:
    """Soft delete: the variant leaves the product's answers and carts' checkout, and stays in
    past orders and the ledger. The last one on sale is a 409 `last_variant`."""
    async with atomic(conn):
        if await queries.soft_delete_variant(
            conn, product_id=product_id, variant_id=variant_id
        ) is None:
            raise NotFound("No such variant.")
        await _after_variant_change(conn, product_id)
        await announce_update(conn, product_id)

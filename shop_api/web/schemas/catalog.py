"""Categories, products and reviews: what the catalog routes take and answer."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from shop_api.domain.catalog import MAX_FILTERED_OPTIONS
from shop_api.domain.limits import MAX_STOCK
from shop_api.web.schemas.common import (
    MAX_ID,
    MAX_SEARCH_LENGTH,
    Id,
    MoneyInput,
    MoneyOutput,
    NonBlank,
    PaginationQuery,
    QueryFlag,
    QuerySchema,
    StrictSchema,
    page_of,
    shaped,
)

SORTS = ("relevance", "newest", "price", "-price", "name", "rating")

# `?category=` takes an id or a slug; generated category slugs are never all digits.
_CATEGORY_REF = re.compile(r"^([0-9]{1,19}|[a-z0-9]+(-[a-z0-9]+)*)$")
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _name(max_length: int, example: str, **kwargs: Any) -> fields.String:
    return NonBlank(max_length, metadata={"example": example}, **kwargs)


def _category_ref(value: str) -> None:
    if value.isdigit() and not 1 <= int(value) <= MAX_ID:
        raise ValidationError("No category has this id.")


# -- categories -----------------------------------------------------------------------------


class CategoryIn(StrictSchema):
    name = _name(120, "Coffee & Tea", required=True)
    parent_id = Id(strict=True, allow_none=True, load_default=None)
    description = fields.String(validate=validate.Length(max=2000), load_default="")


class CategoryOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(
        required=True,
        metadata={"description": "Made from the name; what `?category=` takes besides the id."},
    )
    parent_id = fields.Integer(required=True, allow_none=True)
    description = fields.String(required=True)


class CategoryListOut(Schema):
    items = fields.List(fields.Nested(CategoryOut), required=True)


# -- products -------------------------------------------------------------------------------


# `?option=Name:value`: 20 values in all are more than any storefront sidebar sends.
MAX_OPTION_FILTERS = 20
MAX_OPTION_FILTER_LENGTH = 200


def _option_filters(entries: list[str]) -> dict[str, tuple[str, ...]]:
    """["Size:M", "Size:L", "Colour:Red"] -> {"Size": ("M", "L"), "Colour": ("Red",)}: split
    at the first ':', spaces around name and value dropped, repeated entries once."""
    chosen: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        if len(entry) > MAX_OPTION_FILTER_LENGTH:
            raise ValidationError(
                f"An option filter has at most {MAX_OPTION_FILTER_LENGTH} characters.", "option"
            )
        name, colon, value = entry.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name or not value:
            raise ValidationError(f"{entry!r} is not Name:value (e.g. Size:M).", "option")
        values = chosen.setdefault(name, ())
        if value not in values:
            chosen[name] = (*values, value)
    if len(chosen) > MAX_FILTERED_OPTIONS:
        raise ValidationError(
            f"At most {MAX_FILTERED_OPTIONS} option names: a product has at most "
            f"{MAX_FILTERED_OPTIONS} options.",
            "option",
        )
    return chosen


class ProductFilterQuery(QuerySchema):
    """The filters of a product list, which its facets take too."""

    search = fields.String(
        validate=validate.Length(max=MAX_SEARCH_LENGTH),
        metadata={
            "description": (
                "Full text over name and description, as in a search box: words are ANDed, "
                '`"quoted phrases"` match in order, `or` between words, `-word` excludes. '
                "Any text is accepted: text that is not valid search syntax is read as plain "
                "words, and text with no searchable word matches nothing."
            )
        },
    )
    category = fields.String(
        validate=[validate.Regexp(_CATEGORY_REF), _category_ref],
        metadata={
            "description": (
                "A category id or slug; products of its sub-categories are included. "
                "An unknown category matches nothing."
            ),
            "example": "audio",
        },
    )
    min_price = MoneyInput()
    max_price = MoneyInput()
    in_stock = QueryFlag("`true`: only products in stock; `false`: only sold out.")
    options = fields.List(
        # Each entry is checked by _option_filters: errors of a list's items would be keyed
        # by their index, and a problem's errors are keyed by field name.
        fields.String(),
        data_key="option",
        validate=validate.Length(max=MAX_OPTION_FILTERS),
        metadata={
            "description": (
                "`Name:value`, repeatable: products with one active variant having all the "
                "values named (`option=Size:M&option=Colour:Red`); a name given twice means "
                "either value (`option=Size:M&option=Size:L`). Names and values are exact "
                f"(case counts). At most {MAX_FILTERED_OPTIONS} names and "
                f"{MAX_OPTION_FILTERS} values."
            ),
            "example": ["Size:M"],
        },
    )

    @pre_load
    def _repeated_options(self, data: Any, **_: Any) -> Any:
        # A query string's MultiDict hands a field only its first value; `option` repeats.
        if hasattr(data, "getall") and "option" in data:
            return {**{key: data[key] for key in data}, "option": data.getall("option")}
        return data

    @validates_schema
    def _price_range(self, data: dict, **_: Any) -> None:
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must be at least min_price.", "max_price")

    @post_load
    def _options_by_name(self, data: dict, **_: Any) -> dict:
        if "options" in data:
            data["options"] = _option_filters(data["options"])
        return data


class ProductQuery(ProductFilterQuery, PaginationQuery):
    sort = fields.String(
        validate=validate.OneOf(SORTS),
        metadata={
            "description": (
                "`relevance` (the default with `search`; without it, the same as `newest`), "
                "`newest` (the default), `price` (lowest first), `-price` (highest first), "
                "`name`, `rating` (best average first, unrated last)."
            )
        },
    )


class ProductUpdateIn(StrictSchema):
    """Every field optional: only what is sent changes; null clears a nullable field."""

    name = _name(200, "Ceramic Mug")
    price = MoneyInput()
    stock_quantity = fields.Integer(strict=True, validate=validate.Range(0, MAX_STOCK))
    description = fields.String(validate=validate.Length(max=10_000))
    category_id = Id(strict=True, allow_none=True)
    sku = fields.String(
        allow_none=True,
        validate=[validate.Length(1, 64), validate.Regexp(_SKU)],
        metadata={
            "description": "Unique among all products, deleted ones included.",
            "example": "MUG-001",
        },
    )
    image_url = fields.Url(
        allow_none=True,
        schemes={"http", "https"},
        validate=validate.Length(max=2048),
        metadata={
            "format": "uri",
            "pattern": "^https?://[^\\u0000]*$",
            "example": "https://images.example.com/products/mug.jpg",
        },
    )


class ProductIn(ProductUpdateIn):
    name = _name(200, "Ceramic Mug", required=True)
    price = MoneyInput(required=True)
    stock_quantity = fields.Integer(
        strict=True, required=True, validate=validate.Range(0, MAX_STOCK)
    )


class CategoryRefOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)


class RatingOut(Schema):
    average = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "pattern": r"^[1-5]\.\d{2}$",
            "example": "4.50",
            "description": "Mean of the ratings with two places; null without reviews.",
        },
    )
    count = fields.Integer(required=True)


class ProductOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    description = fields.String(required=True)
    price = MoneyOutput(required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    stock_quantity = fields.Integer(required=True)
    in_stock = fields.Boolean(required=True)
    sku = fields.String(required=True, allow_none=True)
    image_url = fields.String(required=True, allow_none=True)
    category = fields.Nested(CategoryRefOut, required=True, allow_none=True)
    rating = fields.Nested(RatingOut, required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


# -- reviews --------------------------------------------------------------------------------


class ReviewIn(StrictSchema):
    rating = fields.Integer(strict=True, required=True, validate=validate.Range(1, 5))
    title = fields.String(validate=validate.Length(max=200), load_default="")
    comment = fields.String(validate=validate.Length(max=5000), load_default="")


class ReviewerOut(Schema):
    id = fields.Integer(required=True)
    full_name = fields.String(required=True)


class ReviewOut(Schema):
    id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    user = fields.Nested(ReviewerOut, required=True)
    rating = fields.Integer(required=True, validate=validate.Range(1, 5))
    title = fields.String(required=True)
    comment = fields.String(required=True)
    verified_purchase = fields.Boolean(
        required=True,
        metadata={
            "description": (
                "Whether the reviewer had an order holding the product that was paid (or got "
                "further) when the review was written."
            )
        },
    )
    created_at = fields.DateTime(required=True)


class ProductDetailOut(ProductOut):
    recent_reviews = fields.List(
        fields.Nested(ReviewOut),
        required=True,
        metadata={"description": "Up to 5, newest first."},
    )


class ProductListOut(Schema):
    items = fields.List(fields.Nested(ProductOut), required=True)


# -- facets ---------------------------------------------------------------------------------

# The facets take the list's filters; sort, page and per_page mean nothing to them and are
# ignored like any other unknown query parameter.
FacetQuery = ProductFilterQuery


class CategoryFacetOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    count = fields.Integer(
        required=True,
        metadata={"description": "Products in it or in any of its sub-categories."},
    )


class PriceRangeOut(Schema):
    """Prices from `min` (included) up to `max` (not included)."""

    min = MoneyOutput(required=True)
    max = MoneyOutput(required=True)
    count = fields.Integer(required=True)


class OptionValueFacetOut(Schema):
    value = fields.String(required=True, metadata={"example": "M"})
    count = fields.Integer(required=True)


class OptionFacetOut(Schema):
    name = fields.String(required=True, metadata={"example": "Size"})
    values = fields.List(
        fields.Nested(OptionValueFacetOut),
        required=True,
        metadata={"description": "Most products first."},
    )


class AvailabilityOut(Schema):
    in_stock = fields.Integer(required=True)
    out_of_stock = fields.Integer(required=True)


class FacetsOut(Schema):
    total = fields.Integer(
        required=True, metadata={"description": "Products matching every filter."}
    )
    categories = fields.List(
        fields.Nested(CategoryFacetOut),
        required=True,
        metadata={
            "description": (
                "Every filter but `category`; the categories with any product, parents "
                "first. A product counts in its category and in each one above it."
            )
        },
    )
    price_ranges = fields.List(
        fields.Nested(PriceRangeOut),
        required=True,
        metadata={
            "description": (
                "Every filter but `min_price` and `max_price`: up to five bands of round "
                "prices holding about as many products each, `min` included and `max` not, "
                "from 0 to past the highest price, each starting where the one before ends; "
                "every product is in exactly one, by its `price` (the lowest of its "
                "variants), so the counts add up to the products matching the other "
                "filters. No band is empty."
            )
        },
    )
    options = fields.List(
        fields.Nested(OptionFacetOut),
        required=True,
        metadata={
            "description": (
                "By name. Each option is counted under every filter but its own values: "
                "with `option=Size:M`, Size still counts L, and Colour counts the products "
                "with a variant of that colour in M."
            )
        },
    )
    availability = fields.Nested(
        AvailabilityOut,
        required=True,
        metadata={"description": "Every filter but `in_stock`."},
    )


ProductPage = page_of(ProductOut, "ProductPage")
ReviewPage = page_of(ReviewOut, "ReviewPage")
ReviewQuery = PaginationQuery


# -- shaping rows into answers --------------------------------------------------------------


def category_out(row: Any) -> dict:
    return shaped(CategoryOut, row)


def product_out(row: Any) -> dict:
    """A product row of sql/products.sql: category_* columns joined in, rating_* its summary."""
    has_category = row["category_id"] is not None
    return shaped(
        ProductOut,
        row,
        in_stock=row["stock_quantity"] > 0,
        category=shaped(CategoryRefOut, row, "category_") if has_category else None,
        rating=shaped(RatingOut, row, "rating_"),
    )


def review_out(row: Any, prefix: str = "") -> dict:
    """A review row of sql/reviews.sql (its `user` built as JSON); with prefix="review_", the
    review columns of a product-detail row."""
    return shaped(ReviewOut, row, prefix)

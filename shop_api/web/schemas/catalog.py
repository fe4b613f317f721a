"""Categories, products and reviews: what the catalog routes take and answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
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

from shop_api.domain.limits import (
    MAX_IMAGES,
    MAX_OPTION_NAME_LENGTH,
    MAX_OPTION_VALUE_LENGTH,
    MAX_OPTIONS,
    MAX_POSITION,
    MAX_PRODUCT_IMAGE_URL_LENGTH,
    MAX_STOCK,
    MAX_URL_LENGTH,
    MAX_VARIANTS,
    MAX_WEIGHT_GRAMS,
    TOTAL_CAP,
)
from shop_api.domain.tax import DEFAULT_TAX_CLASS, TAX_CLASSES
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
from shop_api.web.schemas.tax import TaxClass

_TAX_CLASS_RULE = "Which tax rates apply: `standard`, `reduced` or `zero`."

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
    if len(chosen) > MAX_OPTIONS:
        raise ValidationError(
            f"At most {MAX_OPTIONS} option names: a product has at most "
            f"{MAX_OPTIONS} options.",
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
                f"(case counts). At most {MAX_OPTIONS} names and "
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


_SKU_RULE = "Unique among the variants of every product, deleted ones included."


def _sku(description: str = _SKU_RULE, **kwargs: Any) -> fields.String:
    return fields.String(
        validate=[validate.Length(1, 64), validate.Regexp(_SKU)],
        metadata={"description": description, "example": "MUG-001"},
        **kwargs,
    )


def _web_url(
    example: str, description: str = "", max_length: int = MAX_URL_LENGTH, **kwargs: Any
) -> fields.Url:
    """An http(s) URL of up to `max_length` characters."""
    metadata = {"format": "uri", "pattern": "^https?://[^\\u0000]*$", "example": example}
    if description:
        metadata["description"] = description
    return fields.Url(
        schemes={"http", "https"},
        validate=validate.Length(max=max_length),
        metadata=metadata,
        **kwargs,
    )


def _stock(description: str, **kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(0, MAX_STOCK),
        metadata={"description": description},
        **kwargs,
    )


class ProductUpdateIn(StrictSchema):
    """Every field optional: only what is sent changes; null clears a nullable field."""

    name = _name(200, "Ceramic Mug")
    price = MoneyInput(
        description="The price of its variant; a 409 `variant_required` when it has several."
    )
    stock_quantity = _stock(
        "The stock of its variant (kept in the inventory ledger); a 409 `variant_required` "
        "when it has several."
    )
    description = fields.String(validate=validate.Length(max=10_000))
    category_id = Id(strict=True, allow_none=True)
    sku = _sku(allow_none=True)
    image_url = _web_url(
        "https://images.example.com/products/mug.jpg",
        "The first image's URL (an image is added when it has none); null removes the first "
        "image.",
        MAX_PRODUCT_IMAGE_URL_LENGTH,
        allow_none=True,
    )
    tax_class = TaxClass(
        metadata={"description": f"{_TAX_CLASS_RULE} `{DEFAULT_TAX_CLASS}` when not sent."}
    )


# -- options, variants and images -----------------------------------------------------------


def _option_name(**kwargs: Any) -> fields.String:
    return NonBlank(MAX_OPTION_NAME_LENGTH, metadata={"example": "Size"}, **kwargs)


def _option_value(**kwargs: Any) -> fields.String:
    return NonBlank(MAX_OPTION_VALUE_LENGTH, metadata={"example": "M"}, **kwargs)


class OptionIn(StrictSchema):
    name = _option_name(required=True)
    values = fields.List(
        _option_value(),
        load_default=list,
        validate=validate.Length(max=MAX_VARIANTS),
        metadata={"description": "In display order; values the variants name are added."},
    )


def _at_most_max_options(values: dict) -> None:
    # Not validate.Length: apispec would document it as an object's maxLength, which means
    # nothing; maxProperties is said below.
    if len(values) > MAX_OPTIONS:
        raise ValidationError(f"A product has at most {MAX_OPTIONS} options.")


def _variant_options(**kwargs: Any) -> fields.Dict:
    return fields.Dict(
        keys=_option_name(),
        values=_option_value(),
        validate=_at_most_max_options,
        metadata={
            "description": (
                "One value for every option of the product, by the option's name as the "
                "product spells it."
            ),
            "maxProperties": MAX_OPTIONS,
            "example": {"Size": "M", "Colour": "Red"},
        },
        **kwargs,
    )


class VariantUpdateIn(StrictSchema):
    """Every field optional: only what is sent changes; null clears a nullable field."""

    options = _variant_options()
    price = MoneyInput()
    compare_at_price = MoneyInput(
        description="The price before a reduction, if any.", allow_none=True
    )
    stock_quantity = _stock("A change is kept in the inventory ledger.")
    sku = _sku(allow_none=True)
    weight_grams = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(0, MAX_WEIGHT_GRAMS)
    )
    image_url = _web_url("https://images.example.com/products/mug-red.jpg", allow_none=True)
    position = fields.Integer(
        strict=True,
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "Variants are listed by position, then by id."},
    )


class NewVariantIn(VariantUpdateIn):
    options = _variant_options(load_default=dict)
    price = MoneyInput(required=True)
    stock_quantity = _stock("The stock it starts with.", required=True)


class ProductVariantIn(NewVariantIn):
    """A variant of a product being created: its position is its place in `variants`."""

    class Meta(StrictSchema.Meta):
        exclude = ("position",)


class ImageIn(StrictSchema):
    url = _web_url("https://images.example.com/products/mug.jpg", required=True)
    alt = fields.String(validate=validate.Length(max=500), load_default="")


def _images(**kwargs: Any) -> fields.List:
    return fields.List(
        fields.Nested(ImageIn),
        validate=validate.Length(max=MAX_IMAGES),
        metadata={"description": "In display order; the first is the product's `image_url`."},
        **kwargs,
    )


class ImagesIn(StrictSchema):
    images = _images(required=True)


class ProductIn(ProductUpdateIn):
    """Either the Release 1 body (`price`, `stock_quantity`, `sku?`: one default variant) or
    `options` and `variants`."""

    name = _name(200, "Ceramic Mug", required=True)
    price = MoneyInput(description="Required without `variants`: the default variant's price.")
    stock_quantity = _stock("Required without `variants`: the default variant's stock.")
    sku = _sku(f"The default variant's SKU. {_SKU_RULE}", allow_none=True)
    image_url = _web_url(
        "https://images.example.com/products/mug.jpg",
        "The product's one image (or send `images`).",
        MAX_PRODUCT_IMAGE_URL_LENGTH,
        allow_none=True,
    )
    options = fields.List(
        fields.Nested(OptionIn),
        validate=validate.Length(max=MAX_OPTIONS),
        metadata={"description": "Names unique regardless of case; needs `variants`."},
    )
    variants = fields.List(
        fields.Nested(ProductVariantIn),
        validate=validate.Length(1, MAX_VARIANTS),
        metadata={"description": "Instead of `price`, `stock_quantity` and `sku`."},
    )
    images = _images()

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _one_form(self, data: dict, original: Any, **_: Any) -> None:
        if not isinstance(original, Mapping):
            return
        errors: dict[str, list[str]] = {}
        if "variants" in original:
            for field in ("price", "stock_quantity", "sku"):
                if field in original:
                    errors[field] = ["Give it in each variant when `variants` is sent."]
        else:
            for field in ("price", "stock_quantity"):
                if field not in original:
                    errors[field] = ["Missing data for required field."]
            if "options" in original:
                errors["variants"] = ["Required with `options`."]
        if "image_url" in original and "images" in original:
            errors["image_url"] = ["Send `images` or `image_url`, not both."]
        if errors:
            raise ValidationError(errors)


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


class OptionOut(Schema):
    name = fields.String(required=True, metadata={"example": "Size"})
    values = fields.List(fields.String(), required=True, metadata={"example": ["S", "M", "L"]})


class ImageOut(Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    alt = fields.String(required=True)
    position = fields.Integer(required=True, metadata={"description": "0 for the first."})


class VariantOut(Schema):
    id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True, allow_none=True)
    title = fields.String(
        required=True,
        metadata={
            "description": 'The option values joined with " / ", or "Default".',
            "example": "M / Red",
        },
    )
    options = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"example": {"Size": "M", "Colour": "Red"}},
    )
    price = MoneyOutput(required=True)
    compare_at_price = MoneyOutput(required=True, allow_none=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    stock_quantity = fields.Integer(required=True)
    in_stock = fields.Boolean(required=True)
    weight_grams = fields.Integer(required=True, allow_none=True)
    image_url = fields.String(required=True, allow_none=True)
    position = fields.Integer(required=True)
    is_active = fields.Boolean(required=True)


class ProductOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    description = fields.String(required=True)
    price = MoneyOutput(
        description='The lowest price of its variants on sale (what a list shows as "from").',
        required=True,
    )
    price_max = MoneyOutput(description="The highest price of its variants.", required=True)
    currency = fields.String(required=True, metadata={"example": "USD"})
    stock_quantity = fields.Integer(
        required=True, metadata={"description": "The sum of its variants' stock."}
    )
    in_stock = fields.Boolean(required=True)
    sku = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Its variant's SKU; null when it has several."},
    )
    image_url = fields.String(
        required=True, allow_none=True, metadata={"description": "The first image's URL."}
    )
    images = fields.List(fields.Nested(ImageOut), required=True)
    options = fields.List(
        fields.Nested(OptionOut), required=True, metadata={"description": "0 to 3, in order."}
    )
    variant_count = fields.Integer(required=True)
    tax_class = fields.String(
        required=True,
        validate=validate.OneOf(TAX_CLASSES),
        metadata={"description": "Which tax rates apply to it."},
    )
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
    full_name = fields.String(
        required=True,
        metadata={"description": '"Former customer" once the author deleted their account.'},
    )


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
    variants = fields.List(
        fields.Nested(VariantOut),
        required=True,
        metadata={"description": "The variants on sale, by position."},
    )
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
        required=True,
        metadata={"description": f"Products matching every filter, counted exactly up to "
                                 f"{TOTAL_CAP:,}; past that {TOTAL_CAP:,}. Every count below "
                                 f"is capped the same way: {TOTAL_CAP:,} means that many or "
                                 f"more."},
    )
    total_exact = fields.Boolean(
        required=True,
        metadata={"description": f"false when more than {TOTAL_CAP:,} products match and "
                                 f"`total` says {TOTAL_CAP:,}, as in a page of the list."},
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
                "filters (each capped as `total` is). No band is empty."
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


def product_detail_out(row: Any, reviews: list) -> dict:
    """GET /api/products/<id>: catalog.get_product's row and reviews (a webhook's product too)."""
    body = product_out(row)
    body["variants"] = [variant_out(variant) for variant in row["variants"]]
    body["recent_reviews"] = [review_out(review, prefix="review_") for review in reviews]
    return body


def variant_out(row: Any) -> dict:
    """A variant row of sql/variants.sql, or an item of a product detail's `variants`."""
    return shaped(VariantOut, row, in_stock=row["stock_quantity"] > 0)


def review_out(row: Any, prefix: str = "") -> dict:
    """A review row of sql/reviews.sql (its `user` built as JSON); with prefix="review_", the
    review columns of a product-detail row."""
    return shaped(ReviewOut, row, prefix)

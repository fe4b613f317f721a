"""/api/products: the catalog, its categories and reviews."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import catalog, facets, recommendations, variants
from shop_api.domain.api_keys import CATALOG_WRITE
from shop_api.web.auth import Caller, admin_id_of
from shop_api.web.endpoint import ADMIN, PUBLIC, USER, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.catalog import (
    CategoryIn,
    CategoryListOut,
    CategoryOut,
    FacetQuery,
    FacetsOut,
    ImagesIn,
    NewVariantIn,
    ProductDetailOut,
    ProductIn,
    ProductListOut,
    ProductOut,
    ProductPage,
    ProductQuery,
    ProductUpdateIn,
    ReviewIn,
    ReviewOut,
    ReviewPage,
    ReviewQuery,
    VariantOut,
    VariantUpdateIn,
    category_out,
    product_detail_out,
    product_out,
    review_out,
    variant_out,
)
from shop_api.web.schemas.common import PAGING_KEYS, page_body

routes = web.RouteTableDef()
TAG = "Products"


@routes.get("/api/products")
@routes.get("/api/products/")
@endpoint(
    summary="Browse and search the catalog",
    description=(
        "A page of active products. Filters combine; `category` includes its sub-categories. "
        "`min_price` above `max_price` is a 422."
    ),
    tag=TAG,
    access=PUBLIC,
    query=ProductQuery,
    response=ProductPage,
)
async def list_products(request: web.Request, query: dict) -> web.Response:
    filters = {key: value for key, value in query.items() if key not in PAGING_KEYS}
    rows, total = await catalog.list_products(
        request.app[db_pool_key],
        catalog.ProductFilters(**filters),
        limit=query["limit"],
        offset=query["offset"],
    )
    return json_response(page_body([product_out(row) for row in rows], query, total))


@routes.post("/api/products")
@routes.post("/api/products/")
@endpoint(
    summary="Add a product",
    description=(
        "Either the Release 1 body (`price`, `stock_quantity`, `sku?`), which makes one "
        "variant titled \"Default\", or `options` (up to 3, names unique regardless of case) "
        "and `variants` (up to 100; then `price`, `stock_quantity` and `sku` are a 422). Each "
        "variant gives exactly one value for every option (a 422 otherwise); a value its "
        "option does not list yet is added to it. Variants keep the order given (`position`), "
        "and are titled by their values in option order (`M / Red`). `images` (up to 20) or "
        "`image_url` (one image). The slug is made from the name (`-2`, `-3`... when taken). "
        "Two variants with the same values are a 409 `variant_exists`; a SKU used by any "
        "other variant, deleted ones included, a 409 `sku_taken`; an unknown `category_id` a "
        "422. A refused request creates nothing."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    body=ProductIn,
    response=ProductOut,
    status=201,
    errors=(409,),
)
async def create_product(
    request: web.Request, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await catalog.create_product(
        conn,
        currency=request.app[settings_key].default_currency,
        **body,
    )
    return json_response(product_out(row), status=201)


# Before /<id>: "facets" is a path of its own, never an id.
@routes.get("/api/products/facets")
@routes.get("/api/products/facets/")
@endpoint(
    summary="Counts for a filter sidebar",
    description=(
        "Takes the filters of the list (`sort`, `page` and `per_page` are ignored) and counts "
        "products: in all, per category, per price band, per option value and by "
        "availability. Each facet is counted with every filter except its own, so a chosen "
        "value still shows what choosing another would give. The same 422s as the list."
    ),
    tag=TAG,
    query=FacetQuery,
    response=FacetsOut,
)
async def product_facets(request: web.Request, query: dict) -> web.Response:
    filters = catalog.ProductFilters(**query)
    return json_response(await facets.product_facets(request.app[db_pool_key], filters))


@routes.get(r"/api/products/{product_id:\d+}")
@endpoint(
    summary="A product, with its variants and its five newest reviews",
    tag=TAG,
    response=ProductDetailOut,
)
async def get_product(request: web.Request, product_id: int) -> web.Response:
    row, reviews = await catalog.get_product(request.app[db_pool_key], product_id)
    return json_response(product_detail_out(row, reviews))


@routes.put(r"/api/products/{product_id:\d+}")
@endpoint(
    summary="Change a product",
    description=(
        "Only the fields sent change; `null` clears `category_id`, `sku` or `image_url`. "
        "The slug stays as it was. `price`, `stock_quantity` and `sku` are those of the "
        "product's one variant: on a product with several they are a 409 `variant_required` "
        "(change them through its variant routes). A new `stock_quantity` is written to the "
        "inventory ledger. `image_url` sets the first image's URL (adding an image when there "
        "is none); `null` removes the first image, and the next becomes the first. A deleted "
        "product is a 404; a taken SKU a 409 `sku_taken`. A refused request changes nothing."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    body=ProductUpdateIn,
    response=ProductOut,
    errors=(409,),
)
async def update_product(
    request: web.Request, product_id: int, user: Caller, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await catalog.update_product(
        conn,
        product_id,
        body,
        admin_id=admin_id_of(user),
        low_stock_threshold=request.app[settings_key].low_stock_threshold,
    )
    return json_response(product_out(row))


@routes.put(r"/api/products/{product_id:\d+}/images")
@routes.put(r"/api/products/{product_id:\d+}/images/")
@endpoint(
    summary="Replace a product's images",
    description=(
        "Up to 20 http(s) URLs (2,000 characters at most), in display order; the first is "
        "the product's `image_url` (none: null). Every earlier image is replaced."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    body=ImagesIn,
    response=ProductOut,
)
async def replace_images(
    request: web.Request, product_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await catalog.replace_images(conn, product_id, body["images"])
    return json_response(product_out(row))


@routes.post(r"/api/products/{product_id:\d+}/variants")
@routes.post(r"/api/products/{product_id:\d+}/variants/")
@endpoint(
    summary="Add a variant to a product",
    description=(
        "`options` gives one value for every option of the product (`{}` for a product "
        "without options), by the option's name; a value the option does not list yet is "
        "added to it. Without `position` it goes after the last variant. A variant on sale "
        "with the same values is a 409 `variant_exists`; a SKU used by any other variant, "
        "deleted ones included, a 409 `sku_taken`; a product has at most 100 variants (422)."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    body=NewVariantIn,
    response=VariantOut,
    status=201,
    errors=(409,),
)
async def create_variant(
    request: web.Request, product_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await variants.add_variant(conn, product_id, body)
    return json_response(variant_out(row), status=201)


@routes.put(r"/api/products/{product_id:\d+}/variants/{variant_id:\d+}")
@endpoint(
    summary="Change a variant",
    description=(
        "Only the fields sent change; `null` clears `compare_at_price`, `sku`, "
        "`weight_grams` or `image_url`. New `options` name every option of the product, and "
        "retitle the variant. A new `stock_quantity` is written to the inventory ledger. A "
        "variant of another product, or a deleted one, is a 404; a 409 `variant_exists` or "
        "`sku_taken` as on create. A refused request changes nothing."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    body=VariantUpdateIn,
    response=VariantOut,
    errors=(409,),
)
async def update_variant(
    request: web.Request,
    product_id: int,
    variant_id: int,
    user: Caller,
    body: dict,
    conn: asyncpg.Connection,
) -> web.Response:
    row = await variants.update_variant(
        conn,
        product_id,
        variant_id,
        body,
        admin_id=admin_id_of(user),
        low_stock_threshold=request.app[settings_key].low_stock_threshold,
    )
    return json_response(variant_out(row))


@routes.delete(r"/api/products/{product_id:\d+}/variants/{variant_id:\d+}")
@endpoint(
    summary="Remove a variant",
    description=(
        "A soft delete: the variant leaves the product's answers and checkout, and stays in "
        "past orders; its SKU stays taken. The last variant on sale of a product is a 409 "
        "`last_variant` (remove the product instead)."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    status=204,
    errors=(409,),
)
async def delete_variant(
    request: web.Request, product_id: int, variant_id: int, conn: asyncpg.Connection
) -> web.Response:
    await variants.remove_variant(conn, product_id, variant_id)
    return web.Response(status=204)


@routes.delete(r"/api/products/{product_id:\d+}")
@endpoint(
    summary="Remove a product",
    description=(
        "A soft delete: the product leaves lists, detail and checkout, and stays in past orders."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    status=204,
)
async def delete_product(
    request: web.Request, product_id: int, conn: asyncpg.Connection
) -> web.Response:
    await catalog.delete_product(conn, product_id)
    return web.Response(status=204)


@routes.get("/api/products/categories")
@routes.get("/api/products/categories/")
@endpoint(
    summary="Every category",
    description="The whole tree, parents first; build it from `parent_id`.",
    tag=TAG,
    response=CategoryListOut,
)
async def list_categories(request: web.Request) -> web.Response:
    rows = await catalog.list_categories(request.app[db_pool_key])
    return json_response({"items": [category_out(row) for row in rows]})


@routes.post("/api/products/categories")
@routes.post("/api/products/categories/")
@endpoint(
    summary="Add a category",
    description=(
        "The slug is made from the name; under a parent whose name-slug is taken elsewhere it "
        "gets the parent's slug in front (`women-shoes`). A name its siblings already use is a "
        "409 `category_exists`; an unknown `parent_id` a 422."
    ),
    tag=TAG,
    access=ADMIN,
    scope=CATALOG_WRITE,
    body=CategoryIn,
    response=CategoryOut,
    status=201,
    errors=(409,),
)
async def create_category(request: web.Request, body: dict) -> web.Response:
    row = await catalog.create_category(request.app[db_pool_key], **body)
    return json_response(category_out(row), status=201)


@routes.get(r"/api/products/{product_id:\d+}/reviews")
@routes.get(r"/api/products/{product_id:\d+}/reviews/")
@endpoint(
    summary="A product's reviews, newest first",
    tag=TAG,
    query=ReviewQuery,
    response=ReviewPage,
)
async def list_reviews(request: web.Request, product_id: int, query: dict) -> web.Response:
    rows, total = await catalog.list_reviews(
        request.app[db_pool_key], product_id, limit=query["limit"], offset=query["offset"]
    )
    return json_response(page_body([review_out(row) for row in rows], query, total))


@routes.post(r"/api/products/{product_id:\d+}/reviews")
@routes.post(r"/api/products/{product_id:\d+}/reviews/")
@endpoint(
    summary="Review a product",
    description=(
        "Any signed-in user, once per product: a second review is a 409 `already_reviewed`. "
        "The product's rating changes with it."
    ),
    tag=TAG,
    access=USER,
    body=ReviewIn,
    response=ReviewOut,
    status=201,
    errors=(409,),
)
async def create_review(
    request: web.Request, product_id: int, user: asyncpg.Record, body: dict
, conn: asyncpg.Connection) -> web.Response:
    row = await catalog.add_review(conn, product_id=product_id, user_id=user["id"], **body)
    return json_response(review_out(row), status=201)


@routes.get(r"/api/products/{product_id:\d+}/recommendations")
@routes.get(r"/api/products/{product_id:\d+}/recommendations/")
@endpoint(
    summary="Products bought together with this one",
    description=(
        "Up to 10 active products, most often bought together with this one first (from paid "
        "orders, kept current by a worker); the best rated of its category fill the rest."
    ),
    tag=TAG,
    response=ProductListOut,
)
async def list_recommendations(request: web.Request, product_id: int) -> web.Response:
    rows = await recommendations.for_product(request.app[db_pool_key], product_id)
    return json_response({"items": [product_out(row) for row in rows]})

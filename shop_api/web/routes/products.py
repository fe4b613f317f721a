"""/api/products: the catalog, its categories and reviews."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import catalog, facets, recommendations
from shop_api.web.endpoint import ADMIN, PUBLIC, USER, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.catalog import (
    CategoryIn,
    CategoryListOut,
    CategoryOut,
    FacetQuery,
    FacetsOut,
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
    category_out,
    product_out,
    review_out,
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
        "The slug is made from the name (`-2`, `-3`... when taken). A SKU used by another "
        "product, deleted ones included, is a 409 `sku_taken`; an unknown `category_id` a 422."
    ),
    tag=TAG,
    access=ADMIN,
    body=ProductIn,
    response=ProductOut,
    status=201,
    errors=(409,),
)
async def create_product(request: web.Request, body: dict) -> web.Response:
    row = await catalog.create_product(
        request.app[db_pool_key],
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
async def product_facets(
    request: web.Request, query: dict, conn: asyncpg.Connection
) -> web.Response:
    return json_response(await facets.product_facets(conn, catalog.ProductFilters(**query)))


@routes.get(r"/api/products/{product_id:\d+}")
@endpoint(
    summary="A product, with its five newest reviews",
    tag=TAG,
    response=ProductDetailOut,
)
async def get_product(request: web.Request, product_id: int) -> web.Response:
    row, reviews = await catalog.get_product(request.app[db_pool_key], product_id)
    body = product_out(row)
    body["recent_reviews"] = [review_out(review, prefix="review_") for review in reviews]
    return json_response(body)


@routes.put(r"/api/products/{product_id:\d+}")
@endpoint(
    summary="Change a product",
    description=(
        "Only the fields sent change; `null` clears `category_id`, `sku` or `image_url`. "
        "The slug stays as it was. A new `stock_quantity` is written to the inventory ledger. "
        "A deleted product is a 404; a taken SKU a 409 `sku_taken`."
    ),
    tag=TAG,
    access=ADMIN,
    body=ProductUpdateIn,
    response=ProductOut,
    errors=(409,),
)
async def update_product(
    request: web.Request, product_id: int, user: asyncpg.Record, body: dict
, conn: asyncpg.Connection) -> web.Response:
    row = await catalog.update_product(
        conn,
        product_id,
        body,
        admin_id=user["id"],
        low_stock_threshold=request.app[settings_key].low_stock_threshold,
    )
    return json_response(product_out(row))


@routes.delete(r"/api/products/{product_id:\d+}")
@endpoint(
    summary="Remove a product",
    description=(
        "A soft delete: the product leaves lists, detail and checkout, and stays in past orders."
    ),
    tag=TAG,
    access=ADMIN,
    status=204,
)
async def delete_product(request: web.Request, product_id: int) -> web.Response:
    await catalog.delete_product(request.app[db_pool_key], product_id)
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

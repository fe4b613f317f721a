"""/api/cart: the signed-in user's cart."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from shop_api.domain import cart, quotes
from shop_api.web.endpoint import USER, endpoint
from shop_api.web.jsonio import json_response
from shop_api.web.keys import db_pool_key, settings_key
from shop_api.web.schemas.cart import CartItemIn, CartItemUpdateIn, CartOut, cart_out
from shop_api.web.schemas.quotes import QuoteIn, QuoteOut

routes = web.RouteTableDef()
TAG = "Cart"


def _answer(request: web.Request, row: asyncpg.Record, status: int = 200) -> web.Response:
    return json_response(cart_out(row, request.app[settings_key].default_currency), status=status)


@routes.get("/api/cart")
@routes.get("/api/cart/")
@endpoint(
    summary="Your cart",
    description=(
        "Live prices and totals; `item_count` counts units. A first look creates the (empty) "
        "cart. A product withdrawn from the catalog stays listed with `in_stock: false` and "
        "`stock_quantity: 0` until removed; checkout refuses it (409 `product_unavailable`)."
    ),
    tag=TAG,
    access=USER,
    response=CartOut,
)
async def get_cart(request: web.Request, user: asyncpg.Record) -> web.Response:
    return _answer(request, await cart.view(request.app[db_pool_key], user_id=user["id"]))


@routes.post("/api/cart/items")
@routes.post("/api/cart/items/")
@endpoint(
    summary="Add a product variant to your cart",
    description=(
        "Takes `variant_id`, or `product_id` for a product with a single active variant (422 "
        "`variant_required` for one with several). Adding a variant already in the cart adds "
        "to its quantity. More than the stock is a 409 `insufficient_stock` (`errors.items` "
        "gives the total requested and the stock); a missing or withdrawn product or variant "
        "is a 404."
    ),
    tag=TAG,
    access=USER,
    body=CartItemIn,
    response=CartOut,
    status=201,
    errors=(404, 409, 422),
)
async def add_item(
    request: web.Request, user: asyncpg.Record, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await cart.add_item(
        conn,
        user_id=user["id"],
        variant_id=body.get("variant_id"),
        product_id=body.get("product_id"),
        quantity=body["quantity"],
    )
    return _answer(request, row, status=201)


@routes.put(r"/api/cart/items/{item_id:\d+}")
@endpoint(
    summary="Change the quantity of a cart item",
    description=(
        "409 `insufficient_stock` above the stock, 409 `product_unavailable` once the product "
        "was withdrawn; another user's cart item is a 404."
    ),
    tag=TAG,
    access=USER,
    body=CartItemUpdateIn,
    response=CartOut,
    errors=(409,),
)
async def update_item(
    request: web.Request, user: asyncpg.Record, item_id: int, body: dict, conn: asyncpg.Connection
) -> web.Response:
    row = await cart.set_quantity(
        conn, user_id=user["id"], item_id=item_id, quantity=body["quantity"]
    )
    return _answer(request, row)


@routes.delete(r"/api/cart/items/{item_id:\d+}")
@endpoint(
    summary="Remove an item from your cart",
    tag=TAG,
    access=USER,
    response=CartOut,
)
async def remove_item(
    request: web.Request, user: asyncpg.Record, item_id: int, conn: asyncpg.Connection
) -> web.Response:
    row = await cart.remove_item(conn, user_id=user["id"], item_id=item_id)
    return _answer(request, row)


@routes.delete("/api/cart")
@routes.delete("/api/cart/")
@endpoint(summary="Empty your cart", tag=TAG, access=USER, status=204)
async def clear_cart(
    request: web.Request, user: asyncpg.Record, conn: asyncpg.Connection
) -> web.Response:
    await cart.clear(conn, user_id=user["id"])
    return web.Response(status=204)


@routes.post("/api/cart/quote")
@routes.post("/api/cart/quote/")
@endpoint(
    summary="What your cart costs delivered somewhere",
    description=(
        "Lines, discounts, shipping and tax, exactly as a checkout with the same destination "
        "and method would charge them now; changes nothing. The destination is `address_id`, "
        "a `shipping_address`, or a bare `country` (+ `region`); none means STORE_COUNTRY, as "
        "a Release 1 free-text checkout is charged. `shipping_methods` lists what serves the "
        "destination and this cart (its weight, its subtotal for free shipping), cheapest "
        "first; with no shipping zones configured shipping is free and the list is empty. "
        "422 `cart_empty`, 422 `shipping_unavailable` when zones exist but none serves the "
        "destination (or the method named does not), 404 for an address that is not yours. "
        "`coupon_code`: 422 `coupon_invalid` or `coupon_not_applicable`, 409 `coupon_exhausted`."
    ),
    tag=TAG,
    access=USER,
    body=QuoteIn,
    response=QuoteOut,
    errors=(404, 409, 422),
)
async def quote_cart(
    request: web.Request, user: asyncpg.Record, body: dict, conn: asyncpg.Connection
) -> web.Response:
    settings = request.app[settings_key]
    to = await quotes.destination(
        conn, user_id=user["id"], store_country=settings.store_country, given=body
    )
    quote = await quotes.quote_cart(
        conn,
        user_id=user["id"],
        to=to,
        shipping_method_id=body.get("shipping_method_id"),
        prices_include_tax=settings.prices_include_tax,
        tax_shipping=settings.tax_shipping,
        coupon_code=body.get("coupon_code"),
    )
    return json_response(quotes.quote_json(quote, settings.default_currency))

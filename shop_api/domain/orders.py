"""Checkout and the customer's orders."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from shop_api.db import Queryable, atomic, fetch_all, fetch_page, queries
from shop_api.domain import order_status, outbox, promotions, quotes, topics
from shop_api.domain.stock_errors import insufficient_stock, product_unavailable, shortage
from shop_api.errors import Conflict, NotFound, Unprocessable


class TooManyPendingOrders(Conflict):
    code = "too_many_pending_orders"


async def place_order(
    conn: asyncpg.Connection,
    *,
    user_id: int,
    to: quotes.Destination,
    shipping_method_id: int | None,
    expected_total: Decimal | None,
    notes: str,
    currency: str,
    prices_include_tax: bool,
    tax_shipping: bool,
    max_pending_orders: int,
    low_stock_threshold: int,
    coupon_code: str | None = None,
) -> asyncpg.Record:
    """Turn the user's cart into a pending order, in the caller's transaction or a new one.

    Locks the cart; then reads the user's pending orders and the cart's lines (unlocked: the
    cart lock keeps the lines, not their variants). Refuses a user who already holds
    `max_pending_orders` pending orders (409 `too_many_pending_orders`), withdrawn products or
    variants (409 `product_unavailable`) and short stock (409 `insufficient_stock`, every
    short line listed), then prices the lines (422 `shipping_unavailable`; 409
    `total_changed` when the client expected another total). Then one statement locks the
    lines' variants in id order and their products in id order and, if each line is still
    what was priced, takes the stock, writes the order with today's prices and every amount
    of the quote, the ledger, the history, the `order.placed` outbox row (and an
    `inventory.low_stock` one for each variant whose stock it takes from above
    `low_stock_threshold` to at or below it), and empties the cart; if a line changed, the
    same checks and pricing run again on the lines read under those locks, then the same
    statement. A refusal changes nothing. Last, a use of each counted promotion that gave a
    discount is taken (409 `coupon_exhausted`, or 422 `coupon_invalid` when it was switched
    off meanwhile, rolls everything back): last, because everyone using one promotion waits
    on its row until the holder commits.
    """
    async with atomic(conn):
        # The shop's settings and promotions are read before the locks: they are not rows
        # checkout locks, and every statement after the locks is one more the stock waits for.
        # A coupon's refusal is kept until the cart has been checked, so a checkout's errors
        # come in the order they always did (cart, then stock, then the coupon).
        charges = await quotes.charges_for(conn, to)
        refusal = None
        try:
            offer = await promotions.offer(
                conn,
                user_id=user_id,
                coupon_code=coupon_code,
                automatic=charges.automatic_promotions,
            )
        except (promotions.CouponInvalid, promotions.CouponExhausted) as refused:
            offer, refusal = promotions.NO_OFFER, refused
        cart_id = await queries.checkout_lock_cart(conn, user_id=user_id)
        # The lines as they are, unlocked: place_order then locks them, checks they are still
        # what was priced and writes, in one statement, so a hot variant waits for no pricing
        # and no round trip but the commit. When a line changed meanwhile it wrote nothing and
        # holds the locks: the second pass reads, checks and prices the lines as locked.
        for _ in range(2):
            # The pending orders are counted under the cart lock, so two checkouts of one user
            # take turns and the second counts the order of the first.
            rows = await fetch_all(
                queries.checkout_cart(conn, cart_id=cart_id, user_id=user_id)
            )
            lines = _checked_lines(rows, max_pending_orders)
            if refusal is not None:
                raise refusal
            categories = [line["category_id"] for line in lines]
            if not offer.covers(categories):
                # The cart gained a product of another category after the read: read again
                # for these lines. The limits are taken (and checked again) by take_uses.
                offer = await promotions.offer(
                    conn, user_id=user_id, coupon_code=coupon_code, category_ids=categories
                )
            quote = quotes.price(
                lines,
                charges,
                shipping_method_id=shipping_method_id,
                prices_include_tax=prices_include_tax,
                tax_shipping=tax_shipping,
                offer=offer,
            )
            quotes.check_expected_total(quote, expected_total, currency)
            money = quotes.money
            method = quote.shipping_method
            order = await queries.place_order(
                conn,
                cart_id=cart_id,
                user_id=user_id,
                # The quote's lines are the rows read, in their (variant id) order.
                variant_ids=[line.variant_id for line in quote.lines],
                quantities=[line.quantity for line in quote.lines],
                discounts=[money(line.discount) for line in quote.lines],
                taxes=[money(line.tax) for line in quote.lines],
                line_totals=[money(line.total) for line in quote.lines],
                # What the quote was priced on, which place_order finds again under its locks.
                prices=[line["price"] for line in lines],
                weights=[line["weight_grams"] for line in lines],
                tax_classes=[line["tax_class"] for line in lines],
                category_ids=categories,
                subtotal=money(quote.subtotal),
                discount_total=money(quote.discount_total),
                shipping_total=money(quote.shipping_total),
                shipping_tax=money(quote.shipping_tax),
                tax_total=money(quote.tax_total),
                total_amount=money(quote.total),
                tax_included=quote.tax_included,
                currency=currency,
                delivery_address=to.text,
                shipping_address=to.address,
                shipping_method=None if method is None else {"id": method.id, "name": method.name},
                order_discounts=quotes.discounts_json(quote),
                notes=notes,
                # The outbox rows not written by outbox.publish: the statement writes them
                # beside the order (whose id it needs) and the stock it takes, in the one round
                # trip made while the stock locks are held. Same topics and tasks as publish
                # would write.
                topic=topics.ORDER_PLACED,
                tasks=outbox.task_names(topics.ORDER_PLACED, {}),
                low_stock_threshold=low_stock_threshold,
                low_stock_topic=topics.INVENTORY_LOW_STOCK,
                low_stock_tasks=outbox.task_names(
                    topics.INVENTORY_LOW_STOCK,
                    {"variant_id": 0, "product_id": 0, "stock": 0, "threshold": 0},
                ),
            )
            if order is not None:
                break
        else:
            raise RuntimeError("place_order refused lines read under its own locks")
        await promotions.take_uses(
            conn, offer=offer, quote=quote, order_id=order["id"], user_id=user_id
        )
        return order


def _checked_lines(rows: list[asyncpg.Record], max_pending_orders: int) -> list[asyncpg.Record]:
    """The cart's lines from the rows of checkout_cart, once refused: 409
    `too_many_pending_orders`, 422 `cart_empty`, 409 `product_unavailable` (withdrawn
    products or variants), 409 `insufficient_stock` (every short line)."""
    pending = rows[0]["pending_orders"]
    if pending >= max_pending_orders:
        raise TooManyPendingOrders(
            f"You have {pending} unpaid orders; pay or cancel one before checking out again."
        )
    lines = [row for row in rows if row["variant_id"] is not None]
    if not lines:
        raise Unprocessable("The cart is empty.", code="cart_empty")
    withdrawn = [
        shortage(line["product_id"], line["variant_id"], line["quantity"], 0)
        for line in lines
        if not line["is_active"]
    ]
    if withdrawn:
        raise product_unavailable(withdrawn)
    short = [
        shortage(line["product_id"], line["variant_id"], line["quantity"], line["stock_quantity"])
        for line in lines
        if line["quantity"] > line["stock_quantity"]
    ]
    if short:
        raise insufficient_stock(short)
    return lines


async def get_order(conn: Queryable, *, order_id: int, user_id: int | None) -> asyncpg.Record:
    """One order with its items; `user_id` None for any user's (admin)."""
    row = await queries.order_detail(conn, order_id=order_id, user_id=user_id)
    if row is None:
        raise NotFound("No such order.")
    return row


async def list_orders(
    conn: Queryable,
    *,
    user_id: int,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    return await fetch_page(
        queries.orders_page(conn, user_id=user_id, status=status, limit=limit, offset=offset)
    )


async def cancel_order(conn: asyncpg.Connection, *, order_id: int, user_id: int) -> asyncpg.Record:
    """The customer cancels one of their orders (pending, paid or processing)."""
    await order_status.change_status(
        conn,
        order_id,
        order_status.CANCELLED,
        actor_id=user_id,
        owner_id=user_id,
        reason="Cancelled by the customer.",
    )
    return await get_order(conn, order_id=order_id, user_id=user_id)

-- name: checkout_lock_cart$
-- Checkout's first lock: the cart row, so no cart change interleaves with the checkout. The
-- pending orders are counted by the next statement, not here: this one's snapshot predates
-- the lock, so it would miss the order of the checkout it waited for.
SELECT id FROM carts WHERE user_id = :user_id FOR NO KEY UPDATE;

-- name: checkout_cart
-- Under the cart lock, and without locking anything else: how many pending orders :user_id
-- holds (through orders_pending_user_idx), and the cart's lines with what pricing reads
-- (an empty cart, or :cart_id NULL, is one row with NULL lines). The cart's lines cannot change
-- while its row is locked; their variants and products may, so place_order locks them and
-- writes only if each line is still what was priced here; if one is not, checkout reads them
-- here again, under the locks place_order took.
WITH pending AS (
    SELECT count(*) AS pending_orders
      FROM orders
     WHERE user_id = :user_id::bigint AND status = 'pending'
)
SELECT pending.pending_orders, lines.*
  FROM pending
  LEFT JOIN (SELECT v.id AS variant_id, v.product_id, v.price,
                    v.is_active AND p.is_active AS is_active, v.stock_quantity, ci.quantity,
                    v.weight_grams, p.tax_class, p.category_id
               FROM cart_items ci
               JOIN product_variants v ON v.id = ci.variant_id
               JOIN products p ON p.id = v.product_id
              WHERE ci.cart_id = :cart_id::bigint) AS lines ON true
 ORDER BY lines.variant_id;

-- name: quote_lines
-- The user's cart as the pricing function reads it, without locks: a quote changes nothing,
-- and checkout charges what place_order finds under its locks, so a quote is what checkout
-- would charge at this moment.
SELECT v.id AS variant_id, v.product_id, v.price, v.is_active AND p.is_active AS is_active,
       v.stock_quantity, ci.quantity, v.weight_grams, p.tax_class, p.category_id
  FROM carts c
  JOIN cart_items ci ON ci.cart_id = c.id
  JOIN product_variants v ON v.id = ci.variant_id
  JOIN products p ON p.id = v.product_id
 WHERE c.user_id = :user_id
 ORDER BY v.id;

-- name: place_order^
-- Everything checkout writes, in one statement: lock the lines' variants in id order and their
-- products in id order, and only if every line is still what
-- was priced (:prices, :weights, :tax_classes, :category_ids as checkout_cart read them,
-- variant and product on sale, stock enough) take the stock, create the order with its
-- snapshots (product name, variant title and SKU, price) and the amounts the pricing function
-- gave (per line, in the order of variant_ids, and for the order), record the ledger, the
-- history and the outbox messages, and empty the cart. No row: a line changed, nothing was
-- written, and the locks are held (checkout then reads the lines again, prices them and comes
-- back). The locks are taken here, not by an earlier statement, so a hot variant is locked for
-- this statement and the commit only: no round trip and no pricing happens while it is held.
-- Every transaction that changes stock takes its locks in this order (variants, then
-- products: the order the summary trigger of 0018 locks products in), so two checkouts never
-- deadlock. The product lock makes the "is it still on sale" answer hold until commit (a soft
-- delete waits), and the stock sum that the trigger writes needs it anyway. NO KEY UPDATE is
-- the lock the stock UPDATE takes anyway; unlike FOR UPDATE it lets other carts insert rows
-- that reference these variants while the checkout runs.
-- The variants' snapshot is the locked row (FOR NO KEY UPDATE answers its latest version, and
-- the UPDATE below follows it there), whatever this statement's snapshot saw.
-- inventory.low_stock goes out for each line whose stock this checkout took from above
-- :low_stock_threshold to at or below it (RETURNING gives the new stock; the old one is it plus
-- the quantity taken), so a variant already low that drops further is not announced again.
-- The rule of inventory.falls_low, spelled here so the hot path pays no round trip for it.
WITH lines AS (
    SELECT variant_id, quantity, discount, tax, line_total, price, weight_grams, tax_class,
           category_id
      FROM unnest(:variant_ids::bigint[], :quantities::integer[], :discounts::numeric[],
                  :taxes::numeric[], :line_totals::numeric[], :prices::numeric[],
                  :weights::integer[], :tax_classes::text[], :category_ids::bigint[])
               AS l (variant_id, quantity, discount, tax, line_total, price, weight_grams,
                     tax_class, category_id)
), locked_variants AS MATERIALIZED (
    SELECT id, product_id, price, is_active, stock_quantity, weight_grams
      FROM product_variants
     WHERE id IN (SELECT variant_id FROM lines)
     ORDER BY id
       FOR NO KEY UPDATE
), locked_products AS MATERIALIZED (
    SELECT id, is_active, tax_class, category_id
      FROM products
     WHERE id IN (SELECT product_id FROM locked_variants)
     ORDER BY id
       FOR NO KEY UPDATE
), unchanged AS (
    SELECT count(*) = cardinality(:variant_ids::bigint[]) AS ok
      FROM lines
      JOIN locked_variants lv ON lv.id = lines.variant_id
      JOIN locked_products lp ON lp.id = lv.product_id
     WHERE lv.price = lines.price AND lv.is_active AND lp.is_active
       AND lv.stock_quantity >= lines.quantity
       AND lv.weight_grams IS NOT DISTINCT FROM lines.weight_grams
       AND lp.tax_class = lines.tax_class
       AND lp.category_id IS NOT DISTINCT FROM lines.category_id
), taken AS (
    UPDATE product_variants v
       SET stock_quantity = v.stock_quantity - lines.quantity
      FROM lines
     WHERE v.id = lines.variant_id AND (SELECT ok FROM unchanged)
    RETURNING v.id AS variant_id, v.product_id, v.title, v.sku, v.price, lines.quantity,
              lines.discount, lines.tax, lines.line_total, v.stock_quantity AS stock_after
), named AS (
    SELECT taken.*, p.name FROM taken JOIN products p ON p.id = taken.product_id
), placed AS (
    INSERT INTO orders (user_id, subtotal, discount_total, shipping_total, shipping_tax,
                        tax_total, total_amount, tax_included, currency, delivery_address,
                        shipping_address, shipping_method, discounts, notes)
    SELECT :user_id::bigint, :subtotal::numeric, :discount_total::numeric,
           :shipping_total::numeric, :shipping_tax::numeric, :tax_total::numeric,
           :total_amount::numeric, :tax_included::boolean, :currency::text,
           :delivery_address::text, :shipping_address::jsonb, :shipping_method::jsonb,
           :order_discounts::jsonb, :notes::text
     WHERE (SELECT ok FROM unchanged)
    RETURNING id, status, subtotal, discount_total, shipping_total, shipping_tax, tax_total,
              total_amount, tax_included, currency, delivery_address, shipping_address,
              shipping_method, discounts, notes, created_at, updated_at
), items AS (
    INSERT INTO order_items (order_id, product_id, variant_id, product_name, variant_title, sku,
                             quantity, price_at_purchase, discount, tax, line_total)
    SELECT placed.id, named.product_id, named.variant_id, named.name, named.title, named.sku,
           named.quantity, named.price, named.discount, named.tax, named.line_total
      FROM placed CROSS JOIN named
    RETURNING product_id, variant_id, product_name, variant_title, sku, quantity,
              price_at_purchase, discount, tax, line_total
), ledger AS (
    INSERT INTO inventory_ledger (product_id, variant_id, delta, reason, stock_after, order_id,
                                  actor_id)
    SELECT taken.product_id, taken.variant_id, -taken.quantity, 'checkout', taken.stock_after,
           placed.id, :user_id::bigint
      FROM placed CROSS JOIN taken
), history AS (
    INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, reason)
    SELECT id, NULL, status, :user_id::bigint, 'Order placed.' FROM placed
), announced AS (
    INSERT INTO outbox (topic, payload, pending_tasks)
    SELECT :topic::text, jsonb_build_object('order_id', id), :tasks::text[] FROM placed
), low_stock AS (
    INSERT INTO outbox (topic, payload, pending_tasks, completed_at)
    SELECT :low_stock_topic::text,
           jsonb_build_object('variant_id', variant_id, 'product_id', product_id,
                              'stock', stock_after,
                              'threshold', :low_stock_threshold::integer),
           :low_stock_tasks::text[],
           -- As outbox_insert writes it: a row that asks for no task is complete at once.
           CASE WHEN cardinality(:low_stock_tasks::text[]) = 0 THEN now() END
      FROM taken
     WHERE stock_after <= :low_stock_threshold::integer
       AND stock_after + quantity > :low_stock_threshold::integer
), emptied AS (
    DELETE FROM cart_items WHERE cart_id = :cart_id::bigint AND (SELECT ok FROM unchanged)
)
SELECT placed.*,
       -- The shape of order_items_json (0023); the function cannot see this statement's rows.
       (SELECT json_agg(
                   json_build_object(
                       'product_id', product_id,
                       'product_name', product_name,
                       'variant_id', variant_id,
                       'variant_title', variant_title,
                       'sku', sku,
                       'quantity', quantity,
                       'price_at_purchase', price_at_purchase::text,
                       'discount', discount::text,
                       'tax', tax::text,
                       'line_total', line_total::text
                   )
                   ORDER BY product_id, variant_id
               )
          FROM items) AS items
  FROM placed;

-- name: order_detail^
-- One order with its items; user_id NULL reads any user's order (admin views).
SELECT o.id, o.user_id, o.status, o.subtotal, o.discount_total, o.shipping_total,
       o.shipping_tax, o.tax_total, o.total_amount, o.tax_included, o.currency,
       o.delivery_address, o.shipping_address, o.shipping_method, o.discounts, o.notes,
       o.created_at, o.updated_at,
       -- Functions of migration 0009, shared by every query that shows an order.
       order_items_json(o.id) AS items, order_payment_json(o.id) AS payment
  FROM orders o
 WHERE o.id = :order_id
   AND (:user_id::bigint IS NULL OR o.user_id = :user_id);

-- name: orders_page
-- A page of a user's orders, newest first, each with its items and payment, and how many match,
-- in one statement shaped as list_products (a page past the end is one row: the total, NULL
-- id). The page is picked through orders_user_newest_idx, and only its rows (at most per_page)
-- read their items and payment; the count reads the same index.
-- Re-measured when the count_orders twin was folded in (EXPLAIN ANALYZE, 203,000 orders, a
-- customer with 3,000, on a busy 2-CPU machine; medians, page + count before, one statement
-- after): each half keeps the plan it had alone, an Index Only Scan for the count and the
-- Limit of an Index Scan for the page, both on orders_user_newest_idx. 3,000 orders, page 1:
-- 1.6 ms before, 2.1 after; page 100: 22 and 16 ms; a customer with 2 orders: 0.5 and 0.6 ms.
-- One round trip and one plan fewer a request.
WITH matching AS NOT MATERIALIZED (
    SELECT id, status, subtotal, discount_total, shipping_total, shipping_tax, tax_total,
           total_amount, tax_included, currency, delivery_address, shipping_address,
           shipping_method, discounts, notes, created_at, updated_at
      FROM orders
     WHERE user_id = :user_id
       AND (:status::text IS NULL OR status = :status)
)
SELECT totals.total, page.*,
       order_items_json(page.id) AS items, order_payment_json(page.id) AS payment
  -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
  FROM (SELECT count(*) AS total FROM (SELECT FROM matching LIMIT 10001) AS capped) AS totals
  LEFT JOIN LATERAL (
        SELECT *
          FROM matching
         ORDER BY created_at DESC, id DESC
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 ORDER BY page.created_at DESC, page.id DESC;

-- name: lock_order^
-- The order row, locked for a status change; user_id NULL locks any user's order.
SELECT id, user_id, status
  FROM orders
 WHERE id = :order_id
   AND (:user_id::bigint IS NULL OR user_id = :user_id)
   FOR NO KEY UPDATE;

-- name: set_order_status!
-- Move a locked order to its new status and record the change in its history.
WITH changed AS (
    UPDATE orders SET status = :to_status, updated_at = now()
     WHERE id = :order_id
    RETURNING id, status
)
INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, reason)
SELECT id, :from_status::text, status, :actor_id::bigint, :reason::text FROM changed;

-- name: restock_order!
-- Put a cancelled order's items back in stock, with a ledger row per variant. The variants are
-- locked first, in id order like place_order (the summary trigger then locks their products
-- in id order), so a cancellation never deadlocks a checkout.
WITH lines AS (
    SELECT variant_id, quantity FROM order_items WHERE order_id = :order_id
), locked AS MATERIALIZED (
    SELECT id FROM product_variants
     WHERE id IN (SELECT variant_id FROM lines)
     ORDER BY id
       FOR NO KEY UPDATE
), returned AS (
    UPDATE product_variants v
       SET stock_quantity = v.stock_quantity + lines.quantity
      FROM lines
      JOIN locked ON locked.id = lines.variant_id
     WHERE v.id = lines.variant_id
    RETURNING v.id, v.product_id, lines.quantity, v.stock_quantity
)
INSERT INTO inventory_ledger (product_id, variant_id, delta, reason, stock_after, order_id,
                              actor_id)
SELECT product_id, id, quantity, :reason::text, stock_quantity, :order_id::bigint,
       :actor_id::bigint
  FROM returned;

-- name: claim_unpaid_order$
-- The oldest pending order older than the timeout with no payment being settled, locked for
-- its cancellation; one another expiry job has locked (or a payment request is locking) is
-- skipped, so several jobs at once share the work. The caller checks for a pending payment
-- again under this lock: this statement's snapshot predates the lock, so it may miss a
-- payment requested just before. orders_status_newest_idx serves the scan.
SELECT o.id
  FROM orders o
 WHERE o.status = 'pending'
   AND o.created_at < now() - make_interval(mins => :timeout_minutes)
   AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status = 'pending')
 ORDER BY o.created_at
 LIMIT 1
   FOR NO KEY UPDATE SKIP LOCKED;

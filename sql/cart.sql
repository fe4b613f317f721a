-- name: cart_view^
-- The whole cart in one query: items with their variant's live price, and the totals.
-- A withdrawn (soft-deleted) product or variant stays visible with nothing in stock, so the
-- customer sees why checkout refuses it and can remove it. `product` keeps its Release 1
-- meaning (the product's "from" price and stock sum); `unit_price` is the variant's price.
SELECT c.id,
       coalesce(sum(ci.quantity), 0)::bigint AS item_count,
       round(coalesce(sum(v.price * ci.quantity), 0), 2) AS subtotal,
       coalesce(
           json_agg(
               json_build_object(
                   'id', ci.id,
                   'product', json_build_object(
                       'id', p.id,
                       'name', p.name,
                       'price', p.price::text,
                       'image_url', p.image_url,
                       'stock_quantity', CASE WHEN p.is_active THEN p.stock_quantity ELSE 0 END,
                       'in_stock', p.is_active AND p.stock_quantity > 0
                   ),
                   'variant', json_build_object(
                       'id', v.id,
                       'title', v.title,
                       'sku', v.sku,
                       'options', v.options,
                       'price', v.price::text,
                       'stock_quantity', CASE WHEN p.is_active AND v.is_active
                                              THEN v.stock_quantity ELSE 0 END,
                       'in_stock', p.is_active AND v.is_active AND v.stock_quantity > 0
                   ),
                   'quantity', ci.quantity,
                   'unit_price', v.price::text,
                   'line_total', round(v.price * ci.quantity, 2)::text
               )
               ORDER BY ci.id
           ) FILTER (WHERE ci.id IS NOT NULL),
           '[]'
       ) AS items
  FROM carts c
  LEFT JOIN cart_items ci ON ci.cart_id = c.id
  LEFT JOIN product_variants v ON v.id = ci.variant_id
  LEFT JOIN products p ON p.id = v.product_id
 WHERE c.user_id = :user_id
 GROUP BY c.id;

-- name: ensure_cart!
INSERT INTO carts (user_id) VALUES (:user_id) ON CONFLICT (user_id) DO NOTHING;

-- name: lock_cart$
-- Every change to a cart starts here: creates the cart if needed and locks its row until commit.
INSERT INTO carts (user_id) VALUES (:user_id)
ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
RETURNING id;

-- name: add_cart_item^
-- Add to the line of this variant (or start one) if the stock covers the new total; under the
-- cart lock, so the existing quantity cannot change meanwhile. No row: the variant (or its
-- product) is missing or withdrawn. item_id NULL: not enough stock (requested is the total the
-- line would hold).
WITH variant AS (
    SELECT v.id, v.product_id, v.stock_quantity
      FROM product_variants v
      JOIN products p ON p.id = v.product_id
     WHERE v.id = :variant_id AND v.is_active AND p.is_active
), wanted AS (
    SELECT variant.id AS variant_id,
           variant.product_id,
           variant.stock_quantity AS available,
           coalesce(
               (SELECT quantity FROM cart_items
                 WHERE cart_id = :cart_id AND variant_id = :variant_id),
               0
           )::bigint + :quantity::bigint AS requested
      FROM variant
), saved AS (
    INSERT INTO cart_items (cart_id, variant_id, quantity)
    SELECT :cart_id, variant_id, requested FROM wanted WHERE requested <= available
    ON CONFLICT (cart_id, variant_id)
    DO UPDATE SET quantity = excluded.quantity, updated_at = now()
    RETURNING id
)
SELECT wanted.variant_id, wanted.product_id, wanted.available, wanted.requested,
       (SELECT id FROM saved) AS item_id
  FROM wanted;

-- name: set_cart_item_quantity^
-- Set the quantity of one of this cart's lines if its variant is on sale and the stock covers
-- it. No row: no such line in this cart. item_id NULL: refused (see is_active and available).
WITH line AS (
    SELECT ci.id, ci.variant_id, v.product_id, v.is_active AND p.is_active AS is_active,
           v.stock_quantity AS available
      FROM cart_items ci
      JOIN product_variants v ON v.id = ci.variant_id
      JOIN products p ON p.id = v.product_id
     WHERE ci.id = :item_id AND ci.cart_id = :cart_id
), saved AS (
    UPDATE cart_items
       SET quantity = :quantity, updated_at = now()
     WHERE id = (SELECT id FROM line WHERE is_active AND available >= :quantity)
    RETURNING id
)
SELECT line.variant_id, line.product_id, line.is_active, line.available,
       (SELECT id FROM saved) AS item_id
  FROM line;

-- name: delete_cart_item$
DELETE FROM cart_items WHERE id = :item_id AND cart_id = :cart_id RETURNING id;

-- name: clear_cart!
DELETE FROM cart_items WHERE cart_id = :cart_id;

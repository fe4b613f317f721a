-- Reviews remember whether their author had bought the product when writing them.
-- depends: 0003.orders 0004.catalog_tuning

ALTER TABLE reviews ADD COLUMN verified_purchase boolean NOT NULL DEFAULT false;

-- Reviews written before this migration: verified when an order paid (or later) holds the
-- product.
UPDATE reviews r
   SET verified_purchase = true
 WHERE EXISTS (
       SELECT 1
         FROM orders o
         JOIN order_items oi ON oi.order_id = o.id
        WHERE o.user_id = r.user_id
          AND oi.product_id = r.product_id
          AND o.status IN ('paid', 'processing', 'shipped', 'delivered'));

-- Fold variants back into their products: a product's stock becomes the sum of its active
-- variants' (what it showed already), a cart's lines of one product become one line, and an
-- order's lines of one product become one line at their average price. Variant titles, SKUs
-- beyond one per product, options and images other than the first are lost.

CREATE OR REPLACE FUNCTION product_sales_follow_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE WHEN is_revenue_status(NEW.status) THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO product_sales (product_id, units_sold, revenue)
    SELECT product_id, sign * quantity, sign * price_at_purchase * quantity
      FROM order_items
     WHERE order_id = NEW.id
     ORDER BY product_id
    ON CONFLICT (product_id) DO UPDATE
       SET units_sold = product_sales.units_sold + excluded.units_sold,
           revenue = product_sales.revenue + excluded.revenue;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION order_items_json(wanted_order_id bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
               json_agg(
                   json_build_object(
                       'product_id', oi.product_id,
                       'product_name', oi.product_name,
                       'quantity', oi.quantity,
                       'price_at_purchase', oi.price_at_purchase::text,
                       'line_total', round(oi.price_at_purchase * oi.quantity, 2)::text
                   )
                   ORDER BY oi.product_id
               ),
               '[]'
           )
      FROM order_items oi
     WHERE oi.order_id = wanted_order_id
$$;

DROP INDEX inventory_ledger_variant_idx;
ALTER TABLE inventory_ledger DROP COLUMN variant_id;

-- One line per (order, product): the first line keeps the summed quantity at the average price.
WITH merged AS (
    SELECT min(id) AS keep_id, sum(quantity) AS quantity,
           round(sum(price_at_purchase * quantity) / sum(quantity), 2) AS price
      FROM order_items
     GROUP BY order_id, product_id
    HAVING count(*) > 1
), kept AS (
    UPDATE order_items oi
       SET quantity = merged.quantity, price_at_purchase = merged.price
      FROM merged
     WHERE oi.id = merged.keep_id
    RETURNING oi.order_id, oi.product_id, oi.id
)
DELETE FROM order_items oi
 USING kept
 WHERE oi.order_id = kept.order_id AND oi.product_id = kept.product_id AND oi.id <> kept.id;
ALTER TABLE order_items DROP CONSTRAINT order_items_order_variant_key;
DROP INDEX order_items_variant_id_idx;
ALTER TABLE order_items DROP COLUMN variant_id, DROP COLUMN variant_title, DROP COLUMN sku;
ALTER TABLE order_items
    ADD CONSTRAINT order_items_order_product_key UNIQUE (order_id, product_id);

ALTER TABLE cart_items ADD COLUMN product_id bigint REFERENCES products (id) ON DELETE CASCADE;
UPDATE cart_items ci SET product_id = v.product_id FROM product_variants v WHERE v.id = ci.variant_id;
WITH merged AS (
    SELECT min(id) AS keep_id, sum(quantity) AS quantity
      FROM cart_items
     GROUP BY cart_id, product_id
    HAVING count(*) > 1
), kept AS (
    UPDATE cart_items ci SET quantity = merged.quantity
      FROM merged
     WHERE ci.id = merged.keep_id
    RETURNING ci.cart_id, ci.product_id, ci.id
)
DELETE FROM cart_items ci
 USING kept
 WHERE ci.cart_id = kept.cart_id AND ci.product_id = kept.product_id AND ci.id <> kept.id;
ALTER TABLE cart_items ALTER COLUMN product_id SET NOT NULL;
ALTER TABLE cart_items DROP CONSTRAINT cart_items_cart_variant_key;
DROP INDEX cart_items_variant_id_idx;
ALTER TABLE cart_items DROP COLUMN variant_id;
ALTER TABLE cart_items ADD CONSTRAINT cart_items_cart_product_key UNIQUE (cart_id, product_id);
CREATE INDEX cart_items_product_id_idx ON cart_items (product_id);

-- The single SKU the trigger kept on products is the product's SKU again; a product whose
-- variants had several keeps none.
DROP TABLE product_images;
DROP TABLE product_variants;
DROP FUNCTION product_variants_changed();
DROP FUNCTION refresh_product_summaries(bigint[]);
DROP INDEX products_active_option_values_idx;

-- A stock sum above the old per-product limit is capped at it: no product could hold more.
UPDATE products SET stock_quantity = 1000000000 WHERE stock_quantity > 1000000000;
ALTER TABLE products ALTER COLUMN stock_quantity TYPE integer;
ALTER TABLE products
    ADD CONSTRAINT products_stock_limit CHECK (stock_quantity <= 1000000000);
ALTER TABLE products ADD CONSTRAINT products_sku_key UNIQUE (sku);
ALTER TABLE products
    DROP COLUMN options,
    DROP COLUMN price_max,
    DROP COLUMN variant_count,
    DROP COLUMN option_values;

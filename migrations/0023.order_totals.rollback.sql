-- The order_items_json of 0018, then the columns of 0023 dropped (what orders charged beyond
-- their lines is lost: a rollback is for a release that never took such orders).
CREATE OR REPLACE FUNCTION order_items_json(wanted_order_id bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
               json_agg(
                   json_build_object(
                       'product_id', oi.product_id,
                       'product_name', oi.product_name,
                       'variant_id', oi.variant_id,
                       'variant_title', oi.variant_title,
                       'sku', oi.sku,
                       'quantity', oi.quantity,
                       'price_at_purchase', oi.price_at_purchase::text,
                       'line_total', round(oi.price_at_purchase * oi.quantity, 2)::text
                   )
                   ORDER BY oi.product_id, oi.variant_id
               ),
               '[]'
           )
      FROM order_items oi
     WHERE oi.order_id = wanted_order_id
$$;

ALTER TABLE order_items
    DROP COLUMN line_total,
    DROP COLUMN tax,
    DROP COLUMN discount;

ALTER TABLE orders
    DROP COLUMN discounts,
    DROP COLUMN tax_included,
    DROP COLUMN tax_total,
    DROP COLUMN shipping_tax,
    DROP COLUMN shipping_total,
    DROP COLUMN discount_total,
    DROP COLUMN shipping_method,
    DROP COLUMN shipping_address;

-- Addresses, shipping, tax and exact totals (issue 13): what an order charged, line by line.
-- depends: 0022.shipping_tax
--
-- Every amount is the pricing function's (shop_api/domain/pricing.py), stored as charged so an
-- order never changes when rates, methods or promotions do. Release 1 orders get zeros: no
-- discount, no shipping, no tax, each line's total its price times its quantity, which is what
-- they charged. The defaults are constants, so the new orders columns need no table rewrite.

ALTER TABLE orders
    -- The address as given at checkout (an address-book entry or a shipping_address body); NULL
    -- for a Release 1 free-text delivery_address. delivery_address keeps a one-line text of it.
    ADD COLUMN shipping_address jsonb,
    -- {"id", "name"} of the method chosen, a snapshot: the method may be edited or deleted later.
    ADD COLUMN shipping_method  jsonb,
    ADD COLUMN discount_total   numeric(12,2) NOT NULL DEFAULT 0 CHECK (discount_total >= 0),
    ADD COLUMN shipping_total   numeric(12,2) NOT NULL DEFAULT 0 CHECK (shipping_total >= 0),
    -- The part of tax_total that is shipping's, so that the lines' taxes plus it add up.
    ADD COLUMN shipping_tax     numeric(12,2) NOT NULL DEFAULT 0 CHECK (shipping_tax >= 0),
    ADD COLUMN tax_total        numeric(12,2) NOT NULL DEFAULT 0 CHECK (tax_total >= 0),
    -- Whether the prices contained the tax (PRICES_INCLUDE_TAX at checkout): tax_total was then
    -- extracted from total_amount, not added to it.
    ADD COLUMN tax_included     boolean       NOT NULL DEFAULT false,
    -- What applied: [{promotion_id, name, code, target, amount}].
    ADD COLUMN discounts        jsonb         NOT NULL DEFAULT '[]';

ALTER TABLE order_items
    ADD COLUMN discount   numeric(12,2) NOT NULL DEFAULT 0 CHECK (discount >= 0),
    ADD COLUMN tax        numeric(12,2) NOT NULL DEFAULT 0 CHECK (tax >= 0),
    -- The line's share of the total: price × quantity − discount, plus tax unless included.
    ADD COLUMN line_total numeric(12,2);
UPDATE order_items SET line_total = round(price_at_purchase * quantity, 2);
ALTER TABLE order_items
    ALTER COLUMN line_total SET NOT NULL,
    ADD CONSTRAINT order_items_line_total_check CHECK (line_total >= 0);

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
                       'discount', oi.discount::text,
                       'tax', oi.tax::text,
                       'line_total', oi.line_total::text
                   )
                   ORDER BY oi.product_id, oi.variant_id
               ),
               '[]'
           )
      FROM order_items oi
     WHERE oi.order_id = wanted_order_id
$$;

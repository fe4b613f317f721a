-- Variants carry stock and price (issue 12): a product is sold as one or more variants (a size,
-- a colour), and carts, order lines, the ledger and checkout's locks point at the variant. The
-- product keeps what a list shows (lowest and highest price, the stock sum, the number of
-- variants, the option values on sale) as columns that a trigger on the variants keeps in the
-- same statement as the change, so a list still reads one product row per item.
-- depends: 0017.structure_rating_average

-- The options a product is offered in, in the order the admin gave them:
-- [{"name": "Size", "values": ["S", "M", "L"]}, ...] (0 to 3; the API checks the shape).
ALTER TABLE products
    ADD COLUMN options       jsonb   NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(options) = 'array'),
    -- Kept by the variants' trigger below, never written by hand:
    ADD COLUMN price_max     numeric(12,2),
    ADD COLUMN variant_count integer NOT NULL DEFAULT 0 CHECK (variant_count >= 0),
    -- Each option's values that an active variant has: {"Size": ["L", "M"]}. The option filter
    -- and the option facet read it (GIN below) instead of the variants of every product.
    ADD COLUMN option_values jsonb   NOT NULL DEFAULT '{}';

-- A product's stock is now the sum of its variants' (each up to 1,000,000,000, at most 100).
ALTER TABLE products DROP CONSTRAINT products_stock_limit;
ALTER TABLE products ALTER COLUMN stock_quantity TYPE bigint;
-- SKUs are unique over variants; products.sku is the single variant's SKU, kept by the trigger.
ALTER TABLE products DROP CONSTRAINT products_sku_key;

CREATE TABLE product_variants (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id       bigint        NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    sku              text          CHECK (length(sku) BETWEEN 1 AND 64),
    -- One value for every option of the product: {"Size": "M", "Colour": "Red"}; {} for the
    -- default variant of a product without options.
    options          jsonb         NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    -- The values joined with " / " in the product's option order, or "Default"; written with
    -- the variant because jsonb does not keep key order.
    title            text          NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    price            numeric(12,2) NOT NULL CHECK (price >= 0),
    compare_at_price numeric(12,2) CHECK (compare_at_price >= 0),
    stock_quantity   integer       NOT NULL DEFAULT 0,
    weight_grams     integer       CHECK (weight_grams BETWEEN 0 AND 1000000000),
    image_url        text          CHECK (length(image_url) <= 2048),
    position         integer       NOT NULL DEFAULT 0 CHECK (position >= 0),
    is_active        boolean       NOT NULL DEFAULT true,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    -- Checkout decrements under the variant's row lock; this is the last line that stock never
    -- goes below 0.
    CONSTRAINT product_variants_stock_nonnegative CHECK (stock_quantity >= 0),
    -- The largest stock a variant can hold: the rule behind 409 `stock_limit` (0012 explains
    -- why half the integer range).
    CONSTRAINT product_variants_stock_limit CHECK (stock_quantity <= 1000000000),
    -- Deleted variants keep their SKU, as deleted products kept theirs: past orders name it.
    CONSTRAINT product_variants_sku_key UNIQUE (sku)
);
-- A product's variants in display order; also the foreign key's index.
CREATE INDEX product_variants_product_idx ON product_variants (product_id, position, id);
-- Two active variants of a product never have the same values (409 `variant_exists`); a deleted
-- one may be made again.
CREATE UNIQUE INDEX product_variants_options_key
    ON product_variants (product_id, options) WHERE is_active;
-- Low stock per variant (dashboard, ?low_stock=true of the inventory), emptiest first.
CREATE INDEX product_variants_active_stock_idx
    ON product_variants (stock_quantity, id) WHERE is_active;

CREATE TABLE product_images (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint      NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    -- 2,048 as Release 1's image_url allowed (the images route itself takes up to 2,000).
    url        text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    alt        text        NOT NULL DEFAULT '' CHECK (length(alt) <= 500),
    position   integer     NOT NULL CHECK (position >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT product_images_product_position_key UNIQUE (product_id, position)
);

-- `?option=Size:M`: products having an active variant with that value, through containment
-- (option_values @> '{"Size": ["M"]}'). Active products only, like every list index.
CREATE INDEX products_active_option_values_idx
    ON products USING gin (option_values jsonb_path_ops) WHERE is_active;

-- Recompute the summary columns of these products from their active variants. The products
-- are locked first, in id order, in a statement of their own: checkout locks its variants in
-- id order and then (here) their products in id order, so two checkouts never deadlock, and
-- the summary read after the lock sees every variant change committed before it.
CREATE FUNCTION refresh_product_summaries(wanted bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM products WHERE id = ANY (wanted) ORDER BY id FOR NO KEY UPDATE;
    UPDATE products p
       SET price = coalesce(s.price_min, p.price),
           price_max = coalesce(s.price_max, p.price_max),
           stock_quantity = s.stock_quantity,
           variant_count = s.variant_count,
           sku = s.sku,
           option_values = s.option_values
      FROM (SELECT w.id,
                   min(v.price) AS price_min,
                   max(v.price) AS price_max,
                   coalesce(sum(v.stock_quantity), 0) AS stock_quantity,
                   count(v.id)::integer AS variant_count,
                   CASE WHEN count(v.id) = 1 THEN min(v.sku) END AS sku,
                   coalesce((SELECT jsonb_object_agg(o.name, o.vals)
                               FROM (SELECT e.key AS name, jsonb_agg(DISTINCT e.value) AS vals
                                       FROM product_variants ov, jsonb_each(ov.options) e
                                      WHERE ov.product_id = w.id AND ov.is_active
                                      GROUP BY e.key) AS o),
                            '{}') AS option_values
              FROM unnest(wanted) AS w (id)
              LEFT JOIN product_variants v ON v.product_id = w.id AND v.is_active
             GROUP BY w.id) AS s
     WHERE p.id = s.id
       AND (p.price, p.price_max, p.stock_quantity, p.variant_count, p.sku, p.option_values)
           IS DISTINCT FROM
           (coalesce(s.price_min, p.price), coalesce(s.price_max, p.price_max), s.stock_quantity,
            s.variant_count, s.sku, s.option_values);
END
$$;

-- Per statement: a checkout of five lines, or a COPY of 300,000 variants, is one refresh.
CREATE FUNCTION product_variants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_product_summaries(ARRAY(SELECT DISTINCT product_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM refresh_product_summaries(ARRAY(
            SELECT product_id FROM new_rows UNION SELECT product_id FROM old_rows));
    ELSE
        PERFORM refresh_product_summaries(ARRAY(SELECT DISTINCT product_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER product_variants_inserted
    AFTER INSERT ON product_variants REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION product_variants_changed();
CREATE TRIGGER product_variants_updated
    AFTER UPDATE ON product_variants REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION product_variants_changed();
CREATE TRIGGER product_variants_deleted
    AFTER DELETE ON product_variants REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION product_variants_changed();

-- Every product so far becomes one default variant with its price, stock and SKU, and its
-- picture becomes its first image.
INSERT INTO product_variants (product_id, sku, options, title, price, stock_quantity, position,
                              created_at, updated_at)
SELECT id, sku, '{}', 'Default', price, stock_quantity, 0, created_at, updated_at
  FROM products
 ORDER BY id;
INSERT INTO product_images (product_id, url, position, created_at)
SELECT id, image_url, 0, created_at FROM products WHERE image_url IS NOT NULL ORDER BY id;

-- Carts hold variants.
ALTER TABLE cart_items ADD COLUMN variant_id bigint REFERENCES product_variants (id) ON DELETE CASCADE;
UPDATE cart_items ci SET variant_id = v.id FROM product_variants v WHERE v.product_id = ci.product_id;
ALTER TABLE cart_items ALTER COLUMN variant_id SET NOT NULL;
ALTER TABLE cart_items DROP CONSTRAINT cart_items_cart_product_key;
ALTER TABLE cart_items DROP COLUMN product_id;
ALTER TABLE cart_items ADD CONSTRAINT cart_items_cart_variant_key UNIQUE (cart_id, variant_id);
CREATE INDEX cart_items_variant_id_idx ON cart_items (variant_id);

-- Order lines name their variant, with its title and SKU as snapshots like the name and price;
-- an order may hold two sizes of one product.
ALTER TABLE order_items
    ADD COLUMN variant_id    bigint REFERENCES product_variants (id) ON DELETE RESTRICT,
    ADD COLUMN variant_title text,
    ADD COLUMN sku           text;
UPDATE order_items oi
   SET variant_id = v.id, variant_title = v.title, sku = v.sku
  FROM product_variants v
 WHERE v.product_id = oi.product_id;
ALTER TABLE order_items
    ALTER COLUMN variant_id SET NOT NULL,
    ALTER COLUMN variant_title SET NOT NULL;
ALTER TABLE order_items DROP CONSTRAINT order_items_order_product_key;
ALTER TABLE order_items ADD CONSTRAINT order_items_order_variant_key UNIQUE (order_id, variant_id);
CREATE INDEX order_items_variant_id_idx ON order_items (variant_id);

-- The ledger counts a variant's stock; product_id stays so a product's history is one lookup.
ALTER TABLE inventory_ledger
    ADD COLUMN variant_id bigint REFERENCES product_variants (id) ON DELETE CASCADE;
UPDATE inventory_ledger l SET variant_id = v.id FROM product_variants v WHERE v.product_id = l.product_id;
ALTER TABLE inventory_ledger ALTER COLUMN variant_id SET NOT NULL;
CREATE INDEX inventory_ledger_variant_idx ON inventory_ledger (variant_id, created_at DESC);

-- The order's lines as JSON (0009), now with their variant; ordered by product then variant.
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

-- Best sellers (0010) stay per product: an order's lines are summed per product first, since
-- two sizes of one product are one row of product_sales.
CREATE OR REPLACE FUNCTION product_sales_follow_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE WHEN is_revenue_status(NEW.status) THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO product_sales (product_id, units_sold, revenue)
    SELECT product_id, sign * sum(quantity), sign * sum(price_at_purchase * quantity)
      FROM order_items
     WHERE order_id = NEW.id
     GROUP BY product_id
     ORDER BY product_id
    ON CONFLICT (product_id) DO UPDATE
       SET units_sold = product_sales.units_sold + excluded.units_sold,
           revenue = product_sales.revenue + excluded.revenue;
    RETURN NULL;
END
$$;

-- What a product list, a detail and the recommendations cost to plan and to run (issue 12's
-- benchmark; bench/README.md has the figures).
-- depends: 0023.order_totals

-- 1. A product's images on its own row (products.images, kept by triggers on product_images
-- as 0018 keeps the price range and stock), so a list page, a detail and the recommendations
-- read them with the product instead of one probe of product_images per product. Measured on
-- 100,000 products, backend CPU per list page of 20: 0.87-0.95 ms calling 0019's
-- product_images_json() per row (PostgreSQL cannot inline it: it planned the function's body
-- again at every execution of the page query, then ran an executor per row), 0.77-0.84 ms
-- with the same probe written inline (a lateral subquery: still an aggregate and an index
-- probe per row, and more to plan), 0.56-0.74 ms reading the column; a detail 0.21-0.25 ms,
-- 0.10-0.15 ms.

-- json, not jsonb: it is answered as written, keys in product_images_json's order.
ALTER TABLE products ADD COLUMN images json NOT NULL DEFAULT '[]';

UPDATE products p
   SET images = product_images_json(p.id)
 WHERE p.id IN (SELECT product_id FROM product_images);

-- Recompute the images of these products. Locked in id order first, as
-- refresh_product_summaries (0018) does; every route that changes images has locked its
-- product already, so this only orders the bulk writers (seed, tests).
CREATE FUNCTION refresh_product_images(wanted bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM products WHERE id = ANY (wanted) ORDER BY id FOR NO KEY UPDATE;
    UPDATE products p
       SET images = product_images_json(p.id)
     WHERE p.id = ANY (wanted);
END
$$;

-- Per statement: replacing a product's images is one DELETE and one INSERT, a refresh each.
CREATE FUNCTION product_images_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM refresh_product_images(ARRAY(SELECT DISTINCT product_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM refresh_product_images(ARRAY(
            SELECT product_id FROM new_rows UNION SELECT product_id FROM old_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM refresh_product_images(ARRAY(SELECT DISTINCT product_id FROM old_rows));
    ELSE  -- TRUNCATE skips row triggers and has no transition tables
        UPDATE products SET images = '[]' WHERE images::text <> '[]';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER product_images_inserted
    AFTER INSERT ON product_images REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION product_images_changed();
CREATE TRIGGER product_images_updated
    AFTER UPDATE ON product_images REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION product_images_changed();
CREATE TRIGGER product_images_deleted
    AFTER DELETE ON product_images REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION product_images_changed();
CREATE TRIGGER product_images_truncated
    AFTER TRUNCATE ON product_images
    FOR EACH STATEMENT EXECUTE FUNCTION product_images_changed();

-- 2. The option filter's product-level test (sql/products.sql, list_products), as one call
-- instead of three conditions. The list is planned with each request's values, and the
-- planner copies the filtered products' subquery into each place that reads it (the count,
-- twice, and the page) before folding away the filters a request does not use: a call is
-- less to copy than its expansion. When called, PostgreSQL inlines it (a SQL function of one
-- expression, not STRICT, IMMUTABLE), so the GIN index of 0018 and the btree of 0020 still see
-- `option_values @> ANY (...)`. Each argument is an array of containers for one option name:
-- {"Size": ["M"]} or {"Size": ["L"]}; option_1 is never NULL (callers test it first).
CREATE FUNCTION product_fits_options(option_values jsonb, option_1 jsonb[], option_2 jsonb[],
                                     option_3 jsonb[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT option_values @> ANY (option_1)
       AND (option_2 IS NULL OR option_values @> ANY (option_2))
       AND (option_3 IS NULL OR option_values @> ANY (option_3))
$$;

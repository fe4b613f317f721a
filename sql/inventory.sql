-- Stock levels as the admin sees and changes them, one row per variant (what is bought and
-- stocked). A variant is "low on stock" when it is on sale (the variant and its product active)
-- and at or below the threshold setting: withdrawn variants and products are never sold, so
-- their stock is no alarm.

-- name: inventory_page
-- Every variant, deleted ones and those of deleted products included (to restock them), by
-- product and then in the product's display order (product_variants_product_idx), so a
-- product's variants sit together. `pattern` is a LIKE pattern for a case-insensitive substring
-- of the product's name or the variant's SKU, as in admin_users_page: no index serves it, so a
-- search reads both tables. The page and the count in one statement shaped as list_products (a
-- page past the end is one row: the total, NULL variant_id).
-- Low stock is spelled as the predicate of product_variants_active_stock_idx (0018) plus the
-- product's is_active: the count reads the index range of low variants and looks each one's
-- product up, so it costs what the low variants number, not the catalog. A flag on the variant
-- for "product active" would make it index-only, but every product delete would then have to
-- write its variants; not worth it at these figures. The join is a LEFT JOIN (every variant
-- has its product) so that a count without a filter drops it and counts variants alone.
-- Measured (EXPLAIN ANALYZE of the prepared statement; 16 mixed executions of it were 16
-- custom plans; 100,000 products with 300,000 variants, 10,344 of them active and low at
-- threshold 5, 5% of the products deleted; a busy 2-CPU machine, medians of 5): no filter
-- 55 ms (125 ms with an inner join); low_stock=true 72 ms (the count; its page is 0.3 ms from
-- product_variants_product_idx); low_stock=false 180 ms; a search 380 ms, with low_stock=true
-- 85 ms. Release 1 read 100,000 product rows for the same: 16, 2, 104 and 216 ms.
WITH matching AS NOT MATERIALIZED (
    SELECT v.id AS variant_id, v.product_id, p.name, v.title AS variant_title, v.sku,
           v.stock_quantity, v.position,
           v.is_active AND p.is_active AS is_active,
           v.is_active AND p.is_active AND v.stock_quantity <= :threshold::integer AS low_stock
      FROM product_variants v
      LEFT JOIN products p ON p.id = v.product_id
     WHERE (:low_stock::boolean IS NULL
            OR :low_stock::boolean
               AND v.is_active AND v.stock_quantity <= :threshold::integer AND p.is_active
            OR NOT :low_stock::boolean
               AND NOT (v.is_active AND v.stock_quantity <= :threshold::integer AND p.is_active))
       AND (:pattern::text IS NULL
            OR lower(p.name) LIKE lower(:pattern::text)
            OR lower(v.sku) LIKE lower(:pattern::text))
)
SELECT totals.total, page.variant_id, page.product_id, page.name, page.variant_title, page.sku,
       page.stock_quantity, page.is_active, page.low_stock
  -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
  FROM (SELECT count(*) AS total FROM (SELECT FROM matching LIMIT 10001) AS capped) AS totals
  LEFT JOIN LATERAL (
        SELECT *
          FROM matching
         ORDER BY product_id, position, variant_id
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 ORDER BY page.product_id, page.position, page.variant_id;

-- name: inventory_lock^
-- The variant row, locked until the adjustment commits: concurrent adjustments and checkouts
-- of the variant queue here, so each reads the stock the previous one left. NO KEY UPDATE is
-- the lock checkout takes (sql/orders.sql), and it lets carts keep referencing the variant.
SELECT v.id AS variant_id, v.product_id, p.name, v.title AS variant_title, v.sku,
       v.stock_quantity, p.is_active AND v.is_active AS is_active,
       p.is_active AND v.is_active AND v.stock_quantity <= :threshold::integer AS low_stock
  FROM product_variants v
  JOIN products p ON p.id = v.product_id
 WHERE v.id = :variant_id
   FOR NO KEY UPDATE OF v;

-- name: inventory_set_stock^
-- Write the new stock of a locked variant and its ledger row (who, how much, why, what is
-- left); the summary trigger (0018) carries the change to the product's stock sum. The
-- product's updated_at moves too, as it did when stock was the product's (Release 1 clients
-- read it); its row is locked after the variant's, in the order checkout takes them.
WITH changed AS (
    UPDATE product_variants
       SET stock_quantity = :stock_quantity::integer,
           updated_at = now()
     WHERE id = :variant_id
    RETURNING id, product_id, title, sku, stock_quantity, is_active
), ledger AS (
    INSERT INTO inventory_ledger (product_id, variant_id, delta, reason, stock_after, actor_id)
    SELECT product_id, id, :delta::integer, :reason::text, stock_quantity, :actor_id::bigint
      FROM changed
), touched AS (
    UPDATE products SET updated_at = now()
     WHERE id = (SELECT product_id FROM changed)
    RETURNING id, name, is_active
)
SELECT c.id AS variant_id, c.product_id, p.name, c.title AS variant_title, c.sku,
       c.stock_quantity, p.is_active AND c.is_active AS is_active,
       p.is_active AND c.is_active AND c.stock_quantity <= :threshold::integer AS low_stock
  FROM changed c
  JOIN touched p ON p.id = c.product_id;

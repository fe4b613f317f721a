-- Stock levels as the admin sees and changes them. A product is "low on stock" when it is on sale
-- (active) and at or below the threshold setting: withdrawn products are never sold, so their
-- stock is no alarm.

-- name: inventory_page
-- Every product, deleted ones included (to restock them), by id. `pattern` is a LIKE pattern
-- for a case-insensitive substring of the name or the SKU, as in admin_users_page: no index
-- serves it, so a search reads the products table (45-60 ms for 100,000). `low_stock` is
-- spelled as the predicate of products_active_stock_idx (0006), which custom plans use to count
-- `low_stock=true` (1 ms); its page walks the primary key and stops at per_page matches.
-- The page and the count in one statement shaped as list_products (a page past the end is one
-- row: the total, NULL product_id).
-- Re-measured when the inventory_count twin was folded in (EXPLAIN ANALYZE, 100,000 products,
-- a busy 2-CPU machine; medians, page + count before, one statement after): each half keeps its
-- plan. No filter 15.5 and 15.9 ms; low_stock=true 1.9 and 1.7 ms (the count from
-- products_active_stock_idx, the page from the primary key); low_stock=false 107 and 101 ms;
-- a search 207 and 225 ms (a parallel scan for the count, the primary key for the page).
WITH matching AS NOT MATERIALIZED (
    SELECT id AS product_id, name, sku, stock_quantity, is_active,
           is_active AND stock_quantity <= :threshold::integer AS low_stock
      FROM products
     WHERE (:low_stock::boolean IS NULL
            OR :low_stock::boolean AND is_active AND stock_quantity <= :threshold::integer
            OR NOT :low_stock::boolean
               AND NOT (is_active AND stock_quantity <= :threshold::integer))
       AND (:pattern::text IS NULL
            OR lower(name) LIKE lower(:pattern::text)
            OR lower(sku) LIKE lower(:pattern::text))
)
SELECT totals.total, page.*
  FROM (SELECT count(*) AS total FROM matching) AS totals
  LEFT JOIN LATERAL (
        SELECT *
          FROM matching
         ORDER BY product_id
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 ORDER BY page.product_id;

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
-- left); the summary trigger (0018) carries the change to the product's stock sum.
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
)
SELECT c.id AS variant_id, c.product_id, p.name, c.title AS variant_title, c.sku,
       c.stock_quantity, p.is_active AND c.is_active AS is_active,
       p.is_active AND c.is_active AND c.stock_quantity <= :threshold::integer AS low_stock
  FROM changed c
  JOIN products p ON p.id = c.product_id;

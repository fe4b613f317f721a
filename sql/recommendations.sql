-- Every transaction that writes scores takes its locks in one fixed order, whatever plan its
-- statements get: first the table-wide lock (shared by refreshes, exclusive for a rebuild), then
-- one lock per product whose scores it rewrites, in ascending order. So refreshes of orders that
-- share products take turns instead of deadlocking, a rebuild never meets a refresh half done,
-- and each one reads the committed state of the orders after the turn of the one before.
-- Advisory locks (two-int keys: this table's class, the product) block nobody but these writers.

-- name: lock_recommendations_shared!
SELECT pg_advisory_xact_lock_shared(hashtext('shop_api.recommendations'));

-- name: lock_recommendations_exclusive!
SELECT pg_advisory_xact_lock(hashtext('shop_api.recommendations'));

-- name: lock_recommendations_of_order!
-- The order's products, ascending: PostgreSQL evaluates a volatile function of the select list
-- after the ORDER BY, so the locks are taken in that order. Ids past 2^31 share a key with a
-- smaller one, which only makes the two take turns.
SELECT pg_advisory_xact_lock(hashtext('shop_api.recommendations'), key)
  FROM (SELECT DISTINCT (product_id % 2147483647)::int AS key
          FROM order_items
         WHERE order_id = :order_id) AS keys
 ORDER BY key;

-- name: forget_recommendations_of_order!
-- Scores are recomputed from scratch for the order's products, which makes a redelivered
-- message harmless: the same orders always give the same scores.
DELETE FROM recommendations
 WHERE product_id IN (SELECT product_id FROM order_items WHERE order_id = :order_id);

-- name: score_recommendations_of_order!
-- "Bought together": for each product of the order, how many paid (or later) orders hold it
-- together with each other product. Under the order's locks its products' rows were just
-- deleted by this transaction alone, so nothing can conflict.
INSERT INTO recommendations (product_id, recommended_product_id, score)
SELECT a.product_id, b.product_id, count(DISTINCT a.order_id)::int
  FROM order_items a
  JOIN order_items b ON b.order_id = a.order_id AND b.product_id <> a.product_id
  JOIN orders o ON o.id = a.order_id
 WHERE a.product_id IN (SELECT product_id FROM order_items WHERE order_id = :order_id)
   AND o.status IN ('paid', 'processing', 'shipped', 'delivered')
 GROUP BY a.product_id, b.product_id;

-- name: forget_all_recommendations!
DELETE FROM recommendations;

-- name: score_all_recommendations!
INSERT INTO recommendations (product_id, recommended_product_id, score)
SELECT a.product_id, b.product_id, count(DISTINCT a.order_id)::int
  FROM order_items a
  JOIN order_items b ON b.order_id = a.order_id AND b.product_id <> a.product_id
  JOIN orders o ON o.id = a.order_id
 WHERE o.status IN ('paid', 'processing', 'shipped', 'delivered')
 GROUP BY a.product_id, b.product_id;

-- name: count_recommendations$
SELECT count(*) FROM recommendations;

-- name: product_recommendations
-- Up to 10 active products for a product page: those most often bought together with it,
-- then the best rated of its category to fill the list (all of it when nobody bought it yet).
-- Columns as list_products, so the same shaping serves both.
WITH target AS (
    SELECT id, category_id FROM products WHERE id = :product_id AND is_active
), candidates AS (
    SELECT r.recommended_product_id AS id, 0 AS tier, r.score::numeric AS weight
      FROM recommendations r
     WHERE r.product_id = :product_id
    UNION ALL
    (SELECT p.id, 1, coalesce(p.rating_sum::numeric / nullif(p.rating_count, 0), 0)
       FROM products p
       JOIN target t ON p.category_id = t.category_id AND p.id <> t.id
      WHERE p.is_active
      ORDER BY 3 DESC, p.rating_count DESC, p.id
      LIMIT 10)
), ranked AS (
    SELECT DISTINCT ON (id) id, tier, weight FROM candidates ORDER BY id, tier
)
SELECT top.*
  FROM (SELECT m.id, m.name, m.slug, m.description, m.price, m.price_max, m.currency,
               m.stock_quantity, m.sku, m.image_url, m.images, m.options, m.variant_count,
               m.category_id, c.name AS category_name, c.slug AS category_slug, m.rating_count,
               m.rating_average, m.created_at, m.updated_at, m.tax_class, ranked.tier,
               ranked.weight
          FROM ranked
          JOIN products m ON m.id = ranked.id AND m.is_active
          LEFT JOIN categories c ON c.id = m.category_id
         WHERE EXISTS (SELECT 1 FROM target)
         ORDER BY ranked.tier, ranked.weight DESC, m.id
         LIMIT 10) AS top
 ORDER BY top.tier, top.weight DESC, top.id;

-- name: product_is_active$
SELECT EXISTS (SELECT 1 FROM products WHERE id = :product_id AND is_active);

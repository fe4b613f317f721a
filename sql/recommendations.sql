-- name: forget_recommendations_of_order!
-- Scores are recomputed from scratch for the order's products, which makes a redelivered
-- message harmless: the same orders always give the same scores.
DELETE FROM recommendations
 WHERE product_id IN (SELECT product_id FROM order_items WHERE order_id = :order_id);

-- name: score_recommendations_of_order!
-- "Bought together": for each product of the order, how many paid (or later) orders hold it
-- together with each other product.
INSERT INTO recommendations (product_id, recommended_product_id, score)
SELECT a.product_id, b.product_id, count(DISTINCT a.order_id)::int
  FROM order_items a
  JOIN order_items b ON b.order_id = a.order_id AND b.product_id <> a.product_id
  JOIN orders o ON o.id = a.order_id
 WHERE a.product_id IN (SELECT product_id FROM order_items WHERE order_id = :order_id)
   AND o.status IN ('paid', 'processing', 'shipped', 'delivered')
 GROUP BY a.product_id, b.product_id
-- Two orders sharing products may be scored at once: the later write simply wins, and both
-- computed the same counts from the same committed orders.
ON CONFLICT (product_id, recommended_product_id)
DO UPDATE SET score = excluded.score, updated_at = now();

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

-- The admin dashboard: a few aggregates, read in one REPEATABLE READ snapshot so they agree.
--
-- Revenue counts the orders that were paid or got further and were never cancelled. The status
-- list 'paid', 'processing', 'shipped', 'delivered' is written out rather than passed in: it is
-- the predicate of the partial index orders_revenue_day_idx (0006), which the planner only uses
-- when it can see the same literal list.

-- name: dashboard_orders^
-- Orders by status (all six, zeros included), their total and the revenue, from one pass over
-- orders grouped by status (45 ms on 300,000 orders; three separate aggregates took 70-100 ms).
WITH by_status AS (
    SELECT status, count(*) AS n, sum(total_amount) AS amount
      FROM orders
     GROUP BY status
)
SELECT (SELECT coalesce(sum(n), 0)::bigint FROM by_status) AS orders_total,
       (SELECT round(coalesce(sum(amount), 0), 2)::text
          FROM by_status
         WHERE status IN ('paid', 'processing', 'shipped', 'delivered')) AS revenue_total,
       (SELECT json_object_agg(s.status, coalesce(b.n, 0) ORDER BY s.position)
          FROM unnest(:statuses::text[]) WITH ORDINALITY AS s (status, position)
          LEFT JOIN by_status b ON b.status = s.status) AS orders_by_status;

-- name: dashboard_customers^
-- Nearly every user is a customer, so this is one pass over users (20 ms for 100,000).
SELECT count(*) AS customers_total,
       count(*) FILTER (WHERE created_at >= now() - interval '30 days') AS new_customers_30d
  FROM users
 WHERE role = 'customer';

-- name: dashboard_revenue_by_day
-- One row per UTC day, today and the 29 days before it, days without a sale included (zero).
-- An order counts on the day it was placed. orders_revenue_day_idx holds exactly the revenue
-- orders by placement time with their amounts, so the 30 days are one index-only range scan.
WITH days AS (
    SELECT (now() AT TIME ZONE 'UTC')::date - back AS day
      FROM generate_series(0, 29) AS back
), sales AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
           sum(total_amount) AS revenue,
           count(*) AS orders
      FROM orders
     WHERE status IN ('paid', 'processing', 'shipped', 'delivered')
       AND created_at >= ((now() AT TIME ZONE 'UTC')::date - 29)::timestamp AT TIME ZONE 'UTC'
     GROUP BY 1
)
SELECT days.day AS date,
       round(coalesce(sales.revenue, 0), 2)::text AS revenue,
       coalesce(sales.orders, 0) AS orders
  FROM days
  LEFT JOIN sales ON sales.day = days.day
 ORDER BY days.day;

-- name: dashboard_top_products
-- Best sellers of all time by units in revenue orders, with the product's current name (the
-- snapshot names of its order lines may differ); ties go to the lower id. product_sales (0010)
-- is kept by the order status trigger, so this reads the first entries of its units index.
SELECT s.product_id, p.name, s.units_sold, round(s.revenue, 2)::text AS revenue
  FROM product_sales s
  JOIN products p ON p.id = s.product_id
 WHERE s.units_sold > 0
 ORDER BY s.units_sold DESC, s.product_id
 LIMIT :limit;

-- name: dashboard_low_stock
-- Variants on sale (the variant and its product active) at or below the threshold, emptiest
-- first: a walk of product_variants_active_stock_idx (0018) that looks each variant's product
-- up and stops at `limit` (EXPLAIN ANALYZE: 0.6 ms on 300,000 variants, 10,344 of them low).
SELECT v.id AS variant_id, v.product_id, p.name, v.title AS variant_title, v.sku,
       v.stock_quantity
  FROM product_variants v
  JOIN products p ON p.id = v.product_id
 WHERE v.is_active
   AND p.is_active
   AND v.stock_quantity <= :threshold
 ORDER BY v.stock_quantity, v.id
 LIMIT :limit;

-- The admin's views of users and of every user's orders.
--
-- Filters are nullable parameters: asyncpg prepares each statement once per connection, and
-- PostgreSQL plans it with the request's values (custom plans), folding "parameter IS NULL OR
-- ..." away so each filter gets its index. Measured like sql/products.sql: after mixed
-- executions of these statements pg_prepared_statements counted custom plans only.

-- name: admin_users_page
-- Newest first. `pattern` is a LIKE pattern for a case-insensitive substring of the email or the
-- name (the domain escapes the search and wraps it in %). No index serves a substring without
-- pg_trgm, which the embedded server lacks, so a search reads the users table: 45-60 ms for
-- 100,000 users. LIKE rather than strpos() because the planner estimates a LIKE pattern from
-- its text: a rare one gets a sequential scan and a sort of the few matches, a common one walks
-- users_created_at_idx and stops at the page. strpos() always got the walk, 120 ms when the
-- search was rare; LIKE still does for patterns it cannot judge (escaped % or _).
-- role and is_active use their indexes.
-- The page and the number of users that match, in one statement shaped as list_products (a
-- page past the end is one row: the total, NULL id).
-- Re-measured when the admin_count_users twin was folded in (EXPLAIN ANALYZE, 100,000 users,
-- on a busy 2-CPU machine, so the searches ran ~8x slower than above; medians, page + count
-- before, one statement after): each half keeps its plan. No filter 16.9 and 16.6 ms (the
-- count is an Index Only Scan of users_is_active_idx, the page the first entries of
-- users_created_at_idx); a common search 573 and 545 ms, a rare one 450 and 392 ms (the
-- table read once for the count and once for the page, as the two statements did); role or
-- is_active 0.2 ms either way.
WITH matching AS NOT MATERIALIZED (
    SELECT id, email, full_name, role, is_active, created_at
      FROM users
     WHERE (:pattern::text IS NULL
            OR lower(email) LIKE lower(:pattern::text)
            OR lower(full_name) LIKE lower(:pattern::text))
       AND (:role::text IS NULL OR role = :role::text)
       AND (:is_active::boolean IS NULL OR is_active = :is_active::boolean)
)
SELECT totals.total, page.*
  -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
  FROM (SELECT count(*) AS total FROM (SELECT FROM matching LIMIT 10001) AS capped) AS totals
  LEFT JOIN LATERAL (
        SELECT *
          FROM matching
         ORDER BY created_at DESC, id DESC
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 ORDER BY page.created_at DESC, page.id DESC;

-- name: admin_toggle_user^
-- Flip is_active and bump token_version in one statement: every access and refresh token the
-- user holds carries the old version and is refused from this commit on. The refresh tokens of
-- a deactivated user are also marked revoked, so their rows tell why they stopped working.
-- :active NULL flips (the API's toggle-status); true or false sets it, and then a user already
-- in that state is left alone (no row), so a form submitted twice acts once. A deleted account
-- (DELETE /api/auth/me) is never changed.
WITH toggled AS (
    UPDATE users
       SET is_active = coalesce(:active::boolean, NOT is_active),
           token_version = token_version + 1,
           updated_at = now()
     WHERE id = :user_id
       AND deleted_at IS NULL
       AND (:active::boolean IS NULL OR is_active <> :active::boolean)
    RETURNING id, email, full_name, role, is_active, created_at
), revoked AS (
    UPDATE refresh_tokens
       SET revoked_at = now()
     WHERE user_id IN (SELECT id FROM toggled WHERE NOT is_active)
       AND revoked_at IS NULL
)
SELECT * FROM toggled;

-- name: admin_orders_page
-- A page of every user's orders, newest first, each with its owner, items and latest payment.
-- The page's ids are picked first (orders_newest_idx, orders_status_newest_idx of 0006, or
-- orders_user_newest_idx with user_id); only those rows then read their owner, items and
-- payment, so the page costs one statement whatever per_page is. The count of the orders that
-- match comes with it, shaped as list_products (a page past the end is one row: the total,
-- NULL id).
-- Re-measured when the admin_count_orders twin was folded in (EXPLAIN ANALYZE, 203,000 orders,
-- a busy 2-CPU machine; medians, page + count before, one statement after): each half keeps its
-- plan, and the owners are still read for the page's rows only (users_pkey, memoized). No
-- filter 56 and 62 ms (the count a parallel Index Only Scan of orders_pkey, the page the first
-- 20 entries of orders_newest_idx); status=pending 7.3 and 8.7 ms (orders_pending_user_idx,
-- orders_status_newest_idx); one customer's 3,000 orders 2.5 and 2.3 ms.
WITH matching AS NOT MATERIALIZED (
    SELECT id, user_id, status, subtotal, discount_total, shipping_total, shipping_tax,
           tax_total, total_amount, tax_included, currency, delivery_address, shipping_address,
           shipping_method, discounts, notes, created_at, updated_at
      FROM orders
     WHERE (:user_id::bigint IS NULL OR user_id = :user_id::bigint)
       AND (:status::text IS NULL OR status = :status::text)
)
SELECT totals.total, page.*,
       json_build_object('id', u.id, 'email', u.email) AS owner,
       order_items_json(page.id) AS items,
       order_payment_json(page.id) AS payment
  -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
  FROM (SELECT count(*) AS total FROM (SELECT FROM matching LIMIT 10001) AS capped) AS totals
  LEFT JOIN LATERAL (
        SELECT *
          FROM matching
         ORDER BY created_at DESC, id DESC
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
  LEFT JOIN users u ON u.id = page.user_id
 ORDER BY page.created_at DESC, page.id DESC;

-- name: admin_order^
-- One order of any user, as admin_orders_page shows it.
SELECT o.id, o.user_id, o.status, o.subtotal, o.discount_total, o.shipping_total,
       o.shipping_tax, o.tax_total, o.total_amount, o.tax_included, o.currency,
       o.delivery_address, o.shipping_address, o.shipping_method, o.discounts, o.notes,
       o.created_at, o.updated_at,
       json_build_object('id', u.id, 'email', u.email) AS owner,
       order_items_json(o.id) AS items,
       order_payment_json(o.id) AS payment
  FROM orders o
  JOIN users u ON u.id = o.user_id
 WHERE o.id = :order_id;

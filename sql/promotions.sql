-- Promotions and coupons (0025): what quote and checkout read, the uses checkout takes and
-- cancellation gives back, and the admin's list and edits.

-- name: promotions_for_cart
-- The promotions a cart may get, in one round trip: the automatic ones that are on now (active,
-- in their window, not used up), plus the one whose code is :code (regardless of case) in
-- whatever state, so the caller can say why it does not apply. Each with its targets, the
-- caller's uses of it, and, the same on every row, each of :category_ids (the cart's products'
-- categories; NULL: those of the user's cart as it is now) with itself and all its ancestors,
-- which an items promotion's categories are matched against. No row when nothing may apply.
WITH RECURSIVE up (category_id, ancestor_id) AS (
    SELECT id, id
      FROM categories
     WHERE id = ANY(coalesce(:category_ids::bigint[],
                             ARRAY(SELECT p.category_id
                                     FROM carts c
                                     JOIN cart_items ci ON ci.cart_id = c.id
                                     JOIN product_variants v ON v.id = ci.variant_id
                                     JOIN products p ON p.id = v.product_id
                                    WHERE c.user_id = :user_id::bigint)))
     UNION
    SELECT up.category_id, c.parent_id
      FROM up JOIN categories c ON c.id = up.ancestor_id
     WHERE c.parent_id IS NOT NULL
)
SELECT p.id, p.name, p.code, p.kind, p.value, p.target, p.min_subtotal, p.usage_limit,
       p.usage_limit_per_customer, p.times_used, coalesce(u.uses, 0) AS customer_uses,
       CASE WHEN NOT p.is_active THEN 'inactive'
            WHEN p.starts_at > now() THEN 'not_started'
            WHEN p.ends_at <= now() THEN 'expired'
       END AS unavailable,
       p.starts_at, p.ends_at,
       ARRAY(SELECT product_id FROM promotion_products WHERE promotion_id = p.id) AS product_ids,
       ARRAY(SELECT category_id FROM promotion_categories WHERE promotion_id = p.id)
           AS category_ids,
       (SELECT json_object_agg(category_id, ancestors)
          FROM (SELECT category_id, array_agg(ancestor_id) AS ancestors
                  FROM up GROUP BY category_id) AS a) AS category_ancestors
  FROM promotions p
  LEFT JOIN promotion_customer_uses u ON u.promotion_id = p.id AND u.user_id = :user_id::bigint
 WHERE (p.code IS NULL AND p.is_active
        AND (p.starts_at IS NULL OR p.starts_at <= now())
        AND (p.ends_at IS NULL OR p.ends_at > now()))
    OR lower(p.code) = lower(:code::text)
 ORDER BY p.id;

-- name: take_promotion_use^
-- Checkout takes one use of a promotion that gave :amount off order :order_id, as the last
-- statement before commit (the promotion row is hot: everyone using it waits on its lock until
-- the holder commits). The global use by the conditional UPDATE, then the customer's by the
-- conditional upsert of 0025, then the redemption row cancellation gives back. taken false: the
-- usage limit is reached, or the promotion is no longer on (off is true when it was not as
-- this statement began: deactivated, or out of its window); redeemed false: the customer's (the
-- caller then rolls back, which undoes the global use too). The UPDATE's conditions are
-- evaluated again on the row as it is once locked, so a promotion switched off by a
-- transaction this one waited for is not taken.
WITH taken AS (
    UPDATE promotions
       SET times_used = times_used + 1
     WHERE id = :promotion_id
       AND (usage_limit IS NULL OR times_used < usage_limit)
       AND is_active
       AND (starts_at IS NULL OR starts_at <= now())
       AND (ends_at IS NULL OR ends_at > now())
    RETURNING id, usage_limit_per_customer
), customer AS (
    INSERT INTO promotion_customer_uses AS cu (promotion_id, user_id, uses)
    SELECT id, :user_id::bigint, 1 FROM taken WHERE usage_limit_per_customer IS NOT NULL
        ON CONFLICT (promotion_id, user_id) DO UPDATE
       SET uses = cu.uses + 1
     WHERE cu.uses < (SELECT usage_limit_per_customer FROM taken)
    RETURNING uses
), redeemed AS (
    INSERT INTO promotion_redemptions (promotion_id, order_id, user_id, amount, per_customer)
    SELECT id, :order_id::bigint, :user_id::bigint, :amount::numeric,
           usage_limit_per_customer IS NOT NULL
      FROM taken
     WHERE usage_limit_per_customer IS NULL OR EXISTS (SELECT FROM customer)
    RETURNING id
)
SELECT EXISTS (SELECT FROM taken) AS taken, EXISTS (SELECT FROM redeemed) AS redeemed,
       EXISTS (SELECT FROM taken) = false AND NOT EXISTS (
           SELECT FROM promotions
            WHERE id = :promotion_id AND is_active
              AND (starts_at IS NULL OR starts_at <= now())
              AND (ends_at IS NULL OR ends_at > now())) AS off;

-- name: release_redemptions
-- Cancellation marks the uses of order :order_id given back; only rows not yet released come
-- back, so whatever gives the uses back for them does it once, however often this runs.
UPDATE promotion_redemptions
   SET released_at = now()
 WHERE order_id = :order_id AND released_at IS NULL
RETURNING promotion_id, user_id, per_customer;

-- name: give_back_promotion_use!
-- One use of a redemption just released (release_redemptions): the promotion's, then the
-- customer's when it counted for the customer (the lock order of take_promotion_use).
WITH given_back AS (
    UPDATE promotions SET times_used = times_used - 1 WHERE id = :promotion_id RETURNING id
)
UPDATE promotion_customer_uses
   SET uses = uses - 1
 WHERE :per_customer::boolean
   AND promotion_id = (SELECT id FROM given_back) AND user_id = :user_id;

-- name: promotions_page
-- A page of promotions (the active ones, the inactive ones, or all; those whose name or code
-- contains :q), newest first, with their use counts; shaped as list_products (a page past the
-- end is one row: the total, NULL id).
WITH matching AS NOT MATERIALIZED (
    SELECT p.*,
           ARRAY(SELECT product_id FROM promotion_products WHERE promotion_id = p.id
                  ORDER BY product_id) AS product_ids,
           ARRAY(SELECT category_id FROM promotion_categories WHERE promotion_id = p.id
                  ORDER BY category_id) AS category_ids
      FROM promotions p
     WHERE (:is_active::boolean IS NULL OR p.is_active = :is_active::boolean)
       AND (:q::text IS NULL
            OR strpos(lower(p.name), lower(:q::text)) > 0
            OR strpos(lower(p.code), lower(:q::text)) > 0)
)
SELECT totals.total, page.*
  -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
  FROM (SELECT count(*) AS total FROM (SELECT FROM matching LIMIT 10001) AS capped) AS totals
  LEFT JOIN LATERAL (
        SELECT * FROM matching ORDER BY id DESC LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 ORDER BY page.id DESC;

-- name: promotion_by_id^
SELECT p.*,
       ARRAY(SELECT product_id FROM promotion_products WHERE promotion_id = p.id
              ORDER BY product_id) AS product_ids,
       ARRAY(SELECT category_id FROM promotion_categories WHERE promotion_id = p.id
              ORDER BY category_id) AS category_ids
  FROM promotions p
 WHERE p.id = :promotion_id;

-- name: insert_promotion^
-- A code taken in any case is promotions_code_lower_key; a product or category that does not
-- exist is its foreign key.
WITH created AS (
    INSERT INTO promotions (name, code, kind, value, target, min_subtotal, starts_at, ends_at,
                            usage_limit, usage_limit_per_customer, is_active)
    VALUES (:name, :code, :kind, :value, :target, :min_subtotal, :starts_at, :ends_at,
            :usage_limit, :usage_limit_per_customer, :is_active)
    RETURNING id
), products AS (
    INSERT INTO promotion_products (promotion_id, product_id)
    SELECT created.id, product_id
      FROM created, unnest(:product_ids::bigint[]) AS product_id
), categories AS (
    INSERT INTO promotion_categories (promotion_id, category_id)
    SELECT created.id, category_id
      FROM created, unnest(:category_ids::bigint[]) AS category_id
)
SELECT id FROM created;

-- name: update_promotion^
-- Every field but times_used replaced (a PUT); no row when there is no such promotion. A usage
-- limit below times_used is promotions_times_used_range.
WITH changed AS (
    UPDATE promotions
       SET name = :name, code = :code, kind = :kind, value = :value, target = :target,
           min_subtotal = :min_subtotal, starts_at = :starts_at, ends_at = :ends_at,
           usage_limit = :usage_limit, usage_limit_per_customer = :usage_limit_per_customer,
           is_active = :is_active, updated_at = now()
     WHERE id = :promotion_id
    RETURNING id
), old_products AS (
    DELETE FROM promotion_products
     WHERE promotion_id IN (SELECT id FROM changed)
       AND product_id <> ALL(:product_ids::bigint[])
), new_products AS (
    INSERT INTO promotion_products (promotion_id, product_id)
    SELECT changed.id, product_id FROM changed, unnest(:product_ids::bigint[]) AS product_id
        ON CONFLICT DO NOTHING
), old_categories AS (
    DELETE FROM promotion_categories
     WHERE promotion_id IN (SELECT id FROM changed)
       AND category_id <> ALL(:category_ids::bigint[])
), new_categories AS (
    INSERT INTO promotion_categories (promotion_id, category_id)
    SELECT changed.id, category_id FROM changed, unnest(:category_ids::bigint[]) AS category_id
        ON CONFLICT DO NOTHING
)
SELECT id FROM changed;

-- name: deactivate_promotion$
-- Soft: orders and redemptions keep pointing at it.
UPDATE promotions SET is_active = false, updated_at = now()
 WHERE id = :promotion_id
RETURNING id;

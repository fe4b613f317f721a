-- name: add_product_rating$
-- The first step of adding a review, in its transaction: the row lock of this UPDATE orders
-- concurrent reviews of one product, and the increments keep the summary exact. No row when
-- the product is missing or deleted.
UPDATE products
   SET rating_count = rating_count + 1,
       rating_sum = rating_sum + :rating::integer
 WHERE id = :product_id AND is_active
RETURNING id;

-- name: insert_review^
-- reviews_one_per_user_product answers for a second review by the same user. A review is a
-- verified purchase when its author has an order holding the product that was paid or later.
WITH inserted AS (
    INSERT INTO reviews (product_id, user_id, rating, title, comment, verified_purchase)
    VALUES (:product_id, :user_id, :rating, :title, :comment, EXISTS (
        SELECT 1
          FROM order_items oi
          JOIN orders o ON o.id = oi.order_id
         WHERE oi.product_id = :product_id
           AND o.user_id = :user_id
           AND o.status IN ('paid', 'processing', 'shipped', 'delivered')))
    RETURNING id, product_id, user_id, rating, title, comment, verified_purchase, created_at
)
SELECT r.id, r.product_id,
       json_build_object('id', r.user_id, 'full_name', u.full_name) AS "user", r.rating,
       r.title, r.comment, r.verified_purchase, r.created_at
  FROM inserted r
  JOIN users u ON u.id = r.user_id;

-- name: list_reviews
-- A page of an active product's reviews, newest first, with their total. No row at all when
-- there is no such active product; one row with a NULL id for a page past the end.
SELECT totals.total, page.*
  FROM products p
 -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
 CROSS JOIN LATERAL (SELECT count(*) AS total
                      FROM (SELECT FROM reviews WHERE product_id = p.id LIMIT 10001) AS capped
                   ) AS totals
  LEFT JOIN LATERAL (
        SELECT r.id, r.product_id,
               json_build_object('id', r.user_id, 'full_name', u.full_name) AS "user",
               r.rating, r.title, r.comment, r.verified_purchase, r.created_at
          FROM reviews r
          JOIN users u ON u.id = r.user_id
         WHERE r.product_id = p.id
         ORDER BY r.created_at DESC, r.id DESC
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 WHERE p.id = :product_id AND p.is_active
 ORDER BY page.created_at DESC, page.id DESC;

-- name: lock_seeding!
-- Two seeders at once (say `shop-api dev` and a manual `shop-api seed`) take turns; the lock
-- ends with the transaction.
SELECT pg_advisory_xact_lock(hashtext('shop_api.seed_demo'));

-- name: catalog_is_empty$
SELECT NOT EXISTS (SELECT 1 FROM categories) AND NOT EXISTS (SELECT 1 FROM products);

-- name: insert_demo_user$
-- An account that already exists is left as it is: seeding never resets a password.
INSERT INTO users (email, password_hash, full_name, role)
VALUES (:email, :password_hash, :full_name, :role)
ON CONFLICT (lower(email)) DO NOTHING
RETURNING id;

-- name: find_demo_users
SELECT id, email, role
  FROM users
 WHERE lower(email) = ANY (:emails::text[]);

-- name: insert_seed_category$
INSERT INTO categories (name, slug, parent_id, description)
VALUES (:name, :slug, :parent_id, :description)
RETURNING id;

-- name: insert_seed_product$
INSERT INTO products (name, slug, description, price, currency, stock_quantity, sku,
                      category_id, created_at, updated_at)
VALUES (:name, :slug, :description, :price, :currency, :stock_quantity, :sku,
        :category_id, :created_at, :created_at)
RETURNING id;

-- name: insert_seed_review!
INSERT INTO reviews (product_id, user_id, rating, title, comment, created_at)
VALUES (:product_id, :user_id, :rating, :title, :comment, :created_at);

-- name: recount_ratings!
-- Seeding writes reviews in bulk, then sets each summary from them once.
UPDATE products p
   SET rating_count = s.review_count, rating_sum = s.rating_sum
  FROM (SELECT product_id, count(*) AS review_count, sum(rating) AS rating_sum
          FROM reviews
         GROUP BY product_id) AS s
 WHERE p.id = s.product_id;

-- name: leaf_category_ids
SELECT c.id
  FROM categories c
 WHERE NOT EXISTS (SELECT 1 FROM categories child WHERE child.parent_id = c.id)
 ORDER BY c.id;

-- name: reserve_product_ids
-- Ids for a COPY of products that its variants' COPY can point at.
SELECT nextval(pg_get_serial_sequence('products', 'id')) AS id
  FROM generate_series(1, :n::integer);

-- name: analyze_catalog#
-- Fresh statistics after a bulk load, so the next plans know how many rows there are.
ANALYZE products, product_variants;

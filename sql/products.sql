-- name: list_products
-- One page of active products and the number of all that match, in one statement.
--
-- Every filter is a nullable parameter. PostgreSQL plans these statements with the values of
-- the request (custom plans), folding each "parameter IS NULL OR ..." away, so a request gets
-- the plan of the filters it really uses: the GIN index for search, the category index for a
-- category, the partial indexes of 0002/0004 for stock. The by_* sort keys fold the same way:
-- only the key of :sort survives, and it is the key of that sort's partial index, so a page
-- of "newest", "price", "-price", "name" or "rating" reads its rows in index order and stops
-- at the page. bench/README.md has the EXPLAIN ANALYZE of each filter on 100,000 products.
-- This relies on custom plans, so it was measured: after 60 mixed executions of the prepared
-- statement on one connection, pg_prepared_statements counted 60 custom plans and no generic
-- one (its estimate was worse in every mix tried); planning costs ~0.3 ms a request.
--
-- The count and the page read the same inlined `matching` rows with plans of their own; the
-- count is a one-row subquery on the left of the join, so a page past the end still says how
-- many products match (one row with a NULL id).
WITH RECURSIVE chosen_categories (id) AS (
        SELECT c.id
          FROM categories c
         WHERE c.id = :category_id::bigint OR c.slug = :category_slug::text
    UNION
        SELECT child.id
          FROM categories child
          JOIN chosen_categories parent ON child.parent_id = parent.id
),
matching AS NOT MATERIALIZED (
    SELECT p.*
      FROM products p
     WHERE p.is_active
       -- An array built once (an InitPlan), so the category index can take it as `= ANY`.
       AND (:category_id::bigint IS NULL AND :category_slug::text IS NULL
            OR p.category_id = ANY (ARRAY(SELECT id FROM chosen_categories)))
       AND (:min_price::numeric IS NULL OR p.price >= :min_price::numeric)
       AND (:max_price::numeric IS NULL OR p.price <= :max_price::numeric)
       -- Spelled as the predicates of the in-stock / out-of-stock partial indexes.
       AND (:in_stock::boolean IS NULL
            OR :in_stock::boolean AND p.stock_quantity > 0
            OR NOT :in_stock::boolean AND p.stock_quantity = 0)
       -- Search-box syntax, read as plain words when PostgreSQL cannot parse it (0012).
       AND (:search::text IS NULL
            OR p.search_vector @@ product_search_query(:search::text))
)
SELECT totals.total, page.*, c.name AS category_name, c.slug AS category_slug
       -- Unfiltered, the total is the trigger-kept counter of 0008 instead of a count of every
       -- active product; with the request's values the planner keeps only one branch.
  FROM (SELECT CASE WHEN :category_id::bigint IS NULL AND :category_slug::text IS NULL
                     AND :min_price::numeric IS NULL AND :max_price::numeric IS NULL
                     AND :in_stock::boolean IS NULL AND :search::text IS NULL
                    THEN (SELECT active_products FROM catalog_counts)
                    ELSE (SELECT count(*) FROM matching)
               END AS total) AS totals
  LEFT JOIN LATERAL (
        SELECT m.id, m.name, m.slug, m.description, m.price, m.currency, m.stock_quantity,
               m.sku, m.image_url, m.category_id, m.rating_count, m.rating_average,
               m.created_at, m.updated_at,
               CASE WHEN :sort::text = 'relevance'
                    THEN ts_rank(m.search_vector, product_search_query(:search::text))
               END AS by_rank,
               CASE WHEN :sort::text = 'price' THEN m.price END AS by_price,
               CASE WHEN :sort::text = '-price' THEN m.price END AS by_price_desc,
               CASE WHEN :sort::text = 'name' THEN lower(m.name) END AS by_name,
               CASE WHEN :sort::text = 'rating'
                    THEN CASE WHEN m.rating_count > 0
                              THEN m.rating_sum::numeric / m.rating_count END
               END AS by_rating,
               CASE WHEN :sort::text IN ('newest', 'relevance') THEN m.created_at END AS by_created,
               CASE WHEN :sort::text IN ('price', 'name', 'rating') THEN m.id END AS by_id,
               CASE WHEN :sort::text IN ('newest', 'relevance', '-price') THEN m.id END AS by_id_desc
          FROM matching m
         ORDER BY by_rank DESC, by_price, by_price_desc DESC, by_name,
                  by_rating DESC NULLS LAST, by_created DESC, by_id, by_id_desc DESC
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
  -- Joined to the page only: a search ranks thousands of rows, and names 20 categories.
  LEFT JOIN categories c ON c.id = page.category_id
 ORDER BY page.by_rank DESC, page.by_price, page.by_price_desc DESC, page.by_name,
          page.by_rating DESC NULLS LAST, page.by_created DESC, page.by_id, page.by_id_desc DESC;

-- name: get_product_detail
-- An active product with its five newest reviews: one row per review, or one row with
-- NULL review columns when it has none; no row at all when there is no such active product.
SELECT p.id, p.name, p.slug, p.description, p.price, p.currency, p.stock_quantity,
       p.sku, p.image_url, p.category_id, c.name AS category_name, c.slug AS category_slug,
       p.rating_count, p.rating_average, p.created_at, p.updated_at,
       -- Each review as sql/reviews.sql reads one.
       r.id AS review_id, r.product_id AS review_product_id, r."user" AS review_user,
       r.rating AS review_rating, r.title AS review_title, r.comment AS review_comment,
       r.verified_purchase AS review_verified_purchase, r.created_at AS review_created_at
  FROM products p
  LEFT JOIN categories c ON c.id = p.category_id
  LEFT JOIN LATERAL (
        SELECT rv.id, rv.product_id,
               json_build_object('id', rv.user_id, 'full_name', u.full_name) AS "user",
               rv.rating, rv.title, rv.comment, rv.verified_purchase, rv.created_at
          FROM reviews rv
          JOIN users u ON u.id = rv.user_id
         WHERE rv.product_id = p.id
         ORDER BY rv.created_at DESC, rv.id DESC
         LIMIT 5
  ) AS r ON true
 WHERE p.id = :id AND p.is_active
 ORDER BY r.created_at DESC, r.id DESC;

-- name: free_product_slug$
-- The base slug when no product (deleted ones included) has it, else the first free
-- "<base>-<n>"; NULL only when a thousand products share the base.
SELECT candidates.slug
  FROM (SELECT :base::text AS slug, 1 AS n
        UNION ALL
        SELECT :base::text || '-' || n, n FROM generate_series(2, 1000) AS n) AS candidates
 WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.slug = candidates.slug)
 ORDER BY candidates.n
 LIMIT 1;

-- name: insert_product^
-- A product with its one default variant (the Release 1 body), in one statement: the
-- variant's SKU answers for a taken SKU (product_variants_sku_key), products_category_id_fkey
-- for an unknown category. The summary columns the variants' trigger keeps are written here
-- with the values it will compute, so the answer needs no second read.
WITH inserted AS (
    INSERT INTO products (name, slug, description, price, price_max, currency, stock_quantity,
                          sku, image_url, category_id, variant_count)
    VALUES (:name, :slug, :description, :price, :price, :currency, :stock_quantity, :sku,
            :image_url, :category_id, 1)
    RETURNING *
), variant AS (
    INSERT INTO product_variants (product_id, sku, title, price, stock_quantity)
    SELECT id, :sku, 'Default', :price, :stock_quantity FROM inserted
), image AS (
    INSERT INTO product_images (product_id, url, position)
    SELECT id, image_url, 0 FROM inserted WHERE image_url IS NOT NULL
)
SELECT p.id, p.name, p.slug, p.description, p.price, p.currency, p.stock_quantity,
       p.sku, p.image_url, p.category_id, c.name AS category_name, c.slug AS category_slug,
       p.rating_count, p.rating_average, p.created_at, p.updated_at
  FROM inserted p
  LEFT JOIN categories c ON c.id = p.category_id;

-- name: update_product^
-- A partial update of an active product; price, SKU and stock are its variants' (changed
-- before this, so the product row read here carries their new summary). NOT NULL columns keep
-- their value when given NULL; the nullable ones (category, image) change only when their
-- set_* flag is true, so a client can clear them with an explicit null. The slug stays: links
-- to the product survive a rename.
WITH updated AS (
    UPDATE products
       SET name = coalesce(:name::text, name),
           description = coalesce(:description::text, description),
           category_id = CASE WHEN :set_category_id::boolean THEN :category_id::bigint
                              ELSE category_id END,
           image_url = CASE WHEN :set_image_url::boolean THEN :image_url::text
                            ELSE image_url END,
           updated_at = now()
     WHERE id = :id AND is_active
    RETURNING *
)
SELECT p.id, p.name, p.slug, p.description, p.price, p.currency, p.stock_quantity,
       p.sku, p.image_url, p.category_id, c.name AS category_name, c.slug AS category_slug,
       p.rating_count, p.rating_average, p.created_at, p.updated_at
  FROM updated p
  LEFT JOIN categories c ON c.id = p.category_id;

-- name: soft_delete_product$
-- The row stays for the orders that point at it; every list and lookup skips it.
UPDATE products
   SET is_active = false, deleted_at = now(), updated_at = now()
 WHERE id = :id AND is_active
RETURNING id;

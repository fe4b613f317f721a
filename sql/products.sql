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
       -- `?option=`: a value of each option named, through the GIN index on option_values
       -- (0018): one array of containers per name, {"Size": ["M"]} or {"Size": ["L"]}, which a
       -- bitmap index scan takes as `@> ANY` (one index search per value, ORed; two names
       -- are a BitmapAnd); product_fits_options (0024) is those tests, inlined when planned.
       -- What option_values says is exact for one name; with two or more, one active variant
       -- must have them all, so the variants of what the index kept are read too.
       -- Sql/facets.sql spells the same tests out.
       AND (:option_1::jsonb[] IS NULL
            OR product_fits_options(p.option_values, :option_1::jsonb[], :option_2::jsonb[],
                                    :option_3::jsonb[]))
       AND (:option_variants::jsonb IS NULL
            OR EXISTS (SELECT 1
                         FROM product_variants v
                        WHERE v.product_id = p.id AND v.is_active
                          AND NOT EXISTS (SELECT 1
                                            FROM jsonb_each(:option_variants::jsonb) AS f (name, vals)
                                           WHERE (f.vals ? (v.options ->> f.name)) IS NOT TRUE)))
),
-- Each match with the sort keys of list_products' ORDER BY: only :sort's survive planning.
keyed AS NOT MATERIALIZED (
    SELECT m.id, m.name, m.slug, m.description, m.price, m.price_max, m.currency,
           m.stock_quantity, m.sku, m.image_url, m.images, m.options, m.variant_count,
           m.category_id, m.rating_count, m.rating_average, m.created_at, m.updated_at,
           m.tax_class,
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
),
-- What relevance ranks (see the page below), found once for the page and the count; never
-- run for another sort, whose every reference to it is folded away. Only the sort keys: the
-- page's 20 rows are read again by id, rather than 10,001 whole rows kept (past work_mem,
-- in a temporary file).
candidates AS MATERIALIZED (
    SELECT k.id, k.by_rank, k.by_created
      FROM keyed k
     WHERE :sort::text = 'relevance'
     LIMIT 10001
)
SELECT totals.total, page.*, c.name AS category_name, c.slug AS category_slug
       -- Unfiltered, the total is the trigger-kept counter of 0008 instead of a count of every
       -- active product; with the request's values the planner keeps only one branch.
       -- With an option filter the count is two: the products whose option values fit the
       -- index products_active_option_sets_idx (0020), which the planner may read instead of
       -- visiting each match's row (20 ms instead of 52 ms for `Size:M`, 23,000 matches on
       -- 100,000 products; it keeps the GIN index for narrower filters), and the few others.
       -- Spelled so that the count refers to `matching` twice, not three times: planning an
       -- unfiltered page took 0.1 ms longer with a branch of its own for "no option filter"
       -- (the planner copies `matching` into every reference, then folds). The second part is
       -- in a CASE, so that without an option filter it is folded away unplanned: 0.05-0.07
       -- ms less to plan a category or a search (0.1 ms when both are read).
  FROM (SELECT CASE WHEN :category_id::bigint IS NULL AND :category_slug::text IS NULL
                     AND :min_price::numeric IS NULL AND :max_price::numeric IS NULL
                     AND :in_stock::boolean IS NULL AND :search::text IS NULL
                     AND :option_1::jsonb[] IS NULL
                    THEN (SELECT active_products FROM catalog_counts)
                    -- Capped at TOTAL_CAP + 1 (shop_api/domain/limits.py): each count stops
                    -- at its 10,001st match, so a filter matching most of a million products
                    -- (a top-level category, a price range) counts what one matching 10,001
                    -- does. The sum may reach 20,002; page_body caps it. Relevance counts
                    -- the candidates it ranks, which are the same first 10,001 matches.
                    WHEN :sort::text = 'relevance' THEN (SELECT count(*) FROM candidates)
                    ELSE (SELECT count(*)
                            FROM (SELECT
                                    FROM matching m
                                   WHERE :option_1::jsonb[] IS NULL
                                      OR m.option_values <> '{}'
                                         AND length(m.option_values::text) <= 1000
                                   LIMIT 10001) AS capped)
                         + CASE WHEN :option_1::jsonb[] IS NOT NULL
                                THEN (SELECT count(*)
                                        FROM (SELECT
                                                FROM matching m
                                               WHERE length(m.option_values::text) > 1000
                                               LIMIT 10001) AS capped)
                                ELSE 0
                           END
               END AS total) AS totals
  -- Relevance ranks a bounded candidate set: the first TOTAL_CAP + 1 matches the GIN index
  -- finds (a bitmap heap scan in table order, stopped by the LIMIT), not every match. A broad
  -- word matches 67,000 of a million products: ranking them all read and ranked every match
  -- (p99 1.7 s); this reads and ranks 10,001 at most, the work of a search on 100,000
  -- products, and every page a client may ask for (page × per_page ≤ 10,000) lies within
  -- them. The trade-off: past 10,001 matches the best-ranked product may be outside the set,
  -- which is then the matches in table order (roughly the oldest first); a search narrow
  -- enough to count exactly (total_exact) ranks all its matches.
  -- Every other sort reads `keyed` in the order of its index and stops at the page. Each
  -- sort is a branch with its own ORDER BY and LIMIT: the branch the request's :sort rules
  -- out has a constant-false WHERE and is never run, and the other keeps its index order
  -- (one ORDER BY over a UNION ALL of both lost it: a WHERE keeps a branch from being
  -- pulled up, and a plain page sorted every product, 530 ms on a million).
  LEFT JOIN LATERAL (
        (SELECT *
           FROM keyed
          WHERE :sort::text <> 'relevance'
          ORDER BY by_price, by_price_desc DESC, by_name, by_rating DESC NULLS LAST,
                   by_created DESC, by_id, by_id_desc DESC
          LIMIT :limit::integer OFFSET :offset::bigint)
        UNION ALL
        (SELECT k.*
           FROM (SELECT c.id
                   FROM candidates c
                  WHERE :sort::text = 'relevance'
                  ORDER BY c.by_rank DESC, c.by_created DESC, c.id DESC
                  LIMIT :limit::integer OFFSET :offset::bigint) AS ranked
           JOIN keyed k ON k.id = ranked.id)
  ) AS page ON true
  -- Joined to the page only: a search ranks up to 10,001 rows, and names 20 categories.
  LEFT JOIN categories c ON c.id = page.category_id
 ORDER BY page.by_rank DESC, page.by_price, page.by_price_desc DESC, page.by_name,
          page.by_rating DESC NULLS LAST, page.by_created DESC, page.by_id, page.by_id_desc DESC;

-- name: get_product_detail
-- An active product with its images, its variants on sale and its five newest reviews: one
-- row per review, or one row with NULL review columns when it has none; no row at all when
-- there is no such active product. The variants are built once, for the product row, and
-- repeated on its (up to five) review rows.
SELECT p.id, p.name, p.slug, p.description, p.price, p.price_max, p.currency,
       p.stock_quantity, p.sku, p.image_url, p.images, p.options, p.variant_count,
       p.category_id, c.name AS category_name, c.slug AS category_slug, p.rating_count,
       p.rating_average, p.created_at, p.updated_at, p.tax_class, pv.variants,
       -- Each review as sql/reviews.sql reads one.
       r.id AS review_id, r.product_id AS review_product_id, r."user" AS review_user,
       r.rating AS review_rating, r.title AS review_title, r.comment AS review_comment,
       r.verified_purchase AS review_verified_purchase, r.created_at AS review_created_at
  FROM products p
  LEFT JOIN categories c ON c.id = p.category_id
  -- Each variant as sql/variants.sql reads one (money as text, like every JSON answer).
  LEFT JOIN LATERAL (
        SELECT coalesce(json_agg(json_build_object(
                   'id', v.id, 'product_id', v.product_id, 'sku', v.sku, 'title', v.title,
                   'options', v.options, 'price', v.price::text,
                   'compare_at_price', v.compare_at_price::text, 'currency', p.currency,
                   'stock_quantity', v.stock_quantity, 'weight_grams', v.weight_grams,
                   'image_url', v.image_url, 'position', v.position, 'is_active', v.is_active)
                 ORDER BY v.position, v.id), '[]') AS variants
          FROM product_variants v
         WHERE v.product_id = p.id AND v.is_active
  ) AS pv ON true
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

-- name: insert_product$
-- A product with its variants and images, in one statement, so that a refused variant leaves
-- nothing behind; its id. `variants` and `images` are JSON arrays of the columns below. A
-- taken SKU is product_variants_sku_key, two variants with the same values
-- product_variants_options_key, an unknown category products_category_id_fkey, a taken slug
-- products_slug_key (the caller tries the next). The variants' trigger (0018) sets the
-- product's price range, stock, SKU and option values when the statement ends; `price` is
-- NOT NULL, so it starts as the lowest variant price, which the trigger keeps.
WITH product AS (
    INSERT INTO products (name, slug, description, price, currency, category_id, options,
                          image_url, tax_class)
    VALUES (:name, :slug, :description,
            (SELECT min(v.price) FROM jsonb_to_recordset(:variants::jsonb) AS v (price numeric)),
            :currency, :category_id, :options::jsonb,
            -- The first image's URL, as every statement that writes images keeps it.
            :images::jsonb -> 0 ->> 'url', :tax_class)
    RETURNING id
), variants AS (
    INSERT INTO product_variants (product_id, sku, options, title, price, compare_at_price,
                                  stock_quantity, weight_grams, image_url, position)
    SELECT product.id, v.sku, v.options, v.title, v.price, v.compare_at_price,
           v.stock_quantity, v.weight_grams, v.image_url, v.position
      FROM product,
           jsonb_to_recordset(:variants::jsonb)
               AS v (sku text, options jsonb, title text, price numeric,
                     compare_at_price numeric, stock_quantity integer, weight_grams integer,
                     image_url text, position integer)
), images AS (
    INSERT INTO product_images (product_id, url, alt, position)
    SELECT product.id, i.url, i.alt, i.position
      FROM product,
           jsonb_to_recordset(:images::jsonb) AS i (url text, alt text, position integer)
)
SELECT id FROM product;

-- name: update_product$
-- A partial update of an active product's own fields; its id, or NULL when there is no such
-- product. Price, SKU and stock are its variants' (changed before this: variants are locked
-- before their product), the image URL its first image's. NOT NULL columns keep their value
-- when given NULL; the category changes only when set_category_id is true, so a client can
-- clear it with an explicit null. The slug stays: links to the product survive a rename.
UPDATE products
   SET name = coalesce(:name::text, name),
       description = coalesce(:description::text, description),
       category_id = CASE WHEN :set_category_id::boolean THEN :category_id::bigint
                          ELSE category_id END,
       tax_class = coalesce(:tax_class::text, tax_class),
       updated_at = now()
 WHERE id = :id AND is_active
RETURNING id;

-- name: lock_product$
-- An active product's row, locked until the change commits (no variant of it may change after
-- this in the same transaction: variants are locked before their product).
SELECT id FROM products WHERE id = :product_id AND is_active FOR NO KEY UPDATE;

-- name: product_images
SELECT url, alt FROM product_images WHERE product_id = :product_id ORDER BY position;

-- name: delete_product_images!
DELETE FROM product_images WHERE product_id = :product_id;

-- name: insert_product_images!
-- A product's images (after delete_product_images), and its image_url kept as the first one's
-- in the same statement.
WITH added AS (
    INSERT INTO product_images (product_id, url, alt, position)
    SELECT :product_id, i.url, i.alt, i.position
      FROM jsonb_to_recordset(:images::jsonb) AS i (url text, alt text, position integer)
)
UPDATE products
   SET image_url = :images::jsonb -> 0 ->> 'url', updated_at = now()
 WHERE id = :product_id;

-- name: soft_delete_product$
-- The row stays for the orders that point at it; every list and lookup skips it.
UPDATE products
   SET is_active = false, deleted_at = now(), updated_at = now()
 WHERE id = :id AND is_active
RETURNING id;

-- name: plan_facets_with_their_values!
-- For the rest of the transaction (SET LOCAL: nothing outlives it on the pooled connection):
-- plan product_facets anew on every execution. It only works planned with
-- the request's values (custom plans, as list_products); PostgreSQL may switch a prepared
-- statement to one generic plan after five executions when that plan's estimate looks no
-- worse, and for this statement it did, at 1.5-2.5 s a request instead of 10-100 ms (the
-- jsonb functions are estimated at 100 rows a call, which inflates the custom estimates).
-- And no parallel workers: a request already runs as two statements at once, and workers
-- of its own then compete with them (and with other requests) for the same CPUs; measured
-- with wrk on 2 CPUs, broad facets at 16 connections: 17 requests/s serial, 12-18 parallel.
SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL max_parallel_workers_per_gather = 0;

-- name: product_facets^
-- The counts beside a product list (`GET /api/products/facets`), one group of facets per
-- execution (:facet_group, see the last SELECT): every facet counts the active products
-- that match every filter but its own (categories ignore `category`, the price histogram
-- ignores `min_price`/`max_price`, availability ignores `in_stock`, an option ignores only
-- its own values).
--
-- The filters are those of list_products, as nullable parameters folded away by custom
-- plans (see list_products); each facet is a subquery of its own over the `searched` or
-- `matching` rows, so each gets the plan of the filters it keeps, its own index, and reads
-- only the columns it counts. One pass computing a flag per filter for every facet at once
-- was measured slower on 100,000 products: every row then goes through every aggregate,
-- and the category and price facets of a filtered request count the whole catalog anyway.
-- Where a search or an option filter narrows the products, they are found once
-- (MATERIALIZED) and every facet counts from that.
WITH RECURSIVE chosen_categories (id) AS (
        SELECT c.id
          FROM categories c
         WHERE c.id = :category_id::bigint OR c.slug = :category_slug::text
    UNION
        SELECT child.id
          FROM categories child
          JOIN chosen_categories parent ON child.parent_id = parent.id
),
-- Each category with itself and every ancestor: a parent counts its sub-categories'
-- products. UNION, not UNION ALL, so even a cycle in parent_id would end.
category_ancestors (id, ancestor_id) AS (
        SELECT c.id, c.id FROM categories c
    UNION
        SELECT a.id, c.parent_id
          FROM category_ancestors a
          JOIN categories c ON c.id = a.ancestor_id
         WHERE c.parent_id IS NOT NULL
),
-- Every active product, with whether each filter that some facet leaves out keeps it. The
-- flags are expressions, so a facet's WHERE on them is a WHERE on products, which the
-- planner matches to indexes like any other.
flagged AS NOT MATERIALIZED (
    SELECT p.id, p.category_id, p.price, p.stock_quantity, p.option_values, p.search_vector,
           (:category_id::bigint IS NULL AND :category_slug::text IS NULL
            OR p.category_id = ANY (ARRAY(SELECT id FROM chosen_categories))) AS in_category,
           ((:min_price::numeric IS NULL OR p.price >= :min_price::numeric)
            AND (:max_price::numeric IS NULL OR p.price <= :max_price::numeric)) AS in_price,
           (:in_stock::boolean IS NULL
            OR :in_stock::boolean AND p.stock_quantity > 0
            OR NOT :in_stock::boolean AND p.stock_quantity = 0) AS in_availability
      FROM products p
     WHERE p.is_active
),
-- A search's matches, found once (search-box syntax as in list_products) rather than by
-- each facet: ranking aside, the GIN lookup and the visit of each match are its cost.
found AS MATERIALIZED (
    SELECT f.id, f.category_id, f.price, f.stock_quantity, f.option_values, f.in_category,
           f.in_price, f.in_availability
      FROM flagged f
     WHERE :search::text IS NOT NULL
       AND f.search_vector @@ product_search_query(:search::text)
),
-- The products the search keeps: all of them without one. Each pair of branches here and
-- below keeps one branch, the other's WHERE being false with the request's values.
searched AS NOT MATERIALIZED (
        SELECT f.id, f.category_id, f.price, f.stock_quantity, f.option_values, f.in_category,
               f.in_price, f.in_availability
          FROM flagged f
         WHERE :search::text IS NULL
    UNION ALL
        SELECT * FROM found WHERE :search::text IS NOT NULL
),
-- With an option filter: the products with a value of some option filtered, once (for one
-- option name, the filter itself). As in list_products' count, in two parts, so that the
-- planner may read the products whose values fit products_active_option_sets_idx (0020)
-- from it, or else take the GIN index on option_values (0018).
option_candidates AS MATERIALIZED (
        SELECT s.*
          FROM searched s
         WHERE :option_1::jsonb[] IS NOT NULL
           AND s.option_values <> '{}' AND length(s.option_values::text) <= 1000
           AND s.option_values @> ANY (array_cat(array_cat(:option_1::jsonb[],
                                                           :option_2::jsonb[]),
                                                 :option_3::jsonb[]))
    UNION ALL
        SELECT s.*
          FROM searched s
         WHERE :option_1::jsonb[] IS NOT NULL
           AND length(s.option_values::text) > 1000
           AND s.option_values @> ANY (array_cat(array_cat(:option_1::jsonb[],
                                                           :option_2::jsonb[]),
                                                 :option_3::jsonb[]))
),
-- The products the option filter keeps, spelled as in list_products (its comment says how):
-- the candidates themselves for one option name.
option_matches AS MATERIALIZED (
    SELECT c.*
      FROM option_candidates c
     WHERE :option_variants::jsonb IS NULL
        OR c.option_values @> ANY (:option_1::jsonb[])
           AND c.option_values @> ANY (:option_2::jsonb[])
           AND (:option_3::jsonb[] IS NULL OR c.option_values @> ANY (:option_3::jsonb[]))
           AND EXISTS (SELECT 1
                         FROM product_variants v
                        WHERE v.product_id = c.id AND v.is_active
                          AND NOT EXISTS (SELECT 1
                                            FROM jsonb_each(:option_variants::jsonb) AS f (name, vals)
                                           WHERE (f.vals ? (v.options ->> f.name)) IS NOT TRUE))
),
-- The products the search and the option filter keep.
matching AS NOT MATERIALIZED (
        SELECT * FROM searched WHERE :option_1::jsonb[] IS NULL
    UNION ALL
        SELECT * FROM option_matches WHERE :option_1::jsonb[] IS NOT NULL
),
-- Availability, every filter but in_stock. Every count of this statement is capped as a
-- list's total is (TOTAL_CAP + 1, shop_api/domain/limits.py; the domain caps what it shows
-- at TOTAL_CAP): it stops at its 10,001st product, so a count costs the same at any size of
-- catalog. Unfiltered, the in-stock count is the catalog counter (0008) less the sold-out
-- products, which their partial index (0004) counts, while that count is exact.
availability AS (
    SELECT CASE WHEN :category_id::bigint IS NULL AND :category_slug::text IS NULL
                 AND :min_price::numeric IS NULL AND :max_price::numeric IS NULL
                 AND :search::text IS NULL AND :option_1::jsonb[] IS NULL
                 AND sold_out.n <= 10000
                THEN (SELECT active_products FROM catalog_counts) - sold_out.n
                ELSE (SELECT count(*)
                        FROM (SELECT
                                FROM matching m
                               WHERE m.in_category AND m.in_price AND m.stock_quantity > 0
                               LIMIT 10001) AS capped)
           END AS in_stock,
           sold_out.n AS out_of_stock
      FROM (SELECT count(*) AS n
              FROM (SELECT
                      FROM matching m
                     WHERE m.in_category AND m.in_price AND m.stock_quantity = 0
                     LIMIT 10001) AS capped) AS sold_out
),
-- Products per category, every filter but category. Without search and option filters,
-- one capped count per category over its own and its descendants' products, read from
-- products_active_category_price_idx (0020): at most 10,001 index entries a category, where
-- counting each product of a million and summing up the tree took 620 ms. With a search or
-- an option filter the rows are the ones the GIN index found: counted per category, then
-- summed up the tree (each count capped by the domain).
category_counts AS (
        SELECT c.id,
               (SELECT count(*)
                  FROM (SELECT
                          FROM matching m
                         WHERE m.category_id = ANY (ARRAY(SELECT a.id
                                                            FROM category_ancestors a
                                                           WHERE a.ancestor_id = c.id))
                           AND m.in_price AND m.in_availability
                         LIMIT 10001) AS capped) AS n
          FROM categories c
         WHERE :search::text IS NULL AND :option_1::jsonb[] IS NULL
    UNION ALL
        SELECT a.ancestor_id, sum(counted.n)
          FROM (SELECT m.category_id, count(*) AS n
                  FROM matching m
                 WHERE NOT (:search::text IS NULL AND :option_1::jsonb[] IS NULL)
                   AND m.in_price AND m.in_availability
                 GROUP BY m.category_id) AS counted
          JOIN category_ancestors a ON a.id = counted.category_id
         GROUP BY a.ancestor_id
),
-- Products per cell of :price_grid (ascending boundaries from 0; cell i is
-- [grid[i], grid[i+1])), every filter but the price range; the domain makes the bands.
-- Without search and option filters, one index-only range count per cell (capped: at most
-- 10,001 entries a cell, so a band of a million products splits the capped counts), over
-- products_active_price_idx, or products_active_price_facets_idx (0020) where stock is
-- filtered, or products_active_category_price_idx (0020) for a category: that reads each
-- index entry once and computes nothing per row (measured 14 ms on 100,000 products,
-- against 55 ms for width_bucket() on every row). With a search or an option filter the
-- rows come from a GIN index instead, and width_bucket() sorts what it found.
price_cells AS MATERIALIZED (  -- once: the empty cells are filtered out below
        SELECT g.cell,
               (SELECT count(*)
                  FROM (SELECT
                          FROM matching m
                         WHERE m.in_category AND m.in_availability
                           AND m.price >= g.low AND m.price < g.high
                         LIMIT 10001) AS capped) AS n
          FROM (SELECT grid.low, lead(grid.low) OVER (ORDER BY grid.cell) AS high, grid.cell
                  FROM unnest(:price_grid::numeric[]) WITH ORDINALITY AS grid (low, cell)) AS g
         WHERE :search::text IS NULL AND :option_1::jsonb[] IS NULL AND g.high IS NOT NULL
    UNION ALL
        SELECT width_bucket(m.price, :price_grid::numeric[]), count(*)
          FROM matching m
         WHERE NOT (:search::text IS NULL AND :option_1::jsonb[] IS NULL)
           AND m.in_category AND m.in_availability
         GROUP BY 1
),
-- Option values, every filter but the option's own values, as (name, value, products).
-- Where no other option is filtered (no option filter, or the filtered option itself when
-- it is the only one), products.option_values is exact: products with the same values are
-- counted together, then each group's values once. The groups come in order from
-- products_active_option_sets_idx (0020), an index-only scan with no hashing of jsonb:
-- 24 ms on 100,000 products (33,000 with options), against 67 ms hashing them from the
-- heap. A btree entry has a size limit, so the few products whose values are too long for
-- it are left out of that index and counted from their own (both branches say
-- `length(option_values::text)` exactly as the indexes do, so the planner picks them).
product_level_options AS (
    SELECT entry.key AS name, value.value, sum(groups.n) AS n
      FROM (SELECT s.option_values, count(*) AS n
              FROM searched s
             WHERE :option_variants::jsonb IS NULL
               AND s.option_values <> '{}' AND length(s.option_values::text) <= 1000
               AND s.in_category AND s.in_price AND s.in_availability
             GROUP BY s.option_values
            UNION ALL
            SELECT s.option_values, 1
              FROM searched s
             WHERE :option_variants::jsonb IS NULL
               AND length(s.option_values::text) > 1000
               AND s.in_category AND s.in_price AND s.in_availability) AS groups
     CROSS JOIN LATERAL jsonb_each(groups.option_values) AS entry
     CROSS JOIN LATERAL jsonb_array_elements_text(entry.value) AS value
     WHERE :option_filter::jsonb IS NULL OR :option_filter::jsonb ? entry.key
     GROUP BY entry.key, value.value
),
-- Otherwise (an option counted under the filter of other options) only a variant can tell:
-- a product counts for Colour: Red when one of its active variants is Red and has a chosen
-- value of every other option filtered. The products are the option candidates; each of
-- their variants says how many of the options filtered it matches, and only those missing
-- at most one (none, when one option is filtered: that one is counted above) are unfolded
-- into their values.
variant_level_options AS (
    SELECT value.key AS name, value.value, count(DISTINCT v.product_id) AS n
      FROM option_candidates c
      JOIN product_variants v ON v.product_id = c.id AND v.is_active
     CROSS JOIN LATERAL (SELECT count(*) AS n
                           FROM jsonb_each(:option_filter::jsonb) AS f (name, vals)
                          WHERE f.vals ? (v.options ->> f.name)) AS matched
     CROSS JOIN LATERAL jsonb_each_text(v.options) AS value
     WHERE c.in_category AND c.in_price AND c.in_availability
       AND matched.n >= greatest((SELECT count(*) FROM jsonb_object_keys(:option_filter::jsonb)) - 1, 1)
       -- The value's own option aside, the variant matches every option filtered.
       AND matched.n - CASE WHEN (:option_filter::jsonb -> value.key) ? value.value THEN 1 ELSE 0 END
           = (SELECT count(*) FROM jsonb_object_keys(:option_filter::jsonb))
             - CASE WHEN :option_filter::jsonb ? value.key THEN 1 ELSE 0 END
       -- The one option filtered is counted above.
       AND NOT (:option_variants::jsonb IS NULL AND :option_filter::jsonb ? value.key)
     GROUP BY value.key, value.value
)
-- Two groups, each asked for on a connection of its own and run at the same time (the
-- domain's product_facets): :facet_group 'counts' answers the total, availability,
-- categories and price cells, 'options' the option values; the other group's subqueries
-- fold away with the request's values, unplanned and unrun.
SELECT a.in_stock,
       a.out_of_stock,
       -- The total is the availability facet under the in_stock filter too.
       CASE WHEN :in_stock::boolean IS NULL THEN a.in_stock + a.out_of_stock
            WHEN :in_stock::boolean THEN a.in_stock
            ELSE a.out_of_stock
       END AS total,
       -- In the order of GET /api/products/categories: parents first.
       CASE WHEN :facet_group::text = 'counts' THEN
           (SELECT coalesce(json_agg(json_build_object('id', c.id, 'name', c.name,
                                                       'slug', c.slug, 'count', cc.n)
                                     ORDER BY c.parent_id NULLS FIRST, c.name, c.id), '[]')
              FROM category_counts cc
              JOIN categories c ON c.id = cc.id
             WHERE cc.n > 0)
       END AS categories,
       CASE WHEN :facet_group::text = 'counts' THEN
           (SELECT coalesce(json_agg(json_build_array(pc.cell, pc.n) ORDER BY pc.cell), '[]')
              FROM price_cells pc
             WHERE pc.n > 0)
       END AS price_cells,
       CASE WHEN :facet_group::text = 'options' THEN
           (SELECT coalesce(json_agg(json_build_array(o.name, o.value, o.n)), '[]')
              FROM (SELECT * FROM product_level_options
                    UNION ALL
                    SELECT * FROM variant_level_options) AS o)
       END AS options
  FROM (VALUES (true)) AS one (row)
  LEFT JOIN availability a ON :facet_group::text = 'counts';

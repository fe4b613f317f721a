-- Tax rates by country, optional region and tax class (0022). A region is matched regardless
-- of case, and one rate per country, region and class (tax_rates_place_class_key) is all
-- there can be, a country-wide rate (NULL region) included.

-- name: tax_rates_page
-- A page of rates (of :country, or all), by country, the country-wide ones first, then by
-- region and class (standard, reduced, zero); shaped as list_products (a page past the end is
-- one row: the total, NULL id).
WITH matching AS NOT MATERIALIZED (
    SELECT id, country, region, tax_class, rate, name,
           array_position(ARRAY['standard', 'reduced', 'zero'], tax_class) AS class_order
      FROM tax_rates
     WHERE :country::text IS NULL OR country = :country::text
)
SELECT totals.total, page.*
  -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
  FROM (SELECT count(*) AS total FROM (SELECT FROM matching LIMIT 10001) AS capped) AS totals
  LEFT JOIN LATERAL (
        SELECT *
          FROM matching
         ORDER BY country, lower(region) NULLS FIRST, class_order, id
         LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 ORDER BY page.country, lower(page.region) NULLS FIRST, page.class_order, page.id;

-- name: insert_tax_rate^
-- A taken country, region and class is tax_rates_place_class_key.
INSERT INTO tax_rates (country, region, tax_class, rate, name)
VALUES (:country, :region, :tax_class, :rate, :name)
RETURNING id, country, region, tax_class, rate, name;

-- name: update_tax_rate^
-- A partial update; no row when there is no such rate. NOT NULL columns keep their value when
-- given NULL; the region changes only when set_region is true, so a client can make a rate
-- country-wide with an explicit null.
UPDATE tax_rates
   SET country = coalesce(:country::text, country),
       region = CASE WHEN :set_region::boolean THEN :region::text ELSE region END,
       tax_class = coalesce(:tax_class::text, tax_class),
       rate = coalesce(:rate::numeric, rate),
       name = coalesce(:name::text, name),
       updated_at = now()
 WHERE id = :rate_id
RETURNING id, country, region, tax_class, rate, name;

-- name: delete_tax_rate$
-- Orders keep the amounts they were charged, never a reference to a rate: a plain delete.
DELETE FROM tax_rates WHERE id = :rate_id RETURNING id;

-- What a destination is charged by (quotes.charges_for), read before checkout takes its locks.

-- name: destination_charges
-- In one round trip, one kind of row per `part`:
-- - 'method': the active methods the destination can choose from, cheapest first: those of the
--   zone listing :country, else those of the rest-of-the-world zone ('*'), else none. The zone
--   listing the country wins even when it offers no active method;
-- - 'no_zones': one row, when no zone is in use at all (shipping is then free);
-- - 'rate': the rate of each tax class the destination has one for, that of its region
--   (regardless of case) before the country-wide one, through the country prefix of
--   tax_rates_place_class_key. A region is one however it is written: :region comes without
--   its country's prefix (tax.region_of makes "US-CA" "CA"), and a rate kept as "US-CA" or as
--   "CA" is the same region;
-- - 'automatic_promotions': one row, when an automatic promotion is on now (active, in its
--   window: promotions_for_cart's first condition), so a checkout without a coupon reads the
--   promotions only when one may apply.
SELECT 'method' AS part, m.id, m.name, m.price, m.free_over, m.max_weight_grams,
       m.min_delivery_days, m.max_delivery_days, NULL::text AS tax_class, NULL::numeric AS rate
  FROM shipping_methods m
 WHERE m.zone_id = (SELECT c.zone_id
                      FROM shipping_zone_countries c
                     WHERE c.country IN (:country::text, '*')
                     ORDER BY c.country = '*'
                     LIMIT 1)
   AND m.is_active AND m.deleted_at IS NULL
UNION ALL
SELECT 'no_zones', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
 WHERE NOT EXISTS (SELECT 1 FROM shipping_zones WHERE deleted_at IS NULL)
UNION ALL
(SELECT DISTINCT ON (tax_class) 'rate', NULL, NULL, NULL, NULL, NULL, NULL, NULL, tax_class,
        rate
   FROM tax_rates
  WHERE country = :country::text
    AND (region IS NULL
         OR lower(region) IN (lower(:region::text),
                              lower(:country::text || '-' || :region::text)))
  ORDER BY tax_class, region IS NULL)
UNION ALL
SELECT 'automatic_promotions', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
 WHERE EXISTS (SELECT 1
                 FROM promotions p
                WHERE p.code IS NULL AND p.is_active
                  AND (p.starts_at IS NULL OR p.starts_at <= now())
                  AND (p.ends_at IS NULL OR p.ends_at > now()))
 ORDER BY part, price, id;

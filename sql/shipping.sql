-- Shipping zones and their methods (0022). Zones and methods are retired, never deleted
-- (deleted_at): orders keep pointing at the method they were shipped with. A method changes
-- while its zone's row is locked (FOR SHARE here, FOR UPDATE by a zone's change), so a method
-- is never added to a zone being retired.

-- name: shipping_zones
-- The zones in use (all, or the one of :zone_id), oldest first, each with its countries ('*'
-- first, then by code) and its methods not retired, cheapest first (money as text, like every
-- JSON answer).
SELECT z.id, z.name,
       ARRAY(SELECT c.country
               FROM shipping_zone_countries c
              WHERE c.zone_id = z.id
              ORDER BY c.country COLLATE "C") AS countries,
       (SELECT coalesce(json_agg(json_build_object(
                   'id', m.id, 'zone_id', m.zone_id, 'name', m.name, 'price', m.price::text,
                   'free_over', m.free_over::text, 'max_weight_grams', m.max_weight_grams,
                   'min_delivery_days', m.min_delivery_days,
                   'max_delivery_days', m.max_delivery_days, 'is_active', m.is_active)
                 ORDER BY m.price, m.id), '[]')
          FROM shipping_methods m
         WHERE m.zone_id = z.id AND m.deleted_at IS NULL) AS methods
  FROM shipping_zones z
 WHERE z.deleted_at IS NULL AND (:zone_id::bigint IS NULL OR z.id = :zone_id::bigint)
 ORDER BY z.id;

-- name: taken_zone_countries
-- Which of :countries zones other than :zone_id (NULL: any zone) list, with the zone's name.
SELECT c.country, z.name AS zone_name
  FROM shipping_zone_countries c
  JOIN shipping_zones z ON z.id = c.zone_id
 WHERE c.country = ANY (:countries::text[])
   AND (:zone_id::bigint IS NULL OR c.zone_id <> :zone_id::bigint)
 ORDER BY c.country COLLATE "C";

-- Countries are inserted in code order: two requests racing for several of the same countries
-- wait for one another on the first of them, never each on the other's (a deadlock).

-- name: insert_shipping_zone$
-- A zone and its countries in one statement, so a country another zone lists
-- (shipping_zone_countries_pkey) leaves nothing behind; its id.
WITH zone AS (
    INSERT INTO shipping_zones (name) VALUES (:name) RETURNING id
), countries AS (
    INSERT INTO shipping_zone_countries (country, zone_id)
    SELECT c.country, zone.id
      FROM zone, unnest(:countries::text[]) AS c (country)
     ORDER BY c.country COLLATE "C"
)
SELECT id FROM zone;

-- name: lock_shipping_zone$
-- A zone in use, locked until the change commits: its id, or NULL when there is none.
SELECT id FROM shipping_zones WHERE id = :zone_id AND deleted_at IS NULL FOR UPDATE;

-- name: rename_shipping_zone!
UPDATE shipping_zones
   SET name = coalesce(:name::text, name), updated_at = now()
 WHERE id = :zone_id;

-- name: clear_zone_countries!
DELETE FROM shipping_zone_countries WHERE zone_id = :zone_id;

-- name: add_zone_countries!
INSERT INTO shipping_zone_countries (country, zone_id)
SELECT c.country, :zone_id
  FROM unnest(:countries::text[]) AS c (country)
 ORDER BY c.country COLLATE "C";

-- name: retire_shipping_zone!
-- A locked zone leaves the answers: its countries are free for other zones at once, and its
-- methods are retired with it.
WITH zone AS (
    UPDATE shipping_zones SET deleted_at = now(), updated_at = now()
     WHERE id = :zone_id
    RETURNING id
), methods AS (
    UPDATE shipping_methods m
       SET deleted_at = now(), is_active = false, updated_at = now()
      FROM zone
     WHERE m.zone_id = zone.id AND m.deleted_at IS NULL
)
DELETE FROM shipping_zone_countries c USING zone WHERE c.zone_id = zone.id;

-- name: insert_shipping_method^
-- A method of a zone in use; no row when there is no such zone. Min above max days is
-- shipping_methods_delivery_days_check.
INSERT INTO shipping_methods (zone_id, name, price, free_over, max_weight_grams,
                              min_delivery_days, max_delivery_days, is_active)
SELECT z.id, :name, :price, :free_over, :max_weight_grams, :min_delivery_days,
       :max_delivery_days, :is_active
  FROM (SELECT id FROM shipping_zones
         WHERE id = :zone_id AND deleted_at IS NULL
           FOR SHARE) AS z
RETURNING id, zone_id, name, price, free_over, max_weight_grams, min_delivery_days,
          max_delivery_days, is_active;

-- name: update_shipping_method^
-- A partial update of a method not retired; no row when there is none. NOT NULL columns keep
-- their value when given NULL; free_over and max_weight_grams change only when their set_* flag
-- is true, so a client can clear them with an explicit null. Days are checked against each
-- other as they end up (shipping_methods_delivery_days_check), whichever of them was sent.
UPDATE shipping_methods
   SET name = coalesce(:name::text, name),
       price = coalesce(:price::numeric, price),
       free_over = CASE WHEN :set_free_over::boolean THEN :free_over::numeric
                        ELSE free_over END,
       max_weight_grams = CASE WHEN :set_max_weight_grams::boolean
                               THEN :max_weight_grams::integer ELSE max_weight_grams END,
       min_delivery_days = coalesce(:min_delivery_days::integer, min_delivery_days),
       max_delivery_days = coalesce(:max_delivery_days::integer, max_delivery_days),
       is_active = coalesce(:is_active::boolean, is_active),
       updated_at = now()
 WHERE id = :method_id AND deleted_at IS NULL
RETURNING id, zone_id, name, price, free_over, max_weight_grams, min_delivery_days,
          max_delivery_days, is_active;

-- name: retire_shipping_method$
-- The method leaves the answers and is never offered again; orders keep pointing at its row.
UPDATE shipping_methods
   SET deleted_at = now(), is_active = false, updated_at = now()
 WHERE id = :method_id AND deleted_at IS NULL
RETURNING id;

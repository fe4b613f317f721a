-- name: sole_variant^
-- What a Release 1 body naming a product (not a variant) stands for: the product's one active
-- variant. No row: no such active product; variant_id NULL: it has several (active_variants),
-- so the client must name one (422/409 `variant_required`, depending on the route).
SELECT p.id AS product_id,
       p.variant_count AS active_variants,
       CASE WHEN p.variant_count = 1
            THEN (SELECT v.id FROM product_variants v
                   WHERE v.product_id = p.id AND v.is_active
                   ORDER BY v.position, v.id
                   LIMIT 1)
       END AS variant_id
  FROM products p
 WHERE p.id = :product_id AND (p.is_active OR :include_deleted::boolean);

-- name: update_variant_price_sku!
-- The Release 1 product edit of a single-variant product's price or SKU; NULL price keeps it,
-- the SKU changes only when set_sku (so it can be cleared). A taken SKU is
-- product_variants_sku_key.
UPDATE product_variants
   SET price = coalesce(:price::numeric, price),
       sku = CASE WHEN :set_sku::boolean THEN :sku::text ELSE sku END,
       updated_at = now()
 WHERE id = :variant_id;

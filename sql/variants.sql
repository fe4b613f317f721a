-- A product's variants as the catalog's admin routes change them. Every change of a variant
-- row fires the variants' trigger (0018), which locks the product and recomputes its summary:
-- so a transaction here changes its variants first and the product row (options, updated_at)
-- only after, the lock order of checkout.

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

-- name: get_variant^
-- A variant on sale of an active product, as the variant routes answer it.
SELECT v.id, v.product_id, v.sku, v.title, v.options, v.price, v.compare_at_price, p.currency,
       v.stock_quantity, v.weight_grams, v.image_url, v.position, v.is_active
  FROM product_variants v
  JOIN products p ON p.id = v.product_id
 WHERE v.id = :variant_id AND v.product_id = :product_id AND v.is_active AND p.is_active;

-- name: product_options^
-- An active product's declared options and how many variants it has on sale. Read after a
-- variant change (whose trigger holds the product's lock), both are current and stay so until
-- the commit.
SELECT options, variant_count FROM products WHERE id = :product_id AND is_active;

-- name: set_product_options!
UPDATE products SET options = :options::jsonb, updated_at = now() WHERE id = :product_id;

-- name: insert_variant$
-- A new variant of an active product; its id, or NULL when there is no such product. Without a
-- position it goes after the last (product_variants_product_idx finds it). A taken SKU is
-- product_variants_sku_key, values another variant on sale has product_variants_options_key.
INSERT INTO product_variants (product_id, sku, options, title, price, compare_at_price,
                              stock_quantity, weight_grams, image_url, position)
SELECT p.id, :sku, :options::jsonb, :title, :price, :compare_at_price, :stock_quantity,
       :weight_grams, :image_url,
       coalesce(:position::integer,
                (SELECT max(v.position) + 1 FROM product_variants v WHERE v.product_id = p.id),
                0)
  FROM products p
 WHERE p.id = :product_id AND p.is_active
RETURNING id;

-- name: update_variant$
-- A partial update of a variant on sale of an active product; its id, or NULL when there is no
-- such variant. NOT NULL columns keep their value when given NULL; the nullable ones change
-- only when their set_* flag is true, so a client can clear them with an explicit null. Stock
-- is not here: it changes through the inventory ledger (domain/inventory.py).
UPDATE product_variants v
   SET options = coalesce(:options::jsonb, v.options),
       title = coalesce(:title::text, v.title),
       price = coalesce(:price::numeric, v.price),
       compare_at_price = CASE WHEN :set_compare_at_price::boolean
                               THEN :compare_at_price::numeric ELSE v.compare_at_price END,
       sku = CASE WHEN :set_sku::boolean THEN :sku::text ELSE v.sku END,
       weight_grams = CASE WHEN :set_weight_grams::boolean THEN :weight_grams::integer
                           ELSE v.weight_grams END,
       image_url = CASE WHEN :set_image_url::boolean THEN :image_url::text
                        ELSE v.image_url END,
       position = coalesce(:position::integer, v.position),
       updated_at = now()
  FROM products p
 WHERE v.id = :variant_id AND v.product_id = :product_id AND v.is_active
   AND p.id = v.product_id AND p.is_active
RETURNING v.id;

-- name: soft_delete_variant$
-- The row stays for the orders and the ledger that point at it, and its SKU stays taken; its
-- values may be given to a new variant (product_variants_options_key covers those on sale).
UPDATE product_variants v
   SET is_active = false, deleted_at = now(), updated_at = now()
  FROM products p
 WHERE v.id = :variant_id AND v.product_id = :product_id AND v.is_active
   AND p.id = v.product_id AND p.is_active
RETURNING v.id;

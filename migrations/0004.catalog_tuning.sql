-- Catalog rules and indexes found missing once the catalog had routes and 100,000 products.
-- depends: 0002.catalog

-- Siblings never share a name (case-insensitive); "Shoes" may still sit under both "Men" and
-- "Women", the second with the slug "women-shoes". Top-level categories count as siblings.
CREATE UNIQUE INDEX categories_parent_name_key ON categories (coalesce(parent_id, 0), lower(name));

-- `?in_stock=false`: EXPLAIN ANALYZE on 100,000 products showed the count of sold-out products
-- as a Seq Scan of products (30 ms): 0002 has a partial index for in-stock rows only. This one
-- holds the ~10% sold out, in "newest" order for their page.
CREATE INDEX products_active_sold_out_idx ON products (created_at DESC, id DESC)
    WHERE is_active AND stock_quantity = 0;

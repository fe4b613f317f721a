DROP FUNCTION product_fits_options(jsonb, jsonb[], jsonb[], jsonb[]);

DROP TRIGGER product_images_truncated ON product_images;
DROP TRIGGER product_images_deleted ON product_images;
DROP TRIGGER product_images_updated ON product_images;
DROP TRIGGER product_images_inserted ON product_images;
DROP FUNCTION product_images_changed();
DROP FUNCTION refresh_product_images(bigint[]);
ALTER TABLE products DROP COLUMN images;

DROP FUNCTION product_images_json(bigint);

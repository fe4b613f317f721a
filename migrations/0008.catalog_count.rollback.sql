DROP TRIGGER products_count_truncated ON products;
DROP TRIGGER products_count_deleted ON products;
DROP TRIGGER products_count_activity_changed ON products;
DROP TRIGGER products_count_inserted ON products;
DROP FUNCTION catalog_count_truncated();
DROP FUNCTION catalog_count_deleted();
DROP FUNCTION catalog_count_activity_changed();
DROP FUNCTION catalog_count_inserted();
DROP TABLE catalog_counts;

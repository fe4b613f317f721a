ALTER TABLE products DROP COLUMN tax_class;
DROP TABLE tax_rates;
DROP TABLE shipping_methods;
DROP TABLE shipping_zone_countries;
DROP TABLE shipping_zones;

ALTER TABLE products DROP COLUMN rating_average;

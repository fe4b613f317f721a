ALTER TABLE reviews DROP COLUMN verified_purchase;

-- Deleted accounts stay anonymised: what was erased cannot come back.
ALTER TABLE users DROP COLUMN deleted_at;
DROP TABLE addresses;

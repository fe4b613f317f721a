-- name: lock_address_book$
-- Every change to a user's address book locks the user's row first, so the count (at most 20)
-- and the one default read after it hold until commit, and an account deletion (which updates
-- the row) waits for the change or is waited for. No row once the account is deleted.
-- NO KEY UPDATE, as an UPDATE of the row would take: orders and payments of the user can
-- still be inserted meanwhile. The count is a statement of its own, after this one: a
-- statement that waited for the lock still reads with the snapshot it started with.
SELECT id FROM users WHERE id = :user_id AND deleted_at IS NULL FOR NO KEY UPDATE;

-- name: address_book_state^
-- Through addresses_user_idx: at most 20 entries.
SELECT count(*) AS addresses, coalesce(bool_or(is_default), false) AS has_default
  FROM addresses
 WHERE user_id = :user_id;

-- name: list_addresses
-- The default first, then the newest.
SELECT id, full_name, company, line1, line2, city, region, postal_code, country, phone,
       is_default
  FROM addresses
 WHERE user_id = :user_id
 ORDER BY is_default DESC, id DESC;

-- name: get_address^
-- Another user's address is no address (a 404).
SELECT id, full_name, company, line1, line2, city, region, postal_code, country, phone,
       is_default
  FROM addresses
 WHERE id = :address_id AND user_id = :user_id;

-- name: clear_default_address!
-- Before another address becomes the default: the partial unique index allows one per user,
-- checked row by row, so the old default is unset by a statement of its own first.
UPDATE addresses
   SET is_default = false, updated_at = now()
 WHERE user_id = :user_id AND is_default AND id <> coalesce(:except_id::bigint, 0);

-- name: insert_address^
INSERT INTO addresses (user_id, full_name, company, line1, line2, city, region, postal_code,
                       country, phone, is_default)
VALUES (:user_id, :full_name, :company, :line1, :line2, :city, :region, :postal_code,
        :country, :phone, :is_default)
RETURNING id, full_name, company, line1, line2, city, region, postal_code, country, phone,
          is_default;

-- name: replace_address^
-- A PUT replaces every field of the address; :is_default NULL keeps the address's standing.
UPDATE addresses
   SET full_name = :full_name, company = :company, line1 = :line1, line2 = :line2,
       city = :city, region = :region, postal_code = :postal_code, country = :country,
       phone = :phone, is_default = coalesce(:is_default::boolean, is_default),
       updated_at = now()
 WHERE id = :address_id AND user_id = :user_id
RETURNING id, full_name, company, line1, line2, city, region, postal_code, country, phone,
          is_default;

-- name: delete_address$
-- Whether the deleted address was the default; no row when there is no such address.
DELETE FROM addresses
 WHERE id = :address_id AND user_id = :user_id
RETURNING is_default;

-- name: promote_newest_address!
-- The default was deleted: the newest remaining address (if any) takes its place.
UPDATE addresses
   SET is_default = true, updated_at = now()
 WHERE id = (SELECT id FROM addresses WHERE user_id = :user_id ORDER BY id DESC LIMIT 1);

-- name: delete_user_addresses!
DELETE FROM addresses WHERE user_id = :user_id;

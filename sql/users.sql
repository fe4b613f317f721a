-- name: create_user<!
-- Insert a user; the unique index on lower(email) answers for a taken email.
INSERT INTO users (email, password_hash, full_name, role)
VALUES (:email, :password_hash, :full_name, :role)
RETURNING id, email, full_name, role, is_active, token_version, created_at;

-- name: get_user_by_id^
SELECT id, email, full_name, role, is_active, token_version, created_at, deleted_at
  FROM users
 WHERE id = :id;

-- name: get_user_for_access_token^
-- What an access token is checked against, in one round trip: the user, and whether the login
-- family the token was issued from was revoked (a NULL family, from a token older than family
-- claims, is never revoked). The partial index of migration 0013 holds revoked families only.
SELECT id, email, full_name, role, is_active, token_version, created_at,
       EXISTS (SELECT 1
                 FROM refresh_tokens
                WHERE family_id = :family_id
                  AND revoked_at IS NOT NULL) AS family_revoked
  FROM users
 WHERE id = :id;

-- name: get_login_by_email^
-- :email_key is security.email_key(email): folded once, in Python, so the lookup and the rate
-- limiter's bucket of an address can never name different accounts.
SELECT id, email, full_name, role, is_active, token_version, created_at, password_hash
  FROM users
 WHERE lower(email) = :email_key;

-- name: get_password_hash$
SELECT password_hash FROM users WHERE id = :id;

-- name: update_profile^
-- Only the fields given change: NULL keeps the current value. previous_email is read under the
-- row lock, so two concurrent changes each report the address they really replaced.
WITH previous AS (
    SELECT id, email FROM users WHERE id = :id FOR UPDATE
)
UPDATE users
   SET full_name = coalesce(:full_name, users.full_name),
       email = coalesce(:email, users.email),
       updated_at = now()
  FROM previous
 WHERE users.id = previous.id
RETURNING users.id, users.email, users.full_name, users.role, users.is_active,
          users.token_version, users.created_at, previous.email AS previous_email;

-- name: set_password^
-- A new password ends every earlier token: bump the version they were issued under.
UPDATE users
   SET password_hash = :password_hash,
       token_version = token_version + 1,
       updated_at = now()
 WHERE id = :id
RETURNING id, email, full_name, role, is_active, token_version, created_at;

-- name: promote_or_create_admin^
-- create-admin: a new admin, or an existing account (by email) made admin with this password.
INSERT INTO users (email, password_hash, full_name, role)
VALUES (:email, :password_hash, :full_name, 'admin')
ON CONFLICT (lower(email)) DO UPDATE
   SET role = 'admin',
       password_hash = excluded.password_hash,
       is_active = true,
       token_version = users.token_version + 1,
       updated_at = now()
RETURNING id, email, full_name, role, is_active, token_version, created_at;

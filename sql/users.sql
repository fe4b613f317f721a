-- name: create_user<!
-- Insert a user; the unique index on lower(email) answers for a taken email.
INSERT INTO users (email, password_hash, full_name, role)
VALUES (:email, :password_hash, :full_name, :role)
RETURNING id, email, full_name, role, is_active, token_version, created_at;

-- name: get_user_by_id^
SELECT id, email, full_name, role, is_active, token_version, created_at
  FROM users
 WHERE id = :id;

-- name: get_login_by_email^
SELECT id, email, full_name, role, is_active, token_version, created_at, password_hash
  FROM users
 WHERE lower(email) = lower(:email);

-- name: get_password_hash$
SELECT password_hash FROM users WHERE id = :id;

-- name: update_profile^
-- Only the fields given change: NULL keeps the current value.
UPDATE users
   SET full_name = coalesce(:full_name, full_name),
       email = coalesce(:email, email),
       updated_at = now()
 WHERE id = :id
RETURNING id, email, full_name, role, is_active, token_version, created_at;

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

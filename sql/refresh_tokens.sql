-- name: insert_refresh_token!
INSERT INTO refresh_tokens (jti, user_id, family_id, expires_at)
VALUES (:jti, :user_id, :family_id, :expires_at);

-- name: lock_refresh_token^
-- Row lock: two concurrent refreshes with one token must not both succeed.
SELECT jti, user_id, family_id, expires_at, used_at, revoked_at
  FROM refresh_tokens
 WHERE jti = :jti
   FOR UPDATE;

-- name: mark_refresh_token_used!
UPDATE refresh_tokens SET used_at = now() WHERE jti = :jti;

-- name: revoke_refresh_family!
UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = :family_id AND revoked_at IS NULL;

-- name: revoke_user_refresh_tokens!
UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = :user_id AND revoked_at IS NULL;

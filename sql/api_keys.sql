-- API keys (0027): the admin's list, create and revoke, and the lookup of every request that
-- sends one.

-- name: insert_api_key^
INSERT INTO api_keys (name, prefix, key_hash, scopes, created_by)
VALUES (:name, :prefix, :key_hash, :scopes, :created_by)
RETURNING id, name, prefix, scopes, created_at, last_used_at, revoked_at;

-- name: list_api_keys
-- Newest first; the API leaves revoked keys out, the admin pages show them.
SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at
  FROM api_keys
 WHERE :include_revoked::boolean OR revoked_at IS NULL
 ORDER BY id DESC;

-- name: revoke_api_key^
-- No row back: no such key, or revoked already (it is gone for the API).
UPDATE api_keys
   SET revoked_at = now()
 WHERE id = :id AND revoked_at IS NULL
RETURNING id, name, revoked_at;

-- name: api_key_by_hash^
-- The key a request sends, read on every request (a revocation counts on the next one).
-- stale: last_used_at is worth writing again.
SELECT id, name, prefix, scopes,
       last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS stale
  FROM api_keys
 WHERE key_hash = :key_hash AND revoked_at IS NULL;

-- name: touch_api_key!
-- At most once a minute per key, however many requests race to it: the WHERE is evaluated
-- again on the row as the first writer left it, so the others change nothing.
UPDATE api_keys
   SET last_used_at = now()
 WHERE id = :id
   AND revoked_at IS NULL
   AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

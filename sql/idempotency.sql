-- name: claim_idempotency_key^
-- One statement: try the key's advisory lock (held until this transaction ends, so a second
-- request with the key while the first runs knows at once, without waiting), claim the key if it
-- is free or expired, else read its stored answer.
--   acquired false          -> a request with this key is in flight
--   claimed_id set          -> this request owns the key; do the work in this transaction
--   otherwise               -> the stored answer (compare request_hash before replaying it)
-- Holding the lock while inserting means the INSERT never waits on another transaction's
-- uncommitted row with the same key.
WITH attempt AS (
    SELECT pg_try_advisory_xact_lock(
               hashtextextended(:route::text || chr(10) || :key::text, :user_id::bigint)
           ) AS acquired
), claimed AS (
    INSERT INTO idempotency_keys (user_id, route, key, request_hash)
    SELECT :user_id::bigint, :route::text, :key::text, :request_hash::text
      FROM attempt
     WHERE acquired
    ON CONFLICT (user_id, route, key) DO UPDATE
       SET request_hash = excluded.request_hash,
           response_status = NULL,
           response_body = NULL,
           created_at = now(),
           completed_at = NULL
     WHERE idempotency_keys.created_at < now() - make_interval(secs => :keep_seconds::double precision)
    RETURNING id
)
SELECT attempt.acquired,
       (SELECT id FROM claimed) AS claimed_id,
       stored.request_hash,
       stored.response_status,
       stored.response_body::text AS response_text
  FROM attempt
  LEFT JOIN idempotency_keys stored
    ON stored.user_id = :user_id AND stored.route = :route AND stored.key = :key;

-- name: complete_idempotency_key!
-- The answer to replay, stored before the work's transaction commits. The body arrives as the
-- JSON text sent to the client; a replay sends the same JSON value (jsonb keeps values, not the
-- order of keys).
UPDATE idempotency_keys
   SET response_status = :response_status,
       response_body = :response_text::text::jsonb,
       completed_at = now()
 WHERE id = :id;

-- name: purge_idempotency_keys$
-- Forget keys older than the retention period; returns how many went.
WITH purged AS (
    DELETE FROM idempotency_keys
     WHERE created_at < now() - make_interval(secs => :keep_seconds::double precision)
    RETURNING 1
)
SELECT count(*) FROM purged;

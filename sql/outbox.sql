-- name: outbox_insert!
-- Written in the transaction of the change it announces; the relay sends it after commit.
INSERT INTO outbox (topic, payload) VALUES (:topic, :payload);

-- name: outbox_claim_batch
-- SKIP LOCKED: several relays drain side by side, each taking rows no other relay holds.
SELECT id, topic, payload, attempts
  FROM outbox
 WHERE sent_at IS NULL AND available_at <= now()
 ORDER BY id
 LIMIT :batch_size
   FOR UPDATE SKIP LOCKED;

-- name: outbox_mark_sent!
UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY(:ids::bigint[]);

-- name: outbox_defer!
-- The broker refused: back off exponentially, capped at five minutes.
UPDATE outbox
   SET attempts = attempts + 1,
       available_at = now() + least(interval '5 minutes', interval '1 second' * power(2, attempts))
 WHERE id = :id;

-- name: outbox_lag_seconds$
-- How long the oldest unsent message has waited: the relay's lag, 0 when all is sent.
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
  FROM outbox
 WHERE sent_at IS NULL;

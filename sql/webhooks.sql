-- Webhook delivery (issue 15): the relay's fan-out and lease, the worker's claim and record.
-- An endpoint subscribes to an event when its `events` overlap the event's three spellings,
-- ARRAY[type, family || '.*', '*'] (webhook_events.subscriptions_of, written out in SQL).

-- name: webhook_subscribed_ids
-- Which of a batch's events some active endpoint wants: only those get their `data` read
-- (a query or more each); the others just close their fan-out task.
SELECT e.id
  FROM unnest(:ids::bigint[], :types::text[]) AS e (id, type)
 WHERE EXISTS (
        SELECT 1
          FROM webhook_endpoints w
         WHERE w.is_active
           AND w.events && ARRAY[e.type, split_part(e.type, '.', 1) || '.*', '*']
       );

-- name: webhook_fan_out!
-- The events and one delivery per subscribed active endpoint, in the transaction that closes
-- the rows' fan-out task (outbox_complete_task): a row relayed again after a crash fans out
-- again and the conflicts keep it to one event and one delivery per endpoint. :events is
-- [{id, type, data}] for the subscribed rows. The deliveries' foreign key on the events is
-- checked at the end of the statement, after both inserts.
WITH given AS (
    SELECT (item ->> 'id')::bigint AS id, item ->> 'type' AS type, item -> 'data' AS data
      FROM jsonb_array_elements(:events::jsonb) AS item
), event AS (
    INSERT INTO webhook_events (id, type, data, created_at)
    SELECT given.id, given.type, given.data, o.created_at
      FROM given
      JOIN outbox o ON o.id = given.id
    ON CONFLICT (id) DO NOTHING
)
INSERT INTO webhook_deliveries (event_id, endpoint_id)
SELECT given.id, w.id
  FROM given
  JOIN webhook_endpoints w
    ON w.is_active
   AND w.events && ARRAY[given.type, split_part(given.type, '.', 1) || '.*', '*']
 ORDER BY given.id, w.id
ON CONFLICT (event_id, endpoint_id) DO NOTHING;

-- name: webhook_lease_deliveries
-- The due deliveries, handed to the broker outside any transaction: their next due time moves
-- forward by the lease in the same statement, so no other relay takes them meanwhile, and one
-- whose message the broker loses is due again when the lease runs out. `leases` counts the
-- handings: the message carries it, and a message with an older count is a stale copy.
WITH due AS (
    SELECT id
      FROM webhook_deliveries
     WHERE status = 'pending' AND next_attempt_at <= now()
     ORDER BY next_attempt_at
     LIMIT :batch_size
       FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
   SET leases = d.leases + 1,
       next_attempt_at = now() + make_interval(secs => :lease_seconds)
  FROM due
 WHERE d.id = due.id
RETURNING d.id, d.leases;

-- name: webhook_defer_deliveries!
-- The broker refused: due again shortly, nothing lost.
UPDATE webhook_deliveries
   SET next_attempt_at = now() + make_interval(secs => :delay_seconds)
 WHERE id = ANY(:ids::bigint[]) AND status = 'pending';

-- name: webhook_claim_delivery^
-- The worker takes the delivery its message names, if that message is the latest handing
-- (leases = :lease) and the delivery is still pending; the claim bumps `leases` again, so a
-- second copy of the same message finds nothing, and keeps the delivery from coming due until
-- the POST is long over. Commits before the POST: no transaction is open during it.
UPDATE webhook_deliveries d
   SET leases = d.leases + 1,
       next_attempt_at = now() + make_interval(secs => :claim_seconds)
  FROM webhook_events e, webhook_endpoints w
 WHERE d.id = :id AND d.status = 'pending' AND d.leases = :lease
   AND e.id = d.event_id AND w.id = d.endpoint_id
RETURNING d.id, d.leases, d.attempts, e.id AS event_id, e.type AS event_type,
          e.data AS event_data, e.created_at AS event_created_at, w.id AS endpoint_id, w.url,
          w.secret, w.is_active AS endpoint_active;

-- name: webhook_fail_disabled!
-- A disabled endpoint is sent nothing: what comes due for it ends here, with no attempt.
UPDATE webhook_deliveries
   SET status = 'failed', next_attempt_at = NULL, last_error = 'endpoint disabled'
 WHERE id = :id AND leases = :lease AND status = 'pending';

-- name: webhook_endpoint_outcome^
-- First in the record's transaction (endpoint, then delivery: the order a cascading delete of
-- the endpoint locks them in). Any success resets the count; the failure that brings it to
-- :disable_after disables the endpoint.
UPDATE webhook_endpoints
   SET failures_in_a_row = CASE WHEN :succeeded THEN 0 ELSE failures_in_a_row + 1 END,
       is_active = is_active AND (:succeeded OR failures_in_a_row + 1 < :disable_after),
       disabled_at = CASE
           WHEN is_active AND NOT :succeeded AND failures_in_a_row + 1 >= :disable_after
           THEN now() ELSE disabled_at END,
       updated_at = CASE
           WHEN is_active AND NOT :succeeded AND failures_in_a_row + 1 >= :disable_after
           THEN now() ELSE updated_at END
 WHERE id = :endpoint_id
RETURNING is_active, failures_in_a_row;

-- name: webhook_delivery_outcome$
-- The attempt's outcome on the delivery. A success delivers it whatever happened meanwhile.
-- A failure reschedules it after :retry_in_seconds (never past retry_until) or, past
-- retry_until, fails it; but only for the claim that is still the latest (leases =
-- :lease): an attempt overtaken by a newer handing (an admin's redeliver during the POST)
-- leaves the schedule to that one. Answers the delivery's status, NULL if it is gone.
UPDATE webhook_deliveries
   SET attempts = attempts + 1,
       last_status_code = :status_code,
       last_error = :error,
       status = CASE
           WHEN :succeeded THEN 'delivered'
           WHEN leases = :lease AND now() >= retry_until THEN 'failed'
           ELSE 'pending' END,
       next_attempt_at = CASE
           WHEN :succeeded THEN NULL
           WHEN leases <> :lease THEN next_attempt_at
           WHEN now() >= retry_until THEN NULL
           ELSE least(now() + make_interval(secs => :retry_in_seconds), retry_until) END,
       delivered_at = CASE WHEN :succeeded THEN now() ELSE delivered_at END
 WHERE id = :id AND status = 'pending'
RETURNING status;

-- name: webhook_insert_attempt!
-- Every request made (or refused before it was made) is kept, for the admin's debugging;
-- nothing if the endpoint, and so the delivery, was deleted during the POST.
INSERT INTO webhook_attempts (delivery_id, status_code, error, duration_ms)
SELECT id, :status_code, :error, :duration_ms
  FROM webhook_deliveries
 WHERE id = :id;

-- name: webhook_product_remains^
-- What a deleted product still shows: the row stays for past orders.
SELECT id, name, slug, sku, is_active, deleted_at
  FROM products
 WHERE id = :id;

-- name: webhook_variant_stock^
-- The variant of an inventory.low_stock event, on sale or not: its stock is still a fact.
SELECT id, product_id, sku, stock_quantity
  FROM product_variants
 WHERE id = :id;

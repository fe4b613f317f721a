-- Webhook endpoints and their deliveries as the admin keeps them (0026): register, change,
-- rotate the secret, remove, and look at and resend deliveries. What sends them is the relay's
-- and the delivery actor's; here a delivery is only made due again.

-- name: webhook_admin_endpoints
-- Every endpoint, oldest first (a short list: integrations, not customers).
SELECT * FROM webhook_endpoints ORDER BY id;

-- name: webhook_admin_endpoint^
SELECT * FROM webhook_endpoints WHERE id = :endpoint_id;

-- name: webhook_admin_insert_endpoint^
INSERT INTO webhook_endpoints (url, events, description, secret)
VALUES (:url, :events::text[], :description, :secret)
RETURNING *;

-- name: webhook_admin_replace_endpoint^
-- The fields the admin sets (a NULL :url, :events or :description keeps the field: the
-- pages' enable and disable buttons), read against the row as it is when the UPDATE locks it
-- (the delivery actor may be disabling it at the same moment): setting is_active again on an
-- endpoint that was disabled re-enables it with a clean count of failures; switching it off
-- records when, as the actor does when it disables one.
UPDATE webhook_endpoints
   SET url = coalesce(:url::text, url),
       events = coalesce(:events::text[], events),
       description = coalesce(:description::text, description),
       is_active = :is_active::boolean,
       failures_in_a_row = CASE WHEN :is_active::boolean
                                 AND (NOT is_active OR disabled_at IS NOT NULL)
                                THEN 0 ELSE failures_in_a_row END,
       disabled_at = CASE WHEN :is_active::boolean THEN NULL
                          ELSE coalesce(disabled_at, now()) END,
       updated_at = now()
 WHERE id = :endpoint_id
RETURNING *;

-- name: webhook_admin_rotate_secret^
-- The new secret signs from the commit on: the actor reads the secret when it sends.
UPDATE webhook_endpoints
   SET secret = :secret, updated_at = now()
 WHERE id = :endpoint_id
RETURNING *;

-- name: webhook_admin_delete_endpoint$
-- Its deliveries and their attempts go with it (ON DELETE CASCADE); the events stay, other
-- endpoints' deliveries point at them. Its id, or NULL when there was none.
DELETE FROM webhook_endpoints WHERE id = :endpoint_id RETURNING id;

-- name: webhook_admin_deliveries_page
-- A page of endpoint :endpoint_id's deliveries (all, or those of :status), newest first, each
-- with its event's type; shaped as list_products (a page past the end is one row: the total,
-- NULL id). Read along webhook_deliveries_endpoint_idx.
WITH matching AS NOT MATERIALIZED (
    SELECT d.id, d.event_id, ev.type AS event_type, d.status, d.attempts, d.last_status_code,
           d.last_error, d.next_attempt_at, d.created_at, d.delivered_at
      FROM webhook_deliveries d
      JOIN webhook_events ev ON ev.id = d.event_id
     WHERE d.endpoint_id = :endpoint_id
       AND (:status::text IS NULL OR d.status = :status::text)
)
SELECT totals.total, page.*
  -- Capped: counts at most TOTAL_CAP + 1 rows (shop_api/domain/limits.py, API.md "Scale").
  FROM (SELECT count(*) AS total FROM (SELECT FROM matching LIMIT 10001) AS capped) AS totals
  LEFT JOIN LATERAL (
        SELECT * FROM matching ORDER BY id DESC LIMIT :limit::integer OFFSET :offset::bigint
  ) AS page ON true
 ORDER BY page.id DESC;

-- name: webhook_admin_redeliver^
-- Delivery :delivery_id due now, with a fresh 24 hours of retries, unless its endpoint is
-- disabled. One row when the delivery exists: `reset` false (and the delivery as it was) when
-- the endpoint is disabled; no row when there is no such delivery.
WITH found AS (
    SELECT d.id, e.is_active
      FROM webhook_deliveries d
      JOIN webhook_endpoints e ON e.id = d.endpoint_id
     WHERE d.id = :delivery_id
), reset AS (
    UPDATE webhook_deliveries d
       SET status = 'pending',
           next_attempt_at = now(),
           retry_until = now() + interval '24 hours'
      FROM found
     WHERE d.id = found.id AND found.is_active
    RETURNING d.*
)
SELECT true AS reset, r.id, r.event_id, ev.type AS event_type, r.status, r.attempts,
       r.last_status_code, r.last_error, r.next_attempt_at, r.created_at, r.delivered_at
  FROM reset r
  JOIN webhook_events ev ON ev.id = r.event_id
 UNION ALL
SELECT false, d.id, d.event_id, ev.type, d.status, d.attempts, d.last_status_code,
       d.last_error, d.next_attempt_at, d.created_at, d.delivered_at
  FROM found
  JOIN webhook_deliveries d ON d.id = found.id
  JOIN webhook_events ev ON ev.id = d.event_id
 WHERE NOT found.is_active;

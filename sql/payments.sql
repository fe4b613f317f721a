-- name: pending_payment_exists$
SELECT EXISTS (SELECT 1 FROM payments WHERE order_id = :order_id AND status = 'pending');

-- name: insert_payment^
-- The amount is the order's, read in the same statement: the client never says how much.
INSERT INTO payments (order_id, user_id, amount, currency, gateway, payment_token)
SELECT o.id, o.user_id, o.total_amount, o.currency, :gateway, :payment_token
  FROM orders o
 WHERE o.id = :order_id
RETURNING id, order_id, amount, currency, status, failure_reason, created_at, settled_at;

-- name: get_payment^
-- A payment as its owner sees it; user_id NULL for staff and workers.
SELECT id, order_id, user_id, amount, currency, status, failure_reason, created_at, settled_at
  FROM payments
 WHERE id = :id
   AND (:user_id::bigint IS NULL OR user_id = :user_id);

-- name: payment_order_id$
SELECT order_id FROM payments WHERE id = :id;

-- name: lock_payment^
-- Taken after the order's lock (lock_order), the order every path that touches both keeps.
-- A charge or refund in flight for longer than the lease belongs to an attempt that died.
SELECT id, order_id, user_id, amount, currency, status, payment_token, attempts,
       gateway_reference, charge_started_at, refund_started_at,
       charge_started_at < now() - make_interval(secs => :lease_seconds) AS charge_lease_expired,
       refund_started_at < now() - make_interval(secs => :lease_seconds) AS refund_lease_expired
  FROM payments
 WHERE id = :id
   FOR UPDATE;

-- name: start_charge!
-- Recorded, and committed, before the gateway is called: a second copy of the message sees it.
-- An attempt counts only when it may call the gateway's charge.
UPDATE payments
   SET charge_started_at = now(),
       attempts = attempts + CASE WHEN :counts THEN 1 ELSE 0 END
 WHERE id = :id;

-- name: release_charge!
-- The gateway failed transiently: nothing is in flight any more, the next attempt may call.
UPDATE payments SET charge_started_at = NULL WHERE id = :id AND status = 'pending';

-- name: settle_payment!
UPDATE payments
   SET status = :status,
       failure_reason = :failure_reason,
       gateway_reference = :gateway_reference,
       charge_started_at = NULL,
       settled_at = now()
 WHERE id = :id;

-- name: start_refund!
UPDATE payments SET refund_started_at = now() WHERE id = :id;

-- name: refundable_payments_of_cancelled_order
-- Every successful charge of a cancelled order: normally one.
SELECT p.id
  FROM payments p
  JOIN orders o ON o.id = p.order_id
 WHERE p.order_id = :order_id AND p.status = 'succeeded' AND o.status = 'cancelled'
 ORDER BY p.id;

-- name: mark_payment_refunded$
-- Returns the id only when this call made the change, so a second refund of it does nothing.
UPDATE payments
   SET status = 'refunded', refunded_at = now(), refund_reference = :refund_reference,
       refund_started_at = NULL
 WHERE id = :id AND status = 'succeeded'
RETURNING id;

-- name: redrive_stuck_payments
-- Pending, older than :older_than_seconds, with no charge in flight (or only a dead one) and no
-- open settlement request in the outbox (an open one is the relay's to send again): ask again,
-- one payment.requested row each, in one statement. Returns the ids, oldest first.
WITH stuck AS (
    SELECT p.id, p.created_at
      FROM payments p
     WHERE p.status = 'pending'
       AND p.created_at < now() - make_interval(secs => :older_than_seconds)
       AND (p.charge_started_at IS NULL
            OR p.charge_started_at < now() - make_interval(secs => :lease_seconds))
       AND NOT EXISTS (
               SELECT 1
                 FROM outbox o
                WHERE o.completed_at IS NULL AND o.topic = :topic::text
                  AND (o.payload ->> 'payment_id')::bigint = p.id)
     ORDER BY p.created_at
     LIMIT 500
       FOR UPDATE OF p SKIP LOCKED
), queued AS (
    INSERT INTO outbox (topic, payload, pending_tasks)
    SELECT :topic::text, jsonb_build_object('payment_id', id), :tasks::text[]
      FROM stuck
     ORDER BY created_at
)
SELECT id FROM stuck ORDER BY created_at;

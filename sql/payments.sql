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

-- name: start_settlement_attempt^
-- Counts the attempt before the gateway is called; nothing is returned once it is settled,
-- which makes a redelivered settlement message a no-op.
UPDATE payments
   SET attempts = attempts + 1
 WHERE id = :id AND status = 'pending'
RETURNING id, order_id, user_id, amount, currency, payment_token, attempts;

-- name: lock_payment^
SELECT id, order_id, user_id, amount, currency, status
  FROM payments
 WHERE id = :id
   FOR UPDATE;

-- name: settle_payment!
UPDATE payments
   SET status = :status,
       failure_reason = :failure_reason,
       gateway_reference = :gateway_reference,
       settled_at = now()
 WHERE id = :id;

-- name: refundable_payment_of_order^
SELECT id, amount, currency
  FROM payments
 WHERE order_id = :order_id AND status = 'succeeded'
 ORDER BY id DESC
 LIMIT 1;

-- name: mark_payment_refunded$
-- Returns the id only when this call made the change, so a second refund of it does nothing.
UPDATE payments
   SET status = 'refunded', refunded_at = now()
 WHERE id = :id AND status = 'succeeded'
RETURNING id;

-- name: redrive_stuck_payments
-- Pending for longer than a settlement takes (the message was lost or its worker died): ask
-- again, one payment.requested outbox row each, in one statement rather than a round trip per
-- payment. Returns the ids, oldest first.
WITH stuck AS (
    SELECT id, created_at
      FROM payments
     WHERE status = 'pending' AND created_at < now() - make_interval(secs => :older_than_seconds)
     ORDER BY created_at
     LIMIT 500
), queued AS (
    INSERT INTO outbox (topic, payload)
    SELECT :topic::text, jsonb_build_object('payment_id', id) FROM stuck ORDER BY created_at
)
SELECT id FROM stuck ORDER BY created_at;

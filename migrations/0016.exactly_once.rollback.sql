DROP INDEX outbox_open_payment_requests_idx;
DROP INDEX outbox_due_idx;
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;
ALTER TABLE outbox DROP COLUMN completed_at, DROP COLUMN enqueues, DROP COLUMN pending_tasks;

UPDATE sent_emails SET sent_at = coalesce(sent_at, claimed_at, now());
ALTER TABLE sent_emails
    ALTER COLUMN sent_at SET DEFAULT now(),
    ALTER COLUMN sent_at SET NOT NULL,
    DROP COLUMN attempts,
    DROP COLUMN claimed_at,
    DROP COLUMN message_id,
    DROP COLUMN status;

DROP TABLE sandbox_gateway_operations;

ALTER TABLE payments
    DROP COLUMN refund_reference,
    DROP COLUMN refund_started_at,
    DROP COLUMN charge_started_at;

-- Exactly-once effects: every call to the payment gateway and every email is recorded before it
-- goes out and after it came back, and an outbox row stays open until its effects are done.
-- depends: 0011.drop_redundant_index

-- A charge or refund in flight: set before the gateway is called, so a second copy of the
-- message sees it and stays away; a copy that finds it older than the lease takes over (the
-- first attempt died) and asks the gateway what happened before calling again.
ALTER TABLE payments
    ADD COLUMN charge_started_at timestamptz,
    ADD COLUMN refund_started_at timestamptz,
    ADD COLUMN refund_reference  text;

-- The sandbox gateway is a peer with a memory of its own, like a real provider: one row per
-- idempotency key, answering a repeated key with the first answer.
CREATE TABLE sandbox_gateway_operations (
    idempotency_key  text          PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    operation        text          NOT NULL CHECK (operation IN ('charge', 'refund')),
    payment_token    text,
    amount           numeric(12,2) NOT NULL,
    currency         char(3)       NOT NULL,
    -- 'transient': the sandbox failed this request with a processing error; the next request
    -- with the key is answered afresh. 'succeeded' and 'failed' are final.
    status           text          NOT NULL CHECK (status IN ('succeeded', 'failed', 'transient')),
    failure_reason   text,
    reference        text          NOT NULL,
    charge_reference text,
    requests         integer       NOT NULL DEFAULT 1,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now()
);

-- An email is claimed ('sending') in one short transaction, sent outside any transaction, then
-- marked 'sent'. A retry that finds 'sending' from a dead attempt sends again with the same
-- Message-ID, so the receiving system can drop the copy.
ALTER TABLE sent_emails
    ADD COLUMN status     text NOT NULL DEFAULT 'sent' CHECK (status IN ('sending', 'sent')),
    ADD COLUMN message_id text,
    ADD COLUMN claimed_at timestamptz,
    ADD COLUMN attempts   integer NOT NULL DEFAULT 1,
    ALTER COLUMN sent_at DROP NOT NULL,
    ALTER COLUMN sent_at DROP DEFAULT;
ALTER TABLE sent_emails ALTER COLUMN status SET DEFAULT 'sending';

-- The outbox row is closed by the effects it asked for (pending_tasks empties), not by the
-- enqueue: the relay sends a row again when it was enqueued and not completed in time, so a
-- broker that loses its messages loses nothing. sent_at is now the last enqueue.
ALTER TABLE outbox
    ADD COLUMN pending_tasks text[] NOT NULL DEFAULT '{}',
    ADD COLUMN enqueues      integer NOT NULL DEFAULT 0,
    ADD COLUMN completed_at  timestamptz;
-- Rows relayed before this migration are taken as done: the old relay closed them at enqueue.
UPDATE outbox SET completed_at = sent_at, enqueues = 1 WHERE sent_at IS NOT NULL;
DROP INDEX outbox_unsent_idx;
CREATE INDEX outbox_due_idx ON outbox (available_at) WHERE completed_at IS NULL;
-- Reconciliation asks whether a payment already has an open settlement request.
CREATE INDEX outbox_open_payment_requests_idx ON outbox (((payload ->> 'payment_id')::bigint))
    WHERE completed_at IS NULL AND topic = 'payment.requested';

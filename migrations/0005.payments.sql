-- Payments, the record of emails sent, and "bought together" recommendations.
-- depends: 0003.orders

CREATE TABLE payments (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id       bigint        NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    user_id        bigint        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    amount         numeric(12,2) NOT NULL CHECK (amount >= 0),
    currency       char(3)       NOT NULL,
    status         text          NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    gateway        text          NOT NULL,
    -- A gateway token (never a card number): the settlement worker needs it.
    payment_token  text          NOT NULL CHECK (length(payment_token) BETWEEN 1 AND 255),
    failure_reason text,
    gateway_reference text,
    attempts       integer       NOT NULL DEFAULT 0,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    settled_at     timestamptz,
    refunded_at    timestamptz
);
CREATE INDEX payments_order_id_idx ON payments (order_id);
CREATE INDEX payments_user_id_idx ON payments (user_id);
-- At most one payment of an order in flight; a second one is a clean 409 payment_in_progress.
CREATE UNIQUE INDEX payments_one_pending_per_order ON payments (order_id) WHERE status = 'pending';
-- Reconciliation looks for payments stuck in pending.
CREATE INDEX payments_pending_created_idx ON payments (created_at) WHERE status = 'pending';

-- One row per email event: claimed under a row lock while sending, so a message delivered twice
-- sends once.
CREATE TABLE sent_emails (
    event_key  text        PRIMARY KEY,
    kind       text        NOT NULL,
    recipient  text        NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recommendations (
    product_id             bigint  NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    recommended_product_id bigint  NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    score                  integer NOT NULL CHECK (score > 0),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, recommended_product_id),
    CHECK (product_id <> recommended_product_id)
);
CREATE INDEX recommendations_product_score_idx ON recommendations (product_id, score DESC);
CREATE INDEX recommendations_recommended_idx ON recommendations (recommended_product_id);

-- Webhooks (issue 15): endpoints other systems register, the events they receive, and every
-- delivery and attempt, so an integration can be debugged from the admin side.
-- depends: 0025.promotions
--
-- Events hang off the outbox: the relay turns an outbox row of a webhook topic into one
-- webhook_events row (same id) and one delivery per subscribed endpoint in one statement;
-- the unique (event_id, endpoint_id) makes a row relayed twice fan out once. A delivery is its
-- own small queue: next_attempt_at is when it is due, and the relay leases due rows (moving
-- next_attempt_at forward) the way it leases outbox rows, so a lost message is sent again.

CREATE TABLE webhook_endpoints (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url                text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    -- Names or patterns: 'order.paid', 'order.*', '*'.
    events             text[]      NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 50),
    description        text        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- We sign with it, so we must keep it (a hash could not sign); shown only when created
    -- or rotated.
    secret             text        NOT NULL,
    is_active          boolean     NOT NULL DEFAULT true,
    -- Failed attempts since the last success; at 20 the endpoint is disabled.
    failures_in_a_row  integer     NOT NULL DEFAULT 0 CHECK (failures_in_a_row >= 0),
    disabled_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- The fan-out reads the active endpoints on every webhook event.
CREATE INDEX webhook_endpoints_active_idx ON webhook_endpoints (id) WHERE is_active;

CREATE TABLE webhook_events (
    -- The outbox row's id: one event per row, the same id on every attempt and endpoint.
    id          bigint      PRIMARY KEY,
    type        text        NOT NULL,
    -- The resource as the API shows it, taken once when the event fans out.
    data        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE webhook_deliveries (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          bigint      NOT NULL REFERENCES webhook_events (id),
    endpoint_id       bigint      NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status_code  integer,
    last_error        text,
    -- When the pending delivery is next due; NULL once it is delivered or failed.
    next_attempt_at   timestamptz DEFAULT now(),
    -- Bumped each time the relay hands the delivery to the broker: a message carrying an
    -- older lease is a stale copy and does nothing.
    leases            integer     NOT NULL DEFAULT 0,
    -- Failed attempts are retried until then (24 hours after the fan-out, or after an
    -- admin's redeliver); a failure past it makes the delivery 'failed'.
    retry_until       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    CONSTRAINT webhook_deliveries_once UNIQUE (event_id, endpoint_id),
    CONSTRAINT webhook_deliveries_due CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
-- The relay's lease: due pending deliveries, oldest due first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- An endpoint's deliveries, newest first (the admin list).
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id DESC);

CREATE TABLE webhook_attempts (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   bigint      NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    -- NULL when no answer came (refused, timed out, URL not allowed).
    status_code   integer,
    error         text,
    duration_ms   integer     NOT NULL CHECK (duration_ms >= 0)
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

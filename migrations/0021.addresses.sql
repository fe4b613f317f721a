-- Address book and account deletion (issue 13): each customer's saved addresses, and the mark
-- of an account its owner deleted (anonymised, kept for the orders and payments it holds).
-- depends: 0020.facets

CREATE TABLE addresses (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Personal data, not an accounting record: an order keeps its own snapshot of the address.
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    full_name   text        NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    company     text        CHECK (length(company) BETWEEN 1 AND 200),
    line1       text        NOT NULL CHECK (length(line1) BETWEEN 1 AND 200),
    line2       text        CHECK (length(line2) BETWEEN 1 AND 200),
    city        text        NOT NULL CHECK (length(city) BETWEEN 1 AND 100),
    region      text        CHECK (length(region) BETWEEN 1 AND 100),
    postal_code text        CHECK (length(postal_code) BETWEEN 1 AND 20),
    -- ISO 3166-1 alpha-2; which codes are real is the API's check (pycountry), not a table here.
    country     text        NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    phone       text        CHECK (length(phone) BETWEEN 1 AND 40),
    is_default  boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- A user's book, read and counted (at most 20) through this index.
CREATE INDEX addresses_user_idx ON addresses (user_id, id);
-- One default at most per user, whatever the concurrency.
CREATE UNIQUE INDEX addresses_one_default_per_user ON addresses (user_id) WHERE is_default;

-- Set when the owner deleted the account (DELETE /api/auth/me). The row stays, anonymised: its
-- orders, payments and reviews point at it.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;

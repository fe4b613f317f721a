-- Promotions and coupons (issue 14): what they take off, and limits that hold under concurrency.
-- depends: 0024.catalog_read_costs
--
-- The limits live here, not in a count of past orders. Checkout takes a use with one conditional
-- UPDATE of the promotion row (times_used < usage_limit, then + 1): the row lock makes a second
-- checkout wait for the first to commit, then re-test the condition on the committed count, so
-- fifty concurrent checkouts of a limit of ten give exactly ten rows back. The CHECKs are the
-- last word: no code path can take times_used past the limit or below zero.

CREATE TABLE promotions (
    id                       bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                     text          NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- NULL: applies automatically; else only when the customer gives it (any case).
    code                     text          CHECK (code ~ '^[A-Za-z0-9_-]{1,64}$'),
    kind                     text          NOT NULL
                                           CHECK (kind IN ('percentage', 'fixed', 'free_shipping')),
    -- A percentage (15 = 15 %) or an amount of money; 0 for free_shipping.
    value                    numeric(12,2) NOT NULL CHECK (value >= 0),
    target                   text          NOT NULL CHECK (target IN ('order', 'items', 'shipping')),
    -- Compared with the cart's subtotal before any discount.
    min_subtotal             numeric(12,2) CHECK (min_subtotal >= 0),
    starts_at                timestamptz,
    ends_at                  timestamptz,
    usage_limit              integer       CHECK (usage_limit >= 0),
    usage_limit_per_customer integer       CHECK (usage_limit_per_customer >= 1),
    times_used               integer       NOT NULL DEFAULT 0,
    -- Soft deactivation: past orders keep pointing at the row.
    is_active                boolean       NOT NULL DEFAULT true,
    created_at               timestamptz   NOT NULL DEFAULT now(),
    updated_at               timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT promotions_percentage_range CHECK (kind <> 'percentage' OR value <= 100),
    CONSTRAINT promotions_free_shipping_target CHECK (kind <> 'free_shipping' OR target = 'shipping'),
    CONSTRAINT promotions_window_order CHECK (starts_at IS NULL OR ends_at IS NULL
                                              OR starts_at < ends_at),
    CONSTRAINT promotions_times_used_range CHECK (times_used >= 0
                                                  AND (usage_limit IS NULL OR times_used <= usage_limit))
);
-- Codes are unique regardless of case, and looked up by lower(code).
CREATE UNIQUE INDEX promotions_code_lower_key ON promotions (lower(code));
-- Every quote and checkout reads the automatic ones that are on.
CREATE INDEX promotions_automatic_idx ON promotions (id) WHERE code IS NULL AND is_active;

-- What an items promotion targets: lines whose product is listed, or whose product's category is
-- a listed one or below it.
CREATE TABLE promotion_products (
    promotion_id bigint NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
    product_id   bigint NOT NULL REFERENCES products (id),
    PRIMARY KEY (promotion_id, product_id)
);
CREATE TABLE promotion_categories (
    promotion_id bigint NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
    category_id  bigint NOT NULL REFERENCES categories (id),
    PRIMARY KEY (promotion_id, category_id)
);

-- The per-customer limit, exact under concurrency without relying on the cart lock (two carts,
-- an account merged, a future second checkout path): one counter row per (promotion, user),
-- taken by a conditional upsert, INSERT ... (uses 1) ON CONFLICT DO UPDATE SET uses = uses + 1
-- WHERE uses < limit. Two concurrent first uses both try the INSERT: the unique key makes the
-- second wait for the first to commit, then take the DO UPDATE branch, whose WHERE is evaluated
-- on the committed row under its lock; later uses serialise on the row the same way. No row
-- back: the customer's limit is reached.
CREATE TABLE promotion_customer_uses (
    promotion_id bigint  NOT NULL REFERENCES promotions (id) ON DELETE CASCADE,
    user_id      bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    uses         integer NOT NULL CHECK (uses >= 0),
    PRIMARY KEY (promotion_id, user_id)
);

-- One row per use an order took, so cancellation knows what to give back. released_at marks it
-- given back: the decrement happens only in the statement that sets it (WHERE released_at IS
-- NULL), so a second cancel or a replayed message gives nothing back twice. per_customer says
-- whether the customer's counter was taken too (the limit may be added or removed later).
CREATE TABLE promotion_redemptions (
    id           bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    promotion_id bigint        NOT NULL REFERENCES promotions (id),
    order_id     bigint        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id      bigint        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount       numeric(12,2) NOT NULL CHECK (amount >= 0),
    per_customer boolean       NOT NULL,
    created_at   timestamptz   NOT NULL DEFAULT now(),
    released_at  timestamptz,
    CONSTRAINT promotion_redemptions_once UNIQUE (promotion_id, user_id, order_id)
);
CREATE INDEX promotion_redemptions_order_idx ON promotion_redemptions (order_id);

-- Carts, orders, and what keeps them honest: status history, inventory ledger, idempotency
-- keys and the transactional outbox.
-- depends: 0002.catalog

-- One cart per user. Every change to a cart locks this row first, so checkout (which locks it
-- too) never empties an item that was added after it read the cart.
CREATE TABLE carts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT carts_user_id_key UNIQUE (user_id)
);

CREATE TABLE cart_items (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cart_id    bigint      NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id bigint      NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity   integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cart_items_quantity_positive CHECK (quantity > 0),
    CONSTRAINT cart_items_cart_product_key UNIQUE (cart_id, product_id)
);
CREATE INDEX cart_items_product_id_idx ON cart_items (product_id);

CREATE TABLE orders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- An order is a financial record: a user who has orders cannot be deleted, only deactivated.
    user_id          bigint        NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    status           text          NOT NULL DEFAULT 'pending',
    subtotal         numeric(12,2) NOT NULL CHECK (subtotal >= 0),
    total_amount     numeric(12,2) NOT NULL CHECK (total_amount >= 0),
    currency         char(3)       NOT NULL DEFAULT 'USD',
    delivery_address text          NOT NULL CHECK (length(delivery_address) BETWEEN 1 AND 1000),
    notes            text          NOT NULL DEFAULT '' CHECK (length(notes) <= 2000),
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT orders_status_check CHECK (
        status IN ('pending', 'paid', 'processing', 'shipped', 'delivered', 'cancelled')
    )
);
-- A customer's history, newest first (id breaks ties within one timestamp).
CREATE INDEX orders_user_newest_idx ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_status_idx ON orders (status);

-- Snapshots: the name and price the customer agreed to, whatever the product becomes later.
CREATE TABLE order_items (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id          bigint        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Products are soft-deleted; a hard delete of one that was sold is refused.
    product_id        bigint        NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    product_name      text          NOT NULL,
    quantity          integer       NOT NULL CHECK (quantity > 0),
    price_at_purchase numeric(12,2) NOT NULL CHECK (price_at_purchase >= 0),
    CONSTRAINT order_items_order_product_key UNIQUE (order_id, product_id)
);
CREATE INDEX order_items_product_id_idx ON order_items (product_id);

-- Every status an order has had; from_status is NULL on the row that records its creation.
CREATE TABLE order_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status text,
    to_status   text        NOT NULL,
    changed_by  bigint      REFERENCES users (id) ON DELETE SET NULL,
    reason      text        NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, created_at, id);
CREATE INDEX order_status_history_changed_by_idx ON order_status_history (changed_by);

-- Every change of a product's stock, with the stock it left behind, so any figure can be
-- traced: checkout (negative delta), cancellation (positive), manual adjustments.
CREATE TABLE inventory_ledger (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint      NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    delta       integer     NOT NULL CHECK (delta <> 0),
    reason      text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    stock_after integer     NOT NULL CHECK (stock_after >= 0),
    order_id    bigint      REFERENCES orders (id) ON DELETE SET NULL,
    actor_id    bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_ledger_product_idx ON inventory_ledger (product_id, created_at DESC);
CREATE INDEX inventory_ledger_order_id_idx ON inventory_ledger (order_id);
CREATE INDEX inventory_ledger_actor_id_idx ON inventory_ledger (actor_id);

-- The first answer to each (user, route, Idempotency-Key). A row is claimed and completed in the
-- transaction of the work it protects, so a committed row always holds its response.
CREATE TABLE idempotency_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    route           text        NOT NULL,
    key             text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash    text        NOT NULL,
    response_status smallint,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    CONSTRAINT idempotency_keys_user_route_key UNIQUE (user_id, route, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- Transactional outbox: written in the transaction of the change it announces, drained by the
-- relay (FOR UPDATE SKIP LOCKED) into the broker.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    attempts     integer     NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;

-- The catalog: a category tree, products with full-text search, and reviews.
-- depends: 0001.users

CREATE TABLE categories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text   NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    slug        text   NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    parent_id   bigint REFERENCES categories (id) ON DELETE RESTRICT,
    description text   NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_key UNIQUE (slug),
    CONSTRAINT categories_not_own_parent CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX categories_parent_id_idx ON categories (parent_id);

CREATE TABLE products (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text          NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug           text          NOT NULL,
    description    text          NOT NULL DEFAULT '',
    price          numeric(12,2) NOT NULL CHECK (price >= 0),
    currency       char(3)       NOT NULL DEFAULT 'USD',
    stock_quantity integer       NOT NULL DEFAULT 0,
    sku            text,
    image_url      text,
    category_id    bigint        REFERENCES categories (id) ON DELETE SET NULL,
    is_active      boolean       NOT NULL DEFAULT true,
    -- Kept by the transaction that adds a review, so a list page never scans reviews.
    rating_count   integer       NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    rating_sum     integer       NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    search_vector  tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(description, '')), 'B')
    ) STORED,
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    -- Checkout decrements under a row lock; this is the last line that stock never goes below 0.
    CONSTRAINT products_stock_nonnegative CHECK (stock_quantity >= 0),
    CONSTRAINT products_slug_key UNIQUE (slug),
    CONSTRAINT products_sku_key UNIQUE (sku)
);

-- Lists only ever show active products: partial indexes keep every sort and filter on them small.
CREATE INDEX products_category_id_idx ON products (category_id);
CREATE INDEX products_search_idx ON products USING gin (search_vector);
CREATE INDEX products_active_newest_idx ON products (created_at DESC, id DESC) WHERE is_active;
CREATE INDEX products_active_price_idx ON products (price, id) WHERE is_active;
CREATE INDEX products_active_name_idx ON products (lower(name), id) WHERE is_active;
CREATE INDEX products_active_rating_idx
    ON products ((CASE WHEN rating_count > 0 THEN rating_sum::numeric / rating_count END) DESC NULLS LAST, id)
    WHERE is_active;
CREATE INDEX products_active_category_newest_idx
    ON products (category_id, created_at DESC, id DESC) WHERE is_active;
CREATE INDEX products_active_in_stock_idx ON products (created_at DESC, id DESC)
    WHERE is_active AND stock_quantity > 0;

CREATE TABLE reviews (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint   NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    user_id    bigint   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating     smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title      text     NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    comment    text     NOT NULL DEFAULT '' CHECK (length(comment) <= 5000),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reviews_one_per_user_product UNIQUE (product_id, user_id)
);
CREATE INDEX reviews_product_newest_idx ON reviews (product_id, created_at DESC, id DESC);
CREATE INDEX reviews_user_id_idx ON reviews (user_id);

-- Shipping zones and methods, tax rates, and the products' tax class (issue 13).
-- depends: 0021.addresses

-- Zones and methods are never deleted, only retired (deleted_at): orders snapshot the method's
-- name and may point at it, and a retired row keeps every such reference valid, whatever the
-- reference's ON DELETE says.
CREATE TABLE shipping_zones (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

-- A country is in at most one zone, and '*' (the rest of the world) is one of these keys, so
-- one zone at most is the rest of the world: the primary key decides, so two concurrent
-- requests naming the same country cannot both win. A retired zone's rows are deleted.
CREATE TABLE shipping_zone_countries (
    country text   NOT NULL CHECK (country = '*' OR country ~ '^[A-Z]{2}$'),
    zone_id bigint NOT NULL REFERENCES shipping_zones (id),
    CONSTRAINT shipping_zone_countries_pkey PRIMARY KEY (country)
);
CREATE INDEX shipping_zone_countries_zone_idx ON shipping_zone_countries (zone_id);

CREATE TABLE shipping_methods (
    id                bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    zone_id           bigint        NOT NULL REFERENCES shipping_zones (id),
    name              text          NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price             numeric(12,2) NOT NULL CHECK (price >= 0),
    -- Free when the cart's subtotal after discounts reaches it.
    free_over         numeric(12,2) CHECK (free_over >= 0),
    -- Not offered for a cart heavier than this.
    max_weight_grams  integer       CHECK (max_weight_grams >= 0),
    min_delivery_days integer       NOT NULL CHECK (min_delivery_days >= 0),
    max_delivery_days integer       NOT NULL,
    is_active         boolean       NOT NULL DEFAULT true,
    created_at        timestamptz   NOT NULL DEFAULT now(),
    updated_at        timestamptz   NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    -- Here rather than only in the schema: a partial update may send one of the two.
    CONSTRAINT shipping_methods_delivery_days_check
        CHECK (min_delivery_days <= max_delivery_days)
);
CREATE INDEX shipping_methods_zone_idx ON shipping_methods (zone_id) WHERE deleted_at IS NULL;

CREATE TABLE tax_rates (
    id         bigint       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    country    text         NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    -- Free text or an ISO 3166-2 code, matched regardless of case; NULL: the whole country.
    region     text         CHECK (length(region) BETWEEN 1 AND 100),
    tax_class  text         NOT NULL CHECK (tax_class IN ('standard', 'reduced', 'zero')),
    -- Six places: US combined rates need five (New York City's 8.875 % is 0.08875).
    rate       numeric(7,6) NOT NULL CHECK (rate >= 0 AND rate < 1),
    name       text         NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_at timestamptz  NOT NULL DEFAULT now(),
    updated_at timestamptz  NOT NULL DEFAULT now()
);
-- One rate per country, region and class, the country-wide one (NULL region) included, and
-- regions compared as they are matched (regardless of case). An expression index rather than
-- UNIQUE NULLS NOT DISTINCT, which PostgreSQL 14 lacks. Its country prefix serves the lookup
-- of a destination's rates.
CREATE UNIQUE INDEX tax_rates_place_class_key
    ON tax_rates (country, lower(coalesce(region, '')), tax_class);

ALTER TABLE products
    ADD COLUMN tax_class text NOT NULL DEFAULT 'standard'
        CONSTRAINT products_tax_class_check CHECK (tax_class IN ('standard', 'reduced', 'zero'));

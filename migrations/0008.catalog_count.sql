-- The number of active products, kept by triggers, so an unfiltered list page (the landing
-- page) answers its total without counting every product: that count was ~95% of its cost.
-- depends: 0004.catalog_tuning

CREATE TABLE catalog_counts (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),  -- a single row
    active_products bigint  NOT NULL CHECK (active_products >= 0)
);
INSERT INTO catalog_counts (active_products) SELECT count(*) FROM products WHERE is_active;

-- Inserts count per statement: one COPY of 100,000 products is one update of the counter.
CREATE FUNCTION catalog_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_counts
       SET active_products = active_products + (SELECT count(*) FROM inserted WHERE is_active);
    RETURN NULL;
END
$$;
CREATE TRIGGER products_count_inserted
    AFTER INSERT ON products REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_count_inserted();

-- Row level and only when is_active changes: a checkout's stock update never touches the
-- counter, so checkouts do not queue on its row.
CREATE FUNCTION catalog_count_activity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_counts
       SET active_products = active_products + CASE WHEN NEW.is_active THEN 1 ELSE -1 END;
    RETURN NULL;
END
$$;
CREATE TRIGGER products_count_activity_changed
    AFTER UPDATE OF is_active ON products
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION catalog_count_activity_changed();

CREATE FUNCTION catalog_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_counts
       SET active_products = active_products - (SELECT count(*) FROM deleted WHERE is_active);
    RETURN NULL;
END
$$;
CREATE TRIGGER products_count_deleted
    AFTER DELETE ON products REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_count_deleted();

-- TRUNCATE skips row triggers: start again from zero.
CREATE FUNCTION catalog_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_counts SET active_products = 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER products_count_truncated
    AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION catalog_count_truncated();

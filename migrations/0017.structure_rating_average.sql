-- A product's rating average, as every answer shows it (two places; NULL without reviews),
-- written once: a generated column, kept by PostgreSQL from the counters that the review's
-- transaction keeps (0002), so no query spells the expression again.
-- depends: 0016.exactly_once

ALTER TABLE products
    ADD COLUMN rating_average numeric GENERATED ALWAYS AS (
        round(rating_sum::numeric / nullif(rating_count, 0), 2)
    ) STORED;

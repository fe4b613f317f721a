-- Input that must never become a 500 (issue 10, "Bad input").
-- depends: 0011.drop_redundant_index

-- The search box's text as a tsquery. websearch_to_tsquery refuses some texts outright (33 or
-- more "-" signs: "tsquery stack too small"); API.md says such a search is read as plain words,
-- and failing that matches nothing (NULL: `@@ NULL` is never true). Whatever the error, the
-- input is only this text, so any error here is a text PostgreSQL cannot parse.
-- IMMUTABLE like the two functions it calls: with the request's value (custom plans), the
-- planner folds it to a constant once, so the index scan and ts_rank see a plain tsquery.
CREATE FUNCTION product_search_query(search text) RETURNS tsquery
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN websearch_to_tsquery('english', search);
EXCEPTION WHEN OTHERS THEN
    BEGIN
        RETURN plainto_tsquery('english', search);
    EXCEPTION WHEN OTHERS THEN
        RETURN NULL;
    END;
END
$$;

-- The largest stock a product can hold: the one rule behind 409 `stock_limit` (an adjustment,
-- a product edit, a cancellation's restock). Half the integer range, so stock plus anything
-- added in one statement (at most the limit again: an adjustment, or an order's quantity that
-- was taken from a stock under the limit) still fits the column, and this check, not an
-- integer overflow, is what refuses it. A product above the limit stops this migration: lower
-- its stock first.
ALTER TABLE products
    ADD CONSTRAINT products_stock_limit CHECK (stock_quantity <= 1000000000);

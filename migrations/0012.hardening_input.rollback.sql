ALTER TABLE products DROP CONSTRAINT products_stock_limit;
DROP FUNCTION product_search_query(text);

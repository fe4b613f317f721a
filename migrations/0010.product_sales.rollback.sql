DROP TRIGGER orders_product_sales ON orders;
DROP FUNCTION rebuild_product_sales();
DROP FUNCTION product_sales_follow_order();
DROP FUNCTION is_revenue_status(text);
DROP TABLE product_sales;

-- Undo 0006.admin: the admin indexes.
-- depends: 0005.payments
DROP INDEX products_active_stock_idx;
DROP INDEX orders_revenue_day_idx;
DROP INDEX orders_status_newest_idx;
DROP INDEX orders_newest_idx;

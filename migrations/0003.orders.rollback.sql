DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE inventory_ledger;
DROP TABLE order_status_history;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE cart_items;
DROP TABLE carts;

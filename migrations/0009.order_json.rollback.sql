DROP FUNCTION order_payment_json(bigint);
DROP FUNCTION order_items_json(bigint);

-- An order's items and latest payment as JSON, written once for every query that shows orders
-- (the customer's and the admin's, lists and details). Each is one index probe per order:
-- order_items by order_id, payments_order_id_idx.
-- depends: 0005.payments

CREATE FUNCTION order_items_json(wanted_order_id bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
               json_agg(
                   json_build_object(
                       'product_id', oi.product_id,
                       'product_name', oi.product_name,
                       'quantity', oi.quantity,
                       'price_at_purchase', oi.price_at_purchase::text,
                       'line_total', round(oi.price_at_purchase * oi.quantity, 2)::text
                   )
                   ORDER BY oi.product_id
               ),
               '[]'
           )
      FROM order_items oi
     WHERE oi.order_id = wanted_order_id
$$;

CREATE FUNCTION order_payment_json(wanted_order_id bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', pm.id, 'status', pm.status)
      FROM payments pm
     WHERE pm.order_id = wanted_order_id
     ORDER BY pm.id DESC
     LIMIT 1
$$;


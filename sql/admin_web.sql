-- What only the admin web pages read; everything else they show comes from the admin API's own
-- queries and domain functions.

-- name: admin_web_order_history
-- An order's status changes, oldest first, with who made each (NULL: the system, e.g. payment
-- settlement). order_status_history_order_idx (0003) returns them in this order.
SELECT h.from_status, h.to_status, h.reason, h.created_at, u.email AS changed_by_email
  FROM order_status_history h
  LEFT JOIN users u ON u.id = h.changed_by
 WHERE h.order_id = :order_id
 ORDER BY h.created_at, h.id;

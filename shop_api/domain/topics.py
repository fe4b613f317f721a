"""The outbox topics: what happened, as the domain announces it. events.py says what each sets
in motion."""

ORDER_PLACED = "order.placed"  # {order_id}
ORDER_PAID = "order.paid"  # {order_id}
ORDER_CANCELLED = "order.cancelled"  # {order_id, refund, recipient?}: see emails._addressing
ORDER_SHIPPED = "order.shipped"  # {order_id}
ORDER_DELIVERED = "order.delivered"  # {order_id}
USER_REGISTERED = "user.registered"  # {user_id}
PASSWORD_CHANGED = "password.changed"  # {user_id}
EMAIL_CHANGED = "email.changed"  # {user_id, old_email}: the notice goes to old_email
PAYMENT_REQUESTED = "payment.requested"  # {payment_id}
PAYMENT_SUCCEEDED = "payment.succeeded"  # {payment_id, order_id}
PAYMENT_FAILED = "payment.failed"  # {payment_id}
# A successful charge the order cannot keep (cancelled meanwhile, or paid twice): give it back.
REFUND_DUE = "refund.due"  # {payment_id, order_id}; rows before 0016 carry only order_id
# Issue 15: announced for webhooks (and only for them: no email or job follows).
PAYMENT_REFUNDED = "payment.refunded"  # {payment_id, order_id}
PRODUCT_CREATED = "product.created"  # {product_id}
PRODUCT_UPDATED = "product.updated"  # {product_id}: the product, its variants or its images
PRODUCT_DELETED = "product.deleted"  # {product_id}
# A variant's stock fell to LOW_STOCK_THRESHOLD or below (announced once per crossing); the
# threshold it crossed is part of the news, whatever the setting says later.
INVENTORY_LOW_STOCK = "inventory.low_stock"  # {variant_id, product_id, stock, threshold}

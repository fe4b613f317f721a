"""Route tables, one module per resource; `create_app` adds each of `ROUTE_TABLES`."""

from shop_api.web.routes import (
    addresses,
    admin,
    api_keys,
    auth,
    cart,
    docs,
    health,
    metrics,
    orders,
    payments,
    products,
    promotions,
    shipping,
    tax,
    webhooks,
)

ROUTE_TABLES = [
    health.routes,
    metrics.routes,
    auth.routes,
    addresses.routes,
    docs.routes,
    products.routes,
    cart.routes,
    orders.routes,
    payments.routes,
    admin.routes,
    shipping.routes,
    tax.routes,
    promotions.routes,
    api_keys.routes,
    webhooks.routes,
]

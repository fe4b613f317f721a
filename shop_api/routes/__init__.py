"""Route tables, one module per resource; `create_app` adds each of `ROUTE_TABLES`."""

from . import auth, docs, health

ROUTE_TABLES = [health.routes, auth.routes, docs.routes]

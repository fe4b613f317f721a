"""The largest amounts the database can hold: the schemas refuse input past them, and the domain
checks what it computes itself (an order's total) against the same numbers."""

from __future__ import annotations

from decimal import Decimal

MAX_MONEY = Decimal("9999999999.99")  # numeric(12,2)
# The products_stock_limit constraint (0012): half the integer column, so that stock plus an
# adjustment or a restock never overflows before the constraint answers 409 `stock_limit`.
MAX_STOCK = 1_000_000_000

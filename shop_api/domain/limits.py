"""The largest amounts the database can hold: the schemas refuse input past them, and the domain
checks what it computes itself (an order's total) against the same numbers."""

from __future__ import annotations

from decimal import Decimal

MAX_MONEY = Decimal("9999999999.99")  # numeric(12,2)
# The products_stock_limit constraint (0012): half the integer column, so that stock plus an
# adjustment or a restock never overflows before the constraint answers 409 `stock_limit`.
MAX_STOCK = 1_000_000_000

# What a product may hold (API.md, "Variants, options, images and facets"): the schemas refuse
# more, and the variant routes check the count the database ends with, so that concurrent
# requests cannot pass it either.
MAX_OPTIONS = 3
MAX_VARIANTS = 100
MAX_IMAGES = 20
MAX_URL_LENGTH = 2000  # of an image or a variant's image (API.md)
# Release 1's `image_url` of a product (its first image) took 2,048; the columns hold that.
MAX_PRODUCT_IMAGE_URL_LENGTH = 2048
# A variant's title joins up to 3 values with " / ": it stays within its 500 characters.
MAX_OPTION_NAME_LENGTH = 50
MAX_OPTION_VALUE_LENGTH = 100
MAX_WEIGHT_GRAMS = 1_000_000_000  # product_variants.weight_grams
MAX_POSITION = 10_000  # of a variant; a new one goes after the last, so far below integer's range
# API.md, "Addresses, shipping, tax and the totals of an order": a customer's address book.
MAX_ADDRESSES = 20

# API.md, "Scale": a list's total is exact up to this many matches, and says "this many or more"
# (`total_exact: false`) past it; no page may reach past it (422 `page_too_deep`). The SQL of
# every list counts at most TOTAL_CAP + 1 rows (`LIMIT 10001`), so the count costs the same at
# any size of table; tests/test_scale.py checks that every list's SQL says this number.
TOTAL_CAP = 10_000


def capped_total(counted: int) -> tuple[int, bool]:
    """A count as lists and facets answer it, and whether it is exact: past TOTAL_CAP it is
    TOTAL_CAP, meaning "that many or more"."""
    return min(counted, TOTAL_CAP), counted <= TOTAL_CAP

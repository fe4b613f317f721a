"""shop-api: the backend of an online shop."""

__version__ = "0.1.0"

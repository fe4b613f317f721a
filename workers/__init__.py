"""Dramatiq workers: `dramatiq workers` imports this package.

The broker module comes first, so every actor module imported below binds to the configured
broker rather than to Dramatiq's default one.
"""

from . import broker  # noqa: F401  (must stay the first import: it sets the global broker)

# isort: split
from . import emails, payments, recommendations, webhooks  # noqa: F401  (actors register on import)

"""The global Dramatiq broker, set before any actor module is imported.

An actor binds to the global broker when its module is imported, so `workers/__init__.py`
imports this first, and `dramatiq workers` imports `workers`.
"""

from __future__ import annotations

import dramatiq

from shop_api.broker import create_broker
from shop_api.metrics.worker import WorkerMetrics
from shop_api.settings import Settings

from .resources import WorkerResources

settings = Settings.from_env()
broker = create_broker(
    settings.effective_broker_url, heartbeat_seconds=settings.broker_heartbeat_seconds
)
broker.add_middleware(WorkerResources(settings))
broker.add_middleware(WorkerMetrics())
dramatiq.set_broker(broker)

"""The web process's series: requests by route template, its database pool, the outbox."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase

# First: it checks the directory the metrics below are written to, when there is one.
from shop_api.metrics import exposition  # noqa: F401

# The route of a request that matched none (404 of an unknown path, 405): one fixed label, so a
# scanner trying paths cannot grow the series without bound.
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "shop_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
)
HTTP_DURATION = Histogram(
    "shop_http_request_duration_seconds",
    "Time from a request reaching the application to its answer, by route template and method.",
    ("route", "method"),
)
# Per process; with several processes the scrape adds up those still running ('livesum').
DB_POOL_SIZE = Gauge(
    "shop_db_pool_size", "Connections the database pool holds open.",
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "shop_db_pool_in_use", "Connections of the database pool lent out.",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "shop_db_pool_max_size", "Most connections the database pool may open.",
    multiprocess_mode="livesum",
)

# The children of each (route, method, status) seen, kept: `labels()` takes a lock and builds
# a tuple of strings on every call, and this runs on every request. The keys are as bounded as
# the labels are, so the cache is too.
_children: dict[tuple[str, str, int], tuple[MetricWrapperBase, MetricWrapperBase]] = {}


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    key = (route, method, status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (
            HTTP_REQUESTS.labels(route, method, str(status)),
            HTTP_DURATION.labels(route, method),
        )
    count, duration = children
    count.inc()
    duration.observe(seconds)


def observe_pool(pool: asyncpg.Pool) -> None:
    size = pool.get_size()
    DB_POOL_SIZE.set(size)
    DB_POOL_IN_USE.set(size - pool.get_idle_size())
    DB_POOL_MAX.set(pool.get_max_size())


class OutboxBacklog:
    """The outbox as the database has it at scrape time: one value for the whole shop,
    whichever process is asked, so it is collected, never recorded."""

    def __init__(self, unsent: int, oldest_age_seconds: float) -> None:
        self.unsent = unsent
        self.oldest_age_seconds = oldest_age_seconds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "shop_outbox_unsent", "Outbox rows not handed to the broker yet.", value=self.unsent
        )
        yield GaugeMetricFamily(
            "shop_outbox_oldest_unsent_age_seconds",
            "How long the oldest outbox row not handed to the broker has waited (0: none).",
            value=self.oldest_age_seconds,
        )

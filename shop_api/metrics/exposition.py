"""The Prometheus text of a scrape, from this process or from all of them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from shop_api.settings import SettingsError

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

# The variable prometheus-client reads when it is imported: it has to be in the environment
# before the process starts, never set from Python.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROCESS = bool(os.environ.get(MULTIPROC_DIR_ENV))
if MULTIPROCESS and not os.path.isdir(os.environ[MULTIPROC_DIR_ENV]):
    # Said here, before the first metric is made: prometheus-client would fail later, with a
    # FileNotFoundError from deep inside, or in a worker only at its first message.
    raise SettingsError(
        f"{MULTIPROC_DIR_ENV} must name an existing directory, not "
        f"{os.environ[MULTIPROC_DIR_ENV]!r}"
    )
# What generate_latest writes; every Prometheus reads it (later formats only add quoting).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# A `_created` series beside each counter and histogram doubles the text, and the multiprocess
# mode has none: one process or several, a scrape shows the same series.
disable_created_metrics()


def render(*scraped: Collector) -> bytes:
    """Every series of this process, or of every process writing to the directory, then those
    of `scraped`: collectors of values read at scrape time, which belong to no one process."""
    if MULTIPROCESS:
        # A fresh registry per scrape, as the multiprocess mode requires: the files are read
        # again each time, those of processes that have exited included.
        recorded = CollectorRegistry()
        MultiProcessCollector(recorded)
    else:
        recorded = REGISTRY
    now = CollectorRegistry()
    for collector in scraped:
        now.register(collector)
    # Two texts of distinct metric families, one after the other, are one valid text.
    return generate_latest(recorded) + generate_latest(now)


def process_exited() -> None:
    """Take this process's live gauges out of the sums (its counters stay: they happened)."""
    if MULTIPROCESS:
        mark_process_dead(os.getpid())

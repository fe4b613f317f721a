"""Prometheus metrics: the series of API.md, and how `/metrics` collects them.

prometheus-client picks its storage when it is imported: with PROMETHEUS_MULTIPROC_DIR set,
every process writes its samples to files there and a scrape adds up the files of all of them
(several web processes, the workers); without it, each process keeps its own in memory.
`exposition` makes that choice for the scrape, `web` and `worker` own the metric objects.
"""

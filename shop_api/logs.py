"""Logging with the request id on every line, and a cheap access log."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import logging.handlers
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

ACCESS_LOGGER = "aiohttp.access"
# An access line waits at most this long, or for this many others, before it is written.
FLUSH_SECONDS = 0.5
BATCH_LINES = 512


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # A record that names its request (an access line, written after its request) keeps it.
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    access = logging.getLogger(ACCESS_LOGGER)
    access.handlers[:] = [BatchingHandler(handler)]
    access.propagate = False
    # What the format above never shows, so no record gathers it (the logging HOWTO's
    # "Optimization"): the caller's file and line, thread, process and task names.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]


class BatchingHandler(logging.handlers.MemoryHandler):
    """Holds the records of a busy logger (the access log) and hands them to `target` in one
    write: when BATCH_LINES are held, at a WARNING, or FLUSH_SECONDS after the first one held
    (a timer on the running event loop, so a quiet server's lines still come out). A request
    only appends its record; the formatting and the write are one batch's, not each line's."""

    def __init__(self, target: logging.StreamHandler) -> None:
        super().__init__(BATCH_LINES, flushLevel=logging.WARNING, target=target)
        self._timer: asyncio.TimerHandle | None = None

    def shouldFlush(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        if super().shouldFlush(record):
            return True
        if self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no event loop to wait on: at once
                return True
        return False

    def flush(self) -> None:
        with self.lock:
            records, self.buffer = self.buffer, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        target = self.target
        if not records or not isinstance(target, logging.StreamHandler):
            return
        lines = []
        for record in records:
            try:
                if target.filter(record):
                    lines.append(target.format(record) + target.terminator)
            except Exception:
                target.handleError(record)
        with target.lock:
            try:
                target.stream.write("".join(lines))
                target.flush()
            except Exception:
                # As StreamHandler.emit does: a log that cannot be written (stderr closed, a
                # broken pipe) is reported once on stderr, never raised into the request.
                target.handleError(records[-1])


class AccessLogger(AbstractAccessLogger):
    """One line a request (with `sample:N`, one success in N and every error), carrying the
    same request id as the app's own log lines."""

    every = 1
    _counted = itertools.count()

    @property
    def enabled(self) -> bool:
        # aiohttp asks once per connection, and then formats nothing when the level is off.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        status = response.status
        if self.every > 1 and status < 400 and next(self._counted) % self.every:
            return
        self.logger.info(
            "%s %s %s %s %.1fms",
            request.remote,
            request.method,
            request.path_qs,
            status,
            time * 1000,
            extra={"request_id": response.headers.get("X-Request-ID", "-")},
        )


def access_log_options(every: int) -> dict[str, Any]:
    """web.run_app's access log arguments for ACCESS_LOG (Settings.access_log)."""
    if every < 1:
        return {"access_log": None}
    sampled = type("AccessLogger", (AccessLogger,), {"every": every, "_counted": itertools.count()})
    return {"access_log_class": sampled}

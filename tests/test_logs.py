"""The access log: one line a request with its request id, sampled or off by ACCESS_LOG."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from aiohttp.test_utils import TestServer

from shop_api.logs import (
    ACCESS_LOGGER,
    FLUSH_SECONDS,
    BatchingHandler,
    access_log_options,
    setup_logging,
)
from shop_api.web.app import create_app


@pytest.fixture
def log_stream():
    """What setup_logging's handler writes, as the web process's stderr would hold it."""
    root, access = logging.getLogger(), logging.getLogger(ACCESS_LOGGER)
    saved = (root.handlers[:], root.level, access.handlers[:], access.propagate)
    setup_logging("INFO")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)
    yield stream
    root.handlers[:], level, access.handlers[:], access.propagate = saved
    root.setLevel(level)


async def serve(aiohttp_client, settings, every: int):
    """A client of the app served with the access log arguments `shop-api serve` passes."""
    server = TestServer(create_app(settings))
    await server.start_server(**access_log_options(every))
    return await aiohttp_client(server)


async def written(stream: io.StringIO) -> list[str]:
    await asyncio.sleep(FLUSH_SECONDS + 0.3)  # the batch's timer
    return [line for line in stream.getvalue().splitlines() if ACCESS_LOGGER in line]


async def test_every_request_has_a_line_with_its_request_id(aiohttp_client, settings, log_stream):
    client = await serve(aiohttp_client, settings, 1)
    await client.get("/api/health", headers={"X-Request-ID": "trace-0001"})
    missing = await client.get("/api/products/999999")
    lines = await written(log_stream)
    assert len(lines) == 2
    assert "[trace-0001]" in lines[0] and "GET /api/health 200" in lines[0]
    assert f"[{missing.headers['X-Request-ID']}]" in lines[1]
    assert "GET /api/products/999999 404" in lines[1]


async def test_a_sample_keeps_one_success_in_n_and_every_error(
    aiohttp_client, settings, log_stream
):
    client = await serve(aiohttp_client, settings, 3)
    for _ in range(6):
        await client.get("/api/health")
    await client.get("/api/products/999999")
    lines = await written(log_stream)
    assert sum(" 200 " in line for line in lines) == 2
    assert sum(" 404 " in line for line in lines) == 1


async def test_off_writes_no_line(aiohttp_client, settings, log_stream):
    client = await serve(aiohttp_client, settings, 0)
    assert (await client.get("/api/health")).status == 200
    assert await written(log_stream) == []


def test_an_access_line_that_cannot_be_written_fails_no_request():
    """stderr closed under the server (as pytest closes a finished test's capture): the batch
    is reported as a logging error, and the request that logged it goes on."""
    stream = io.StringIO()
    target = logging.StreamHandler(stream)
    handler = BatchingHandler(target)
    stream.close()
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "GET / 200", (), None)
    saved, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        handler.handle(record)
        handler.flush()  # would raise ValueError: I/O operation on closed file
    finally:
        logging.raiseExceptions = saved
    assert handler.buffer == []

"""A real HTTP receiver for webhook tests: an aiohttp server on 127.0.0.1 that keeps every
request it gets (headers and exact body bytes) and answers as the test tells it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiohttp import web

# How old a signature a receiver accepts (Stripe's default tolerance).
TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict:
        return orjson.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers["Shop-Event-Id"]


def verify(secret: str, received: Received, *, now: float | None = None) -> bool:
    """What a receiver does before trusting a request: the HMAC over "<t>.<body>", compared in
    constant time, and a recent t."""
    parts = dict(part.split("=", 1) for part in received.headers["Shop-Signature"].split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    recent = abs((now or time.time()) - timestamp) <= TOLERANCE_SECONDS
    return recent and hmac.compare_digest(expected, parts["v1"])


class Receiver:
    """`answer(received) -> status` picks each reply (200 unless set); `hang_seconds` makes
    the receiver wait that long before answering."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answer: Callable[[Received], int] = lambda received: 200
        self.hang_seconds = 0.0
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str = "/hook", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def answer_in_turn(self, *statuses: int, then: int = 200) -> None:
        """Answer the next requests with `statuses`, one each, then `then`."""
        queue = list(statuses)
        self.answer = lambda received: queue.pop(0) if queue else then

    def ids(self) -> list[str]:
        return [received.event_id for received in self.requests]

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(request.path, dict(request.headers), await request.read(),
                            time.time())
        self.requests.append(received)
        if self.hang_seconds:
            try:
                await asyncio.wait_for(self._released.wait(), self.hang_seconds)
            except TimeoutError:
                pass
        status = self.answer(received)
        headers = {"Location": self.url("/elsewhere")} if 300 <= status < 400 else None
        return web.Response(status=status, text="ok", headers=headers)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *_) -> None:
        self._released.set()
        await self._runner.cleanup()

"""A real SMTP server (aiosmtpd) for tests: it keeps what it receives and can be made slow, or
run a hook (kill a worker, say) between taking a message and answering 250."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self) -> None:
        self.messages = []
        # Seconds to wait before answering a message's DATA with 250.
        self.delay = 0.0
        # Called with each message once it is received, before the 250 goes back.
        self.on_message: Callable[[object], None] | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        if self.on_message is not None:
            self.on_message(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 OK"

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.messages]

    def message_ids(self) -> list[str]:
        return [str(message["Message-ID"]) for message in self.messages]

    def reset(self) -> None:
        self.messages.clear()
        self.delay = 0.0
        self.on_message = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """`with SmtpServer() as server:` a server on 127.0.0.1:server.port."""

    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()

"""Which webhook URLs the shop will POST to: a guard against server-side request forgery.

A webhook URL is chosen by whoever holds an admin credential, and the worker that POSTs to it
sits inside the shop's network. Without a guard, "https://169.254.169.254/..." or a name that
resolves to 10.0.0.5 turns the worker into a proxy for the cloud metadata service or the
database. So a URL is checked when it is saved (`check_url`) and again at every delivery, where
`GuardedResolver` refuses, at connect time, any name that resolves to an address that is not
public: the address checked is the address connected to, so a name that changes its answer
between the two (DNS rebinding) gains nothing. Redirects are never followed.
`WEBHOOK_ALLOW_PRIVATE=true` lifts the guard (and allows `http`) for development and tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from shop_api.errors import ApiError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlNotAllowed(ApiError):
    status, code = 422, "url_not_allowed"


def is_public(address: IPAddress) -> bool:
    """Reachable on the public internet: not loopback, private, link-local, shared (CGNAT),
    multicast, reserved or unspecified, and not one of those wrapped in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None
        )
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_form(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The URL's host and port, or UrlNotAllowed: https (http too when private is allowed),
    a host, no credentials in it, and an IP literal only when public."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlNotAllowed("The URL is not a valid URL.") from None
    schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in schemes:
        raise UrlNotAllowed("Webhook URLs must use https.")
    host = parts.hostname
    if not host:
        raise UrlNotAllowed("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowed("Credentials do not belong in a webhook URL; the signature "
                            "authenticates the shop.")
    literal = _literal(host)
    if literal is not None and not allow_private and not is_public(literal):
        raise UrlNotAllowed("The URL points at an address that is not public.")
    return host, port or (443 if parts.scheme == "https" else 80)


async def check_url(url: str, *, allow_private: bool) -> None:
    """At save time: the form, then every address the host resolves to must be public (a host
    that does not resolve is refused too: nothing could be delivered to it)."""
    host, port = check_form(url, allow_private=allow_private)
    if allow_private or _literal(host) is not None:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        raise UrlNotAllowed(f"The host {host!r} does not resolve.") from None
    _refuse_private(host, [info[4][0] for info in infos])


def _refuse_private(host: str, addresses: list[str]) -> None:
    for text in addresses:
        if not is_public(ipaddress.ip_address(text.split("%", 1)[0])):
            raise UrlNotAllowed(f"The host {host!r} resolves to an address that is not public.")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a host if any address it resolves to is not public."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        _refuse_private(host, [result["host"] for result in results])
        return results

    async def close(self) -> None:
        await self._inner.close()


def connector_options(*, allow_private: bool) -> dict[str, Any]:
    """Keyword arguments for the delivery client's TCPConnector."""
    return {} if allow_private else {"resolver": GuardedResolver()}

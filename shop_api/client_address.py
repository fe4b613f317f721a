"""The address a request comes from, as the rate limiters count it.

The socket peer, unless it is one of TRUSTED_PROXIES: then `X-Forwarded-For` is read from the
right (each proxy appends the address it saw), skipping trusted proxies, and the first address
that is not one is the client. Everything left of it was written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings import this module, and the domain imports settings
    from aiohttp import web

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES: comma-separated CIDRs or single addresses; ValueError on anything else."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


def client_address(request: web.Request, trusted: tuple[IPNetwork, ...]) -> str:
    peer = _address(request.remote or "")
    if peer is None:
        return request.remote or UNKNOWN  # a Unix socket: no address to speak of
    if not _is_trusted(peer, trusted):
        return str(peer)
    client = peer
    for hop in reversed(_forwarded_hops(request.headers.getall("X-Forwarded-For", ()))):
        address = _address(hop)
        if address is None:
            # Not an address, written by one of our own proxies: stop at the last hop we know.
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


def _forwarded_hops(headers: Iterable[str]) -> list[str]:
    # Several X-Forwarded-For lines are one list, in order (RFC 9110, section 5.3).
    return [hop.strip() for header in headers for hop in header.split(",")]


def _address(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, `[v6]`, `[v6]:port` or `v4:port`."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def _is_trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in trusted)

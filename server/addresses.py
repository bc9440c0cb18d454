"""Which network addresses Latchkey's outbound requests may reach (SSRF defence).

One rule for both outbound clients that go where someone else decides: webhook deliveries (the
host's URL) and credential checks of API-key integrations (a host the end-user typed). Public
unicast addresses only; loopback only where the caller allows it (local development).

Both connect through `guarded_transport`: the name is resolved once, every address checked, and
the checked address is the one connected to — no second lookup a rebinding DNS server could
answer differently.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What inet_aton (and so getaddrinfo) reads as an IPv4 address: one to four parts, each decimal,
# octal (leading 0) or hex (0x): 2130706433, 0x7f.0.0.1, 0177.0.0.1 and 127.1 all mean 127.0.0.1.
_NUMERIC_IPV4 = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.IGNORECASE)


class Unresolvable(Exception):
    """The host name has no address."""


class AddressRefused(Exception):
    """The host resolves to a private, loopback or reserved address."""


def unmapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:10.0.0.1) judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def literal_address(host: str) -> IPAddress | None:
    """The address a host name denotes by itself, in any form a resolver accepts; None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None  # e.g. a part out of range: no resolver reads it as an address either
    return None


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    """Public unicast addresses; loopback only when allowed. Private, link-local, CGNAT, reserved,
    multicast and unspecified addresses never."""
    address = unmapped(address)
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


async def resolve_allowed(host: str, port: int | None, *, allow_loopback: bool) -> list[IPAddress]:
    """Every address `host` resolves to, if all of them are allowed; connect to one of these."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unresolvable(f"Could not resolve {host!r}.") from exc
    # SOCK_STREAM lookups give (host, port, …) addresses; the str() is for the type checker.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses or not all(address_allowed(a, allow_loopback=allow_loopback) for a in addresses):
        raise AddressRefused(f"Refused: {host!r} resolves to a private, loopback or reserved address.")
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to an address `resolve_allowed` returned."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_loopback = allow_loopback

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve_allowed(host, port, allow_loopback=self._allow_loopback)
        return await self._inner.connect_tcp(
            str(addresses[0]), port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("Unix sockets are refused.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(*, allow_loopback: bool) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through `GuardedBackend` (no retries).

    It raises AddressRefused or Unresolvable (not httpx errors) when the rule says no.
    """
    transport = httpx.AsyncHTTPTransport(retries=0)
    # httpx has no public knob for the network backend; the pool reads this when it connects.
    transport._pool._network_backend = GuardedBackend(allow_loopback=allow_loopback)
    return transport

"""Which network addresses Latchkey's outbound requests may reach (SSRF defence).

One rule for both outbound clients that go where someone else decides: webhook deliveries (the
host's URL) and credential checks of API-key integrations (a host the end-user typed). Public
unicast addresses only; loopback only where the caller allows it (local development).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unresolvable(Exception):
    """The host name has no address."""


class AddressRefused(Exception):
    """The host resolves to a private, loopback or reserved address."""


def unmapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (::ffff:10.0.0.1) judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


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

"""Which requests may say who the client is: the trusted reverse proxies (LATCHKEY_TRUSTED_PROXIES).

Behind nginx or Caddy the TCP peer is the proxy, and the request it forwards says the real client
address and scheme in `X-Forwarded-For` / `X-Forwarded-Proto` or RFC 7239 `Forwarded`. Those headers
are anyone's to write, so they are read only when the peer is a trusted proxy, and the address list
is walked from the right: each trusted proxy appends the address it saw, so the first address from
the right that is not itself a trusted proxy is the client (whatever a client put further left is
ignored). The result is written into the ASGI scope (`client`, `scheme`) once, at the edge, so
everything that reads the client address (rate limits, logs) or the scheme (URLs built from the
request) reads the same answer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, MutableMapping
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDRs (`10.0.0.0/8`, `127.0.0.1`, `::1`); ValueError names a bad one."""
    networks = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"LATCHKEY_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # an IPv4 address with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    def __init__(self, networks: tuple[IPNetwork, ...]) -> None:
        self.networks = networks

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: str | None) -> bool:
        address = _address(host or "")
        return address is not None and any(address in network for network in self.networks)

    def apply(self, scope: MutableMapping[str, Any]) -> bool:
        """Rewrite `client` and `scheme` from the forwarded headers when the peer is trusted; True then."""
        peer = scope.get("client")
        if not self.networks or not peer or not self.trusts(peer[0]):
            return False
        chain, scheme = self._forwarded(scope.get("headers", []))
        client = self._client(chain)
        if client is not None:
            scope["client"] = (client, 0)
        if scheme in ("http", "https"):
            scope["scheme"] = scheme
        return True

    def _client(self, chain: list[str]) -> str | None:
        """The rightmost address that is not one of our proxies (every hop to the right of it was ours)."""
        for entry in reversed(chain):
            address = _address(entry)
            if address is None:
                return None  # an unparsable hop: trust nothing further left
            if not any(address in network for network in self.networks):
                return str(address)
        return None

    @staticmethod
    def _forwarded(headers: list[tuple[bytes, bytes]]) -> tuple[list[str], str | None]:
        """The address chain and the scheme: RFC 7239 `Forwarded` when present, else `X-Forwarded-*`."""
        forwarded = [v.decode("latin-1") for k, v in headers if k == b"forwarded"]
        if forwarded:
            chain: list[str] = []
            scheme = None
            for element in ",".join(forwarded).split(","):
                pairs = {m.group(1).lower(): m.group(2).strip('"') for m in _FORWARDED_PAIR.finditer(element)}
                if "for" in pairs:
                    chain.append(pairs["for"])
                if "proto" in pairs:
                    scheme = pairs["proto"].lower()
            return chain, scheme
        chain = [
            part
            for k, v in headers
            if k == b"x-forwarded-for"
            for part in v.decode("latin-1").split(",")
            if part.strip()
        ]
        protos = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-proto"]
        scheme = protos[-1].split(",")[-1].strip().lower() if protos else None
        return chain, scheme

"""The one address rule of both outbound clients that go where someone else decides (SSRF)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from server.addresses import (
    AddressRefused,
    Unresolvable,
    address_allowed,
    literal_address,
    resolve_allowed,
    unmapped,
)


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


def test_an_ipv4_mapped_address_is_judged_as_the_ipv4_address_it_carries() -> None:
    mapped = ipaddress.ip_address("::ffff:10.0.0.1")
    assert unmapped(mapped) == ipaddress.ip_address("10.0.0.1")
    assert not address_allowed(mapped, allow_loopback=True)


async def test_a_name_for_loopback_is_refused_unless_loopback_is_allowed() -> None:
    with pytest.raises(AddressRefused):
        await resolve_allowed("localhost", 443, allow_loopback=False)
    addresses = await resolve_allowed("localhost", 443, allow_loopback=True)
    assert addresses and all(a.is_loopback for a in addresses)


async def test_a_literal_private_address_is_refused_even_with_loopback_allowed() -> None:
    with pytest.raises(AddressRefused):
        await resolve_allowed("192.168.1.10", 443, allow_loopback=True)


async def test_a_name_that_does_not_resolve_says_so() -> None:
    with pytest.raises(Unresolvable):
        await resolve_allowed("no-such-host.invalid", 443, allow_loopback=True)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0xa.1.2.3", "10.1.2.3"),
        ("134744072", "8.8.8.8"),
        ("10.0.0.1.", "10.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_a_host_in_any_numeric_ipv4_form_is_read_as_the_address_it_denotes(host: str, address: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["hooks.example.com", "1.2.3.4.5", "0x7g.0.0.1", "999.0.0.1", "1e3", ""])
def test_a_name_is_not_read_as_an_address(host: str) -> None:
    assert literal_address(host) is None

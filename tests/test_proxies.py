"""Trusted reverse proxies: only a request whose TCP peer is one may set the client address and
scheme, and of its X-Forwarded-For / Forwarded chain only what our own proxies appended counts."""

from __future__ import annotations

from typing import Any

import pytest

from server.proxies import TrustedProxies, parse_networks

PROXIES = TrustedProxies(parse_networks(["127.0.0.2", "10.0.0.0/8", "fd00::/8"]))


def scope(peer: str, *headers: tuple[str, str], scheme: str = "http") -> dict[str, Any]:
    return {
        "client": (peer, 5000),
        "scheme": scheme,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
    }


def applied(s: dict[str, Any]) -> tuple[str, str]:
    PROXIES.apply(s)
    return s["client"][0], s["scheme"]


def test_a_trusted_proxy_sets_the_client_address_and_the_scheme() -> None:
    s = scope("127.0.0.2", ("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"))
    assert applied(s) == ("203.0.113.7", "https")


def test_anyone_else_sending_the_same_headers_changes_nothing() -> None:
    s = scope("198.51.100.4", ("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"))
    assert applied(s) == ("198.51.100.4", "http")
    assert PROXIES.apply(scope("198.51.100.4")) is False


def test_what_a_client_prepends_to_the_chain_is_ignored() -> None:
    # The client sent "X-Forwarded-For: 1.2.3.4"; our outer proxy appended the peer it saw, the inner one its own.
    s = scope("127.0.0.2", ("X-Forwarded-For", "1.2.3.4, 203.0.113.7, 10.1.2.3"))
    assert applied(s)[0] == "203.0.113.7"


def test_several_forwarded_headers_are_one_chain_and_the_last_proto_wins() -> None:
    s = scope(
        "10.9.9.9",
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-For", "10.1.1.1"),
        ("X-Forwarded-Proto", "http, https"),
    )
    assert applied(s) == ("203.0.113.7", "https")


def test_rfc_7239_forwarded_is_read_with_ipv6_and_ports() -> None:
    s = scope("127.0.0.2", ("Forwarded", 'for="[2001:db8::17]:4711";proto=https, for=10.0.0.5'))
    assert applied(s) == ("2001:db8::17", "https")
    s = scope("127.0.0.2", ("Forwarded", "for=203.0.113.9:8080;proto=http"))
    assert applied(s) == ("203.0.113.9", "http")


def test_an_unparsable_hop_or_a_chain_of_only_proxies_keeps_the_peer() -> None:
    assert applied(scope("127.0.0.2", ("X-Forwarded-For", "203.0.113.7, not-an-ip")))[0] == "127.0.0.2"
    assert applied(scope("127.0.0.2", ("X-Forwarded-For", "10.0.0.1")))[0] == "127.0.0.2"
    assert applied(scope("127.0.0.2", ("X-Forwarded-Proto", "gopher")))[1] == "http"


def test_an_ipv4_mapped_peer_is_matched_as_ipv4() -> None:
    assert applied(scope("::ffff:127.0.0.2", ("X-Forwarded-For", "203.0.113.7")))[0] == "203.0.113.7"


def test_no_trusted_proxies_trusts_nobody() -> None:
    nobody = TrustedProxies(())
    s = scope("127.0.0.1", ("X-Forwarded-For", "203.0.113.7"))
    assert nobody.apply(s) is False and s["client"][0] == "127.0.0.1"


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "localhost", "1.2.3"])
def test_a_bad_entry_is_refused_by_name(entry: str) -> None:
    with pytest.raises(ValueError, match="LATCHKEY_TRUSTED_PROXIES"):
        parse_networks([entry])

"""Exact allowlists for host origins and success / failure URLs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.flow.allowlist import normalise_origin, origin_allowed, url_allowed, valid_allowlist_entry


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


ALLOWED = ("http://host.test/connected", "https://host.test/cb/")


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("https://app.example.com/", "https://app.example.com"),
        ("HTTPS://App.Example.COM", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80", "http://app.example.com"),
        ("http://app.example.com:8080", "http://app.example.com:8080"),
        ("https://app.example.com:80", "https://app.example.com:80"),
        ("  https://app.example.com  ", "https://app.example.com"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_normalised(value: str, normal: str) -> None:
    assert normalise_origin(value) == normal


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "app.example.com",
        "//app.example.com",
        "ftp://app.example.com",
        "javascript:alert(1)",
        "https://app.example.com/path",
        "https://app.example.com/?x=1",
        "https://app.example.com#x",
        "https://user@app.example.com",
        "https://user:pw@app.example.com",
        "https://",
        "https://app.example.com:99999",
        "null",
    ],
)
def test_values_that_are_not_bare_origins_are_refused(value: str | None) -> None:
    assert normalise_origin(value) is None
    assert origin_allowed(value, ["https://app.example.com"]) is False


def test_origin_allowed_compares_normalised_forms() -> None:
    assert origin_allowed("https://APP.example.com:443", ["https://app.example.com/"])
    assert not origin_allowed("https://app.example.com:8443", ["https://app.example.com"])
    assert not origin_allowed("http://app.example.com", ["https://app.example.com"])
    assert not origin_allowed("https://app.example.com", [])


@pytest.mark.parametrize(
    "url",
    [
        "http://host.test/connected",
        "http://host.test/connected?state=1&x=y",
        "HTTP://HOST.test/connected",
        "http://host.test:80/connected",
        "https://host.test/cb/",
        "https://host.test/cb/x",
        "https://host.test/cb/x/y?z=1",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert url_allowed(url, ALLOWED) is True


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "http://host.test/connected/",
        "http://host.test/connectedx",
        "http://host.test/Connected",
        "http://host.test/connected#frag",
        "http://user@host.test/connected",
        "http://user:pw@host.test/connected",
        "http://host.test\\@evil.example/connected",
        "http://host.test/connected\\..\\admin",
        "https://host.test/cb/../admin",
        "https://host.test/cb/x/../../admin",
        "https://host.test/cb",
        "https://host.test/cbx",
        "https://host.test/cbx/",
        "https://host.test/",
        "https://host.test/cb/\tx",
        "ftp://host.test/connected",
        "javascript://host.test/connected",
        "https://host.test/connected",
        "http://host.test:8080/connected",
        "https://host.test:8443/cb/x",
        "http://evil.example/connected",
        "http://host.test.evil.example/connected",
        "http://evil-host.test/connected",
        "http://host.test./connected",
        "//host.test/connected",
        "http:host.test/connected",
    ],
)
def test_refused_urls(url: str | None) -> None:
    assert url_allowed(url, ALLOWED) is False


def test_prefix_entries_match_whole_path_segments_only() -> None:
    assert url_allowed("http://host.test/cb/x", ["http://host.test/cb/"])
    assert not url_allowed("http://host.test/cb", ["http://host.test/cb/"])
    assert not url_allowed("http://host.test/cbx", ["http://host.test/cb"])
    assert not url_allowed("http://host.test/cb/x", ["http://host.test/cb"])


def test_entries_with_a_query_or_fragment_never_match() -> None:
    assert not url_allowed("http://host.test/connected?a=1", ["http://host.test/connected?a=1"])
    assert not url_allowed("http://host.test/connected", ["http://host.test/connected#x"])


def test_an_empty_allowlist_allows_nothing() -> None:
    assert not url_allowed("http://host.test/connected", [])


@pytest.mark.parametrize("segment", ["%2e%2e", "%2E%2E", ".%2e", "%2e."])
def test_percent_encoded_dot_segments_cannot_climb_out_of_a_prefix(segment: str) -> None:
    assert url_allowed(f"https://host.test/cb/{segment}/admin", ALLOWED) is False


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        ("https://app.example.com", "origin", True),
        ("https://app.example.com/x", "origin", False),
        ("https://app.example.com/cb", "url", True),
        ("https://app.example.com/cb?x=1", "url", False),
        ("https://app.example.com/cb#x", "url", False),
        ("app.example.com/cb", "url", False),
    ],
)
def test_valid_allowlist_entry(value: str, kind: str, ok: bool) -> None:
    assert valid_allowlist_entry(value, kind=kind) is ok

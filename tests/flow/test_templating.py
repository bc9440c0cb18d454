"""Template variables (a shop name, a data centre) in provider URLs: never a way to another host."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.catalog.loader import load_catalog
from server.catalog.models import OAuth2Spec, Variable
from server.errors import FlowError
from server.flow.templating import check_variable, encode_query, placeholders, render_url


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


def _shopify_oauth2() -> OAuth2Spec:
    shopify = load_catalog().get("shopify")
    assert shopify is not None and shopify.oauth2 is not None
    return shopify.oauth2


SHOPIFY_OAUTH2 = _shopify_oauth2()
SHOP = SHOPIFY_OAUTH2.variables[0]
AUTHORIZE = SHOPIFY_OAUTH2.authorize_url
PERMISSIVE = Variable(name="host", label="Host", pattern=r".+")
ZOHO = Variable(
    name="dc",
    label="Data centre",
    pattern=r".+",
    source="callback",
    callback_param="accounts-server",
    allowed=("accounts.zoho.com", "accounts.zoho.eu"),
)


def test_placeholders_are_listed_in_order() -> None:
    assert placeholders("https://{shop}.myshopify.com/{version}/x") == ["shop", "version"]
    assert placeholders("https://api.example.com/") == []


def test_a_shop_name_matching_the_pattern_is_accepted() -> None:
    assert check_variable(SHOP, "acme-store") == "acme-store"
    assert check_variable(SHOP, "  acme  ") == "acme"


@pytest.mark.parametrize(
    "value", ["evil.com/", "evil.com?x", "a.evil.com#", "me@evil.com", "a..b", "-acme", "ac me", "x" * 61]
)
def test_values_outside_the_pattern_are_refused(value: str) -> None:
    with pytest.raises(FlowError) as caught:
        check_variable(SHOP, value)
    assert caught.value.code == "invalid_request"


@pytest.mark.parametrize(
    "value",
    [
        "evil.com/",
        "evil.com/x",
        "me@evil.com",
        "evil.com#",
        "evil.com?x",
        "a..b",
        "evil.com:443",
        "a b",
        "a\\b",
        "-a",
        "a-",
        ".a",
        "a.",
        "%2e",
        "a\nb",
    ],
)
def test_host_unsafe_values_are_refused_even_when_the_pattern_allows_anything(value: str) -> None:
    with pytest.raises(FlowError) as caught:
        check_variable(PERMISSIVE, value)
    assert caught.value.code == "invalid_request"


def test_host_safe_values_pass_a_permissive_pattern() -> None:
    assert check_variable(PERMISSIVE, "eu1.api.example") == "eu1.api.example"


def test_missing_value_uses_the_default_or_is_required() -> None:
    with_default = Variable(name="dc", label="Data centre", pattern=r"[a-z]{2}", default="us")
    assert check_variable(with_default, None) == "us" and check_variable(with_default, "") == "us"
    with pytest.raises(FlowError, match="Shop name is required"):
        check_variable(SHOP, "")


def test_allowed_list_variables_accept_only_listed_values() -> None:
    assert check_variable(ZOHO, "accounts.zoho.eu") == "accounts.zoho.eu"
    for value in ("accounts.zoho.evil", "evil.com", "accounts.zoho.eu.evil.com"):
        with pytest.raises(FlowError):
            check_variable(ZOHO, value)


def test_an_allowed_origin_sent_by_a_callback_is_read_as_its_host() -> None:
    assert check_variable(ZOHO, "https://accounts.zoho.eu") == "accounts.zoho.eu"
    assert check_variable(ZOHO, "https://accounts.zoho.eu/") == "accounts.zoho.eu"
    for value in (
        "https://accounts.zoho.eu/x",
        "https://accounts.zoho.eu/?a=1",
        "https://evil.com",
        "http://accounts.zoho.eu",
    ):
        with pytest.raises(FlowError):
            check_variable(ZOHO, value)


def test_render_url_fills_the_shop_name() -> None:
    assert render_url(AUTHORIZE, {"shop": "acme"}) == "https://acme.myshopify.com/admin/oauth/authorize"


def test_render_url_without_placeholders_is_unchanged() -> None:
    assert render_url("https://api.example.com/x", {}) == "https://api.example.com/x"


@pytest.mark.parametrize(
    "value", ["evil.com?x", "a.evil.com#", "evil.com/", "x.myshopify.com@evil.com#", "evil.com:443/"]
)
def test_render_url_keeps_the_templates_host_suffix(value: str) -> None:
    with pytest.raises(FlowError) as caught:
        render_url(AUTHORIZE, {"shop": value})
    assert caught.value.code == "invalid_request"


def test_render_url_refuses_a_result_that_is_not_an_http_url() -> None:
    with pytest.raises(FlowError):
        render_url("{base}/oauth/token", {"base": "javascript:alert(1)//"})


def test_render_url_refuses_a_backslash_that_browsers_read_as_a_path() -> None:
    with pytest.raises(FlowError):
        render_url(AUTHORIZE, {"shop": "evil.com\\"})


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=6))
def test_encode_query_writes_exactly_what_urlencode_writes(params: dict[str, str]) -> None:
    assert encode_query(params) == urlencode(params)


def test_encode_query_escapes_what_is_not_unreserved() -> None:
    assert encode_query({"a b": "x&y=z", "s": "abc-_.~", "u": "ü/?#"}) == "a+b=x%26y%3Dz&s=abc-_.~&u=%C3%BC%2F%3F%23"

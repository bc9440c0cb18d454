"""Reading providers' token responses (normalise) and the token request's client authentication."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from server.catalog.models import OAuth2Spec, TokenResponseSpec
from server.errors import ProviderError, ProviderUnavailable
from server.flow.tokens import dig, normalise, token_request
from server.http import OutboundHTTP, ProviderResponse
from tests.support.oauth_server import OAuthServer


@pytest.fixture
def _database() -> Iterator[None]:
    """No database in this module: skip the fresh Postgres database conftest makes for each test."""
    yield


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DEFAULT = TokenResponseSpec()
SLACK = TokenResponseSpec(
    access_token="authed_user.access_token",
    error_flag="ok",
    scope="authed_user.scope",
    scope_separator=",",
    token_type="user",
)


def answer(body: object, status: int = 200, content_type: str = "application/json") -> ProviderResponse:
    """A provider's answer: `body` is sent as is when a str, else as JSON."""
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return ProviderResponse(status, httpx.Headers({"content-type": content_type}), content)


def test_plain_json_response() -> None:
    tokens = normalise(
        DEFAULT,
        answer(
            {
                "access_token": "at",
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "rt",
                "scope": "a b",
                "id_token": "idt",
            }
        ),
        now=NOW,
    )
    assert tokens.access_token == "at" and tokens.token_type == "bearer" and tokens.refresh_token == "rt"
    assert tokens.expires_at == NOW + timedelta(hours=1) and tokens.scope == ["a", "b"] and tokens.id_token == "idt"
    assert tokens.credentials() == {
        "type": "oauth2",
        "access_token": "at",
        "token_type": "bearer",
        "refresh_token": "rt",
        "expires_at": (NOW + timedelta(hours=1)).isoformat(),
        "id_token": "idt",
    }


def test_json_with_a_charset_in_the_content_type() -> None:
    tokens = normalise(
        DEFAULT,
        answer({"access_token": "at", "token_type": "bearer"}, content_type="application/json; charset=utf-8"),
        now=NOW,
    )
    assert tokens.access_token == "at" and tokens.expires_at is None and tokens.refresh_token is None


def test_form_encoded_response_github_default() -> None:
    body = urlencode({"access_token": "gho_abc", "scope": "repo,read:user", "token_type": "bearer"})
    tokens = normalise(DEFAULT, answer(body, content_type="application/x-www-form-urlencoded"), now=NOW)
    assert tokens.access_token == "gho_abc" and tokens.scope == ["repo", "read:user"]


def test_form_encoded_error_is_a_provider_error() -> None:
    body = urlencode(
        {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}
    )
    with pytest.raises(ProviderError) as caught:
        normalise(DEFAULT, answer(body, content_type="application/x-www-form-urlencoded"), now=NOW)
    assert caught.value.provider_code == "bad_verification_code" and "incorrect or expired" in caught.value.message


def test_slack_http_200_with_ok_false_is_a_provider_error() -> None:
    with pytest.raises(ProviderError) as caught:
        normalise(SLACK, answer({"ok": False, "error": "invalid_code"}), now=NOW)
    assert caught.value.code == "provider_error" and caught.value.provider_code == "invalid_code"


def test_slack_without_the_ok_flag_is_a_provider_error() -> None:
    body = {"authed_user": {"access_token": "xoxp-user"}}
    with pytest.raises(ProviderError):
        normalise(SLACK, answer(body), now=NOW)


def test_slack_nested_user_token() -> None:
    body = {
        "ok": True,
        "access_token": "xoxb-bot",
        "token_type": "bot",
        "authed_user": {
            "id": "U1",
            "access_token": "xoxp-user",
            "scope": "channels:history,users:read",
            "token_type": "user",
        },
    }
    tokens = normalise(SLACK, answer(body), now=NOW)
    assert tokens.access_token == "xoxp-user" and tokens.scope == ["channels:history", "users:read"]
    assert tokens.token_type == "bearer"  # the top-level token_type belongs to the bot token


def test_square_expires_at_instead_of_expires_in() -> None:
    spec = TokenResponseSpec(expires_at="expires_at")
    body = {"access_token": "EAAA", "token_type": "bearer", "expires_at": "2026-12-29T12:00:00Z", "expires_in": 5}
    assert normalise(spec, answer(body), now=NOW).expires_at == datetime(2026, 12, 29, 12, 0, tzinfo=UTC)


def test_expires_at_without_a_zone_is_utc() -> None:
    spec = TokenResponseSpec(expires_at="expires_at")
    tokens = normalise(
        spec, answer({"access_token": "a", "token_type": "bearer", "expires_at": "2026-12-29T12:00:00"}), now=NOW
    )
    assert tokens.expires_at == datetime(2026, 12, 29, 12, 0, tzinfo=UTC)


def test_expires_at_that_is_not_a_date_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="expires_at"):
        normalise(
            TokenResponseSpec(expires_at="expires_at"),
            answer({"access_token": "a", "token_type": "bearer", "expires_at": "soon"}),
            now=NOW,
        )


def test_mailchimp_zero_expires_in_means_no_expiry() -> None:
    spec = TokenResponseSpec(zero_expires_in_means_never=True)
    assert (
        normalise(spec, answer({"access_token": "a", "token_type": "bearer", "expires_in": 0}), now=NOW).expires_at
        is None
    )
    # Without the flag a zero lifetime is taken at its word.
    assert (
        normalise(DEFAULT, answer({"access_token": "a", "token_type": "bearer", "expires_in": 0}), now=NOW).expires_at
        == NOW
    )


def test_expires_in_as_a_string_is_read() -> None:
    assert normalise(
        DEFAULT, answer({"access_token": "a", "token_type": "bearer", "expires_in": "7200"}), now=NOW
    ).expires_at == NOW + timedelta(hours=2)


def test_expires_in_that_is_not_a_number_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="expires_in"):
        normalise(DEFAULT, answer({"access_token": "a", "token_type": "bearer", "expires_in": "an hour"}), now=NOW)


@pytest.mark.parametrize("raw", ["1e20", "Infinity"])
def test_absurd_expires_in_is_a_provider_error(raw: str) -> None:
    body = f'{{"access_token": "a", "expires_in": {raw}}}'
    with pytest.raises(ProviderError):
        normalise(DEFAULT, answer(body), now=NOW)


def test_salesforce_no_expires_in_and_instance_url_kept() -> None:
    spec = TokenResponseSpec(extra={"instance_url": "instance_url", "id_url": "id"})
    body = {
        "access_token": "00D!x",
        "instance_url": "https://acme.my.salesforce.com",
        "id": "https://login.salesforce.com/id/00D/005",
        "token_type": "Bearer",
        "issued_at": "1700000000000",
        "signature": "sig",
    }
    tokens = normalise(spec, answer(body), now=NOW)
    assert tokens.expires_at is None
    assert tokens.metadata == {
        "instance_url": "https://acme.my.salesforce.com",
        "id_url": "https://login.salesforce.com/id/00D/005",
    }


def test_extra_values_that_are_not_scalars_are_not_kept() -> None:
    spec = TokenResponseSpec(extra={"team": "team", "team_id": "team.id"})
    tokens = normalise(spec, answer({"access_token": "a", "token_type": "bearer", "team": {"id": "T1"}}), now=NOW)
    assert tokens.metadata == {"team_id": "T1"}


@pytest.mark.parametrize(
    ("scope", "separator", "expected"),
    [
        (["a", "b"], " ", ["a", "b"]),
        ("a b", " ", ["a", "b"]),
        ("a  b ", " ", ["a", "b"]),
        ("a,b", ",", ["a", "b"]),
        ("a, b", ",", ["a", "b"]),
        ("a b", ",", ["a", "b"]),
        ("a+b", "+", ["a", "b"]),
        ("", " ", []),
    ],
)
def test_scope_as_list_or_separated_string(scope: str | list[str], separator: str, expected: list[str]) -> None:
    spec = TokenResponseSpec(scope_separator=separator)
    assert (
        normalise(spec, answer({"access_token": "a", "token_type": "bearer", "scope": scope}), now=NOW).scope
        == expected
    )


def test_no_scope_in_the_response_is_none() -> None:
    assert normalise(DEFAULT, answer({"access_token": "a", "token_type": "bearer"}), now=NOW).scope is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, ProviderError),
        (501, ProviderError),
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
        (504, ProviderUnavailable),
    ],
)
def test_server_errors(status: int, error: type[ProviderError] | type[ProviderUnavailable]) -> None:
    with pytest.raises((ProviderError, ProviderUnavailable)) as caught:
        normalise(DEFAULT, answer({"access_token": "a", "token_type": "bearer"}, status=status), now=NOW)
    assert type(caught.value) is error
    assert caught.value.code == ("provider_unavailable" if error is ProviderUnavailable else "provider_error")


@pytest.mark.parametrize("status", [200, 400])
def test_html_body_is_a_provider_error(status: int) -> None:
    with pytest.raises(ProviderError, match="not JSON") as caught:
        normalise(DEFAULT, answer("<!doctype html><h1>Sign in</h1>", status=status, content_type="text/html"), now=NOW)
    assert f"HTTP {status}" in caught.value.message


def test_json_that_is_not_an_object_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="not a JSON object"):
        normalise(DEFAULT, answer('["access_token"]'), now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"access_token": ""},
        {"access_token": None},
        {"access_token": 12345},
        {"access_token": ["a"]},
        {"access_token": "a" * 16_385},
    ],
)
def test_missing_or_unusable_access_token_is_a_provider_error(body: dict[str, Any]) -> None:
    with pytest.raises(ProviderError, match="no usable access_token"):
        normalise(DEFAULT, answer(body), now=NOW)


def test_the_longest_accepted_access_token() -> None:
    assert (
        len(normalise(DEFAULT, answer({"access_token": "a" * 16_384, "token_type": "bearer"}), now=NOW).access_token)
        == 16_384
    )


def test_error_json_names_the_code_and_description() -> None:
    body = {"error": "invalid_grant", "error_description": "The authorization code has expired."}
    with pytest.raises(ProviderError) as caught:
        normalise(DEFAULT, answer(body, status=400), now=NOW)
    error = caught.value
    assert error.code == "provider_error" and error.provider_code == "invalid_grant"
    assert "HTTP 400" in error.message and "invalid_grant" in error.message and "has expired" in error.message


def test_error_with_http_200_and_no_token_is_a_provider_error() -> None:
    with pytest.raises(ProviderError) as caught:
        normalise(DEFAULT, answer({"error": "invalid_request"}), now=NOW)
    assert caught.value.provider_code == "invalid_request"


def test_a_token_with_an_http_status_other_than_200_is_refused() -> None:
    with pytest.raises(ProviderError):
        normalise(DEFAULT, answer({"access_token": "a", "token_type": "bearer"}, status=401), now=NOW)


def test_a_long_error_description_is_cut() -> None:
    with pytest.raises(ProviderError) as caught:
        normalise(DEFAULT, answer({"error": "x", "error_description": "d" * 5000}, status=400), now=NOW)
    assert len(caught.value.message) < 300


def test_refresh_token_that_is_not_a_string_is_dropped() -> None:
    assert (
        normalise(
            DEFAULT, answer({"access_token": "a", "token_type": "bearer", "refresh_token": 7}), now=NOW
        ).refresh_token
        is None
    )


def test_dig_follows_objects_and_lists() -> None:
    data = {"a": {"b": [{"c": 1}]}}
    assert (
        dig(data, "a.b.0.c") == 1
        and dig(data, "a.b.1.c") is None
        and dig(data, "a.x.y") is None
        and dig("s", "a") is None
    )


# -- token_request: client authentication against a real authorization server ---------------------


def cc_spec(server: OAuthServer, method: str) -> OAuth2Spec:
    return OAuth2Spec(authorize_url=server.authorize_url, token_url=server.token_url, token_auth_method=method)


@pytest.fixture
async def http() -> AsyncIterator[OutboundHTTP]:
    client = OutboundHTTP(deadline=2.0, max_bytes=65_536)
    yield client
    await client.aclose()


async def test_client_secret_basic_sends_the_credentials_in_the_authorization_header(
    oauth_server: OAuthServer, http: OutboundHTTP
) -> None:
    secret = "s3cr:t/+ %&é"  # RFC 6749 §2.3.1: each part form-urlencoded before joining
    oauth_server.register_client("basic:client", secret, [], token_endpoint_auth_method="client_secret_basic")
    tokens = await token_request(
        http,
        cc_spec(oauth_server, "client_secret_basic"),
        oauth_server.token_url,
        {"grant_type": "client_credentials"},
        client_id="basic:client",
        client_secret=secret,
    )
    [sent] = oauth_server.token_requests
    assert (
        sent["auth_method"] == "client_secret_basic" and sent["client_id"] == "basic:client" and sent["status"] == 200
    )
    assert "client_id" not in sent["form"] and sent["form"]["grant_type"] == "client_credentials"
    assert tokens.access_token in oauth_server.issued_access_tokens()


async def test_client_secret_post_sends_the_credentials_in_the_body(
    oauth_server: OAuthServer, http: OutboundHTTP
) -> None:
    oauth_server.register_client("post-client", "post-secret", [], token_endpoint_auth_method="client_secret_post")
    tokens = await token_request(
        http,
        cc_spec(oauth_server, "client_secret_post"),
        oauth_server.token_url,
        {"grant_type": "client_credentials"},
        client_id="post-client",
        client_secret="post-secret",
    )
    [sent] = oauth_server.token_requests
    assert (
        sent["auth_method"] == "client_secret_post"
        and sent["form"]["client_id"] == "post-client"
        and sent["status"] == 200
    )
    assert tokens.access_token in oauth_server.issued_access_tokens()


@pytest.mark.parametrize(
    ("registered", "used"),
    [("client_secret_basic", "client_secret_post"), ("client_secret_post", "client_secret_basic")],
)
async def test_the_wrong_client_auth_method_is_refused_by_the_server(
    oauth_server: OAuthServer, http: OutboundHTTP, registered: str, used: str
) -> None:
    oauth_server.register_client("c1", "secret-1", [], token_endpoint_auth_method=registered)
    with pytest.raises(ProviderError) as caught:
        await token_request(
            http,
            cc_spec(oauth_server, used),
            oauth_server.token_url,
            {"grant_type": "client_credentials"},
            client_id="c1",
            client_secret="secret-1",
        )
    assert caught.value.provider_code == "invalid_client"
    [sent] = oauth_server.token_requests
    assert sent["auth_method"] == used and sent["status"] == 401
    assert oauth_server.issued_access_tokens() == []


async def test_a_wrong_secret_is_refused_and_no_token_issued(oauth_server: OAuthServer, http: OutboundHTTP) -> None:
    oauth_server.register_client("c2", "right-secret", [])
    with pytest.raises(ProviderError) as caught:
        await token_request(
            http,
            cc_spec(oauth_server, "client_secret_basic"),
            oauth_server.token_url,
            {"grant_type": "client_credentials"},
            client_id="c2",
            client_secret="wrong-secret",
        )
    assert caught.value.provider_code == "invalid_client" and oauth_server.issued_access_tokens() == []


async def test_spec_token_params_are_sent_and_call_params_win(oauth_server: OAuthServer, http: OutboundHTTP) -> None:
    oauth_server.register_client("c3", "secret-3", [])
    spec = OAuth2Spec(
        authorize_url=oauth_server.authorize_url,
        token_url=oauth_server.token_url,
        token_auth_method="client_secret_basic",
        token_params={"scope": "deals.read", "audience": "api"},
    )
    await token_request(
        http,
        spec,
        oauth_server.token_url,
        {"grant_type": "client_credentials", "scope": "contacts.read"},
        client_id="c3",
        client_secret="secret-3",
    )
    [sent] = oauth_server.token_requests
    assert sent["form"]["scope"] == "contacts.read" and sent["form"]["audience"] == "api"


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", "BEARER"])
def test_a_bearer_token_type_is_accepted_in_any_case(token_type: str) -> None:
    assert normalise(DEFAULT, answer({"access_token": "a", "token_type": token_type}), now=NOW).token_type == "bearer"


@pytest.mark.parametrize("body", [{"access_token": "a"}, {"access_token": "a", "token_type": "mac"}])
def test_a_token_that_is_not_bearer_is_a_provider_error(body: dict[str, Any]) -> None:
    with pytest.raises(ProviderError, match="not of type Bearer"):
        normalise(DEFAULT, answer(body), now=NOW)


def test_an_entry_may_say_its_provider_sends_no_token_type() -> None:
    optional = TokenResponseSpec(token_type_optional=True)
    assert normalise(optional, answer({"access_token": "a"}), now=NOW).token_type == "bearer"
    with pytest.raises(ProviderError, match="not of type Bearer"):
        normalise(optional, answer({"access_token": "a", "token_type": "mac"}), now=NOW)


@pytest.mark.parametrize(
    "raw", ["-1", "-3600", '"-5"', '"3600s"', '"an hour"', "true", '"NaN"', "[3600]", '{"s": 1}', "1" + "0" * 400]
)
def test_an_expires_in_that_is_not_a_non_negative_number_is_a_provider_error(raw: str) -> None:
    with pytest.raises(ProviderError, match="expires_in"):
        normalise(DEFAULT, answer(f'{{"access_token": "a", "token_type": "bearer", "expires_in": {raw}}}'), now=NOW)


@pytest.mark.parametrize(("raw", "seconds"), [("3600", 3600), ('"3600"', 3600), ("3599.9", 3599), ('" 60 "', 60)])
def test_an_expires_in_number_or_numeric_string_is_read_in_whole_seconds(raw: str, seconds: int) -> None:
    body = f'{{"access_token": "a", "token_type": "bearer", "expires_in": {raw}}}'
    assert normalise(DEFAULT, answer(body), now=NOW).expires_at == NOW + timedelta(seconds=seconds)


def test_a_token_body_that_is_not_utf8_is_a_provider_error() -> None:
    content = b'{"access_token": "a\xff\xfe", "token_type": "bearer"}'
    response = ProviderResponse(200, httpx.Headers({"content-type": "application/json"}), content)
    with pytest.raises(ProviderError, match="not UTF-8"):
        normalise(DEFAULT, response, now=NOW)
